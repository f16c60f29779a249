"""The augmentation chain: drawn at planning, applied with audiomentations, recorded per event."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import read_shard

from streamaudio.check.validate import check_sample
from streamaudio.plan.scenarios import AsrScenario, Pools, ScenarioConfig
from streamaudio.plan.spec import BuildError, single
from streamaudio.prepare.demo import SPEECH_MANIFEST, manifest_path
from streamaudio.prepare.manifest import read_clips
from streamaudio.render.augment import AugmentSpec
from streamaudio.render.clips import ClipLoader
from streamaudio.render.stitch import render
from streamaudio.tts.voices import VoiceChoice
from streamaudio.write.build import build


def _speech_only(chain: tuple[AugmentSpec, ...]) -> tuple[list[dict], np.ndarray]:
    cfg = ScenarioConfig(stream_seconds=(15, 20), background_prob=0.0, augment=chain)
    pools = Pools(speech=list(read_clips(manifest_path(SPEECH_MANIFEST))), voices=VoiceChoice().pool())
    plan = AsrScenario(pools, cfg, seed=3).plan(0, "aug")
    rendered = render(dataclasses.replace(plan, tail_fill=None), ClipLoader())
    return rendered.meta["events"], rendered.audio


def _share_above(audio: np.ndarray, hz: float) -> float:
    power = np.abs(np.fft.rfft(audio)) ** 2
    return float(power[np.fft.rfftfreq(audio.size, 1 / 16000) > hz].sum() / power.sum())


def _speech(events: list[dict], audio: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [audio[e["start_sample"] : e["end_sample"]] for e in events if e["kind"] != "noise"]
    )


def test_telephone_and_lowpass_take_the_top_off() -> None:
    dry_events, dry = _speech_only(())
    tel_events, tel = _speech_only((AugmentSpec("telephone"),))
    low_events, low = _speech_only((AugmentSpec("lowpass", ranges={"cutoff_hz": (2000.0, 2000.0)}),))
    assert all("augment" not in e for e in dry_events)
    assert tel_events[0]["augment"] == [{"name": "telephone", "low_hz": 300.0, "high_hz": 3400.0}]
    assert low_events[1]["augment"] == [{"name": "lowpass", "cutoff_hz": 2000.0}]
    assert _share_above(_speech(dry_events, dry), 4000) > 0.01
    assert _share_above(_speech(tel_events, tel), 4000) < 0.1 * _share_above(_speech(dry_events, dry), 4000)
    assert _share_above(_speech(low_events, low), 3500) < 0.1 * _share_above(_speech(dry_events, dry), 3500)


def test_reverb_and_gain_are_drawn_within_their_ranges_and_recorded() -> None:
    chain = (
        AugmentSpec("reverb", 1.0, {"absorption": (0.1, 0.2)}),
        AugmentSpec("gain", 0.5, {"gain_db": (-6, -3)}),
    )
    events, audio = _speech_only(chain)
    speech = [e for e in events if e["kind"] != "noise"]
    gains = 0
    for e in speech:
        names = [a["name"] for a in e["augment"]]
        assert names[0] == "reverb" and 0.1 <= e["augment"][0]["absorption"] <= 0.2
        assert 0.5 <= e["augment"][0]["mic_distance"] <= 3.0
        if "gain" in names:
            gains += 1
            assert -6 <= e["augment"][1]["gain_db"] <= -3
    assert 0 < gains < len(speech)  # p = 0.5
    assert np.max(np.abs(audio)) <= 0.98 + 1e-6


def test_recipe_augmentation_builds_reproducibly(tmp_path: Path) -> None:
    cfg = ScenarioConfig(
        stream_seconds=(15, 25), augment=(AugmentSpec("reverb", 0.5), AugmentSpec("telephone", 0.3))
    )
    shas = []
    for name in ("a", "b"):
        build(single("asr", tmp_path / name, streams=3, seed=8, config=cfg))
        tar = tmp_path / name / "shards" / "asr-train-000000.tar"
        shas.append(hashlib.sha256(tar.read_bytes()).hexdigest())
        for meta, audio, sr in read_shard(tar).values():
            assert check_sample(meta, audio, sr) == []
    assert shas[0] == shas[1]


def test_missing_extra_is_a_one_line_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "audiomentations", None)  # as if it were not installed
    cfg = ScenarioConfig(augment=(AugmentSpec("lowpass"),))
    with pytest.raises(BuildError, match=r"pip install 'streamaudio\[augment\]'"):
        build(single("asr", tmp_path / "o", streams=1, config=cfg))

"""Natural boundaries, measured on rendered noise stems: no level step where the stitcher joined things that
the noise itself does not have; voices keep their room tone; each talker keeps one level and one room."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import read_shard

from streamaudio.check.audit import away_from, boundaries, level_steps, noise_clips, noise_stem
from streamaudio.plan.scenarios import SCENARIOS, ScenarioConfig
from streamaudio.plan.scenarios.base import Pools
from streamaudio.plan.spec import single
from streamaudio.prepare.manifest import Clip, write_clips
from streamaudio.protocol import CHUNK_SAMPLES, SAMPLE_RATE
from streamaudio.render.clips import ClipLoader
from streamaudio.render.dsp import mix_bed
from streamaudio.write.build import build


def coloured_noise(n: int, exponent: float, seed: int) -> np.ndarray:
    """Stationary noise with a 1/f^exponent spectrum above 100 Hz (0 white, 1 pink), unit RMS."""
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    hz = np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 100.0)
    x = np.fft.irfft(spectrum / hz ** (exponent / 2), n)
    return (x / np.sqrt(np.mean(x**2))).astype(np.float32)


@pytest.fixture(scope="module")
def stationary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A chat build (pauses, many turns) over stationary noise beds: white, pink and in-between files of
    2.5-7 s (short enough to loop inside a bed), steady at the 10 ms scale, no background under them."""
    root = tmp_path_factory.mktemp("stationary")
    clips = []
    for k, (exponent, seconds) in enumerate([(0.0, 2.5), (1.0, 4.0), (0.5, 7.0), (1.0, 3.0)]):
        path = root / f"noise{k}.wav"
        sf.write(path, 0.1 * coloured_noise(int(seconds * SAMPLE_RATE), exponent, k), SAMPLE_RATE)
        clips.append(Clip(id=f"noise{k}", source="test-noise", duration=seconds, path=str(path)))
    manifest = root / "noise.jsonl.gz"
    write_clips(manifest, clips)
    out = root / "chat"
    config = ScenarioConfig(stream_seconds=(40.0, 60.0), background_prob=0.0)
    build(single("chat", out, streams=8, seed=2, noise=(manifest,), config=config))
    return out, manifest


def stems(out: Path) -> list[tuple[dict, np.ndarray, np.ndarray, dict]]:
    clips, loader = noise_clips(out), ClipLoader()
    audio_of = {k: loader.load(c) for k, c in clips.items()}
    found = []
    for tar in sorted((out / "shards").glob("*.tar")):
        for meta, audio, _ in read_shard(tar).values():
            stem = noise_stem(meta, audio_of.get)
            assert stem is not None
            found.append((meta, audio, stem, {k: v.size for k, v in audio_of.items()}))
    return found


def test_no_level_step_at_any_stitcher_boundary(stationary: tuple[Path, Path]) -> None:
    """Steps between adjacent 10 ms windows at every boundary the stitcher made are no larger than the
    noise's own steps between any two adjacent windows (even white noise has some: a 10 ms window's power
    varies by ~11%): no step above 3 dB that the noise itself does not have."""
    out, _ = stationary
    at, own = [], []
    for meta, _, stem, sizes in stems(out):
        edges = boundaries(meta, sizes)
        at += level_steps(stem, edges)
        own += level_steps(stem, away_from(edges, stem.size, every=400))
        windows = stem[: stem.size // 160 * 160].reshape(-1, 160)
        assert np.mean(windows**2, axis=1).min() > 1e-7  # the noise never switches off
    at_arr, own_arr = np.array(at), np.array(own)
    assert at_arr.size > 500 and own_arr.size > 5000
    assert np.mean(at_arr > 3.0) <= np.mean(own_arr > 3.0) + 0.005
    assert np.percentile(at_arr, 99) <= np.percentile(own_arr, 99) + 0.5
    assert at_arr.max() <= own_arr.max()


def test_the_test_catches_beds_that_switch_with_the_voice(stationary: tuple[Path, Path]) -> None:
    """The same beds as before this change: exactly over their gaps, with hard edges. Steps of 10 dB and
    more appear where a voice starts and ends: what the test above rules out."""
    out, _ = stationary
    meta = stems(out)[0][0]
    loader = ClipLoader()
    audio_of = {k: loader.load(c) for k, c in noise_clips(out).items()}
    hard = np.zeros(meta["num_chunks"] * CHUNK_SAMPLES, dtype=np.float32)
    gaps = [e for e in meta["events"] if e.get("role") == "gap"]
    for e in gaps:
        noise = audio_of[e["clip_id"]]
        mix_bed(
            hard, (e["start_sample"], e["end_sample"]), noise, e["offset"], 10 ** (e["gain_db"] / 20), (0, 0)
        )
    assert max(level_steps(hard, [e["start_sample"] for e in gaps[1:]])) > 10


def test_the_stem_is_what_the_stream_holds_between_events(stationary: tuple[Path, Path]) -> None:
    """Where no clip sounds, the stream is its noise stem (rendered again from the JSON alone)."""
    out, _ = stationary
    checked = 0
    for meta, audio, stem, _ in stems(out):
        busy = np.zeros(audio.size, dtype=bool)
        for e in meta["events"]:
            if e["kind"] != "noise":
                busy[e["audio_start_sample"] : e["audio_end_sample"]] = True
        quiet = ~busy
        checked += int(quiet.sum())
        residual = audio[quiet] - stem[quiet]
        assert np.sqrt(np.mean(residual**2)) < 1e-3 * np.sqrt(np.mean(stem[quiet] ** 2)) + 1e-4  # 16-bit
    assert checked > 10 * SAMPLE_RATE


def test_voices_keep_their_room_tone_and_labels_follow_the_voice(stationary: tuple[Path, Path]) -> None:
    out, _ = stationary
    rolls = 0
    for meta, _, _, _ in stems(out):
        for turn in meta["turns"]:
            e = meta["events"][turn["event"]]
            assert e["audio_start_sample"] <= e["start_sample"] < e["end_sample"] <= e["audio_end_sample"]
            assert e["fade_in_samples"] > 0 and e["fade_out_samples"] > 0
            assert turn["chunk"] == -(-e["end_sample"] // 640) // 10  # the voice's end, not the clip's
            rolls += e["audio_end_sample"] > e["end_sample"]
    assert rolls > 0


def test_each_talker_keeps_one_level_and_one_room(tmp_path: Path) -> None:
    from streamaudio.plan.pools import ManifestCache, load_pools
    from streamaudio.plan.spec import Part
    from streamaudio.render.augment import AugmentSpec

    config = ScenarioConfig(augment=(AugmentSpec("reverb", 1.0, {"absorption": (0.1, 0.6)}),))
    pools, _ = load_pools(Part("environment", "train", streams=1, config=config), ManifestCache(tmp_path))
    scenario = SCENARIOS["environment"](pools, config, seed=3)
    talkers = 0
    for index in range(6):
        plan = scenario.plan(index, f"s{index}")
        by_talker: dict[str, list] = {}
        for seg in plan.segments:
            by_talker.setdefault(seg.info["talker"], []).append(seg)
        for segs in by_talker.values():
            assert all(s.augment == segs[0].augment for s in segs)  # one room
            levels = [s.level_db for s in segs]
            assert max(levels) - min(levels) <= 2.0  # one level, give or take the talker's jitter
            talkers += len(segs) > 1
    assert talkers > 0
    assert isinstance(pools, Pools)

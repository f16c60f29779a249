"""The stitcher's rules, on real espeak-ng speech and on clips whose lengths we choose to the sample."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from streamaudio.check.validate import check_sample
from streamaudio.plan.scenarios import AsrScenario, Pools, ScenarioConfig
from streamaudio.plan.stream_plan import Background, Segment, StreamPlan
from streamaudio.prepare.demo import NOISE_MANIFEST, SPEECH_MANIFEST, manifest_path
from streamaudio.prepare.manifest import Clip, read_clips
from streamaudio.protocol import CHUNK_SAMPLES, SAMPLE_RATE, reply_chunk
from streamaudio.render.clips import ClipLoader
from streamaudio.render.dsp import NOISE_ENERGY, Scratch, loop_pieces
from streamaudio.render.stitch import render
from streamaudio.tts.voices import VoiceChoice


@pytest.fixture(scope="module")
def pools() -> Pools:
    return Pools(
        speech=list(read_clips(manifest_path(SPEECH_MANIFEST))),
        noise=list(read_clips(manifest_path(NOISE_MANIFEST))),
        voices=VoiceChoice().pool(),
    )


@pytest.fixture(scope="module")
def loader() -> ClipLoader:
    return ClipLoader()


def _quantize(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, -1, 32767 / 32768) * 32768) / 32768


def test_rendered_asr_streams_obey_the_contract(pools: Pools, loader: ClipLoader) -> None:
    scenario = AsrScenario(pools, ScenarioConfig(stream_seconds=(20, 60)), seed=11)
    for i in range(6):
        r = render(scenario.plan(i, f"asr-train-{i:09d}"), loader)
        assert r.audio.size == r.meta["num_chunks"] * CHUNK_SAMPLES
        assert check_sample(r.meta, _quantize(r.audio), SAMPLE_RATE) == []
        b = [i for i, c in enumerate(r.meta["chunk_labels"]) if c == "B"]
        assert b == [t["chunk"] for t in r.meta["turns"] if t["respond"]]
        speech = [e for e in r.meta["events"] if e["kind"] == "speech"]
        assert len(speech) >= 1 and r.meta["events"][0]["kind"] == "instruction"
        for t in r.meta["turns"]:
            ev = r.meta["events"][t["event"]]
            assert t["chunk"] == reply_chunk(ev["end_sample"])
            if ev["kind"] == "speech":
                assert t["text"] == ev["text"]


def _stems(plan: StreamPlan, loader: ClipLoader) -> tuple[np.ndarray, np.ndarray]:
    """Speech alone, and background noise alone, of a plan without gap fills."""
    plan = dataclasses.replace(
        plan, segments=tuple(dataclasses.replace(s, gap_fill=None) for s in plan.segments), tail_fill=None
    )
    speech = render(dataclasses.replace(plan, background=None), loader)
    full = render(plan, loader)
    return speech.audio, full.audio - speech.audio


@pytest.mark.parametrize("snr", [0.0, 7.5, 20.0, 35.0])
def test_background_snr_is_measured_against_all_active_speech(
    pools: Pools, loader: ClipLoader, snr: float
) -> None:
    scenario = AsrScenario(
        pools,
        ScenarioConfig(stream_seconds=(30, 40), background_prob=1.0, snr_db=(snr, snr), gain_jitter_db=6.0),
        seed=5,
    )
    plan = scenario.plan(0, "snr")
    # make the first utterance 15 dB quieter than the rest: a first-track SNR would be far off
    first = dataclasses.replace(plan.segments[1], level_db=plan.segments[1].level_db - 15)
    plan = dataclasses.replace(plan, segments=(plan.segments[0], first, *plan.segments[2:]))
    speech, noise = _stems(plan, loader)
    frames = speech[: speech.size // 320 * 320].reshape(-1, 320)
    power = np.mean(frames.astype(np.float64) ** 2, axis=1)
    active = power > 10 ** (-50 / 10)  # clean TTS: everything above -50 dBFS is speech
    measured = 10 * np.log10(power[active].mean() / np.mean(noise.astype(np.float64) ** 2))
    assert measured == pytest.approx(snr, abs=0.5)


def test_loud_streams_are_scaled_not_clipped_and_gains_stay_true(pools: Pools, loader: ClipLoader) -> None:
    cfg = ScenarioConfig(
        stream_seconds=(20, 30), speech_level_db=2.0, gain_jitter_db=0.0, background_prob=0.0
    )
    plan = AsrScenario(pools, cfg, seed=2).plan(0, "loud")
    plan = dataclasses.replace(
        plan, segments=tuple(dataclasses.replace(s, gap_fill=None) for s in plan.segments), tail_fill=None
    )
    r = render(plan, loader)
    assert 0.9 < np.max(np.abs(r.audio)) <= 0.98 + 1e-6
    for ev, seg in zip(r.meta["events"], plan.segments, strict=False):
        clip = loader.load(seg.clip)
        # the placed audio is the clip from clip_start_sample on; away from its fades, at gain_db exactly
        a = ev["audio_start_sample"] + ev["fade_in_samples"]
        b = ev["audio_end_sample"] - ev["fade_out_samples"]
        c = ev["clip_start_sample"] + ev["fade_in_samples"]
        assert ev["audio_start_sample"] <= ev["start_sample"] < ev["end_sample"] <= ev["audio_end_sample"]
        expected = clip[c : c + b - a] * 10 ** (ev["gain_db"] / 20)
        assert np.max(np.abs(r.audio[a:b] - expected)) < 1e-3


class ToneLoader(ClipLoader):
    """Clips whose audio is a steady tone of exactly ``duration`` seconds (no silence to trim)."""

    def _load(self, clip: Clip) -> np.ndarray:
        n = round(clip.duration * SAMPLE_RATE)
        return (0.3 * np.sin(2 * np.pi * 330 * np.arange(n) / SAMPLE_RATE)).astype(np.float32)


def _tone_plan(lengths: list[int], gaps: list[int], delay: int = 0) -> StreamPlan:
    segments = tuple(
        Segment(
            "speech",
            Clip(id=f"c{i}", source="t", duration=n / SAMPLE_RATE, text=f"u{i}", path="x"),
            gap_before=g / SAMPLE_RATE,
            gap_fill=None,
            level_db=-20.0,
            respond=True,
            reply=f"u{i}",
        )
        for i, (n, g) in enumerate(zip(lengths, gaps, strict=True))
    )
    return StreamPlan(
        "tones",
        "asr",
        "train",
        "en",
        1,
        segments,
        tail_gap=0.0,
        tail_fill=None,
        background=None,
        reply_delay_chunks=delay,
    )


def test_events_ending_on_frame_and_chunk_boundaries() -> None:
    # ends: 6400 (chunk boundary), 19200 + 640 = 19840 (frame boundary), 32000 + 1 (one past a chunk)
    r = render(_tone_plan([6400, 6400, 6401], [0, 7040, 5759]), ToneLoader())
    ends = [e["end_sample"] for e in r.meta["events"]]
    assert ends == [6400, 19840, 32000]
    assert [t["chunk"] for t in r.meta["turns"]] == [1, 3, 5]
    assert r.meta["chunk_labels"] == "SBSBSB"
    assert r.audio.size == 6 * CHUNK_SAMPLES  # padded so the last reply chunk exists


def test_replies_that_would_share_a_chunk_are_pushed_apart() -> None:
    r = render(_tone_plan([1600, 1600, 1600], [0, 0, 0]), ToneLoader())
    chunks = [t["chunk"] for t in r.meta["turns"]]
    assert len(set(chunks)) == 3
    for t in r.meta["turns"]:
        assert t["chunk"] == reply_chunk(r.meta["events"][t["event"]]["end_sample"])
    assert check_sample(r.meta, r.audio, SAMPLE_RATE) == []


def test_reply_delay_shifts_every_reply() -> None:
    r = render(_tone_plan([6400, 6400], [0, 6400], delay=2), ToneLoader())
    assert [t["chunk"] for t in r.meta["turns"]] == [3, 5]
    assert r.meta["chunk_labels"].count("B") == 2 and r.meta["num_chunks"] == 6


def test_undecodable_clip_is_left_out_and_reported(tmp_path: Path, loader: ClipLoader) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEfmt garbage")
    good = tmp_path / "good.wav"
    sf.write(good, 0.2 * np.sin(np.arange(16000) / 5.0), 16000)
    segs = tuple(
        Segment(
            "speech",
            Clip(id=p.name, source="user", duration=1.0, text="t", path=str(p)),
            1.0,
            None,
            -20.0,
            True,
            "t",
        )
        for p in (good, broken, good)
    )
    noise = Clip(id="n", source="demo-noise", duration=5.0, generator={"kind": "coloured", "exponent": 1.0})
    plan = StreamPlan("x", "asr", "train", "en", 1, segs, 1.0, None, Background(noise, 0.0, 10.0))
    r = render(plan, loader)
    assert [e["clip_id"] for e in r.meta["events"] if e["kind"] == "speech"] == ["good.wav", "good.wav"]
    assert r.rejects and r.rejects[0]["clip_id"] == "broken.wav" and r.rejects[0]["reason"] == "decode_error"
    assert "broken.wav" in r.rejects[0]["detail"]


@pytest.mark.parametrize(
    ("offset", "length"), [(0.0, 1), (0.25, 300), (0.5, 16000), (0.999, 70001), (0.1, 250_000)]
)
def test_looped_noise_slice_rms_is_the_rms_of_its_samples(offset: float, length: int) -> None:
    noise = np.random.default_rng(4).standard_normal(48_123).astype(np.float32)  # not whole frames
    noise[:5000] *= 10  # uneven, so a slice measured at the wrong place is far off
    pieces = [noise[a:b] for _, a, b in loop_pieces(noise.size, offset, length)]
    samples = np.concatenate(pieces).astype(np.float64)
    assert samples.size == length
    expected = np.sqrt(np.mean(samples**2))  # frames are summed in float32: about 1e-8 off
    assert NOISE_ENERGY.slice_rms(noise, offset, length) == pytest.approx(expected, rel=1e-6)


def test_rendering_into_a_reused_buffer_changes_nothing(pools: Pools, loader: ClipLoader) -> None:
    scenario = AsrScenario(pools, ScenarioConfig(stream_seconds=(10, 30), background_prob=0.5), seed=8)
    plans = [scenario.plan(i, f"s{i}") for i in range(4)]
    scratch = Scratch()
    for plan in plans:
        fresh = render(plan, loader)
        reused = render(plan, loader, scratch)
        assert np.array_equal(fresh.audio, reused.audio) and fresh.meta == reused.meta


class CountingLoader(ToneLoader):
    """Counts how often each clip is decoded."""

    def __init__(self) -> None:
        super().__init__()
        self.decoded: dict[str, int] = {}

    def _load(self, clip: Clip) -> np.ndarray:
        self.decoded[clip.id] = self.decoded.get(clip.id, 0) + 1
        return super()._load(clip)


def test_file_clips_are_decoded_per_use_while_noise_and_spoken_clips_are_kept() -> None:
    plan = _tone_plan([16000, 8000], [4000, 4000])
    spoken = Clip(id="tts-x", source="tts", duration=0.5, text="hi", tts={"engine": "e", "voice": "v"})
    bed = Clip(id="bed", source="noise", duration=3.0, path="bed.wav")
    instruction = dataclasses.replace(plan.segments[0], kind="instruction", clip=spoken)
    plan = dataclasses.replace(
        plan, segments=(instruction, *plan.segments), background=Background(bed, 0.0, 10.0)
    )
    loader = CountingLoader()
    for _ in range(3):
        render(plan, loader)
    # speech files are drawn from decks and come round once per pool: caching them only grows memory
    assert loader.decoded == {"tts-x": 1, "c0": 3, "c1": 3, "bed": 1}

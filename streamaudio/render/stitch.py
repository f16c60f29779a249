"""The stitcher: renders a stream plan into audio, events, turns and chunk labels (docs/protocol.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamaudio.plan.stream_plan import NoiseSlice, Segment, StreamPlan
from streamaudio.prepare.manifest import Clip
from streamaudio.prepare.rejects import Reject
from streamaudio.protocol import CHUNK_SAMPLES, FRAME_SAMPLES, FRAMES_PER_CHUNK, chunks_for, reply_chunk
from streamaudio.render import augment
from streamaudio.render.audio import (
    ACTIVE_FRAME,
    AudioError,
    active_mask,
    active_power,
    db_to_gain,
    frame_powers,
    level_db,
)
from streamaudio.render.clips import ClipLoader
from streamaudio.render.dsp import NOISE_ENERGY, Scratch, bed_offset, fade, mix_bed, to_samples
from streamaudio.render.media import broadcast
from streamaudio.render.sample_json import Bed, Placed, StreamJSON, sample_json, turn_chunk

SILENT_RMS = 1e-5  # -100 dBFS: a clip this quiet has nothing to place


PEAK_LIMIT = 0.98  # a stream whose mix peaks above this is scaled down as a whole


TRIM_MARGIN = 2  # active frames (20 ms each) counted into the voice around the energy gate's frames


FOREGROUND_SPEECH = ("instruction", "speech")


# Natural boundaries (all lengths drawn per stream from the plan's seed, so renders stay reproducible):
PRE_ROLL = (0.05, 0.25)  # seconds of the clip's own room tone kept before the voice, where it has them


POST_ROLL = (0.10, 0.30)  # … and after it


EDGE_FADE = (0.01, 0.04)  # raised-cosine fade where a clip has no room tone to fade over


BED_CROSSFADE = (0.25, 0.6)  # gap beds crossfade into each other under the event between them


RENDER_SALT = 0x5717C4


MEDIA_SALT = 0x3ED1A  # the media layer's own generator: a stream without it renders as it always has


MEDIA_FADE = 0.02  # seconds of fade at the ends of a media utterance's audio


@dataclass
class Rendered:
    """A rendered stream: its audio, its sample JSON, and the clips that could not be used."""

    audio: np.ndarray
    meta: StreamJSON
    rejects: list[dict[str, Any]] = field(default_factory=list)


def voice_bounds(powers: np.ndarray, size: int) -> tuple[int, int]:
    """Sample range of a clip's active signal by the energy gate (with a small margin); all of it if none."""
    mask = active_mask(powers)
    if not mask.any():
        return 0, size
    idx = np.flatnonzero(mask)
    a = max(0, int(idx[0] - TRIM_MARGIN) * ACTIVE_FRAME)
    b = min(size, int(idx[-1] + 1 + TRIM_MARGIN) * ACTIVE_FRAME)
    return a, b


def min_end_for_chunk(chunk: int) -> int:
    """Smallest end sample whose reply (without delay) lands on ``chunk`` or later."""
    return 0 if chunk <= 0 else FRAME_SAMPLES * (FRAMES_PER_CHUNK * chunk - 1) + 1


def _reject(plan: StreamPlan, clip: Clip, reason: str, detail: str) -> dict[str, Any]:
    """A clip left out of a stream, as ``rejected.jsonl`` records it."""
    return Reject(clip.id, clip.source, reason, detail, clip.path, "render", plan.id).to_row()


def render(plan: StreamPlan, loader: ClipLoader, scratch: Scratch | None = None) -> Rendered:
    """Render a plan. A clip that cannot be used is left out (with its gap) and reported: the caller drops
    such a stream, which is not what its plan says. With a ``scratch``, the audio is a view into its
    buffer, valid until the next render into it."""
    rejects: list[dict[str, Any]] = []
    rng = np.random.default_rng([plan.seed, RENDER_SALT])

    def load(clip: Clip, keep: bool = True) -> np.ndarray | None:
        try:
            return loader.load(clip, keep=keep)
        except AudioError as exc:
            rejects.append(_reject(plan, clip, exc.reason, str(exc)))
            return None

    placed, gaps, pos = _place(plan, load, rng, rejects)
    if plan.media:
        placed = sorted(placed + _place_media(plan, load, rejects, pos), key=lambda p: p.start)
    num_chunks = _stream_chunks(plan, placed, pos)
    length = num_chunks * CHUNK_SAMPLES
    gaps.append((pos, length, plan.tail_fill))
    mix, beds, bg_gain_db, master_db = _mix(plan, placed, gaps, load, rng, length, scratch)
    return Rendered(mix, sample_json(plan, placed, beds, bg_gain_db, master_db, num_chunks), rejects)


Loader = Callable[..., np.ndarray | None]  # a clip's audio, or None when it failed (and was reported)


def _place(
    plan: StreamPlan, load: Loader, rng: np.random.Generator, rejects: list[dict[str, Any]]
) -> tuple[list[Placed], list[tuple[int, int, NoiseSlice | None]], int]:
    """Each event's voice placed in the stream after its gap, with room tone, fades and gain; the gaps
    between them; where the last voice ends."""
    placed: list[Placed] = []
    gaps: list[tuple[int, int, NoiseSlice | None]] = []
    pos = 0  # where the last voice ends
    last_reply = -1
    last_start = 0
    for seg in plan.segments:
        found = _voice(plan, seg, load, rejects)
        if found is None:
            continue
        raw, powers, (v0, v1) = found
        if seg.max_seconds is not None:  # a long sound is cut; what follows the cut fades it out
            v1 = min(v1, v0 + to_samples(seg.max_seconds))
        pre = min(v0, _draw_samples(rng, PRE_ROLL))
        post = min(raw.size - v1, _draw_samples(rng, POST_ROLL))
        edge_in, edge_out = _draw_samples(rng, EDGE_FADE), _draw_samples(rng, EDGE_FADE)
        size = v1 - v0
        start = max(pos + to_samples(seg.gap_before), last_start)  # an overlap never reaches back past it
        if seg.respond:  # at most one reply per chunk: push the event later if its reply would collide
            start += max(0, min_end_for_chunk(last_reply + 1 - seg.reply_after_chunks) - (start + size))
            last_reply = reply_chunk(start + size) + seg.reply_after_chunks
        pre = min(pre, start)
        audio = raw[v0 - pre : v1 + post]
        augmented = False
        for name, params in seg.augment:
            if name != "gain":
                audio, augmented = augment.apply(audio, name, params), True
        audio = audio if augmented else audio.copy()  # a kept clip's samples are shared: fade a copy
        voice = audio[pre : pre + size]
        level_powers = (
            powers[v0 // ACTIVE_FRAME : v1 // ACTIVE_FRAME] if not augmented else frame_powers(voice)
        )
        gain_db = seg.level_db - level_db(_clip_level(voice, level_powers))
        gain_db += sum(params["gain_db"] for name, params in seg.augment if name == "gain")
        fades = (max(pre, edge_in), max(post, edge_out))
        fades = (min(fades[0], audio.size // 3), min(fades[1], audio.size // 3))
        fade(audio, *fades)
        if start > pos:
            gaps.append((pos, start, seg.gap_fill))
        placed.append(
            Placed(seg, audio, level_powers, start - pre, start, start + size, v0 - pre, gain_db, fades)
        )
        pos = max(pos, start + size)
        last_start = start

    return placed, gaps, pos


def _voice(
    plan: StreamPlan, seg: Segment, load: Loader, rejects: list[dict[str, Any]]
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]] | None:
    """A segment's clip, its frame powers and where its voice lies; None (reported) when it cannot be read
    or is silent. One pass over the clip: the silence check, the voice bounds and the level use it."""
    raw = load(seg.clip, keep=seg.clip.path is None)  # a file's clip comes round once per pool
    if raw is None:
        return None
    powers = frame_powers(raw)
    if _mean_power(raw, powers) < SILENT_RMS**2:
        detail = f"{seg.clip.id}: no signal above {level_db(SILENT_RMS):.0f} dBFS"
        rejects.append(_reject(plan, seg.clip, "silent_clip", detail))
        return None
    return raw, powers, voice_bounds(powers, raw.size)


def _place_media(plan: StreamPlan, load: Loader, rejects: list[dict[str, Any]], end: int) -> list[Placed]:
    """The media layer's utterances one after the other from the stream's start, each band-limited and
    reverberant, as many as end (with their reverberation) before the last foreground voice ends."""
    rng = np.random.default_rng([plan.seed, MEDIA_SALT])
    placed: list[Placed] = []
    pos = 0
    for seg in plan.media:
        found = _voice(plan, seg, load, rejects)
        if found is None:
            continue
        raw, _, (v0, v1) = found
        audio = broadcast(raw[v0:v1], seg.info["media"], rng)
        start = pos + to_samples(seg.gap_before)
        if start + audio.size > end:
            break
        size = v1 - v0
        voice_powers = frame_powers(audio[:size])
        gain_db = seg.level_db - level_db(_clip_level(audio[:size], voice_powers))
        edge = min(to_samples(MEDIA_FADE), audio.size // 3)
        fade(audio, edge, edge)
        placed.append(Placed(seg, audio, voice_powers, start, start, start + size, v0, gain_db, (edge, edge)))
        pos = start + size
    return placed


def _stream_chunks(plan: StreamPlan, placed: list[Placed], pos: int) -> int:
    """How many chunks the stream has."""
    # every turn's chunk, silent ones too, must lie inside the stream
    turn_chunks = [turn_chunk(plan, p) for p in placed]
    # the stream reaches the length its build asked for: events rarely sound as long as their clips'
    # durations promise (silence is trimmed, sounds are cut), so the tail's noise fills what is left
    end = max([pos + to_samples(plan.tail_gap), to_samples(plan.min_seconds), *(p.audio_end for p in placed)])
    if turn_chunks:
        end = max(end, (max(turn_chunks) + 1) * CHUNK_SAMPLES)
    return max(1, chunks_for(end))


def _mix(
    plan: StreamPlan,
    placed: list[Placed],
    gaps: list[tuple[int, int, NoiseSlice | None]],
    load: Loader,
    rng: np.random.Generator,
    length: int,
    scratch: Scratch | None,
) -> tuple[np.ndarray, list[Bed], float | None, float]:
    """The background, the gap beds and the events mixed, limited to the peak: the audio, the beds, the
    background's gain and the master gain."""
    bg_gain_db = None
    bg_audio = None if plan.background is None else load(plan.background.clip)
    if plan.background is not None and bg_audio is not None:
        speech_rms = _pooled_active_rms(
            [
                p
                for p in placed
                if p.segment.kind in FOREGROUND_SPEECH and p.segment.info.get("role") != "media"
            ]
        )
        bg_rms = NOISE_ENERGY.slice_rms(bg_audio, bed_offset(plan.background.offset), length)
        if speech_rms > 0 and bg_rms > 0:
            bg_gain_db = level_db(speech_rms) - plan.background.snr_db - level_db(bg_rms)
    mix = np.empty(length, dtype=np.float32) if scratch is None else scratch.take(length)
    mix.fill(0.0)
    if bg_gain_db is not None:
        mix_bed(
            mix, (0, length), bg_audio, bed_offset(plan.background.offset), db_to_gain(bg_gain_db), (0, 0)
        )
    beds = _beds(gaps, load, rng, length)
    for bed in beds:
        mix_bed(mix, bed.span, bed.noise, bed_offset(bed.fill.offset), bed.gain, bed.fades)
    for p in placed:
        mix[p.audio_start : p.audio_end] += p.audio * np.float32(db_to_gain(p.gain_db))

    peak = max(float(mix.max()), -float(mix.min()))
    master_db = level_db(PEAK_LIMIT / peak) if peak > PEAK_LIMIT else 0.0
    if master_db:
        mix *= np.float32(db_to_gain(master_db))

    return mix, beds, bg_gain_db, master_db


def _draw_samples(rng: np.random.Generator, seconds: tuple[float, float]) -> int:
    lo, hi = seconds
    return to_samples(lo + (hi - lo) * rng.random())


def _beds(
    gaps: list[tuple[int, int, NoiseSlice | None]],
    load: Any,
    rng: np.random.Generator,
    length: int,
) -> list[Bed]:
    """The gaps' noise beds, each reaching under the events beside it: consecutive beds crossfade (equal
    power) under the event between them, so the noise never switches on or off where a voice starts or
    ends; a bed with no neighbour fades in or out under its event on its own."""
    beds = []
    for a, b, fill in gaps:
        noise = None if fill is None or b <= a else load(fill.clip)
        if noise is not None:
            beds.append(Bed((a, b), fill, noise))
    for k, bed in enumerate(beds):
        a, b = bed.gap
        before = beds[k - 1].gap[1] if k else 0
        reach = min(a - before, _draw_samples(rng, BED_CROSSFADE))
        if k and reach:  # the crossfade with the bed before, centred under the event between them
            fade_start = (before + a - reach) // 2
            prev = beds[k - 1]
            prev.span, prev.fades = (prev.span[0], fade_start + reach), (prev.fades[0], reach)
            bed.span, bed.fades = (fade_start, b), (reach, 0)
        else:  # the first bed fades in under the event before it (none when it starts the stream)
            bed.span, bed.fades = (a - reach, b), (reach, 0)
    if beds and beds[-1].span[1] < length:  # the tail gap had no bed: the last one fades out on its own
        last = beds[-1]
        reach = min(length - last.span[1], _draw_samples(rng, BED_CROSSFADE))
        last.span, last.fades = (last.span[0], last.span[1] + reach), (last.fades[0], reach)
    for bed in beds:
        span = bed.span[1] - bed.span[0]
        rms = NOISE_ENERGY.slice_rms(bed.noise, bed_offset(bed.fill.offset), span)
        bed.gain = db_to_gain(bed.fill.level_db) / max(rms, 1e-9)
    return beds


def _mean_power(audio: np.ndarray, powers: np.ndarray) -> float:
    """Mean power of the whole clip from its frame powers plus the samples after the last whole frame."""
    tail = audio[powers.size * ACTIVE_FRAME :]
    energy = float(np.sum(powers)) * ACTIVE_FRAME + float(np.sum(np.square(tail, dtype=np.float64)))
    return energy / audio.size if audio.size else 0.0


def _clip_level(audio: np.ndarray, powers: np.ndarray) -> float:
    """Level a clip is normalised by: the RMS over its voice (from the first active frame to the last),
    for speech and sounds alike, so that how loud an event is does not tell speech from sound."""
    return float(np.sqrt(_mean_power(audio, powers))) if audio.size else 1e-9


def _pooled_active_rms(speech: list[Placed]) -> float:
    """Active RMS of all foreground speech at its placed level: what background SNR is measured against."""
    power = count = 0
    for p in speech:
        pw, c = active_power(p.audio, p.powers, db_to_gain(p.gain_db))
        power += pw
        count += c
    return float(np.sqrt(power / count)) if count else 0.0

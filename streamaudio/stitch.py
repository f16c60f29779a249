"""The stitcher: renders a stream plan into audio, events, turns and chunk labels (docs/protocol.md)."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamaudio import augment
from streamaudio import protocol as P
from streamaudio.audio import (
    ACTIVE_FRAME,
    AudioError,
    active_mask,
    active_power,
    db_to_gain,
    frame_powers,
    level_db,
)
from streamaudio.clips import ClipLoader
from streamaudio.manifest import Clip
from streamaudio.plan import NoiseSlice, Segment, StreamPlan

SILENT_RMS = 1e-5  # -100 dBFS: a clip this quiet has nothing to place
PEAK_LIMIT = 0.98  # a stream whose mix peaks above this is scaled down as a whole
TRIM_MARGIN = 2  # active frames (20 ms each) kept around a trimmed clip
FOREGROUND_SPEECH = ("instruction", "speech")


@dataclass
class Rendered:
    """A rendered stream: its audio, its sample JSON, and the clips that could not be used."""

    audio: np.ndarray
    meta: dict[str, Any]
    rejects: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Placed:
    segment: Segment
    audio: np.ndarray
    powers: np.ndarray  # frame powers of ``audio`` before gain
    start: int
    trim_start: int
    gain_db: float

    @property
    def end(self) -> int:
        return self.start + self.audio.size


def trim_silence(audio: np.ndarray, powers: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Cut leading and trailing inactive frames (keeping a small margin); returns audio and cut start."""
    mask = active_mask(frame_powers(audio) if powers is None else powers)
    if not mask.any():
        return audio, 0
    idx = np.flatnonzero(mask)
    a = max(0, int(idx[0] - TRIM_MARGIN) * ACTIVE_FRAME)
    b = min(audio.size, int(idx[-1] + 1 + TRIM_MARGIN) * ACTIVE_FRAME)
    return audio[a:b], a


def loop_pieces(size: int, offset: float, length: int) -> Iterator[tuple[int, int, int]]:
    """(position, source start, source end) pieces that fill ``length`` samples from a ``size``-sample
    clip, starting at fraction ``offset`` of it and looping as needed."""
    start = int(offset * size) % size
    pos = 0
    while pos < length:
        take = min(size - start, length - pos)
        yield pos, start, start + take
        pos += take
        start = 0


class Scratch:
    """A float32 buffer reused from stream to stream, so that a worker does not fault in fresh pages for
    every stream it renders."""

    def __init__(self) -> None:
        self._buffer = np.empty(0, dtype=np.float32)

    def take(self, length: int) -> np.ndarray:
        if self._buffer.size < length:
            self._buffer = np.empty(length + length // 4, dtype=np.float32)
        return self._buffer[:length]


class _NoiseEnergy:
    """Cumulative energy of noise clips at frame boundaries, kept while their audio is alive: the RMS of
    any looped slice then costs two lookups per piece plus the samples at its ragged edges."""

    def __init__(self) -> None:
        self._cache: dict[int, tuple[weakref.ref, np.ndarray]] = {}

    def slice_rms(self, audio: np.ndarray, offset: float, length: int) -> float:
        cumulative = self._cumulative(audio)
        total = sum(
            _range_energy(audio, cumulative, a, b) for _, a, b in loop_pieces(audio.size, offset, length)
        )
        return float(np.sqrt(total / length)) if length else 0.0

    def _cumulative(self, audio: np.ndarray) -> np.ndarray:
        key = id(audio)
        hit = self._cache.get(key)
        if hit is not None and hit[0]() is audio:
            return hit[1]
        cumulative = np.concatenate([[0.0], np.cumsum(frame_powers(audio) * ACTIVE_FRAME)])
        self._cache[key] = (weakref.ref(audio, lambda _, k=key: self._cache.pop(k, None)), cumulative)
        return cumulative


def _range_energy(audio: np.ndarray, cumulative: np.ndarray, a: int, b: int) -> float:
    """Energy of ``audio[a:b]``: whole frames from the cumulative sums, the partial frames summed."""
    first, last = -(-a // ACTIVE_FRAME), b // ACTIVE_FRAME
    if first >= last:
        return float(np.sum(np.square(audio[a:b], dtype=np.float64)))
    edges = np.concatenate([audio[a : first * ACTIVE_FRAME], audio[last * ACTIVE_FRAME : b]])
    return float(cumulative[last] - cumulative[first]) + float(np.sum(np.square(edges, dtype=np.float64)))


_ENERGY = _NoiseEnergy()


def _mix_looped(
    mix: np.ndarray, a: int, b: int, audio: np.ndarray, offset: float, gain: float, *, add: bool
) -> None:
    """Add (or, with ``add`` false, write) ``gain`` times a looped slice of ``audio`` into ``mix[a:b]``."""
    for pos, s, e in loop_pieces(audio.size, offset, b - a):
        out = mix[a + pos : a + pos + e - s]
        if add:
            out += audio[s:e] * np.float32(gain)
        else:
            np.multiply(audio[s:e], np.float32(gain), out=out)


def min_end_for_chunk(chunk: int) -> int:
    """Smallest end sample whose reply (without delay) lands on ``chunk`` or later."""
    return 0 if chunk <= 0 else P.FRAME_SAMPLES * (P.FRAMES_PER_CHUNK * chunk - 1) + 1


def _seconds(s: float) -> int:
    return round(s * P.SAMPLE_RATE)


def _reject(plan: StreamPlan, clip: Clip, reason: str, detail: str) -> dict[str, Any]:
    """A clip left out of a stream, as ``rejected.jsonl`` records it."""
    return {"clip_id": clip.id, "source": clip.source, "reason": reason, "detail": detail, "stream": plan.id}


def render(plan: StreamPlan, loader: ClipLoader, scratch: Scratch | None = None) -> Rendered:
    """Render a plan. A clip that cannot be decoded is left out (with its gap) and reported. With a
    ``scratch``, the audio is a view into its buffer, valid until the next render into it."""
    rejects: list[dict[str, Any]] = []

    def load(clip: Clip, keep: bool = True) -> np.ndarray | None:
        try:
            return loader.load(clip, keep=keep)
        except AudioError as exc:
            rejects.append(_reject(plan, clip, "decode_error", str(exc)))
            return None

    placed: list[_Placed] = []
    gaps: list[tuple[int, int, NoiseSlice | None]] = []
    pos = 0
    last_reply = -1
    last_start = 0
    for seg in plan.segments:
        raw = load(seg.clip, keep=seg.clip.path is None)  # a file's clip comes round once per pool
        if raw is None:
            continue
        powers = frame_powers(raw)  # one pass over the clip: silence check, trim and level all use it
        if _mean_power(raw, powers) < SILENT_RMS**2:
            detail = f"{seg.clip.id}: no signal above {level_db(SILENT_RMS):.0f} dBFS"
            rejects.append(_reject(plan, seg.clip, "silent_clip", detail))
            continue
        audio, trim_start = trim_silence(raw, powers)
        first = trim_start // ACTIVE_FRAME
        powers = powers[first : first + audio.size // ACTIVE_FRAME]
        for name, params in seg.augment:
            if name != "gain":
                audio = augment.apply(audio, name, params)
                powers = frame_powers(audio)
        start = max(
            pos + _seconds(seg.gap_before), last_start
        )  # an overlap never reaches back past the last start
        if seg.respond:  # at most one reply per chunk: push the event later if its reply would collide
            start += max(0, min_end_for_chunk(last_reply + 1) - (start + audio.size))
            last_reply = P.reply_chunk(start + audio.size)
        if start > pos:
            gaps.append((pos, start, seg.gap_fill))
        gain_db = seg.level_db - level_db(_clip_level(seg.kind, audio, powers))
        gain_db += sum(params["gain_db"] for name, params in seg.augment if name == "gain")
        placed.append(_Placed(seg, audio, powers, start, trim_start, gain_db))
        pos = max(pos, start + audio.size)
        last_start = start

    # every turn's chunk, silent ones too, must lie inside the stream
    turn_chunks = [P.reply_chunk(p.end, plan.reply_delay_chunks) for p in placed]
    end = pos + _seconds(plan.tail_gap)
    if turn_chunks:
        end = max(end, (max(turn_chunks) + 1) * P.CHUNK_SAMPLES)
    num_chunks = max(1, P.chunks_for(end))
    length = num_chunks * P.CHUNK_SAMPLES
    gaps.append((pos, length, plan.tail_fill))

    bg_gain_db = None
    bg_audio = None if plan.background is None else load(plan.background.clip)
    if plan.background is not None and bg_audio is not None:
        speech_rms = _pooled_active_rms([p for p in placed if p.segment.kind in FOREGROUND_SPEECH])
        bg_rms = _ENERGY.slice_rms(bg_audio, plan.background.offset, length)
        if speech_rms > 0 and bg_rms > 0:
            bg_gain_db = level_db(speech_rms) - plan.background.snr_db - level_db(bg_rms)
    mix = np.empty(length, dtype=np.float32) if scratch is None else scratch.take(length)
    if bg_gain_db is None:
        mix.fill(0.0)
    else:  # the bed is written, not added: one pass, no temporary
        _mix_looped(mix, 0, length, bg_audio, plan.background.offset, db_to_gain(bg_gain_db), add=False)
    gap_events: list[tuple[int, int, NoiseSlice, float]] = []
    for a, b, fill in gaps:
        noise = None if fill is None or b <= a else load(fill.clip)
        if noise is None:
            continue
        gain = db_to_gain(fill.level_db) / max(_ENERGY.slice_rms(noise, fill.offset, b - a), 1e-9)
        _mix_looped(mix, a, b, noise, fill.offset, gain, add=True)  # gaps hold no event: this adds to silence
        gap_events.append((a, b, fill, level_db(gain)))
    for p in placed:
        mix[p.start : p.end] += p.audio * np.float32(db_to_gain(p.gain_db))

    peak = max(float(mix.max()), -float(mix.min()))
    master_db = level_db(PEAK_LIMIT / peak) if peak > PEAK_LIMIT else 0.0
    if master_db:
        mix *= np.float32(db_to_gain(master_db))

    meta = _sample_json(plan, placed, gap_events, bg_gain_db, master_db, num_chunks)
    return Rendered(mix, meta, rejects)


def _mean_power(audio: np.ndarray, powers: np.ndarray) -> float:
    """Mean power of the whole clip from its frame powers plus the samples after the last whole frame."""
    tail = audio[powers.size * ACTIVE_FRAME :]
    energy = float(np.sum(powers)) * ACTIVE_FRAME + float(np.sum(np.square(tail, dtype=np.float64)))
    return energy / audio.size if audio.size else 0.0


def _clip_level(kind: str, audio: np.ndarray, powers: np.ndarray) -> float:
    """Level a clip is normalised by: active RMS for speech, plain RMS for sounds."""
    if kind in FOREGROUND_SPEECH:
        power, count = active_power(audio, powers)
        return float(np.sqrt(power / count)) if count else 1e-9
    return float(np.sqrt(_mean_power(audio, powers))) if audio.size else 1e-9


def _pooled_active_rms(speech: list[_Placed]) -> float:
    """Active RMS of all foreground speech at its placed level: what background SNR is measured against."""
    power = count = 0
    for p in speech:
        pw, c = active_power(p.audio, p.powers, db_to_gain(p.gain_db))
        power += pw
        count += c
    return float(np.sqrt(power / count)) if count else 0.0


def _sample_json(
    plan: StreamPlan,
    placed: list[_Placed],
    gap_events: list[tuple[int, int, NoiseSlice, float]],
    bg_gain_db: float | None,
    master_db: float,
    num_chunks: int,
) -> dict[str, Any]:
    events: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    labels = [P.LABEL_SILENT] * num_chunks
    for i, p in enumerate(placed):
        clip, seg = p.segment.clip, p.segment
        ev: dict[str, Any] = {
            "kind": seg.kind,
            "start_sample": p.start,
            "end_sample": p.end,
            "source": clip.source,
            "clip_id": clip.id,
        }
        for key in ("text", "translation", "language", "speaker", "category"):
            if getattr(clip, key):
                ev[key] = getattr(clip, key)
        if clip.labels:
            ev["labels"] = list(clip.labels)
        if clip.label_names:
            ev["label_names"] = list(clip.label_names)
        if clip.tts:
            ev["tts"] = dict(clip.tts)
        ev["clip_start_sample"] = p.trim_start
        ev["gain_db"] = round(p.gain_db + master_db, 3)
        if seg.augment:
            ev["augment"] = [{"name": name, **params} for name, params in seg.augment]
        ev.update(seg.info)
        events.append(ev)
        chunk = P.reply_chunk(p.end, plan.reply_delay_chunks)
        turn: dict[str, Any] = {"event": i, "chunk": chunk, "respond": seg.respond}
        if seg.respond:
            turn["text"] = seg.reply
            turn["emotion"] = P.normalize_emotion(seg.emotion)
            labels[chunk] = P.LABEL_REPLY
        turns.append(turn)
    for a, b, fill, gain in gap_events:
        events.append(
            {
                "kind": "noise",
                "role": "gap",
                "start_sample": a,
                "end_sample": b,
                "source": fill.clip.source,
                "clip_id": fill.clip.id,
                **({"category": fill.clip.category} if fill.clip.category else {}),
                "gain_db": round(gain + master_db, 3),
            }
        )
    if plan.background is not None and bg_gain_db is not None:
        events.append(
            {
                "kind": "noise",
                "role": "background",
                "start_sample": 0,
                "end_sample": num_chunks * P.CHUNK_SAMPLES,
                "source": plan.background.clip.source,
                "clip_id": plan.background.clip.id,
                **({"category": plan.background.clip.category} if plan.background.clip.category else {}),
                "snr_db": round(plan.background.snr_db, 3),
                "gain_db": round(bg_gain_db + master_db, 3),
            }
        )
    return {
        "schema": P.SCHEMA_STREAM,
        "id": plan.id,
        "capability": plan.capability,
        "split": plan.split,
        "language": plan.language,
        "sample_rate": P.SAMPLE_RATE,
        "num_chunks": num_chunks,
        "reply_delay_chunks": plan.reply_delay_chunks,
        "system_prompt": P.SYSTEM_PROMPT,
        "chunk_labels": "".join(labels),
        "events": events,
        "turns": turns,
        "seed": plan.seed,
    }

"""The stitcher: renders a stream plan into audio, events, turns and chunk labels (docs/protocol.md)."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamaudio import protocol as P
from streamaudio.plan.stream_plan import NoiseSlice, Segment, StreamPlan
from streamaudio.prepare.manifest import Clip
from streamaudio.prepare.rejects import Reject
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

SILENT_RMS = 1e-5  # -100 dBFS: a clip this quiet has nothing to place
PEAK_LIMIT = 0.98  # a stream whose mix peaks above this is scaled down as a whole
TRIM_MARGIN = 2  # active frames (20 ms each) counted into the voice around the energy gate's frames
FOREGROUND_SPEECH = ("instruction", "speech")
# Natural boundaries (all lengths drawn per stream from the plan's seed, so renders stay reproducible):
PRE_ROLL = (0.05, 0.25)  # seconds of the clip's own room tone kept before the voice, where it has them
POST_ROLL = (0.10, 0.30)  # … and after it
EDGE_FADE = (0.01, 0.04)  # raised-cosine fade where a clip has no room tone to fade over
BED_CROSSFADE = (0.25, 0.6)  # gap beds crossfade into each other under the event between them
LOOP_CROSSFADE = 0.1  # seconds of crossfade where a noise bed loops
RENDER_SALT = 0x5717C4


@dataclass
class Rendered:
    """A rendered stream: its audio, its sample JSON, and the clips that could not be used."""

    audio: np.ndarray
    meta: dict[str, Any]
    rejects: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Placed:
    """A foreground clip in the stream: its audio (voice with room tone around it, faded) and where the
    voice itself lies, which is what the labels follow."""

    segment: Segment
    audio: np.ndarray
    powers: np.ndarray  # frame powers of its voice before gain (the room tone around it is not active)
    audio_start: int
    start: int  # the voice
    end: int
    trim_start: int  # where ``audio`` begins in the clip
    gain_db: float
    fades: tuple[int, int]

    @property
    def audio_end(self) -> int:
        return self.audio_start + self.audio.size


@dataclass
class _Bed:
    """A gap's noise bed: the gap it fills, the span it is rendered over (reaching under the events
    around it), its fades there, and its gain."""

    gap: tuple[int, int]
    fill: NoiseSlice
    noise: np.ndarray
    span: tuple[int, int] = (0, 0)
    fades: tuple[int, int] = (0, 0)
    gain: float = 0.0


def voice_bounds(powers: np.ndarray, size: int) -> tuple[int, int]:
    """Sample range of a clip's active signal by the energy gate (with a small margin); all of it if none."""
    mask = active_mask(powers)
    if not mask.any():
        return 0, size
    idx = np.flatnonzero(mask)
    a = max(0, int(idx[0] - TRIM_MARGIN) * ACTIVE_FRAME)
    b = min(size, int(idx[-1] + 1 + TRIM_MARGIN) * ACTIVE_FRAME)
    return a, b


def raised_cosine(n: int) -> np.ndarray:
    """A rising raised-cosine (Hann) ramp of ``n`` samples, from near 0 to near 1."""
    return (0.5 - 0.5 * np.cos(np.pi * (np.arange(n, dtype=np.float32) + 0.5) / n)).astype(np.float32)


def equal_power(n: int) -> np.ndarray:
    """A rising equal-power ramp (the square root of a raised cosine): two uncorrelated noises crossfaded
    with it and its reverse keep their summed power."""
    return np.sin(0.5 * np.pi * (np.arange(n, dtype=np.float32) + 0.5) / n).astype(np.float32)


def _fade(audio: np.ndarray, fade_in: int, fade_out: int, ramp: Any = raised_cosine) -> None:
    """Fade ``audio`` in place over its first ``fade_in`` and last ``fade_out`` samples."""
    if fade_in:
        audio[:fade_in] *= ramp(fade_in)
    if fade_out:
        audio[audio.size - fade_out :] *= ramp(fade_out)[::-1]


def loop_pieces(size: int, offset: float, length: int) -> Iterator[tuple[int, int, int]]:
    """(position, source start, source end) pieces that fill ``length`` samples from a ``size``-sample
    clip, starting at fraction ``offset`` of it and looping as needed (hard seams: for level estimates)."""
    start = int(offset * size) % size
    pos = 0
    while pos < length:
        take = min(size - start, length - pos)
        yield pos, start, start + take
        pos += take
        start = 0


def crossfaded_pieces(size: int, offset: float, length: int) -> Iterator[tuple[int, int, int, int, int]]:
    """(position, source start, source end, fade in, fade out) pieces that fill ``length`` samples from a
    ``size``-sample clip looped from fraction ``offset``, each seam an equal-power crossfade."""
    xfade = min(_seconds(LOOP_CROSSFADE), size // 4)
    start = int(offset * size) % size
    pos, fade_in = 0, 0
    while True:
        take = min(size - start, length - pos)
        if pos + take >= length or xfade == 0:
            yield pos, start, start + take, fade_in, 0
            if pos + take >= length:
                return
            pos, start, fade_in = pos + take, 0, 0
            continue
        seam = min(xfade, take // 2)
        yield pos, start, start + take, fade_in, seam
        pos, start, fade_in = pos + take - seam, 0, seam


def bed_offset(offset: float) -> float:
    """Where a bed starts in its clip, as a fraction held to 6 decimals: what the stream's JSON records
    (and keeps through Arrow's JSON type) is exactly what was rendered."""
    return round(offset, 6)


def mix_bed(
    mix: np.ndarray,
    span: tuple[int, int],
    noise: np.ndarray,
    offset: float,
    gain: float,
    fades: tuple[int, int],
) -> None:
    """Add a noise bed into ``mix[span]``: ``noise`` looped from fraction ``offset`` with crossfaded seams,
    times ``gain``, with equal-power fades at its two ends. A stream's JSON holds all of these, so its noise
    stem can be rendered again from the JSON (``streamaudio audit`` does)."""
    a, b = span
    fade_in, fade_out = fades
    if not fade_in and not fade_out:
        _add_looped(mix[a:b], noise, offset, gain)
        return
    bed = np.zeros(b - a, dtype=np.float32)
    _add_looped(bed, noise, offset, gain)
    _fade(bed, fade_in, fade_out, equal_power)
    mix[a:b] += bed


def _add_looped(out: np.ndarray, noise: np.ndarray, offset: float, gain: float) -> None:
    for pos, s, e, fade_in, fade_out in crossfaded_pieces(noise.size, offset, out.size):
        piece = noise[s:e] * np.float32(gain)
        _fade(piece, fade_in, fade_out, equal_power)
        out[pos : pos + e - s] += piece


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


def min_end_for_chunk(chunk: int) -> int:
    """Smallest end sample whose reply (without delay) lands on ``chunk`` or later."""
    return 0 if chunk <= 0 else P.FRAME_SAMPLES * (P.FRAMES_PER_CHUNK * chunk - 1) + 1


def _seconds(s: float) -> int:
    return round(s * P.SAMPLE_RATE)


def _reject(plan: StreamPlan, clip: Clip, reason: str, detail: str) -> dict[str, Any]:
    """A clip left out of a stream, as ``rejected.jsonl`` records it."""
    return Reject(clip.id, clip.source, reason, detail, clip.path, "render", plan.id).to_row()


def render(plan: StreamPlan, loader: ClipLoader, scratch: Scratch | None = None) -> Rendered:
    """Render a plan. A clip that cannot be used is left out (with its gap) and reported: the caller drops
    such a stream, which is not what its plan says. With a
    ``scratch``, the audio is a view into its buffer, valid until the next render into it."""
    rejects: list[dict[str, Any]] = []
    rng = np.random.default_rng([plan.seed, RENDER_SALT])

    def load(clip: Clip, keep: bool = True) -> np.ndarray | None:
        try:
            return loader.load(clip, keep=keep)
        except AudioError as exc:
            rejects.append(_reject(plan, clip, exc.reason, str(exc)))
            return None

    placed: list[_Placed] = []
    gaps: list[tuple[int, int, NoiseSlice | None]] = []
    pos = 0  # where the last voice ends
    last_reply = -1
    last_start = 0
    for seg in plan.segments:
        raw = load(seg.clip, keep=seg.clip.path is None)  # a file's clip comes round once per pool
        if raw is None:
            continue
        powers = frame_powers(raw)  # one pass over the clip: silence check, voice bounds and level use it
        if _mean_power(raw, powers) < SILENT_RMS**2:
            detail = f"{seg.clip.id}: no signal above {level_db(SILENT_RMS):.0f} dBFS"
            rejects.append(_reject(plan, seg.clip, "silent_clip", detail))
            continue
        v0, v1 = voice_bounds(powers, raw.size)
        if seg.max_seconds is not None:  # a long sound is cut; what follows the cut fades it out
            v1 = min(v1, v0 + _seconds(seg.max_seconds))
        pre = min(v0, _draw_samples(rng, PRE_ROLL))
        post = min(raw.size - v1, _draw_samples(rng, POST_ROLL))
        edge_in, edge_out = _draw_samples(rng, EDGE_FADE), _draw_samples(rng, EDGE_FADE)
        size = v1 - v0
        start = max(pos + _seconds(seg.gap_before), last_start)  # an overlap never reaches back past it
        if seg.respond:  # at most one reply per chunk: push the event later if its reply would collide
            start += max(0, min_end_for_chunk(last_reply + 1 - seg.reply_after_chunks) - (start + size))
            last_reply = P.reply_chunk(start + size) + seg.reply_after_chunks
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
        _fade(audio, *fades)
        if start > pos:
            gaps.append((pos, start, seg.gap_fill))
        placed.append(
            _Placed(seg, audio, level_powers, start - pre, start, start + size, v0 - pre, gain_db, fades)
        )
        pos = max(pos, start + size)
        last_start = start

    # every turn's chunk, silent ones too, must lie inside the stream
    turn_chunks = [_turn_chunk(plan, p) for p in placed]
    # the stream reaches the length its build asked for: events rarely sound as long as their clips'
    # durations promise (silence is trimmed, sounds are cut), so the tail's noise fills what is left
    end = max([pos + _seconds(plan.tail_gap), _seconds(plan.min_seconds), *(p.audio_end for p in placed)])
    if turn_chunks:
        end = max(end, (max(turn_chunks) + 1) * P.CHUNK_SAMPLES)
    num_chunks = max(1, P.chunks_for(end))
    length = num_chunks * P.CHUNK_SAMPLES
    gaps.append((pos, length, plan.tail_fill))

    bg_gain_db = None
    bg_audio = None if plan.background is None else load(plan.background.clip)
    if plan.background is not None and bg_audio is not None:
        speech_rms = _pooled_active_rms([p for p in placed if p.segment.kind in FOREGROUND_SPEECH])
        bg_rms = _ENERGY.slice_rms(bg_audio, bed_offset(plan.background.offset), length)
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

    meta = _sample_json(plan, placed, beds, bg_gain_db, master_db, num_chunks)
    return Rendered(mix, meta, rejects)


def _turn_chunk(plan: StreamPlan, placed: _Placed) -> int:
    """The chunk a turn is decided on: the protocol's rule from the end of its voice, as late as the plan
    asked (the stream's reply delay, and the turn's own: a timer answers seconds after it was set)."""
    return P.reply_chunk(placed.end, plan.reply_delay_chunks) + placed.segment.reply_after_chunks


def _draw_samples(rng: np.random.Generator, seconds: tuple[float, float]) -> int:
    lo, hi = seconds
    return _seconds(lo + (hi - lo) * rng.random())


def _beds(
    gaps: list[tuple[int, int, NoiseSlice | None]],
    load: Any,
    rng: np.random.Generator,
    length: int,
) -> list[_Bed]:
    """The gaps' noise beds, each reaching under the events beside it: consecutive beds crossfade (equal
    power) under the event between them, so the noise never switches on or off where a voice starts or
    ends; a bed with no neighbour fades in or out under its event on its own."""
    beds = []
    for a, b, fill in gaps:
        noise = None if fill is None or b <= a else load(fill.clip)
        if noise is not None:
            beds.append(_Bed((a, b), fill, noise))
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
        rms = _ENERGY.slice_rms(bed.noise, bed_offset(bed.fill.offset), span)
        bed.gain = db_to_gain(bed.fill.level_db) / max(rms, 1e-9)
    return beds


def _audio_fields(span: tuple[int, int], fades: tuple[int, int]) -> dict[str, int]:
    """Where an event's audio lies in the stream (beyond its voice or gap) and its fades, in samples."""
    return {
        "audio_start_sample": span[0],
        "audio_end_sample": span[1],
        "fade_in_samples": fades[0],
        "fade_out_samples": fades[1],
    }


def _mean_power(audio: np.ndarray, powers: np.ndarray) -> float:
    """Mean power of the whole clip from its frame powers plus the samples after the last whole frame."""
    tail = audio[powers.size * ACTIVE_FRAME :]
    energy = float(np.sum(powers)) * ACTIVE_FRAME + float(np.sum(np.square(tail, dtype=np.float64)))
    return energy / audio.size if audio.size else 0.0


def _clip_level(audio: np.ndarray, powers: np.ndarray) -> float:
    """Level a clip is normalised by: the RMS over its voice (from the first active frame to the last),
    for speech and sounds alike, so that how loud an event is does not tell speech from sound."""
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
    beds: list[_Bed],
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
            ev["voice"] = clip.tts.get("id") or clip.speaker or clip.tts.get("voice")
        ev["clip_start_sample"] = p.trim_start
        ev.update(_audio_fields((p.audio_start, p.audio_end), p.fades))
        ev["gain_db"] = round(p.gain_db + master_db, 3)
        if seg.augment:
            ev["augment"] = [{"name": name, **params} for name, params in seg.augment]
        ev.update(seg.info)
        events.append(ev)
        chunk = _turn_chunk(plan, p)
        turn: dict[str, Any] = {"event": i, "chunk": chunk, "respond": seg.respond}
        if seg.reply_after_chunks:
            turn["after_chunks"] = seg.reply_after_chunks
        if seg.respond:
            turn["text"] = seg.reply
            turn["emotion"] = P.normalize_emotion(seg.emotion)
            labels[chunk] = P.LABEL_REPLY
        turns.append(turn)
    for bed in beds:
        events.append(
            {
                "kind": "noise",
                "role": "gap",
                "start_sample": bed.gap[0],
                "end_sample": bed.gap[1],
                "source": bed.fill.clip.source,
                "clip_id": bed.fill.clip.id,
                **({"category": bed.fill.clip.category} if bed.fill.clip.category else {}),
                **_audio_fields(bed.span, bed.fades),
                "offset": bed_offset(bed.fill.offset),
                "gain_db": round(level_db(bed.gain) + master_db, 3),
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
                "offset": bed_offset(plan.background.offset),
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

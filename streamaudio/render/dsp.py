"""The stitcher's signal primitives: fades and equal-power ramps, looped noise with crossfaded seams,
noise beds mixed from their recorded parameters (``audit`` renders them again), a reused buffer."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from streamaudio.protocol import SAMPLE_RATE
from streamaudio.render.audio import (
    ACTIVE_FRAME,
    frame_powers,
)

LOOP_CROSSFADE = 0.1  # seconds of crossfade where a noise bed loops


def raised_cosine(n: int) -> np.ndarray:
    """A rising raised-cosine (Hann) ramp of ``n`` samples, from near 0 to near 1."""
    return (0.5 - 0.5 * np.cos(np.pi * (np.arange(n, dtype=np.float32) + 0.5) / n)).astype(np.float32)


def equal_power(n: int) -> np.ndarray:
    """A rising equal-power ramp (the square root of a raised cosine): two uncorrelated noises crossfaded
    with it and its reverse keep their summed power."""
    return np.sin(0.5 * np.pi * (np.arange(n, dtype=np.float32) + 0.5) / n).astype(np.float32)


def fade(audio: np.ndarray, fade_in: int, fade_out: int, ramp: Any = raised_cosine) -> None:
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
    xfade = min(to_samples(LOOP_CROSSFADE), size // 4)
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
    fade(bed, fade_in, fade_out, equal_power)
    mix[a:b] += bed


def _add_looped(out: np.ndarray, noise: np.ndarray, offset: float, gain: float) -> None:
    for pos, s, e, fade_in, fade_out in crossfaded_pieces(noise.size, offset, out.size):
        piece = noise[s:e] * np.float32(gain)
        fade(piece, fade_in, fade_out, equal_power)
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


NOISE_ENERGY = _NoiseEnergy()


def to_samples(s: float) -> int:
    return round(s * SAMPLE_RATE)

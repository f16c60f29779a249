"""Probe audio headers cheaply, counting the decoder's stderr warnings instead of printing them."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import soundfile as sf

TAIL_FRAMES = 2048  # frames read at the end of a file to catch truncation behind an optimistic header
MIN_TAIL_SHARE = 0.5  # a tail read that returns less than this share of TAIL_FRAMES means truncated


@dataclass(frozen=True)
class Probe:
    """What a header says of a file, or why it cannot be used (``reason`` set)."""

    path: str
    sample_rate: int = 0
    channels: int = 0
    frames: int = 0
    reason: str | None = None
    detail: str | None = None

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def probe_file(path: str, check_tail: bool = True) -> Probe:
    """Header of one file; with ``check_tail`` also a short read at its end (catches truncated MP3s)."""
    try:
        size = os.stat(path).st_size
    except OSError:
        return Probe(path, reason="missing_file", detail="no such file")
    if size == 0:
        return Probe(path, reason="empty_file", detail="0 bytes")
    try:
        with sf.SoundFile(path) as f:
            frames, sr, channels = f.frames, f.samplerate, f.channels
            if frames <= 0:
                return Probe(path, reason="empty_audio", detail="header holds no samples")
            if check_tail:
                want = min(TAIL_FRAMES, frames)
                f.seek(frames - want)
                got = f.read(want, dtype="int16").shape[0]
                if got < MIN_TAIL_SHARE * want:
                    return Probe(
                        path, reason="truncated", detail=f"header says {frames} frames, data ends early"
                    )
    except (sf.LibsndfileError, RuntimeError, ValueError, OSError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Probe(path, reason="undecodable", detail=message)
    return Probe(path, sr, channels, frames)


class StderrCounter:
    """Redirects file descriptor 2 to a temporary file while active; counts the lines written to it."""

    def __init__(self) -> None:
        self.lines = 0
        self.examples: list[str] = []

    def __enter__(self) -> StderrCounter:
        self._tmp = tempfile.TemporaryFile(mode="w+b")
        self._saved = os.dup(2)
        os.dup2(self._tmp.fileno(), 2)
        return self

    def __exit__(self, *exc: object) -> None:
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._tmp.seek(0)
        for raw in self._tmp.read().decode("utf-8", "replace").splitlines():
            if raw.strip():
                self.lines += 1
                if len(self.examples) < 3:
                    self.examples.append(raw.strip()[:200])
        self._tmp.close()


def probe_batch(paths: list[str]) -> tuple[list[Probe], int, list[str]]:
    """Probe several files; returns probes, the number of decoder warning lines, and a few examples."""
    with StderrCounter() as counter:
        probes = [probe_file(p) for p in paths]
    return probes, counter.lines, counter.examples


def batched(items: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch

"""Probe audio headers cheaply, counting the decoder's stderr warnings instead of printing them."""

from __future__ import annotations

import os
from dataclasses import dataclass

import soundfile as sf

from streamaudio.render.audio import MAX_RATE, MIN_CLIP_SECONDS, MIN_RATE, DecoderWarnings

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


def _syncsafe(b: bytes) -> int:
    return (b[0] << 21) | (b[1] << 14) | (b[2] << 7) | b[3]


def mp3_stream_bytes(head: bytes) -> tuple[int, int] | None:
    """(ID3v2 tag size, stream bytes the Xing/Info header declares), or None when there is none."""
    skip = 10 + _syncsafe(head[6:10]) if head[:3] == b"ID3" and len(head) >= 10 else 0
    frame = head[skip : skip + 256]
    for tag in (b"Xing", b"Info"):
        at = frame.find(tag)
        if at >= 0 and len(frame) >= at + 16:
            flags = int.from_bytes(frame[at + 4 : at + 8], "big")
            if not flags & 0x2:
                return None
            field = at + 8 + (4 if flags & 0x1 else 0)
            return skip, int.from_bytes(frame[field : field + 4], "big")
    return None


def _mp3_truncated(path: str, size: int) -> bool:
    """True when the file is over 1% shorter than its Xing header says (mpg123 warns then)."""
    with open(path, "rb") as f:
        head = f.read(4096)
    declared = mp3_stream_bytes(head) if len(head) >= 16 else None
    if declared is None or declared[1] <= 0:
        return False  # CBR without a Xing header: the length comes from the file size itself
    return size - declared[0] < 0.99 * declared[1]


def file_size(path: str) -> int | None:
    """Size in bytes, or None when there is no such file (or the name cannot be one: a NUL inside)."""
    try:
        return os.stat(path).st_size
    except (OSError, ValueError):
        return None


def probe_file(path: str, check_tail: bool = True) -> Probe:
    """Header of one file; with ``check_tail`` also a truncation check: for MP3 the Xing header's byte
    count against the file size, for other formats a short read at the end of the data."""
    size = file_size(path)
    if size is None:
        return Probe(path, reason="missing_file", detail="no such file")
    if size == 0:
        return Probe(path, reason="empty_file", detail="0 bytes")
    try:
        with sf.SoundFile(path) as f:
            frames, sr, channels = f.frames, f.samplerate, f.channels
            if frames <= 0:
                return Probe(path, reason="empty_audio", detail="header holds no samples")
            if not MIN_RATE <= sr <= MAX_RATE:
                return Probe(path, reason="bad_sample_rate", detail=f"the header says {sr} Hz")
            if frames < MIN_CLIP_SECONDS * sr:
                return Probe(path, reason="too_short", detail=f"{frames / sr:.4f} s of audio")
            if check_tail and f.format == "MP3":
                if _mp3_truncated(path, size):
                    return Probe(
                        path, reason="truncated", detail=f"{size} bytes, less than its Xing header says"
                    )
            elif check_tail:
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


def probe_batch(paths: list[str]) -> tuple[list[Probe], int, list[str]]:
    """Probe several files; returns probes, the number of decoder warning lines, and a few examples."""
    with DecoderWarnings() as warnings:
        probes = [probe_file(p) for p in paths]
    return probes, warnings.lines, warnings.examples

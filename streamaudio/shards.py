"""Shard writer: WebDataset tars written under a temporary name, renamed when complete; the manifest."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

import webdataset as wds

from streamaudio.protocol import SAMPLE_RATE

TAR_MTIME = 0.0  # fixed member times make tars byte-reproducible
PCM_BYTES_PER_SECOND = SAMPLE_RATE * 2  # PCM_16: an upper bound on FLAC size, used to cap shards
JSON_BYTES_ESTIMATE = 8_192
WRITE_BUFFER = 1 << 20  # tarfile writes 10 KiB records; gather them into fewer system calls


@dataclass
class ShardStats:
    """What a finished shard holds; stored beside it so that a rerun can skip it."""

    name: str
    streams: int
    seconds: float
    replies: int
    bytes: int
    sha256: str
    spec_sha256: str
    rejects: list[dict[str, Any]]
    decoder_warnings: int = 0


def shard_name(capability: str, split: str, index: int) -> str:
    return f"{capability}-{split}-{index:06d}.tar"


def pack(estimates: list[float], max_streams: int, max_mb: float) -> list[list[int]]:
    """Group stream indices, in order, into shards of at most ``max_streams`` and ``max_mb`` (estimated)."""
    groups: list[list[int]] = []
    current: list[int] = []
    size = 0.0
    cap = max_mb * 1e6
    for i, seconds in enumerate(estimates):
        est = seconds * PCM_BYTES_PER_SECOND + JSON_BYTES_ESTIMATE
        if current and (len(current) >= max_streams or size + est > cap):
            groups.append(current)
            current, size = [], 0.0
        current.append(i)
        size += est
    if current:
        groups.append(current)
    return groups


class _HashingFile:
    """A write-only file that hashes and counts what passes through it (and drops it, once discarded)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.discarded = False

    def write(self, data: bytes) -> int:
        if self.discarded:  # an aborted tar: tarfile still flushes its last record when collected
            return len(data)
        self.sha256.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


class ShardWriter:
    """Writes one tar as ``.<name>.partial``; ``close`` finishes it, ``commit`` makes it durable and
    renames it to its final name (a separate step, so that the fsync wait can overlap other work)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.partial")
        self._file = open(self.tmp, "wb", buffering=WRITE_BUFFER)  # noqa: SIM115 -- closed in commit() or abort()
        self._out = _HashingFile(self._file)
        self._tar = wds.TarWriter(self._out, mtime=TAR_MTIME, user="streamaudio", group="streamaudio")

    def write(self, key: str, flac: bytes, meta: dict[str, Any]) -> None:
        self._tar.write({"__key__": key, "flac": flac, "json": json.dumps(meta, ensure_ascii=False).encode()})

    def close(self) -> tuple[int, str]:
        """Finish the tar; returns (bytes, sha256), hashed as it was written."""
        self._tar.close()
        self._file.flush()
        return self._out.size, self._out.sha256.hexdigest()

    def commit(self) -> None:
        """fsync the finished tar and rename it into place."""
        try:
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        try:
            self._out.discarded = True
            self._file.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file, fsync it and rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_stats(state_dir: Path, stats: ShardStats) -> None:
    write_json_atomic(state_dir / f"{stats.name}.json", asdict(stats))


def load_stats(state_dir: Path, name: str, spec_sha256: str, shard_path: Path) -> ShardStats | None:
    """Stats of a shard finished by an earlier run of the same plan, or None if it must be (re)built."""
    try:
        data = json.loads((state_dir / f"{name}.json").read_text(encoding="utf-8"))
        stats = ShardStats(**data)
    except (OSError, ValueError, TypeError):
        return None
    if stats.spec_sha256 != spec_sha256 or not shard_path.is_file():
        return None
    return stats if shard_path.stat().st_size == stats.bytes else None

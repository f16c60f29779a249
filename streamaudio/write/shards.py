"""Shard writer: WebDataset tars written under a temporary name, renamed when complete; the manifest."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from streamaudio.protocol import SAMPLE_RATE
from streamaudio.render.sample_json import StreamJSON

TAR_MTIME = 0.0  # fixed member times make tars byte-reproducible
TAR_MODE = 0o444
TAR_OWNER = "streamaudio"
PCM_BYTES_PER_SECOND = SAMPLE_RATE * 2  # PCM_16: an upper bound on FLAC size, used to cap shards
JSON_BYTES_ESTIMATE = 8_192
WRITE_BUFFER = 1 << 20  # records come in pieces (headers, padding): gather them into fewer system calls


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
    clips: int = 0  # clips its plans drew
    dropped: list[str] = field(default_factory=list)  # streams left out: a clip of theirs failed
    encoder: str = ""  # the FLAC encoder that wrote it (render/flac.py)


def shard_name(capability: str, split: str, index: int) -> str:
    return f"{capability}-{split}-{index:06d}.tar"


def pack(estimates: Iterable[float], max_streams: int, max_mb: float) -> Iterator[list[int]]:
    """Group stream indices, in order, into shards of at most ``max_streams`` and ``max_mb`` (estimated);
    each group is yielded as soon as the next stream does not fit, so planning and writing can overlap."""
    current: list[int] = []
    size = 0.0
    cap = max_mb * 1e6
    for i, seconds in enumerate(estimates):
        est = seconds * PCM_BYTES_PER_SECOND + JSON_BYTES_ESTIMATE
        if current and (len(current) >= max_streams or size + est > cap):
            yield current
            current, size = [], 0.0
        current.append(i)
        size += est
    if current:
        yield current


class _HashingFile:
    """A write-only file that hashes and counts what passes through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.raw.write(data)


def sample_record(key: str, flac: bytes | memoryview, meta: StreamJSON) -> list[bytes | memoryview]:
    """One stream as its tar members, ``<key>.flac`` then ``<key>.json``, in pieces to write in order:
    byte for byte what webdataset's ``TarWriter`` writes, without copying the audio into one buffer."""
    parts: list[bytes | memoryview] = []
    for ext, data in (("flac", flac), ("json", json.dumps(meta, ensure_ascii=False).encode())):
        info = tarfile.TarInfo(f"{key}.{ext}")
        info.size, info.mtime, info.mode = len(data), TAR_MTIME, TAR_MODE
        info.uname = info.gname = TAR_OWNER
        parts += [info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"), data, bytes(-len(data) % 512)]
    return parts


def partial_path(path: Path) -> Path:
    """Where a shard is written until it is complete: a hidden name no reader globs."""
    return path.with_name(f".{path.name}.partial")


class ShardWriter:
    """Writes one tar as ``.<name>.partial``; ``close`` finishes it there and ``commit_shard`` makes it
    durable and renames it (a separate step, so that the fsync wait can overlap other work)."""

    def __init__(self, path: Path, partial: Path | None = None) -> None:
        self.path = path
        self.tmp = partial or partial_path(path)
        self._file = open(self.tmp, "wb", buffering=WRITE_BUFFER)  # noqa: SIM115 -- closed in close() or abort()
        self._out = _HashingFile(self._file)

    def write(self, record: list[bytes | memoryview]) -> None:
        """Append one ``sample_record``."""
        for part in record:
            self._out.write(part)

    def close(self, end: bool = True) -> tuple[int, str]:
        """Finish the tar (two zero blocks, then zeros to a whole record, as tarfile ends a stream; not
        for a piece of one, ``end`` false); returns (bytes, sha256), hashed as it was written."""
        if end:
            ends_at = self._out.size + 2 * tarfile.BLOCKSIZE
            self._out.write(bytes(2 * tarfile.BLOCKSIZE + -ends_at % tarfile.RECORDSIZE))
        self._file.close()
        return self._out.size, self._out.sha256.hexdigest()

    def abort(self) -> None:
        try:
            self._file.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def commit_shard(path: Path) -> None:
    """fsync a shard that was written and closed under its partial name, then rename it into place."""
    tmp = partial_path(path)
    try:
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file, fsync it and rename it over ``path``."""
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write text to a temporary file, fsync it and rename it over ``path``: a reader (or a full disk)
    never sees half of it; what was there stays when writing fails."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_stats(state_dir: Path, stats: ShardStats) -> None:
    write_json_atomic(state_dir / f"{stats.name}.json", asdict(stats))


def load_stats(
    state_dir: Path, name: str, spec_sha256: str, shard_path: Path
) -> tuple[ShardStats | None, str]:
    """Stats of a shard finished by an earlier run of the same plan, or None and why it must be
    (re)built: "" when no run finished it, else the reason in words."""
    try:
        data = json.loads((state_dir / f"{name}.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, ""
    except (OSError, ValueError) as exc:
        return None, f"its record cannot be read ({exc})"
    try:
        stats = ShardStats(**data)
    except TypeError:
        return None, "its record is from another version"
    if stats.spec_sha256 != spec_sha256:
        return None, "its streams' plan changed (another version, seed, option or source)"
    if not shard_path.is_file():
        return None, "the shard is missing"
    if shard_path.stat().st_size != stats.bytes:
        return None, "the shard's size differs from its record"
    if stats.dropped:
        return None, "it left streams out (a clip failed), tried again"
    return stats, ""

"""Clip manifests: one row per usable clip, streamed from JSONL(.gz) or Parquet."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any


class ManifestError(Exception):
    """A manifest that cannot be read; the message names the file, the row and the problem."""


@dataclass(frozen=True)
class Clip:
    """One usable clip. Audio comes from ``path`` (optionally a segment), a TTS voice, or a generator."""

    id: str
    source: str
    duration: float
    path: str | None = None
    offset: float = 0.0
    segment: bool = False  # True: only [offset, offset + duration) of the file is the clip
    sample_rate: int | None = None
    channels: int | None = None
    text: str | None = None
    translation: str | None = None
    language: str | None = None
    target_language: str | None = None
    speaker: str | None = None
    gender: str | None = None
    age: str | None = None
    split: str | None = None
    labels: tuple[str, ...] = ()
    label_names: tuple[str, ...] = ()
    category: str | None = None
    tts: dict[str, str] | None = None
    generator: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        """A JSON-ready row without empty optional fields."""
        row = {}
        for k, v in asdict(self).items():
            if v is None or v in ((), [], {}) or (k in ("offset", "segment") and not v):
                continue
            row[k] = list(v) if isinstance(v, tuple) else v
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Clip:
        known = {f.name for f in fields(cls)}
        missing = [k for k in ("id", "source", "duration") if row.get(k) in (None, "")]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        if not (row.get("path") or row.get("tts") or row.get("generator")):
            raise ValueError("needs one of path, tts or generator")
        duration = float(row["duration"])
        if not duration > 0:
            raise ValueError(f"duration must be positive, got {row['duration']!r}")
        kwargs = {k: v for k, v in row.items() if k in known and k != "extra"}
        kwargs["duration"] = duration
        kwargs["id"] = str(row["id"])
        for k in ("labels", "label_names"):
            if k in kwargs:
                kwargs[k] = tuple(kwargs[k] or ())
        extra = dict(row.get("extra") or {})
        extra.update({k: v for k, v in row.items() if k not in known})
        return cls(**kwargs, extra=extra)


def _open_text(path: Path, mode: str) -> io.TextIOBase:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8")
    return open(path, mode, encoding="utf-8")


def iter_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line or row number, raw dict) from a JSONL(.gz) or Parquet manifest, streaming."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest does not exist")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        n = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                n += 1
                yield n, {k: v for k, v in row.items() if v is not None}
        return
    with _open_text(path, "r") as f:
        try:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ManifestError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise ManifestError(f"{path}:{lineno}: a row must be a JSON object")
                yield lineno, row
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            raise ManifestError(f"{path}: cannot read manifest ({exc})") from None


def read_clips(path: str | Path, default_source: str | None = None) -> Iterator[Clip]:
    """Yield the clips of a manifest; a broken row stops with an error naming file and row.

    A relative audio path is taken relative to the manifest's folder; rows without ``source`` get
    ``default_source``.
    """
    base = Path(path).resolve().parent
    for lineno, row in iter_rows(path):
        if default_source and not row.get("source"):
            row["source"] = default_source
        try:
            clip = Clip.from_row(row)
        except (ValueError, TypeError) as exc:
            raise ManifestError(f"{path}:{lineno}: bad clip row ({exc})") from None
        if clip.path and not Path(clip.path).is_absolute():
            clip = replace(clip, path=str(base / clip.path))
        yield clip


def write_clips(path: str | Path, clips: Iterable[Clip]) -> int:
    """Write clips as JSONL (gzip when the name ends in .gz, reproducible bytes); returns the count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "wb") as raw:
        stream = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) if path.suffix == ".gz" else raw
        for clip in clips:
            stream.write((json.dumps(clip.to_row(), ensure_ascii=False) + "\n").encode())
            n += 1
        if stream is not raw:
            stream.close()
    return n

"""Clip manifests: one row per usable clip, streamed from JSONL(.gz) or Parquet."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from streamaudio.errors import StreamAudioError


class ManifestError(StreamAudioError):
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

    def fields_dict(self) -> dict[str, Any]:
        """Field name → value, shallow (``dataclasses.asdict`` deep-copies and is 10x slower)."""
        return {name: getattr(self, name) for name in _FIELD_NAMES}

    def to_row(self) -> dict[str, Any]:
        """A JSON-ready row without empty optional fields."""
        row = {}
        for k in _FIELD_NAMES:
            v = getattr(self, k)
            if v is None or v == () or v == {} or (k in ("offset", "segment") and not v):
                continue
            row[k] = list(v) if isinstance(v, tuple) else v
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Clip:
        known = _FIELD_SET
        missing = [k for k in ("id", "source", "duration") if row.get(k) in (None, "")]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        if not (row.get("path") or row.get("tts") or row.get("generator")):
            raise ValueError("needs one of path, tts or generator")
        _check_types(row)
        duration = float(row["duration"])
        if not math.isfinite(duration) or not duration > 0:
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


_TEXT_FIELDS = ("source", "text", "translation", "language", "target_language", "speaker", "gender", "age",
                "split", "category")  # fmt: skip
_NUMBER = (int, float)


def _check_types(row: dict[str, Any]) -> None:
    """Raise ValueError naming the first field whose value has the wrong type (a text that is a number, a
    labels string that would be split into letters, a path with a NUL byte…)."""
    ident = row["id"]
    if not isinstance(ident, (str, int)) or isinstance(ident, bool):
        raise ValueError(f"id must be a string, got {type(ident).__name__}")
    for key in _TEXT_FIELDS:
        value = row.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{key} must be a string, got {type(value).__name__}")
    path = row.get("path")
    if path is not None and (not isinstance(path, str) or "\0" in path):
        raise ValueError("path must be a string without NUL bytes")
    for key in ("duration", "offset"):
        value = row.get(key)
        if value is not None and (not isinstance(value, _NUMBER) or isinstance(value, bool)):
            raise ValueError(f"{key} must be a number of seconds, got {type(value).__name__}")
    offset = row.get("offset")
    if offset is not None and not (math.isfinite(offset) and offset >= 0):
        raise ValueError(f"offset must be a finite number >= 0, got {offset!r}")
    for key in ("sample_rate", "channels"):
        value = row.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
    for key in ("labels", "label_names"):
        value = row.get(key)
        if value is not None and not (
            isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
        ):
            raise ValueError(f"{key} must be a list of strings, got {type(value).__name__}")
    for key in ("tts", "generator", "extra"):
        value = row.get(key)
        if value is not None and not isinstance(value, dict):
            raise ValueError(f"{key} must be an object, got {type(value).__name__}")


_FIELD_NAMES = tuple(f.name for f in fields(Clip))
_FIELD_SET = frozenset(_FIELD_NAMES)


BadRow = Callable[[int, str], None]  # (line, problem): a row left out instead of stopping the read


def iter_rows(path: str | Path, on_bad: BadRow | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line or row number, raw dict) from a JSONL(.gz) or Parquet manifest, streaming; a line that
    is not a JSON object stops the read, or with ``on_bad`` is reported to it and skipped."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest does not exist")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        n = 0
        try:
            batches = pq.ParquetFile(path).iter_batches(batch_size=4096)
            for batch in batches:
                for row in batch.to_pylist():
                    n += 1
                    try:
                        for key in PARQUET_JSON_COLUMNS:
                            if isinstance(row.get(key), str):
                                row[key] = json.loads(row[key])
                    except ValueError as exc:
                        if on_bad is None:
                            raise ManifestError(f"{path}:{n}: {key} is not valid JSON ({exc})") from None
                        on_bad(n, f"{key} is not valid JSON ({exc})")
                        continue
                    yield n, {k: v for k, v in row.items() if v is not None}
        except (OSError, ValueError) as exc:
            raise ManifestError(f"{path}: cannot read Parquet manifest ({exc})") from None
        return
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        try:
            for lineno, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                try:
                    row = json.loads(raw.decode("utf-8"))
                    problem = None if isinstance(row, dict) else "a row must be a JSON object"
                except UnicodeDecodeError as exc:
                    problem = f"not UTF-8 (byte {exc.start}: {exc.reason})"
                except json.JSONDecodeError as exc:
                    problem = f"not valid JSON ({exc.msg})"
                if problem is None:
                    yield lineno, row
                elif on_bad is None:
                    raise ManifestError(f"{path}:{lineno}: {problem}")
                else:
                    on_bad(lineno, problem)
        except (OSError, EOFError, zlib.error) as exc:
            raise ManifestError(f"{path}: cannot read manifest ({exc})") from None


def clip_from_row(row: dict[str, Any], where: str, base: Path, default_source: str | None = None) -> Clip:
    """A clip from a manifest row; ``where`` (file:line) names it in errors, ``base`` resolves paths."""
    updates: dict[str, Any] = {}
    if default_source and not row.get("source"):
        updates["source"] = default_source
    path = row.get("path")
    if isinstance(path, str) and path and not os.path.isabs(path):
        updates["path"] = under(base, path)  # set before the Clip is made: dataclasses.replace is slow
    try:
        return Clip.from_row({**row, **updates} if updates else row)
    except (ValueError, TypeError) as exc:
        raise ManifestError(f"{where}: bad clip row ({exc})") from None


def under(base: Path, path: str) -> str:
    """``str(base / path)`` for a relative path: plain concatenation where pathlib would change nothing
    (no ``.`` part, doubled or trailing slash), which is ten times faster on a manifest of millions."""
    if os.sep == "/" and "//" not in path and "/." not in "/" + path and not path.endswith("/"):
        text = str(base)
        return text + path if text.endswith("/") else f"{text}/{path}"
    return str(base / path)


def read_clips(path: str | Path, default_source: str | None = None) -> Iterator[Clip]:
    """Yield the clips of a manifest; a broken row stops with an error naming file and row.

    A relative audio path is taken relative to the manifest's folder; rows without ``source`` get
    ``default_source``.
    """
    base = Path(path).resolve().parent
    for lineno, row in iter_rows(path):
        yield clip_from_row(row, f"{path}:{lineno}", base, default_source)


PARQUET_JSON_COLUMNS = ("tts", "generator", "extra")  # nested dicts travel as JSON text in Parquet
PARQUET_BATCH = 8192


def _parquet_schema():
    import pyarrow as pa

    text, num = pa.string(), pa.float64()
    return pa.schema(
        [
            ("id", text), ("source", text), ("duration", num), ("path", text), ("offset", num),
            ("segment", pa.bool_()), ("sample_rate", pa.int64()), ("channels", pa.int64()), ("text", text),
            ("translation", text), ("language", text), ("target_language", text), ("speaker", text),
            ("gender", text), ("age", text), ("split", text), ("labels", pa.list_(text)),
            ("label_names", pa.list_(text)), ("category", text), ("tts", text), ("generator", text),
            ("extra", text),
        ]
    )  # fmt: skip


class ClipSink:
    """Streams clips to JSONL, JSONL.gz (reproducible bytes) or Parquet, chosen by the file name."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.count = 0
        self._rows: list[dict[str, Any]] = []
        self._parquet = None
        self._raw = self._stream = None
        if self.path.suffix == ".parquet":
            import pyarrow.parquet as pq

            self._parquet = pq.ParquetWriter(str(self.path), _parquet_schema())
            return
        self._raw = open(self.path, "wb")  # noqa: SIM115 -- closed in close()
        self._stream = self._raw
        if self.path.suffix == ".gz":
            self._stream = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=6)

    def write(self, clip: Clip) -> None:
        self.count += 1
        if self._parquet is None:
            self._stream.write((json.dumps(clip.to_row(), ensure_ascii=False) + "\n").encode())
            return
        row = clip.fields_dict()
        for key in PARQUET_JSON_COLUMNS:
            row[key] = json.dumps(row[key], ensure_ascii=False) if row[key] else None
        row["labels"], row["label_names"] = list(row["labels"]), list(row["label_names"])
        self._rows.append(row)
        if len(self._rows) >= PARQUET_BATCH:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self._rows:
            self._parquet.write_table(pa.Table.from_pylist(self._rows, schema=_parquet_schema()))
            self._rows = []

    def close(self) -> None:
        if self._parquet is not None:
            self._flush()
            self._parquet.close()
            return
        if self._stream is not self._raw:
            self._stream.close()
        self._raw.close()

    def __enter__(self) -> ClipSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_clips(path: str | Path, clips: Iterable[Clip]) -> int:
    """Write clips to a manifest (format by file name); returns the count."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with ClipSink(path) as sink:
        for clip in clips:
            sink.write(clip)
    return sink.count


def cache_key(path: Path, stat: os.stat_result, *parts: object) -> str:
    """A name for what is made from a file and kept: its path, size and modification time, and ``parts``
    (versions, options); a changed file gets a new name, so a stale copy is never read."""
    key = "\0".join([str(path.resolve()), str(stat.st_size), str(stat.st_mtime_ns), *map(str, parts)])
    return hashlib.sha256(key.encode()).hexdigest()[:24]

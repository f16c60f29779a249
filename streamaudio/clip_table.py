"""Clip pools as Arrow tables: a manifest is read once into an Arrow IPC file (under the build's state
folder, keyed by the manifest's path, size and modification time) that every later read maps from disk,
and a ``Clip`` is made only for a row that a stream draws. A ten-million-row manifest then costs its
mapped columns, not ten million Python objects."""

from __future__ import annotations

import hashlib
import json
import mmap
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamaudio import __version__
from streamaudio.manifest import PARQUET_JSON_COLUMNS, Clip, _parquet_schema

SPOKEN_ROLES = ("prompt", "dialogue")  # synthesized clips that only stand in for text a scenario speaks
# What a build asks of every row, answered once when the table is made, in one byte a row: sorting and
# checking ten million rows then reads these columns, never the text, paths or labels
FLAGS = {
    "_text": "text is not empty",
    "_said": "text holds more than white space",
    "_sound": "no text, and labels, label names or a category",
    "_synth": "text, a TTS voice and a file: made by streamaudio synthesize",
    "_stand_in": "synthesized for a prompt or a dialogue (not speech to transcribe)",
    "_translated": "a translation with more than white space, and its language",
}
SCHEMA = _parquet_schema()
for _flag in FLAGS:
    SCHEMA = SCHEMA.append(pa.field(_flag, pa.bool_()))
POOLS_DIR = "pools"  # under the build's state folder
BATCH = 65536  # rows per record batch written, and per batch made into clips when iterating
SMALL = 8192  # a table this small is made into clips once (a few MB), on first use


def _flags(clip: Clip) -> dict[str, bool]:
    text = bool(clip.text)
    synth = text and bool(clip.tts) and bool(clip.path)
    return {
        "_text": text,
        "_said": bool((clip.text or "").strip()),
        "_sound": not text and bool(clip.labels or clip.label_names or clip.category),
        "_synth": synth,
        "_stand_in": synth and clip.extra.get("role") in SPOKEN_ROLES,
        "_translated": bool((clip.translation or "").strip()) and bool(clip.target_language),
    }


def _column_rows(clips: Iterable[Clip]) -> Iterator[dict[str, Any]]:
    for clip in clips:
        row = clip.fields_dict() | _flags(clip)
        for key in PARQUET_JSON_COLUMNS:
            row[key] = json.dumps(row[key], ensure_ascii=False) if row[key] else None
        row["labels"], row["label_names"] = list(row["labels"]), list(row["label_names"])
        yield row


def _batches(clips: Iterable[Clip]) -> Iterator[pa.RecordBatch]:
    rows: list[dict[str, Any]] = []
    for row in _column_rows(clips):
        rows.append(row)
        if len(rows) >= BATCH:
            yield pa.RecordBatch.from_pylist(rows, schema=SCHEMA)
            rows = []
    if rows:
        yield pa.RecordBatch.from_pylist(rows, schema=SCHEMA)


def _clip(row: dict[str, Any]) -> Clip:
    """A row back as the Clip it was made from."""
    for flag in FLAGS:
        del row[flag]
    for key in PARQUET_JSON_COLUMNS:
        value = row[key]
        row[key] = json.loads(value) if value else None
    row["extra"] = row["extra"] or {}
    row["labels"], row["label_names"] = tuple(row["labels"] or ()), tuple(row["label_names"] or ())
    return Clip(**row)


class ClipTable(Sequence[Clip]):
    """Clips held as columns; ``rows`` (when given) selects and orders the table's rows this view shows.
    ``maps`` are the file mappings the table's columns lie in (see ``release``)."""

    def __init__(
        self, table: pa.Table, rows: np.ndarray | None = None, maps: tuple[mmap.mmap, ...] = ()
    ) -> None:
        self.table = table
        self.rows = rows
        self.maps = maps
        self._all: list[Clip] | None = None  # a small table's clips, made on first use
        self._split: tuple[list[pa.RecordBatch], np.ndarray] | None = None  # record batches, first rows

    @classmethod
    def from_clips(cls, clips: Iterable[Clip]) -> ClipTable:
        return cls(pa.Table.from_batches(list(_batches(clips)), schema=SCHEMA))

    def __len__(self) -> int:
        return self.table.num_rows if self.rows is None else int(self.rows.size)

    def _row_index(self, positions: np.ndarray) -> np.ndarray:
        return positions if self.rows is None else self.rows[positions]

    def clips(self, positions: np.ndarray | Sequence[int]) -> list[Clip]:
        """The clips at these positions, made in one batch (one row: a zero-copy slice, 25x cheaper than
        a take, whose fixed cost is a millisecond a table)."""
        if len(self) <= SMALL:  # noise beds, sound events, prompts: made once, then reused
            if self._all is None:
                self._all = [_clip(row) for row in self._view().to_pylist()]
            return [self._all[p] for p in np.asarray(positions, dtype=np.int64).tolist()]
        rows = self._row_index(np.asarray(positions, dtype=np.int64)).astype(np.int64)
        if rows.size == 0:
            return []
        if rows.size == 1:
            row = self.table.slice(int(rows[0]), 1).to_pylist()[0]
            self.release()
            return [_clip(row)]
        # Arrow's take on a chunked string column joins its chunks first (time in the table's size): take
        # from each record batch the rows that lie in it instead, and put them back in order
        batches, starts = self._batches()
        which = np.searchsorted(starts, rows, side="right") - 1
        order = np.argsort(which, kind="stable")
        out: list[Clip | None] = [None] * rows.size
        bounds = np.flatnonzero(np.diff(which[order])) + 1
        for group in np.split(order, bounds):
            b = int(which[group[0]])
            picked = batches[b].take(pa.array(rows[group] - starts[b])).to_pylist()
            self.release()
            for at, row in zip(group.tolist(), picked, strict=True):
                out[at] = _clip(row)
        return out  # type: ignore[return-value]

    def release(self) -> None:
        """Unmap the pages of the table's files that this process has touched. A take from a record batch
        faults in pages of every column around its rows (the kernel maps up to 64 KB around each fault),
        so a few thousand random draws would map the whole file into this process's resident memory.
        The pages stay in the page cache and fault back in when read again (their bytes are the file's),
        at no measurable cost per clip."""
        for mapping in self.maps:
            mapping.madvise(mmap.MADV_DONTNEED)

    def _batches(self) -> tuple[list[pa.RecordBatch], np.ndarray]:
        if self._split is None:
            batches = self.table.to_batches()
            self._split = (batches, np.cumsum([0] + [b.num_rows for b in batches])[:-1])
        return self._split

    def _view(self) -> pa.Table:
        return self.table if self.rows is None else self.table.take(pa.array(self.rows))

    def __getitem__(self, position: int) -> Clip:  # type: ignore[override]
        if not -len(self) <= position < len(self):
            raise IndexError(position)
        return self.clips([position % len(self)])[0]

    def __iter__(self) -> Iterator[Clip]:
        for start in range(0, len(self), BATCH):
            yield from self.clips(np.arange(start, min(len(self), start + BATCH)))

    def column(self, name: str) -> pa.ChunkedArray:
        """A column of this view, in its order."""
        col = self.table.column(name)
        return col if self.rows is None else col.take(pa.array(self.rows))

    def numbers(self, name: str) -> np.ndarray:
        return self.column(name).to_numpy()

    def subset(self, positions: np.ndarray) -> ClipTable:
        """A view of some of this view's rows, in the given order (row numbers held as int32)."""
        rows = self._row_index(np.asarray(positions, dtype=np.int64))
        rows = rows.astype(np.int32) if self.table.num_rows < 2**31 else rows
        return ClipTable(self.table, rows, self.maps)

    def where(self, mask: pa.ChunkedArray | pa.Array | np.ndarray) -> ClipTable:
        keep = np.asarray(mask if isinstance(mask, np.ndarray) else pc.fill_null(mask, False).to_numpy(False))
        return self.subset(np.flatnonzero(keep))

    def flag(self, name: str) -> np.ndarray:
        """One of ``FLAGS`` for each row of this view."""
        return self.column(name).to_numpy(zero_copy_only=False)


def as_table(clips: Sequence[Clip]) -> ClipTable:
    return clips if isinstance(clips, ClipTable) else ClipTable.from_clips(clips)


def cached_table(manifest: Path, state_dir: Path, read: Callable[[], Iterable[Clip]], tag: str = "") -> Path:
    """The path of the manifest's clips as an Arrow IPC file, made (from ``read()``) if absent or stale."""
    stat = manifest.stat()
    key = f"{manifest.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0{tag}\0{__version__}\0{SCHEMA}"
    path = state_dir / POOLS_DIR / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.arrow"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, SCHEMA) as writer:
            for batch in _batches(read()):
                writer.write_batch(batch)
        os.replace(tmp, path)
    return path


def mapped(path: Path) -> ClipTable:
    """A table file mapped from disk: its pages are shared by every process that maps it."""
    with open(path, "rb") as f:
        mapping = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    return ClipTable(pa.ipc.open_file(pa.BufferReader(pa.py_buffer(mapping))).read_all(), maps=(mapping,))

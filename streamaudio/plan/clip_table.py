"""Clip pools as Arrow tables: a manifest is read once into an Arrow IPC file (under the build's state
folder, keyed by the manifest's path, size and modification time) that every later read maps from disk,
and a ``Clip`` is made only for a row that a stream draws. The table holds the few columns a build asks
of every row (id, source, duration, target language, one-byte answers to its questions) and each whole
row as one MessagePack record, so a drawn clip is one read. A ten-million-row manifest then costs the
pages a build touches, not ten million Python objects."""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamaudio import __version__
from streamaudio.prepare.manifest import Clip, cache_key

SPOKEN_ROLES = ("prompt", "dialogue")  # synthesized clips that only stand in for text a scenario speaks
COLUMNS = {"id": pa.string(), "source": pa.string(), "duration": pa.float64(), "target_language": pa.string()}
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
RECORD = "_record"  # the whole clip, its fields in order as MessagePack: one read makes the clip
SCHEMA = pa.schema([*COLUMNS.items(), *((flag, pa.bool_()) for flag in FLAGS), (RECORD, pa.binary())])
FIELDS = tuple(f.name for f in fields(Clip))
_TUPLES = tuple(FIELDS.index(name) for name in ("labels", "label_names"))  # MessagePack gives lists
POOLS_DIR = "pools"  # under the cache folder (pool_cache.py)
BATCH = 65536  # rows per record batch written, and per batch made into clips when iterating
FAULT_AROUND = 1 << 16  # bytes the kernel maps around a page fault in a file (fault_around_bytes)
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


def _batch(clips: list[Clip]) -> pa.RecordBatch:
    columns: dict[str, list[Any]] = {name: [getattr(c, name) for c in clips] for name in COLUMNS}
    flags = [_flags(c) for c in clips]
    columns |= {flag: [f[flag] for f in flags] for flag in FLAGS}
    columns[RECORD] = [msgpack.packb([getattr(c, name) for name in FIELDS]) for c in clips]
    return pa.RecordBatch.from_pydict(columns, schema=SCHEMA)


def _batches(clips: Iterable[Clip]) -> Iterator[pa.RecordBatch]:
    rows: list[Clip] = []
    for clip in clips:
        rows.append(clip)
        if len(rows) >= BATCH:
            yield _batch(rows)
            rows = []
    if rows:
        yield _batch(rows)


def _clip(record: bytes | memoryview) -> Clip:
    """A record back as the Clip it was made from."""
    values = msgpack.unpackb(record)
    for at in _TUPLES:
        values[at] = tuple(values[at])
    return Clip(*values)


class ClipTable(Sequence[Clip]):
    """Clips held as columns; ``rows`` (when given) selects and orders the table's rows this view shows.
    ``maps`` are the file mappings the table's columns lie in (see ``_release``)."""

    def __init__(
        self, table: pa.Table, rows: np.ndarray | None = None, maps: tuple[mmap.mmap, ...] = ()
    ) -> None:
        self.table = table
        self.rows = rows
        self.maps = maps
        self._all: list[Clip] | None = None  # a small table's clips, made on first use
        self._split: tuple[list[pa.RecordBatch], np.ndarray] | None = None  # record batches, first rows
        self._spans: list[tuple[mmap.mmap, int, int] | None] = []  # where each batch lies in a mapping

    @classmethod
    def from_clips(cls, clips: Iterable[Clip]) -> ClipTable:
        return cls(pa.Table.from_batches(list(_batches(clips)), schema=SCHEMA))

    def __len__(self) -> int:
        return self.table.num_rows if self.rows is None else int(self.rows.size)

    def _row_index(self, positions: np.ndarray) -> np.ndarray:
        return positions if self.rows is None else self.rows[positions]

    def clips(self, positions: np.ndarray | Sequence[int]) -> list[Clip]:
        """The clips at these positions, made from their records batch by batch."""
        if len(positions) == 0:
            return []
        if len(self) <= SMALL:  # noise beds, sound events, prompts: made once, then reused
            if self._all is None:
                self._all = self._made(self._row_index(np.arange(len(self))))
            return [self._all[p] for p in np.asarray(positions, dtype=np.int64).tolist()]
        return self._made(self._row_index(np.asarray(positions, dtype=np.int64)))

    def _made(self, rows: np.ndarray) -> list[Clip]:
        """Clips of table rows, in order: the records of each record batch read together, then its
        pages unmapped."""
        if rows.size == 0:
            return []
        batches, starts = self._batches()
        rows = rows.astype(np.int64)
        which = np.searchsorted(starts, rows, side="right") - 1
        order = np.argsort(which, kind="stable")
        out: list[Clip | None] = [None] * rows.size
        bounds = np.flatnonzero(np.diff(which[order])) + 1
        for group in np.split(order, bounds):
            b = int(which[group[0]])
            column = batches[b].column(RECORD)
            _, offsets, data = column.buffers()
            ends = np.frombuffer(offsets, dtype=np.int32, count=len(column) + 1 + column.offset)
            at = rows[group] - starts[b] + column.offset
            records = memoryview(data)
            for k, lo, hi in zip(group.tolist(), ends[at].tolist(), ends[at + 1].tolist(), strict=True):
                out[k] = _clip(records[lo:hi])
            self._release(b)
        return out  # type: ignore[return-value]

    def _release(self, batch: int) -> None:
        """Unmap the pages of a record batch's file that this process has touched. Reading a record
        faults in the pages around it (the kernel maps up to 64 KB around each fault), so a few thousand
        random draws would map the whole file into this process's resident memory. The pages stay in
        the page cache and fault back in when read again (their bytes are the file's). Only the batch's
        span is unmapped: the cost of ``madvise`` grows with the span."""
        span = self._spans[batch]
        if span is not None:
            mapping, start, length = span
            mapping.madvise(mmap.MADV_DONTNEED, start, length)

    def _batches(self) -> tuple[list[pa.RecordBatch], np.ndarray]:
        if self._split is None:
            batches = self.table.to_batches()
            self._split = (batches, np.cumsum([0] + [b.num_rows for b in batches])[:-1])
            self._spans = [_span(b.column(RECORD), self.maps) for b in batches]
        return self._split

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


def _span(array: pa.Array, maps: tuple[mmap.mmap, ...]) -> tuple[mmap.mmap, int, int] | None:
    """The mapping an array lies in, and the page-aligned span of its buffers there (widened by the
    kernel's fault-around on each side)."""
    buffers = [b for b in array.buffers() if b is not None and b.size]
    if not buffers:
        return None
    low = min(b.address for b in buffers)
    high = max(b.address + b.size for b in buffers)
    for mapping in maps:
        base = pa.py_buffer(mapping).address
        if base <= low and high <= base + len(mapping):
            start = max(0, (low - base - FAULT_AROUND) // mmap.PAGESIZE * mmap.PAGESIZE)
            return mapping, start, min(len(mapping), high - base + FAULT_AROUND) - start
    return None


def as_table(clips: Sequence[Clip]) -> ClipTable:
    return clips if isinstance(clips, ClipTable) else ClipTable.from_clips(clips)


def pool_path(manifest: Path, root: Path, tag: str = "") -> Path:
    """Where the table of a manifest is kept under ``root``: named by the manifest's path, size and
    modification time, the source tag, the version and the table's schema (a changed one gets a new name)."""
    return root / POOLS_DIR / f"{cache_key(manifest, manifest.stat(), tag, __version__, SCHEMA)}.arrow"


def cached_table(manifest: Path, root: Path, read: Callable[[], Iterable[Clip]], tag: str = "") -> Path:
    """The path of the manifest's clips as an Arrow IPC file, made (from ``read()``) if absent or stale."""
    path = pool_path(manifest, root, tag)
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

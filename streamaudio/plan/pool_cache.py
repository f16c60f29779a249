"""The shared pool cache: each manifest read once per machine into a columnar table (``clip_table``)
under ``<cache>/pools``, reused by every build, ``--plan-only`` and benchmark that reads it, whatever its
output folder; made under a lock, so that of two builds started at once one makes it and the other waits
and reads it."""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from streamaudio.plan.clip_table import POOLS_DIR
from streamaudio.tts.cache import default_cache_dir


def pool_root(cache_dir: Path | None = None) -> Path:
    """The folder pools live under: ``cache_dir``, else ``$STREAMAUDIO_CACHE`` or ``~/.cache/streamaudio``."""
    return Path(cache_dir) if cache_dir is not None else default_cache_dir()


@contextmanager
def making(table: Path) -> Iterator[None]:
    """Hold the lock of a pool while it is made or checked: a second process waits here, then finds it."""
    table.parent.mkdir(parents=True, exist_ok=True)
    with open(table.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass(frozen=True)
class PoolEntry:
    """A pool in the cache: its table, its size, when it was made and last used, the manifest it holds."""

    path: Path
    bytes: int
    made: float
    used: float
    manifest: str


def list_pools(root: Path) -> list[PoolEntry]:
    """The pools under ``root/pools``, the most recently used first."""
    entries = []
    for table in (root / POOLS_DIR).glob("*.arrow"):
        sidecar = table.with_suffix(".json")
        try:
            manifest = str(json.loads(sidecar.read_text(encoding="utf-8")).get("manifest", "?"))
            used = sidecar.stat().st_mtime
            stat = table.stat()
        except (OSError, ValueError, AttributeError):
            manifest, used, stat = "?", 0.0, table.stat()
        size = stat.st_size + (sidecar.stat().st_size if sidecar.is_file() else 0)
        entries.append(PoolEntry(table, size, stat.st_mtime, used or stat.st_mtime, manifest))
    return sorted(entries, key=lambda e: e.used, reverse=True)


def prune_pools(root: Path, older_than_days: float = 0.0) -> tuple[int, int]:
    """Remove the pools not used for ``older_than_days`` (0: every pool); how many, and their bytes. A pool
    being made now is skipped (its lock is held)."""
    cutoff = time.time() - older_than_days * 86400
    removed = freed = 0
    for entry in list_pools(root):
        if entry.used > cutoff and older_than_days > 0:
            continue
        with open(entry.path.with_suffix(".lock"), "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            for path in (entry.path, entry.path.with_suffix(".json")):
                path.unlink(missing_ok=True)
            os.unlink(entry.path.with_suffix(".lock"))
            fcntl.flock(lock, fcntl.LOCK_UN)
        removed += 1
        freed += entry.bytes
    return removed, freed

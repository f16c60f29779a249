"""Finding audio files under a folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".opus", ".oga", ".aiff", ".aif", ".au", ".w64", ".caf", ".m4a"}
)


def walk_audio(root: Path) -> Iterator[Path]:
    """Audio files under ``root``, in a stable (sorted) order."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS:
                yield Path(dirpath) / name


def index_by_stem(root: Path) -> dict[str, Path]:
    """File stem → path for every audio file under ``root`` (the first found wins)."""
    index: dict[str, Path] = {}
    for path in walk_audio(root):
        index.setdefault(path.stem, path)
    return index

"""A user's own list of clips: CSV with a header, or JSON lines, naming at least ``path``."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from streamaudio.prepare.manifest import Clip
from streamaudio.prepare.sources.pipeline import Candidate, Reject
from streamaudio.prepare.sources.tsv import SourceError

FIELDS = (
    "text",
    "translation",
    "language",
    "target_language",
    "speaker",
    "gender",
    "age",
    "split",
    "category",
)


def _rows(path: Path) -> Iterator[tuple[int, dict | None, str]]:
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            if not reader.fieldnames or "path" not in reader.fieldnames:
                raise SourceError(f"{path}: the CSV header must name a 'path' column")
            for row in reader:
                yield reader.line_num, row, ""
        return
    with open(path, encoding="utf-8") as f:
        for line, text in enumerate(f, 1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                yield line, None, f"not valid JSON ({exc.msg})"
                continue
            yield (
                line,
                row if isinstance(row, dict) else None,
                "" if isinstance(row, dict) else "not an object",
            )


def scan_list(path: Path, source: str = "user") -> Iterator[Candidate | Reject]:
    """Each row's file is probed; relative paths are taken from the list's folder."""
    if not path.is_file():
        raise SourceError(f"{path}: file does not exist")
    base = path.resolve().parent
    for line, row, problem in _rows(path):
        if row is None:
            yield Reject(f"{path.name}:{line}", source, "malformed_row", f"line {line}: {problem}")
            continue
        audio = str(row.get("path") or "").strip()
        if not audio:
            yield Reject(f"{path.name}:{line}", source, "malformed_row", f"line {line}: no path")
            continue
        file = Path(audio) if Path(audio).is_absolute() else base / audio
        labels = row.get("labels") or ()
        if isinstance(labels, str):
            labels = tuple(x for x in labels.split(",") if x)
        clip = Clip(
            id=str(row.get("id") or Path(audio).stem),
            source=str(row.get("source") or source),
            duration=1.0,
            path=str(file),
            labels=tuple(labels),
            **{k: str(row[k]) for k in FIELDS if row.get(k)},
        )
        yield Candidate(clip)

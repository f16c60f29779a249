"""Noise and sound sets: MUSAN, ESC-50, and any folder of audio files."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from streamaudio.prepare.manifest import Clip
from streamaudio.prepare.sources.audio_files import walk_audio
from streamaudio.prepare.sources.pipeline import Candidate, Reject
from streamaudio.prepare.sources.tsv import SourceError

MUSAN_PARTS = ("noise", "music", "speech")
MUSIC_FIELDS = ("genre", "vocals", "artist", "composer")


def _annotations(folder: Path) -> dict[str, str]:
    """MUSAN ``ANNOTATIONS``: file stem → the rest of its line."""
    path = folder / "ANNOTATIONS"
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stem, _, rest = line.strip().partition(" ")
        if stem:
            out[stem] = rest.strip()
    return out


def scan_musan(root: Path, parts: tuple[str, ...] = MUSAN_PARTS) -> Iterator[Candidate | Reject]:
    """``musan/{noise,music,speech}/<source>/*.wav`` with each source folder's ANNOTATIONS kept."""
    if not root.is_dir():
        raise SourceError(f"{root}: MUSAN folder does not exist")
    found = False
    for part in parts:
        for sub in sorted(p for p in (root / part).glob("*") if p.is_dir()):
            notes = _annotations(sub)
            for path in walk_audio(sub):
                found = True
                extra: dict[str, str] = {"musan_part": part, "musan_source": sub.name}
                note = notes.get(path.stem)
                if note:
                    extra["annotation"] = note
                    if part == "music":
                        extra.update(zip(MUSIC_FIELDS, note.split(), strict=False))
                yield Candidate(
                    Clip(
                        id=f"musan-{part}-{path.stem}",
                        source="musan",
                        duration=1.0,
                        path=str(path),
                        category=part,
                        extra=extra,
                    )
                )
    if not found:
        raise SourceError(f"{root}: no audio under {', '.join(f'{p}/<source>/' for p in parts)}")


def scan_esc50(root: Path) -> Iterator[Candidate | Reject]:
    """ESC-50: ``meta/esc50.csv`` (filename,fold,target,category,esc10,src_file,take) + ``audio/``."""
    meta = root / "meta" / "esc50.csv"
    if not meta.is_file():
        raise SourceError(f"{meta}: ESC-50 metadata not found")
    with open(meta, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        for row in reader:
            line = reader.line_num
            name = (row.get("filename") or "").strip()
            if not name or not row.get("category"):
                yield Reject(f"esc50.csv:{line}", "esc50", "malformed_row", f"line {line}")
                continue
            extra = {k: row[k] for k in ("fold", "target", "esc10", "src_file", "take") if row.get(k)}
            extra["license"] = "CC BY-NC 3.0 (ESC-50; clips from freesound.org, see src_file)"
            category = row["category"].strip()
            yield Candidate(
                Clip(
                    id=Path(name).stem,
                    source="esc50",
                    duration=5.0,
                    path=str(root / "audio" / name),
                    category=category,
                    label_names=(category.replace("_", " "),),
                    extra=extra,
                )
            )


def scan_folder(root: Path, source: str = "noise") -> Iterator[Candidate | Reject]:
    """Every audio file under a folder; its category is the folder it sits in."""
    if not root.is_dir():
        raise SourceError(f"{root}: folder does not exist")
    for path in walk_audio(root):
        rel = path.relative_to(root)
        category = rel.parent.as_posix() if rel.parent != Path(".") else None
        yield Candidate(
            Clip(
                id=rel.with_suffix("").as_posix(),
                source=source,
                duration=1.0,
                path=str(path),
                category=category,
            )
        )

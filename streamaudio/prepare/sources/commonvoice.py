"""Common Voice as released: ``<locale>/<split>.tsv`` + ``clips/*.mp3`` (+ ``clip_durations.tsv`` from v16.1).

Every header version is read by column name: v1-4 ``client_id path sentence up_votes down_votes age
gender accent``, v5 adds ``locale segment``, v8 renames ``accent`` to ``accents``, v13 adds
``variant``, v17 adds ``sentence_id sentence_domain``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from streamaudio.prepare.manifest import Clip
from streamaudio.prepare.sources.pipeline import Candidate, Reject
from streamaudio.prepare.sources.probe import file_size
from streamaudio.prepare.sources.tsv import SourceError, malformed, read_tsv, require

SOURCE = "commonvoice"
MIN_BYTES_PER_SECOND = 2000  # half of the lowest Common Voice MP3 bitrate (32 kbit/s): smaller is truncated
UNPROBED = 1.0  # placeholder duration of a clip the probe will measure (a probe failure rejects it)
EXTRA_COLUMNS = ("up_votes", "down_votes", "accent", "accents", "variant", "sentence_id", "sentence_domain")


def read_durations(locale_dir: Path) -> dict[str, float]:
    """``clip_durations.tsv`` (clip → seconds) when the release has it, else empty."""
    path = locale_dir / "clip_durations.tsv"
    if not path.is_file():
        return {}
    durations = {}
    for _, row, _ in read_tsv(path):
        if row is None:
            continue
        require(path, row, "clip", "duration[ms]")
        try:
            durations[row["clip"]] = int(float(row["duration[ms]"])) / 1000.0
        except ValueError:
            continue
    return durations


def clip_file(clips_dir: str, name: str) -> str:
    """The clip's file; early releases list paths without the ``.mp3`` extension."""
    path = os.path.join(clips_dir, name)
    if not os.path.splitext(name)[1] and not os.path.exists(path):
        return path + ".mp3"
    return path


def scan(
    locale_dir: Path, split: str = "validated", probe: bool | None = None
) -> Iterator[Candidate | Reject]:
    """Rows of one split as candidates or rejects.

    Every header is read (duration, sample rate, channels) unless ``probe=False``: then, with
    ``clip_durations.tsv``, the audio is not opened (only stat: missing, empty and clearly truncated
    files are rejected; decoding faults surface at build time) and those rows carry no sample rate or
    channels. A clip listed as 0 ms is rejected (``empty_audio``).
    """
    if not locale_dir.is_dir():
        raise SourceError(f"{locale_dir}: Common Voice locale folder does not exist")
    tsv = locale_dir / f"{split}.tsv"
    if not tsv.is_file():
        raise SourceError(f"{tsv}: no such split file in {locale_dir}")
    durations = read_durations(locale_dir)
    must_probe = probe is not False  # headers give sample_rate and channels; --no-probe trusts the listing
    clips_dir = str(locale_dir / "clips")
    folder_locale = locale_dir.name
    seen: set[str] = set()
    checked = False
    for line, row, fields in read_tsv(tsv):
        if row is None:
            yield Reject(f"{tsv.name}:{line}", SOURCE, "malformed_row", malformed(fields, line))
            continue
        if not checked:
            require(tsv, row, "path", "sentence")
            checked = True
        name = row["path"].strip()
        if not name:
            yield Reject(f"{tsv.name}:{line}", SOURCE, "malformed_row", f"empty path, line {line}")
            continue
        if name in seen:
            yield Reject(name, SOURCE, "duplicate", f"line {line}")
            continue
        seen.add(name)
        sentence = row["sentence"].strip()
        path = clip_file(clips_dir, name)
        file_name = os.path.basename(path)
        if not sentence:
            yield Reject(name, SOURCE, "empty_sentence", f"line {line}", path)
            continue
        extra = {k: row[k] for k in EXTRA_COLUMNS if row.get(k)}
        if row.get("segment"):
            extra["cv_segment"] = row["segment"]
        listed = durations.get(file_name, durations.get(name))
        if listed is not None and listed <= 0:
            yield Reject(name, SOURCE, "empty_audio", "clip_durations.tsv gives 0 ms", path)
            continue
        clip = Clip(
            id=name,
            source=SOURCE,
            duration=listed or UNPROBED,  # the probe measures it; without a listing it is never kept as is
            path=path,
            text=sentence,
            language=row.get("locale") or folder_locale,
            speaker=row.get("client_id") or None,
            gender=row.get("gender") or None,
            age=row.get("age") or None,
            split=split,
            extra=extra,
        )
        if must_probe or listed is None:
            yield Candidate(clip, probe=True)
            continue
        reason = _stat_fault(path, clip.duration)
        yield Reject(name, SOURCE, reason[0], reason[1], path) if reason else Candidate(clip, probe=False)


def _stat_fault(path: str, duration: float) -> tuple[str, str] | None:
    size = file_size(path)
    if size is None:
        return "missing_file", "no such file"
    if size == 0:
        return "empty_file", "0 bytes"
    if duration <= 0:
        return "empty_audio", "clip_durations.tsv gives 0 ms"
    if size < duration * MIN_BYTES_PER_SECOND:
        return "truncated", f"{size} bytes for {duration:.2f} s"
    return None

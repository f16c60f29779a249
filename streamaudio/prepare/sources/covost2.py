"""CoVoST 2: ``covost_v2.<src>_<tgt>.tsv`` (path, translation, split) joined on ``path`` with Common Voice."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from streamaudio.prepare.sources.commonvoice import scan as scan_commonvoice
from streamaudio.prepare.sources.pipeline import Candidate, Reject
from streamaudio.prepare.sources.tsv import SourceError, malformed, read_tsv, require

SOURCE = "covost2"
NAME = re.compile(r"covost_v2\.(?P<src>[A-Za-z-]+)_(?P<tgt>[A-Za-z-]+)\.tsv$")


def languages(tsv: Path) -> tuple[str, str]:
    """Source and target language from the file name, e.g. ``covost_v2.en_de.tsv`` → (en, de)."""
    m = NAME.search(tsv.name)
    if not m:
        raise SourceError(f"{tsv}: expected a name like covost_v2.en_de.tsv")
    return m["src"], m["tgt"]


def scan(
    tsv: Path, commonvoice_dir: Path, cv_split: str = "validated", probe: bool | None = None
) -> Iterator[Candidate | Reject]:
    """CoVoST rows with their Common Voice clip and sentence; rows without a clip are rejected."""
    src, tgt = languages(tsv)
    translations: dict[str, tuple[str, str, int]] = {}
    for line, row, fields in read_tsv(tsv):
        if row is None:
            yield Reject(f"{tsv.name}:{line}", SOURCE, "malformed_row", malformed(fields, line))
            continue
        require(tsv, row, "path", "translation", "split")
        if not row["translation"].strip():
            yield Reject(row["path"], SOURCE, "empty_translation", f"line {line}")
            continue
        translations[row["path"]] = (row["translation"].strip(), row["split"].strip(), line)
    for item in scan_commonvoice(commonvoice_dir, cv_split, probe):
        entry = translations.pop(item.id if isinstance(item, Reject) else item.clip.id, None)
        if entry is None:
            continue  # a Common Voice clip that CoVoST does not translate
        translation, split, _ = entry
        if isinstance(item, Reject):
            yield replace(item, source=SOURCE)
            continue
        clip = replace(
            item.clip,
            source=SOURCE,
            translation=translation,
            language=src,
            target_language=tgt,
            split=split,
            extra={**item.clip.extra, "commonvoice_split": cv_split},
        )
        yield replace(item, clip=clip)
    for path, (_, _, line) in translations.items():
        yield Reject(path, SOURCE, "not_in_commonvoice", f"line {line}: no {cv_split}.tsv row for this path")

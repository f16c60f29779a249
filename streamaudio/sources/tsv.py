"""Tab-separated corpus files read as released: no quoting, a header row, line numbers for errors."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path

from streamaudio.errors import StreamAudioError

csv.field_size_limit(sys.maxsize)


class SourceError(StreamAudioError):
    """A corpus file that cannot be read at all; one line naming it."""


def read_tsv(path: Path) -> Iterator[tuple[int, dict[str, str] | None, list[str]]]:
    """Yield (line number, row as dict or None when its field count is wrong, raw fields)."""
    try:
        f = open(path, encoding="utf-8", newline="")  # noqa: SIM115 -- closed below
    except OSError as exc:
        raise SourceError(f"{path}: cannot open ({exc.strerror or exc})") from None
    with f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        try:
            header = next(reader)
        except StopIteration:
            raise SourceError(f"{path}: empty file, expected a header row") from None
        except UnicodeDecodeError:
            raise SourceError(f"{path}: not UTF-8 text") from None
        header = [h.strip() for h in header]
        try:
            for fields in reader:
                if not fields or fields == [""]:
                    continue
                row = dict(zip(header, fields, strict=True)) if len(fields) == len(header) else None
                yield reader.line_num, row, fields
        except UnicodeDecodeError as exc:
            raise SourceError(f"{path}:{reader.line_num + 1}: not UTF-8 text ({exc.reason})") from None


def require(path: Path, row: dict[str, str], *columns: str) -> None:
    missing = [c for c in columns if c not in row]
    if missing:
        raise SourceError(f"{path}: no column {', '.join(missing)} (header has {', '.join(row)})")

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
    """Yield (line number, row as dict or None when it cannot be one, raw fields); a line that is not UTF-8
    comes with no fields (``malformed`` says so). A byte-order mark before the header is read as one."""
    try:
        f = open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")  # noqa: SIM115
    except OSError as exc:
        raise SourceError(f"{path}: cannot open ({exc.strerror or exc})") from None
    with f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        try:
            header = next(reader)
        except StopIteration:
            raise SourceError(f"{path}: empty file, expected a header row") from None
        if not _utf8(header):
            raise SourceError(f"{path}: the header is not UTF-8 text")
        header = [h.strip() for h in header]
        for fields in reader:
            if not fields or fields == [""]:
                continue
            if not _utf8(fields):
                yield reader.line_num, None, []
                continue
            row = dict(zip(header, fields, strict=True)) if len(fields) == len(header) else None
            yield reader.line_num, row, fields


def _utf8(fields: list[str]) -> bool:
    try:
        "".join(fields).encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, kept as surrogates
        return False
    return True


def malformed(fields: list[str], line: int) -> str:
    """Why a line is no row, for its reject."""
    return f"line {line}: not UTF-8 text" if not fields else f"{len(fields)} fields, line {line}"


def require(path: Path, row: dict[str, str], *columns: str) -> None:
    missing = [c for c in columns if c not in row]
    if missing:
        raise SourceError(f"{path}: no column {', '.join(missing)} (header has {', '.join(row)})")

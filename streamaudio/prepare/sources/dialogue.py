"""Dialogue text for TTS: moss-003-sft, ShareGPT and OpenAI-messages conversations as user/assistant turns."""

from __future__ import annotations

import gzip
import json
import multiprocessing as mp
import re
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from streamaudio.prepare.rejects import Reject
from streamaudio.prepare.sources.tsv import SourceError

FORMATS = ("moss", "sharegpt", "messages")
Parsed = tuple[dict[str, Any] | None, dict[str, Any] | None]  # (dialogue row, None) or (None, reject row)
_MARKER_START = re.compile(r"^\s*<\|[^|>]+\|>\s*:\s*")  # <|Human|>: / <|MOSS|>:
_MARKER_END = re.compile(r"\s*<e[a-z]{2}>\s*$")  # <eoh> / <eom> / <eoa>
_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "model": "assistant",
}


@dataclass
class DialogueReport:
    read: int = 0
    kept: int = 0
    rejected: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.rejected.items())) or "none"
        return f"read {self.read}, kept {self.kept}, rejected {sum(self.rejected.values())} ({reasons})"


def clean(text: str) -> str:
    """Strip moss-style role markers and end tokens."""
    return _MARKER_END.sub("", _MARKER_START.sub("", text or "")).strip()


def _content(value: Any) -> str:
    if isinstance(value, list):  # OpenAI content parts
        return " ".join(
            p.get("text", "") for p in value if isinstance(p, dict) and p.get("type", "text") == "text"
        )
    return str(value or "")


def turns_of(row: dict[str, Any], fmt: str) -> list[dict[str, str]]:
    """The user/assistant turns of one conversation, in order (system turns dropped)."""
    raw: list[tuple[str, str]] = []
    if fmt == "moss":
        chat = row.get("chat") or {}
        numbered = sorted(chat.items(), key=lambda kv: int(re.sub(r"\D", "", kv[0]) or 0))
        for _, turn in numbered:
            raw += [("user", turn.get("Human", "")), ("assistant", turn.get("MOSS", ""))]
    elif fmt == "sharegpt":
        raw = [
            (_ROLES.get(str(m.get("from", "")).lower(), ""), m.get("value", ""))
            for m in row.get("conversations") or []
        ]
    else:
        raw = [
            (_ROLES.get(str(m.get("role", "")).lower(), ""), _content(m.get("content")))
            for m in row.get("messages") or []
        ]
    return [{"role": role, "text": clean(text)} for role, text in raw if role and clean(text)]


def parse_line(item: tuple[int, bytes, str, str]) -> Parsed:
    """(dialogue row, None) or (None, reject row) for one input line (line number, bytes, format, stem)."""
    line, raw, fmt, stem = item
    try:
        row = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return None, {"line": line, "reason": "invalid_utf8", "detail": f"byte {exc.start}: {exc.reason}"}
    except json.JSONDecodeError as exc:
        return None, {"line": line, "reason": "invalid_json", "detail": exc.msg}
    if not isinstance(row, dict):
        return None, {"line": line, "reason": "invalid_json", "detail": "not an object"}
    try:
        turns = turns_of(row, fmt)
    except (AttributeError, TypeError, ValueError) as exc:  # {"chat": 5}, "conversations": "str" …
        return None, {"line": line, "reason": "bad_row", "detail": f"not a {fmt} conversation ({exc})"}
    if not any(t["role"] == "user" for t in turns) or not any(t["role"] == "assistant" for t in turns):
        return None, {"line": line, "reason": "no_turns", "detail": "needs a user and an assistant turn"}
    ident = row.get("conversation_id") or row.get("id") or f"{stem}-{line}"
    return {"id": str(ident), "source": fmt, "turns": turns}, None


def scan(
    path: Path, fmt: str, workers: int = 1
) -> Iterator[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
    """(dialogue row, None) or (None, reject row) per input line, in order; parsed in a pool if asked."""
    if fmt not in FORMATS:
        raise SourceError(f"unknown dialogue format {fmt!r}; choose from {', '.join(FORMATS)}")
    if not path.is_file():
        raise SourceError(f"{path}: file does not exist")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            items = ((n, raw, fmt, path.stem) for n, raw in enumerate(f, 1) if raw.strip())
            if workers <= 1:
                yield from map(parse_line, items)
                return
            ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
            with ctx.Pool(workers) as pool:
                while batch := list(islice(items, 4096 * workers)):
                    yield from pool.imap(parse_line, batch, chunksize=256)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise SourceError(f"{path}: truncated or damaged gzip file ({exc})") from None


def prepare(path: Path, fmt: str, out: Path, workers: int = 1) -> DialogueReport:
    """Write dialogues as JSONL(.gz) and rejects (file:line, the reason) beside them, both atomically."""
    from streamaudio.prepare.sources.pipeline import atomic_outputs, check_output, rejects_path

    check_output(out, [path])
    report = DialogueReport()
    out.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if out.suffix == ".gz" else open
    with (
        atomic_outputs(out, rejects_path(out)) as (dialogues, rejected),
        opener(dialogues, "wt", encoding="utf-8") as kept,
        open(rejected, "w", encoding="utf-8") as rejects,
    ):
        for row, reject in scan(path, fmt, workers):
            report.read += 1
            if row is None:
                report.rejected[reject["reason"]] += 1
                where = f"{path}:{reject['line']}"
                bad = Reject(where, fmt, reject["reason"], f"{where}: {reject['detail']}", str(path))
                rejects.write(json.dumps(bad.to_row(), ensure_ascii=False) + "\n")
            else:
                report.kept += 1
                kept.write(json.dumps(row, ensure_ascii=False) + "\n")
    return report

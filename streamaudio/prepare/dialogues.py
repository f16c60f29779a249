"""Dialogues: user/assistant text turns, spoken by TTS in ``chat`` streams."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamaudio.prepare.manifest import BadRow, Clip, ManifestError, clip_from_row, iter_rows


@dataclass(frozen=True)
class Dialogue:
    id: str
    source: str
    turns: tuple[tuple[str, str], ...]  # (role, text), role "user" or "assistant"

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Dialogue:
        turns = tuple((str(t["role"]), str(t["text"])) for t in row["turns"])
        if any(role not in ("user", "assistant") for role, _ in turns):
            raise ValueError("turn roles must be user or assistant")
        return cls(str(row["id"]), str(row.get("source") or "dialogue"), turns)

    def exchanges(self) -> list[tuple[str, str]]:
        """(user text, assistant reply) pairs; consecutive turns of one role are joined."""
        merged: list[list[str]] = []
        for role, text in self.turns:
            if merged and merged[-1][0] == role:
                merged[-1][1] += " " + text
            else:
                merged.append([role, text])
        while merged and merged[0][0] != "user":
            merged.pop(0)
        return [(u[1], a[1]) for u, a in zip(merged[::2], merged[1::2], strict=False) if a[0] == "assistant"]


def is_dialogue_row(row: dict[str, Any]) -> bool:
    return "turns" in row and "duration" not in row


def read_dialogues(path: str | Path) -> Iterator[Dialogue]:
    for lineno, row in iter_rows(path):
        try:
            yield Dialogue.from_row(row)
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"{path}:{lineno}: bad dialogue row ({exc})") from None


def read_source(
    path: str | Path, default_source: str | None = None, on_bad: BadRow | None = None
) -> Iterator[tuple[int, Clip | Dialogue]]:
    """(line, row) for the rows of any streamaudio manifest: dialogue rows as Dialogues, the rest as Clips.
    A broken row stops the read, or with ``on_bad`` is reported to it as (line, problem) and left out."""
    base = Path(path).resolve().parent
    for lineno, row in iter_rows(path, on_bad):
        try:
            if is_dialogue_row(row):
                try:
                    yield lineno, Dialogue.from_row(row)
                except (KeyError, TypeError, ValueError) as exc:
                    raise ManifestError(f"{path}:{lineno}: bad dialogue row ({exc})") from None
            else:
                yield lineno, clip_from_row(row, f"{path}:{lineno}", base, default_source)
        except ManifestError as exc:
            if on_bad is None:
                raise
            on_bad(lineno, str(exc).removeprefix(f"{path}:{lineno}: "))

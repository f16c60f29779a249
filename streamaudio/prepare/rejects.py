"""The one reject record: an input row, file or clip that could not be used, and why (``rejected.jsonl``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Reject:
    """What could not be used (``id``: a clip id, or file:line for a row), from which source, and why;
    ``stage`` says where it was found (prepare, plan, render), ``stream`` the stream it was drawn for."""

    id: str
    source: str
    reason: str
    detail: str = ""
    path: str | None = None
    stage: str | None = None
    stream: str | None = None
    capability: str | None = None
    info: dict[str, Any] = field(default_factory=dict)  # anything else worth keeping (a text, a voice)

    def to_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {"clip_id": self.id, "source": self.source, "reason": self.reason}
        row["detail"] = self.detail
        for key in ("path", "stage", "stream", "capability"):
            if getattr(self, key):
                row[key] = getattr(self, key)
        return {**self.info, **row}

    @classmethod
    def from_row(cls, row: dict[str, Any], stage: str | None = None) -> Reject:
        """A reject as ``to_row`` wrote it; raises ValueError for anything else."""
        if not all(isinstance(row.get(k), str) and row[k] for k in ("clip_id", "source", "reason")):
            raise ValueError("a reject row needs clip_id, source and reason")
        known = {"clip_id", "source", "reason", "detail", "path", "stage", "stream", "capability"}
        return cls(
            row["clip_id"], row["source"], row["reason"], str(row.get("detail") or ""),
            *(str(row[k]) if row.get(k) else None for k in ("path", "stage", "stream", "capability")),
            info={k: v for k, v in row.items() if k not in known},
        ).with_stage(stage)  # fmt: skip

    def with_stage(self, stage: str | None) -> Reject:
        if stage is None or self.stage:
            return self
        return replace(self, stage=stage)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What makes two rejects one: the same clip (by source, id and file) for the same reason."""
        return (self.source, self.id, self.path or "", self.reason)


def read_rejects(path: Path, stage: str | None = None) -> Iterator[Reject]:
    """The rejects of a ``rejected.jsonl``; a line that is not one becomes a reject of its own naming
    file:line, so that a damaged list loses nothing and stops nothing."""
    with open(path, "rb") as f:
        for line, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                yield Reject.from_row(json.loads(raw.decode("utf-8")), stage)
            except (ValueError, TypeError, AttributeError) as exc:
                where = f"{path}:{line}"
                yield Reject(where, "rejects", "bad_reject_line", f"{where}: {exc}", stage=stage)


def dedupe(rejects: list[Reject]) -> list[Reject]:
    """Each reject once (by ``key``), the first kept, sorted by it."""
    unique: dict[tuple[str, str, str, str], Reject] = {}
    for r in rejects:
        unique.setdefault(r.key, r)
    return sorted(unique.values(), key=lambda r: r.key)


def rejects_text(rejects: list[Reject]) -> str:
    """JSON lines, one reject each."""
    return "".join(json.dumps(r.to_row(), ensure_ascii=False) + "\n" for r in rejects)

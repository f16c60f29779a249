"""Interaction phenomena: the moments a streaming model must decide by content and context whether to
speak (docs/phenomena.md). Each is drawn at a rate its capability's data file sets and a recipe may
override, and is recorded on its events and turns as ``phenomenon``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

PHENOMENA = (
    "pause",
    "hesitation",
    "acknowledgement",
    "short_answer",
    "talk_to_others",
    "near_miss_wake",
    "background_media",
)


def pick(rng: np.random.Generator, items: list) -> Any:
    return items[int(rng.integers(len(items)))]


def chance(rng: np.random.Generator, rate: float) -> bool:
    """Whether a phenomenon happens here; at rate 0 nothing is drawn, so the stream stays as it was."""
    return rate > 0 and rng.random() < rate


def rates(defaults: Mapping[str, float], overrides: Mapping[str, float]) -> dict[str, float]:
    """A capability's rates: its data file's, with a recipe's on top (names not given stay at 0)."""
    return {name: float(overrides.get(name, defaults.get(name, 0.0))) for name in PHENOMENA}


def restarts(text: str, said: Mapping[str, Any]) -> list[str]:
    """The ways a speaker may break off the start of ``text`` to restart it (none if it is too short)."""
    words = text.split()
    lo, hi = said["restart_words"]
    if len(words) <= hi + 1:
        return []
    return [" ".join(words[:k]).rstrip(",.;:?!") + "..." for k in range(lo, hi + 1)]


def hesitation_parts(rng: np.random.Generator, text: str, said: Mapping[str, Any]) -> tuple[str, str]:
    """What a hesitating speaker says first (a filler, or the turn's first words broken off), and then the
    whole turn; ``said`` is ``phenomena.yaml``."""
    broken = restarts(text, said)
    if broken and rng.random() < float(said["restart_share"]):
        return pick(rng, broken), text
    return pick(rng, said["fillers"]), text


SENTENCE_END = re.compile(r"[.!?]\s+(?=[A-Z0-9])")
CLAUSE_END = re.compile(r"(?:[,;]\s+(?:and then|and|then|but|so)\s+|;\s+)")


def reply_parts(reply: str) -> tuple[str, str] | None:
    """A reply cut where the assistant could stop to ask whether to go on: after its first sentence, else
    before a clause joined by "and", "but", "so" or "then" to a first clause with no comma of its own (not
    inside a list; the rest then starts a sentence of its own); None when it has no such place."""
    cut = SENTENCE_END.search(reply)
    if cut is not None:
        head, rest = reply[: cut.end()].strip(), reply[cut.end() :].strip()
    elif (cut := CLAUSE_END.search(reply)) is not None and "," not in reply[: cut.start()]:
        head = reply[: cut.start()].strip() + "."
        joined = reply[cut.start() :].lstrip(",; ")
        rest = reply[cut.end() :].strip() if joined.lower().startswith(("and", "then")) else joined.strip()
        rest = rest[:1].upper() + rest[1:]
    else:
        return None
    return (head, rest) if len(head) > 1 and rest else None

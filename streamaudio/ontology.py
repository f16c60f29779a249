"""The AudioSet ontology (a compact copy of Google's ontology.json, CC BY-SA 4.0): names and ancestry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files


@dataclass(frozen=True)
class Ontology:
    names: dict[str, str]
    parents: dict[str, tuple[str, ...]]

    def name(self, mid: str) -> str:
        return self.names.get(mid, mid)

    def ancestors(self, mid: str) -> set[str]:
        """Every class above ``mid`` (not ``mid`` itself)."""
        seen: set[str] = set()
        todo = list(self.parents.get(mid, ()))
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo.extend(self.parents.get(m, ()))
        return seen

    def is_a(self, mids: tuple[str, ...] | list[str], target: str) -> bool:
        """Whether any of ``mids`` is ``target`` or lies below it."""
        return any(m == target or target in self.ancestors(m) for m in mids)


@cache
def audioset() -> Ontology:
    nodes = json.loads(
        files("streamaudio.data").joinpath("audioset_ontology.json").read_text(encoding="utf-8")
    )
    names = {n["id"]: n["name"] for n in nodes}
    parents: dict[str, list[str]] = {}
    for n in nodes:
        for child in n["child_ids"]:
            parents.setdefault(child, []).append(n["id"])
    return Ontology(names, {k: tuple(v) for k, v in parents.items()})

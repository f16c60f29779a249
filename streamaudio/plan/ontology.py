"""The AudioSet ontology (a compact copy of Google's ontology.json, CC BY-SA 4.0): names and ancestry."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files


@dataclass(frozen=True)
class Ontology:
    names: dict[str, str]
    parents: dict[str, tuple[str, ...]]
    above: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "above", {mid: self._walk_up(mid) for mid in {*self.names, *self.parents}})

    def name(self, mid: str) -> str:
        return self.names.get(mid, mid)

    def ancestors(self, mid: str) -> frozenset[str]:
        """Every class above ``mid`` (not ``mid`` itself)."""
        return self.above.get(mid) or self._walk_up(mid)

    def _walk_up(self, mid: str) -> frozenset[str]:
        seen: set[str] = set()
        todo = list(self.parents.get(mid, ()))
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo.extend(self.parents.get(m, ()))
        return frozenset(seen)

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

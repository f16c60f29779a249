"""Proactive: sound events with no instruction; a policy table decides which need a reply."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from streamaudio.plan.ontology import audioset
from streamaudio.plan.scenarios.base import Planned, Scenario, fits, pick, templates
from streamaudio.plan.stream_plan import Segment
from streamaudio.prepare.manifest import Clip


@dataclass(frozen=True)
class Rule:
    name: str
    mids: tuple[str, ...]
    categories: tuple[str, ...]
    respond: bool
    emotion: str
    replies: tuple[str, ...]


@cache
def policy() -> tuple[Rule, ...]:
    """The rules of ``proactive.yaml``, in order."""
    return tuple(
        Rule(
            r["name"],
            tuple(r.get("mids", ())),
            tuple(r.get("categories", ())),
            bool(r["respond"]),
            r.get("emotion", "normal"),
            tuple(r.get("replies", ())),
        )
        for r in templates("proactive")["rules"]
    )


def rule_for(clip: Clip) -> Rule | None:
    """The first rule covering the clip (by mid, ontology ancestry, or category name)."""
    onto = audioset()
    for rule in policy():
        if clip.labels and any(onto.is_a(clip.labels, mid) for mid in rule.mids):
            return rule
        if clip.category and clip.category in rule.categories:
            return rule
    return None


class ProactiveScenario(Scenario):
    name = "proactive"
    hub_task = "audio-classification"
    summary = "speak up for sounds that need help (alarms, coughs, breaking glass); ignore the rest"
    needs = ("sounds",)

    def segments(self, rng: np.random.Generator, target: float) -> list[Segment]:
        segs = Planned()
        while True:
            sound = self.sounds.draw()
            rule = rule_for(sound)
            info = {"policy": rule.name if rule else None}
            if rule and rule.respond:
                seg = self.segment(
                    rng, "sound", sound, pick(rng, list(rule.replies)), rule.emotion, info=info
                )
            else:
                seg = self.segment(rng, "sound", sound, info=info)
            if segs and not fits(segs, [seg], target):
                self.sounds.put_back()
                return segs
            segs.append(seg)

"""S2TT: a spoken instruction naming the target language, acknowledged; utterances answered by
their translations."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np
import pyarrow.compute as pc

from streamaudio.plan.clip_table import ClipTable, as_table
from streamaudio.plan.scenarios.base import (
    Planned,
    Pools,
    Scenario,
    ScenarioConfig,
    ScenarioError,
    fits,
    pick,
    templates,
)
from streamaudio.plan.stream_plan import Segment


def _counts(table: ClipTable) -> dict[str | None, int]:
    """How many clips are translated into each language, in the order of first appearance."""
    counts = pc.value_counts(table.column("target_language")).to_pylist()
    return {c["values"]: c["counts"] for c in counts}


def language_name(code: str) -> str:
    names = templates("s2tt")["languages"]
    return names.get(code) or names.get(code.split("-")[0]) or code


class S2ttScenario(Scenario):
    name = "s2tt"
    hub_task = "translation"
    summary = "translate each utterance into the language the instruction names"
    needs = ("speech",)

    @classmethod
    def unusable(cls, speech: ClipTable, max_seconds: float) -> np.ndarray:
        codes = super().unusable(speech, max_seconds)
        codes[~speech.flag("_translated") & (codes != 1)] = 2
        return codes

    def __init__(self, pools: Pools, config: ScenarioConfig, seed: int) -> None:
        table = as_table(pools.speech)
        target = self.target_of(pools, config)
        speech = table.where(pc.equal(table.column("target_language"), target or ""))
        if not speech:
            targets = _counts(table)
            raise ScenarioError(
                f"s2tt: no clips translated into {target!r} (found: {', '.join(map(str, targets))})"
            )
        self.target = target
        super().__init__(replace(pools, speech=speech), config, seed)

    @staticmethod
    def target_of(pools: Pools, config: ScenarioConfig) -> str | None:
        """The language translated into: the configured one, else the one most clips are translated into."""
        targets = Counter({k: v for k, v in _counts(as_table(pools.speech)).items() if k})
        return config.target_language or (targets.most_common(1)[0][0] if targets else None)

    @classmethod
    def prompts(cls, pools: Pools, config: ScenarioConfig) -> list[str]:
        target = cls.target_of(pools, config)
        language = language_name(target) if target else None
        return [t.format(language=language) for t in templates("s2tt")["instructions"]] if language else []

    def segments(self, rng: np.random.Generator, target: float) -> list[Segment]:
        t = templates("s2tt")
        language = language_name(self.target)
        opening = self.spoken(pick(rng, t["instructions"]).format(language=language), self.voice(rng))
        ack = pick(rng, t["acknowledgements"]).format(language=language)
        segs = Planned(
            [self.segment(rng, "instruction", opening, ack, info={"target_language": self.target})]
        )
        while True:
            clip = self.speech.draw()
            seg = self.segment(rng, "speech", clip, clip.translation)
            if len(segs) > 1 and not fits(segs, [seg], target):
                self.speech.put_back()
                return segs
            segs.append(seg)

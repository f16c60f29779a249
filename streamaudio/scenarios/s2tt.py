"""S2TT: a spoken instruction naming the target language, acknowledged; utterances answered by
their translations."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np

from streamaudio.manifest import Clip
from streamaudio.plan import Segment
from streamaudio.scenarios.base import Pools, Scenario, ScenarioConfig, ScenarioError, fits, pick, templates


def language_name(code: str) -> str:
    names = templates("s2tt")["languages"]
    return names.get(code) or names.get(code.split("-")[0]) or code


class S2ttScenario(Scenario):
    name = "s2tt"
    needs = ("speech",)

    @classmethod
    def usable_speech(cls, clip: Clip) -> str | None:
        if not (clip.text or "").strip():
            return "no_transcript"
        if not (clip.translation or "").strip() or not clip.target_language:
            return "no_translation"
        return None

    def __init__(self, pools: Pools, config: ScenarioConfig, seed: int) -> None:
        targets = Counter(c.target_language for c in pools.speech)
        target = self.target_of(pools, config)
        speech = [c for c in pools.speech if c.target_language == target]
        if not speech:
            raise ScenarioError(
                f"s2tt: no clips translated into {target!r} (found: {', '.join(map(str, targets))})"
            )
        self.target = target
        super().__init__(replace(pools, speech=speech), config, seed)

    @staticmethod
    def target_of(pools: Pools, config: ScenarioConfig) -> str | None:
        """The language translated into: the configured one, else the one most clips are translated into."""
        targets = Counter(c.target_language for c in pools.speech if c.target_language)
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
        segs = [self.segment(rng, "instruction", opening, ack, info={"target_language": self.target})]
        while True:
            clip = self.speech.draw()
            seg = self.segment(rng, "speech", clip, clip.translation)
            if len(segs) > 1 and not fits(segs, [seg], target):
                self.speech.put_back()
                return segs
            segs.append(seg)

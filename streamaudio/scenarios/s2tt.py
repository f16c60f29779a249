"""S2TT: a spoken instruction naming the target language, acknowledged; utterances answered by
their translations."""

from __future__ import annotations

from collections import Counter

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
        target = config.target_language or (targets.most_common(1)[0][0] if targets else None)
        speech = [c for c in pools.speech if c.target_language == target]
        if not speech:
            raise ScenarioError(
                f"s2tt: no clips translated into {target!r} (found: {', '.join(map(str, targets))})"
            )
        super().__init__(
            Pools(speech, pools.sounds, pools.noise, pools.dialogues, pools.voices), config, seed
        )
        self.target = target

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

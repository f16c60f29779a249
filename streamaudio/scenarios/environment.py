"""Environment: speech addressed to the assistant (it is named, or follows an addressed exchange)
gets replies; background talk from other voices, quieter and sometimes overlapping, stays silent."""

from __future__ import annotations

import numpy as np

from streamaudio.plan import Segment
from streamaudio.scenarios.base import Scenario, fits, pick, templates, uniform

BACKGROUND_LEVEL_DB = (-18.0, -8.0)  # background talk relative to the speech level
OVERLAP_SHARE = 0.4  # share of background utterances that start before the previous one ends
OVERLAP_SECONDS = (0.2, 0.8)
FOLLOW_UP_SHARE = 0.6


class EnvironmentScenario(Scenario):
    name = "environment"
    needs = ("speech",)

    def segments(self, rng: np.random.Generator, target: float) -> list[Segment]:
        t = templates("environment")
        voice = self.voice(rng)
        segs: list[Segment] = []
        while True:
            block = self._background(rng, voice.split("@")[0], first=not segs)
            ex = pick(rng, t["exchanges"])
            question = f"{pick(rng, t['wake_phrases'])} {ex['question']}"
            block.append(
                self.segment(
                    rng,
                    "speech",
                    self.spoken(question, voice),
                    ex["answer"],
                    info={"addressed": True, "wake_phrase": True},
                )
            )
            if ex.get("follow_up") and rng.random() < FOLLOW_UP_SHARE:
                block.append(
                    self.segment(
                        rng,
                        "speech",
                        self.spoken(ex["follow_up"], voice),
                        ex["follow_answer"],
                        info={"addressed": True, "follow_up": True},
                    )
                )
            if segs and not fits(segs, block, target):
                return segs
            segs.extend(block)

    def _background(self, rng: np.random.Generator, addressed_speaker: str, first: bool) -> list[Segment]:
        """One to three utterances of other people, quieter; later ones may overlap the one before."""
        talk: list[Segment] = []
        for _ in range(int(rng.integers(1, 4))):
            clip = self.speech.draw()
            if clip.speaker == addressed_speaker:
                continue  # background talk comes from other voices
            gap = None
            if talk and rng.random() < OVERLAP_SHARE:
                gap = -uniform(rng, OVERLAP_SECONDS)
            talk.append(
                self.segment(
                    rng,
                    "speech",
                    clip,
                    level_offset=uniform(rng, BACKGROUND_LEVEL_DB),
                    gap=gap,
                    info={"addressed": False},
                )
            )
        return talk

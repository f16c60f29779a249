"""Counting: an instruction to count a sound, acknowledged, then the same sound 2-8 times, answered
"once!", "twice!", "three times!" … after each repetition."""

from __future__ import annotations

import numpy as np

from streamaudio.plan.scenarios.base import (
    Planned,
    Pools,
    Scenario,
    ScenarioConfig,
    fits,
    pick,
    sound_name,
    templates,
)
from streamaudio.plan.stream_plan import Segment

REPEATS = (2, 8)


class CountingScenario(Scenario):
    name = "counting"
    hub_task = "audio-classification"
    summary = "count a repeated sound aloud: once!, twice!, …"
    needs = ("sounds",)

    @classmethod
    def prompts(cls, pools: Pools, config: ScenarioConfig) -> list[str]:
        names = sorted({sound_name(s) for s in pools.sounds})
        said = templates("counting")["instructions"]
        return list(dict.fromkeys(t.format(name=n) for t in said for n in names))

    def segments(self, rng: np.random.Generator, target: float) -> list[Segment]:
        t = templates("counting")
        voice = self.voice(rng)
        segs = Planned()
        while True:
            sound = self.sounds.draw()
            asked = pick(rng, t["instructions"]).format(name=sound_name(sound))
            episode = [
                self.segment(
                    rng,
                    "instruction",
                    self.spoken(asked, voice),
                    pick(rng, t["acknowledgements"]),
                    info={"counting": "start"},
                )
            ]
            for k in range(int(rng.integers(REPEATS[0], REPEATS[1] + 1))):
                episode.append(self.segment(rng, "sound", sound, t["counts"][k], info={"count": k + 1}))
            if segs and not fits(segs, episode, target):
                self.sounds.put_back()
                return segs
            segs.extend(episode)

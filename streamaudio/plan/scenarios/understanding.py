"""Understanding: a spoken question about a sound, before or after it; the answer comes from the
sound's labels and their names in the AudioSet ontology."""

from __future__ import annotations

import numpy as np

from streamaudio.plan.ontology import audioset
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
from streamaudio.prepare.manifest import Clip

OPEN_SHARE = 0.5  # share of open questions ("What do you hear?") against yes/no questions


def question_and_answer(rng: np.random.Generator, sound: Clip) -> tuple[str, str, dict]:
    """A question about ``sound`` and its answer; yes/no questions need the sound's mids."""
    t = templates("understanding")
    name = sound_name(sound)
    if not sound.labels or rng.random() < OPEN_SHARE:
        return (
            pick(rng, t["open_questions"]),
            pick(rng, t["open_answers"]).format(name=name),
            {"question": "open"},
        )
    q = pick(rng, t["category_questions"])
    yes = audioset().is_a(sound.labels, q["category"])
    answer = pick(rng, t["yes_answers"] if yes else t["no_answers"]).format(name=name)
    return q["question"], answer, {"question": "category", "category": q["category"], "answer_yes": yes}


class UnderstandingScenario(Scenario):
    name = "understanding"
    hub_task = "audio-classification"
    summary = "answer a spoken question about a sound heard before or after it"
    needs = ("sounds",)

    @classmethod
    def prompts(cls, pools: Pools, config: ScenarioConfig) -> list[str]:
        t = templates("understanding")
        return [*t["open_questions"], *(q["question"] for q in t["category_questions"])]

    def segments(self, rng: np.random.Generator, target: float) -> list[Segment]:
        segs = Planned()
        voice = self.voice(rng)
        while True:
            sound = self.sounds.draw()
            question, answer, info = question_and_answer(rng, sound)
            asked = self.spoken(question, voice)
            if rng.random() < 0.5:  # asked first: the answer waits for the sound to end
                pair = [
                    self.segment(rng, "instruction", asked, info={**info, "asks_about": "next"}),
                    self.segment(rng, "sound", sound, answer),
                ]
            else:  # the sound first, then the question
                pair = [
                    self.segment(rng, "sound", sound),
                    self.segment(rng, "instruction", asked, answer, info={**info, "asks_about": "previous"}),
                ]
            if segs and not fits(segs, pair, target):
                self.sounds.put_back()
                return segs
            segs.extend(pair)

"""Environment: speech addressed to the assistant (it is named, or follows an addressed exchange)
gets replies; background talk from other voices, sometimes overlapping, stays silent.

What tells them apart must be what is said (the wake phrase, the exchange) and who says it, not how:
background talk is spoken by the same engine as the user, in other voices, at levels that overlap
the user's (some background talk louder than some addressed speech)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from streamaudio.plan.scenarios.base import (
    Deck,
    Planned,
    Pools,
    Scenario,
    ScenarioConfig,
    ScenarioError,
    fits,
    pick,
    templates,
    uniform,
)
from streamaudio.plan.stream_plan import Segment
from streamaudio.tts.voices import Voice

BACKGROUND_LEVEL_DB = (-3.0, 3.0)  # a background talker's level around the speech level, as the user's
OVERLAP_SHARE = 0.4  # share of turn changes between the user and the others that overlap
OVERLAP_SECONDS = (0.2, 0.8)
FOLLOW_UP_SHARE = 0.6
TALK_FIRST_SHARE = 0.5  # share of blocks where the others talk before the user's exchange, not after


class EnvironmentScenario(Scenario):
    name = "environment"
    hub_task = "audio-text-to-text"
    summary = "answer speech addressed to the assistant; ignore background talk"
    needs = ("speech",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # the user's voice is dealt round the voices stream by stream, so no voice is the user more often
        if len(self.pools.voices) < 2:
            raise ScenarioError("environment needs two voices or more: background talk is another voice")
        self._users = Deck(self._prompt_voices, np.random.default_rng([self.seed, 0xE7]))

    @classmethod
    def prompts(cls, pools: Pools, config: ScenarioConfig) -> list[str]:
        t = templates("environment")
        asked = [f"{w} {ex['question']}" for ex in t["exchanges"] for w in t["wake_phrases"]]
        return asked + [ex["follow_up"] for ex in t["exchanges"] if ex.get("follow_up")]

    def segments(self, rng: np.random.Generator, target: float) -> list[Segment]:
        t = templates("environment")
        voice = self._users.draw()
        segs = Planned()
        while True:
            talk = self._background(rng, voice)
            ex = pick(rng, t["exchanges"])
            question = f"{pick(rng, t['wake_phrases'])} {ex['question']}"
            talk_first = rng.random() < TALK_FIRST_SHARE
            exchange = [
                self.segment(
                    rng,
                    "speech",
                    self.spoken(question, voice),
                    ex["answer"],
                    gap=self._cut_in(rng) if talk and talk_first else None,
                    info={"addressed": True, "wake_phrase": True},
                )
            ]
            if ex.get("follow_up") and rng.random() < FOLLOW_UP_SHARE:
                exchange.append(
                    self.segment(
                        rng,
                        "speech",
                        self.spoken(ex["follow_up"], voice),
                        ex["follow_answer"],
                        info={"addressed": True, "follow_up": True},
                    )
                )
            if talk and not talk_first:  # the others start up after the exchange, maybe before it ends
                talk[0] = replace(talk[0], gap_before=self._cut_in(rng) or talk[0].gap_before)
            block = talk + exchange if talk_first else exchange + talk
            if segs and not fits(segs, block, target):
                return segs
            segs.extend(block)

    @staticmethod
    def _cut_in(rng: np.random.Generator) -> float | None:
        """A negative gap (starting before the one speaking stops) for ``OVERLAP_SHARE`` of utterances."""
        return -uniform(rng, OVERLAP_SECONDS) if rng.random() < OVERLAP_SHARE else None

    def _background(self, rng: np.random.Generator, addressed: Voice) -> list[Segment]:
        """None to three utterances of other people, one after the other (they may overlap the user's
        speech where the two meet: as often for the user as for them, so overlap does not tell them apart).
        They never speak in the addressed voice; another base voice is preferred to a warp of the same."""
        others = [v for v in self.pools.voices if v.id != addressed.id]
        unlike = [
            v
            for v in others
            if (v.engine, v.name, v.speaker) != (addressed.engine, addressed.name, addressed.speaker)
        ]
        talk: list[Segment] = []
        for _ in range(int(rng.integers(0, 4))):
            text = self.speech.draw().text
            talk.append(
                self.segment(
                    rng,
                    "speech",
                    self.spoken(text, self.voice(rng, (text,), among=unlike or others)),
                    level_offset=uniform(rng, BACKGROUND_LEVEL_DB),
                    gap=None,
                    info={"addressed": False},
                )
            )
        return talk

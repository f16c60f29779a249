"""Environment: speech addressed to the assistant (it is named, or follows an addressed exchange)
gets replies; background talk from other voices, sometimes overlapping, stays silent.

What tells them apart must be what is said (the wake phrase, the exchange) and who says it, not how:
background talk is spoken by the same engine as the user, in other voices, at levels that overlap
the user's (some background talk louder than some addressed speech)."""

from __future__ import annotations

import zlib
from dataclasses import replace
from typing import Any

import numpy as np

from streamaudio.plan.phenomena import chance, hesitation_parts, restarts
from streamaudio.plan.scenarios.base import (
    TALKER_JITTER_DB,
    Deck,
    Planned,
    Pools,
    Scenario,
    ScenarioConfig,
    ScenarioError,
    fits,
    pick,
    scenario_data,
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
# A TV or radio (``background_media``): its pass band, reverberation time, level around the speech level
# (as loud as a person in the room at most) and the pauses between what it says
MEDIA_LOW_HZ = (150.0, 400.0)
MEDIA_HIGH_HZ = (3000.0, 6000.0)
MEDIA_RT60 = (0.3, 0.8)
MEDIA_LEVEL_DB = (-6.0, 0.0)
MEDIA_GAP_SECONDS = (0.5, 3.0)


def asked(rng: np.random.Generator, t: dict[str, Any]) -> str:
    """A question or follow-up of the exchanges, each as often as the user asks it of the assistant (so
    that the words of one said to others are no likelier to be answered than any other)."""
    ex = pick(rng, t["exchanges"])
    follow = ex.get("follow_up") and rng.random() < FOLLOW_UP_SHARE / (1 + FOLLOW_UP_SHARE)
    return ex["follow_up"] if follow else ex["question"]


ADDRESSING = ("addressees", "near_misses", "media_lead_ins")


def addressing(t: dict[str, Any], kind: str, text: str) -> str:
    """Who ``text`` is said to when it is not said to the assistant: a person named as the assistant would
    be ("Hey Sam,"), a near miss of the wake phrase, or a TV host's lead-in. One per text (by its hash),
    so that ``synthesize`` can speak every such utterance ahead: a few hundred texts, not thousands."""
    options = t[kind]
    if kind == "addressees":
        options = [
            w.replace("assistant", n).replace("Assistant", n) for n in options for w in t["wake_phrases"]
        ]
    return options[zlib.crc32(f"{kind}\0{text}".encode()) % len(options)]


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
        t = scenario_data("environment", config)
        said = templates("phenomena")
        asked = [f"{w} {ex['question']}" for ex in t["exchanges"] for w in t["wake_phrases"]]
        plain = [ex["question"] for ex in t["exchanges"]]
        plain += [ex["follow_up"] for ex in t["exchanges"] if ex.get("follow_up")]
        broken = [part for text in asked for part in restarts(text, said)]
        others = [f"{addressing(t, kind, text)} {text}" for kind in ADDRESSING for text in plain]
        return list(dict.fromkeys([*asked, *plain, *broken, *others, *said["fillers"]]))

    def segments(self, rng: np.random.Generator, target: float) -> list[Segment]:
        t = self.data
        voice = self._user = self._users.draw()
        segs = Planned()
        while True:
            talk = self._background(rng, voice)
            ex = pick(rng, t["exchanges"])
            wake = pick(rng, t["wake_phrases"])
            question = f"{wake} {ex['question']}"
            talk_first = rng.random() < TALK_FIRST_SHARE
            info: dict[str, Any] = {"addressed": True, "wake_phrase": True, "addressing": wake}
            exchange = []
            if chance(rng, self.rates["hesitation"]):
                first, question = hesitation_parts(rng, question, templates("phenomena"))
                info["phenomenon"] = "hesitation"
                exchange.append(
                    self.segment(
                        rng,
                        "speech",
                        self.spoken(first, voice),
                        gap=self._cut_in(rng) if talk and talk_first else None,
                        info={"addressed": True, "phenomenon": "hesitation", "hesitation": True},
                    )
                )
            exchange.append(
                self.segment(
                    rng,
                    "speech",
                    self.spoken(question, voice),
                    ex["answer"],
                    gap=self._cut_in(rng) if talk and talk_first and not exchange else None,
                    info=info,
                )
            )
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

    def media_layer(self, rng: np.random.Generator, seconds: float) -> tuple[Segment, ...]:
        """A TV or radio under the whole stream for ``background_media`` of streams: one or two other
        voices reading sentences and asking the exchanges' questions, band-limited and reverberant."""
        if not chance(rng, self.rates["background_media"]):
            return ()
        t = self.data
        others = [v for v in self.pools.voices if v.id != self._user.id] or list(self.pools.voices)
        hosts = [pick(rng, others) for _ in range(int(rng.integers(1, 3)))]
        sound = {
            "low_hz": round(uniform(rng, MEDIA_LOW_HZ)),
            "high_hz": round(uniform(rng, MEDIA_HIGH_HZ)),
            "rt60": round(uniform(rng, MEDIA_RT60), 3),
        }
        level = self.config.speech_level_db + uniform(rng, MEDIA_LEVEL_DB)
        layer: list[Segment] = []
        heard = 0.0
        while heard < seconds:
            info = {"addressed": False, "role": "media", "phenomenon": "background_media", "media": sound}
            if rng.random() < float(t["media_question_share"]):
                question = asked(rng, t)
                info["addressing"] = addressing(t, "media_lead_ins", question)
                text = f"{info['addressing']} {question}"
            else:
                text = self.speech.draw().text
            clip = self.spoken(text, self.voice(rng, (text,), among=hosts))
            gap = uniform(rng, MEDIA_GAP_SECONDS)
            layer.append(
                Segment(
                    kind="speech",
                    clip=clip,
                    gap_before=gap,
                    gap_fill=None,
                    level_db=level + uniform(rng, (-TALKER_JITTER_DB, TALKER_JITTER_DB)),
                    respond=False,
                    info=info,
                )
            )
            heard += gap + clip.duration
        return tuple(layer)

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
        others_rate, near_rate = self.rates["talk_to_others"], self.rates["near_miss_wake"]
        for _ in range(int(rng.integers(0, 4))):
            kind = rng.random() if others_rate + near_rate > 0 else 1.0
            if kind < others_rate + near_rate:
                talk.append(self._not_to_assistant(rng, addressed, unlike or others, kind < others_rate))
                continue
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

    def _not_to_assistant(
        self, rng: np.random.Generator, user: Voice, others: list[Voice], to_others: bool
    ) -> Segment:
        """A question or request of the exchanges that is not for the assistant: another talker says it to
        someone (by name or role, or plainly), or the user says it after a near miss of the wake phrase."""
        t = self.data
        text = asked(rng, t)
        if to_others:
            info: dict[str, Any] = {
                "addressed": False,
                "phenomenon": "talk_to_others",
                "counterfactual": True,
            }
            if rng.random() < float(t["vocative_share"]):
                info["addressing"] = addressing(t, "addressees", text)
                text = f"{info['addressing']} {text}"
            voice = self.voice(rng, (text,), among=others)
            offset = uniform(rng, BACKGROUND_LEVEL_DB)
        else:
            info = {
                "addressed": False,
                "phenomenon": "near_miss_wake",
                "addressing": addressing(t, "near_misses", text),
            }
            text = f"{info['addressing']} {text}"
            voice, offset = user, 0.0
        return self.segment(rng, "speech", self.spoken(text, voice), level_offset=offset, info=info)

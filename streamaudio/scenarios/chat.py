"""Chat: the user turns of dialogues spoken in one voice, some split by a thinking pause whose chunks
stay silent; the assistant's turn is the reply after the end of each user turn."""

from __future__ import annotations

import re

import numpy as np

from streamaudio.plan import Segment
from streamaudio.scenarios.base import Scenario, fits, uniform

PAUSE_SHARE = 0.6  # share of user turns (long enough) split by a thinking pause
SPLIT_AT = (0.6, 0.95)  # where in the turn the pause falls, as a share of its words
MIN_WORDS = 3  # words on each side of a pause
# The part before a pause is a silent decision, a whole turn or the part after a pause a reply: with
# pauses this common, this late in a turn, and as long as the gaps between turns, neither the length of
# what was said nor the silence before it tells the two apart (``streamaudio audit`` measures it).


def split_for_pause(text: str, rng: np.random.Generator) -> tuple[str, str] | None:
    """Split a user turn where a speaker might stop to think: a punctuation mark in the ``SPLIT_AT``
    share of the turn, else a word boundary there; None when the turn is too short."""
    words = text.split()
    if len(words) < 2 * MIN_WORDS:
        return None
    lo, hi = SPLIT_AT
    marks = [m.end() for m in re.finditer(r"[,.;:?!]\s", text) if lo <= m.end() / len(text) <= hi]
    if marks:
        at = marks[int(rng.integers(len(marks)))]
        return text[:at].strip(), text[at:].strip()
    cut = int(np.clip(round(len(words) * uniform(rng, SPLIT_AT)), MIN_WORDS, len(words) - MIN_WORDS))
    return " ".join(words[:cut]), " ".join(words[cut:])


class ChatScenario(Scenario):
    name = "chat"
    needs = ("dialogues",)

    def segments(self, rng: np.random.Generator, target: float) -> list[Segment]:
        segs: list[Segment] = []
        while True:
            dialogue = self.dialogues.draw()
            voice = self.voice(rng)  # one voice for the user throughout a dialogue
            turn: list[Segment] = []
            for k, (user, reply) in enumerate(dialogue.exchanges()):
                info = {"dialogue": dialogue.id, "exchange": k}
                parts = split_for_pause(user, rng) if rng.random() < PAUSE_SHARE else None
                if parts:
                    turn.append(
                        self.segment(
                            rng, "speech", self.spoken(parts[0], voice), info={**info, "pause_follows": True}
                        )
                    )
                    turn.append(
                        self.segment(
                            rng,
                            "speech",
                            self.spoken(parts[1], voice),
                            reply,
                            info={**info, "after_pause": True},
                        )
                    )
                else:
                    turn.append(self.segment(rng, "speech", self.spoken(user, voice), reply, info=info))
            if segs and not fits(segs, turn, target):
                self.dialogues.put_back()
                return segs
            segs.extend(turn)
            if not fits(segs, [], target):
                return segs

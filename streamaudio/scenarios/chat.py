"""Chat: the user turns of dialogues spoken in one voice, some split by a thinking pause whose chunks
stay silent; the assistant's turn is the reply after the end of each user turn."""

from __future__ import annotations

import re

import numpy as np

from streamaudio.plan import Segment
from streamaudio.scenarios.base import Scenario, fits, uniform

PAUSE_SHARE = 0.3  # share of user turns split by a thinking pause
PAUSE_SECONDS = (0.6, 1.6)
MIN_WORDS = 3  # words on each side of a pause


def split_for_pause(text: str, rng: np.random.Generator) -> tuple[str, str] | None:
    """Split a user turn where a speaker might stop to think: a punctuation mark near the middle,
    else a word boundary near the middle; None when the turn is too short."""
    words = text.split()
    if len(words) < 2 * MIN_WORDS:
        return None
    marks = [m.end() for m in re.finditer(r"[,.;:?!]\s", text) if 0.25 < m.end() / len(text) < 0.75]
    if marks:
        at = marks[int(rng.integers(len(marks)))]
        return text[:at].strip(), text[at:].strip()
    cut = int(rng.integers(MIN_WORDS, len(words) - MIN_WORDS + 1))
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
                            gap=uniform(rng, PAUSE_SECONDS),
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

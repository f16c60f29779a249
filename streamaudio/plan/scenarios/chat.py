"""Chat: the user turns of dialogues spoken in one voice, some split by a thinking pause whose chunks
stay silent; the assistant's turn is the reply after the end of each user turn."""

from __future__ import annotations

import re
import zlib
from functools import lru_cache

import numpy as np

from streamaudio.plan.scenarios.base import Planned, Scenario, fits, pick
from streamaudio.plan.stream_plan import Segment
from streamaudio.prepare.dialogues import Dialogue

PAUSE_SHARE = 0.6  # share of user turns (long enough) split by a thinking pause
SPLIT_AT = (0.6, 0.95)  # where in the turn the pause falls, as a share of its words
MIN_WORDS = 3  # words on each side of a pause
# The part before a pause is a silent decision, a whole turn or the part after a pause a reply: with
# pauses this common, this late in a turn, and as long as the gaps between turns, neither the length of
# what was said nor the silence before it tells the two apart (``streamaudio audit`` measures it).


MAX_SPLITS = 3  # places a turn may pause at: each is spoken ahead by ``synthesize`` as two clips


@lru_cache(maxsize=1 << 16)
def split_options(text: str) -> tuple[tuple[str, str], ...]:
    """Where a speaker might stop to think in a user turn: punctuation marks in the ``SPLIT_AT`` share of
    the turn (at most ``MAX_SPLITS``), else one word boundary there (drawn from the text, so it is the
    same in every build and ``synthesize`` can speak both parts ahead); none when the turn is too short."""
    words = text.split()
    if len(words) < 2 * MIN_WORDS:
        return ()
    lo, hi = SPLIT_AT
    marks = [m.end() for m in re.finditer(r"[,.;:?!]\s", text) if lo <= m.end() / len(text) <= hi]
    if marks:
        return tuple((text[:at].strip(), text[at:].strip()) for at in marks[-MAX_SPLITS:])
    share = lo + (hi - lo) * (zlib.crc32(text.encode()) / 2**32)
    cut = min(max(round(len(words) * share), MIN_WORDS), len(words) - MIN_WORDS)
    return ((" ".join(words[:cut]), " ".join(words[cut:])),)


def user_texts(dialogue: Dialogue) -> list[str]:
    """Everything the user may say in a dialogue: each turn whole and in its parts around a pause."""
    out: list[str] = []
    for user, _ in dialogue.exchanges():
        out.append(user)
        out.extend(part for split in split_options(user) for part in split)
    return list(dict.fromkeys(out))


class ChatScenario(Scenario):
    name = "chat"
    hub_task = "audio-text-to-text"
    summary = "answer each user turn of a spoken dialogue; stay silent through thinking pauses"
    needs = ("dialogues",)

    def segments(self, rng: np.random.Generator, target: float) -> list[Segment]:
        segs = Planned()
        while True:
            dialogue = self.dialogues.draw()
            voice = self.voice(rng, tuple(user_texts(dialogue)))  # one voice for the user throughout
            turn: list[Segment] = []
            for k, (user, reply) in enumerate(dialogue.exchanges()):
                info = {"dialogue": dialogue.id, "exchange": k}
                options = split_options(user)
                parts = pick(rng, options) if options and rng.random() < PAUSE_SHARE else None
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

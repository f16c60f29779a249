"""Chat: the user turns of dialogues spoken in one voice, some split by a thinking pause whose chunks
stay silent; the assistant's turn is the reply after the end of each user turn."""

from __future__ import annotations

import re
import zlib
from functools import lru_cache
from typing import Any

import numpy as np

from streamaudio.plan.phenomena import chance, hesitation_parts, reply_parts, restarts
from streamaudio.plan.scenarios.base import (
    Planned,
    Pools,
    Scenario,
    ScenarioConfig,
    fits,
    pick,
    templates,
)
from streamaudio.plan.stream_plan import Segment
from streamaudio.prepare.dialogues import Dialogue
from streamaudio.tts.voices import Voice

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
    """Everything the user may say in a dialogue: each turn whole, in its parts around a pause and its
    first words broken off (a restart)."""
    said = templates("phenomena")
    out: list[str] = []
    for user, _ in dialogue.exchanges():
        out.append(user)
        out.extend(part for split in split_options(user) for part in split)
        out.extend(restarts(user, said))
    return list(dict.fromkeys(out))


class ChatScenario(Scenario):
    name = "chat"
    hub_task = "audio-text-to-text"
    summary = "answer each user turn of a spoken dialogue; stay silent through pauses and acknowledgements"
    needs = ("dialogues",)

    @classmethod
    def prompts(cls, pools: Pools, config: ScenarioConfig) -> list[str]:
        said = templates("phenomena")
        return [*said["fillers"], *said["short_utterances"]]

    def segments(self, rng: np.random.Generator, target: float) -> list[Segment]:
        segs = Planned()
        while True:
            dialogue = self.dialogues.draw()
            voice = self.voice(rng, tuple(user_texts(dialogue)))  # one voice for the user throughout
            turn: list[Segment] = []
            for k, (user, reply) in enumerate(dialogue.exchanges()):
                info = {"dialogue": dialogue.id, "exchange": k}
                turn += self._user_turn(rng, voice, user, reply, info)
            if segs and not fits(segs, turn, target):
                self.dialogues.put_back()
                return segs
            segs.extend(turn)
            if not fits(segs, [], target):
                return segs

    def _user_turn(
        self, rng: np.random.Generator, voice: Voice, user: str, reply: str, info: dict[str, Any]
    ) -> list[Segment]:
        """One exchange: the user's turn (whole, after a hesitation, or split by a thinking pause) and the
        reply to it, then maybe a short answer to a question the reply asked, or an acknowledgement."""
        said = templates("phenomena")
        if chance(rng, self.rates["hesitation"]):
            first, whole = hesitation_parts(rng, user, said)
            tag = {**info, "phenomenon": "hesitation"}
            out = [self.segment(rng, "speech", self.spoken(first, voice), info={**tag, "hesitation": True})]
            user_parts: list[tuple[str, str | None, dict[str, Any]]] = [(whole, reply, tag)]
        else:
            out = []
            options = split_options(user)
            rate = self.rates["pause"]
            parts = pick(rng, options) if options and rate > 0 and rng.random() < rate else None
            if parts:
                tag = {**info, "phenomenon": "pause"}
                user_parts = [
                    (parts[0], None, {**tag, "pause_follows": True}),
                    (parts[1], reply, {**tag, "after_pause": True}),
                ]
            else:
                user_parts = [(user, reply, info)]
        split = reply_parts(reply)
        asks = split is not None and chance(rng, self.rates["short_answer"])
        if asks:
            head, rest = split
            text, _, tag = user_parts[-1]
            user_parts[-1] = (text, f"{head} {pick(rng, said['offers'])}", tag)
        for text, answer, tag in user_parts:
            out.append(self.segment(rng, "speech", self.spoken(text, voice), answer, info=tag))
        if asks:
            short = pick(rng, said["short_utterances"])
            tag = {**info, "phenomenon": "short_answer"}
            out.append(self.segment(rng, "speech", self.spoken(short, voice), rest, info=tag))
        elif chance(rng, self.rates["acknowledgement"]):
            short = pick(rng, said["short_utterances"])
            tag = {**info, "phenomenon": "acknowledgement"}
            out.append(self.segment(rng, "speech", self.spoken(short, voice), info=tag))
        return out

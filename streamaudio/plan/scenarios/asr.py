"""ASR: a spoken instruction to transcribe, acknowledged; utterances answered by their transcripts;
sounds between them that get silent turns."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from streamaudio.plan.clip_table import ClipTable
from streamaudio.plan.phenomena import chance, hesitation_parts, restarts
from streamaudio.plan.scenarios.base import (
    Planned,
    Pools,
    Scenario,
    ScenarioConfig,
    fits,
    pick,
    scenario_data,
    templates,
)
from streamaudio.plan.stream_plan import Segment


class AsrScenario(Scenario):
    name = "asr"
    hub_task = "automatic-speech-recognition"
    summary = "transcribe each utterance after an instruction; stay silent on other sounds"
    needs = ("speech",)

    @classmethod
    def prompts(cls, pools: Pools, config: ScenarioConfig) -> list[str]:
        said, instructions = templates("phenomena"), scenario_data("asr", config)["instructions"]
        broken = [part for text in instructions for part in restarts(text, said)]
        return [*instructions, *broken, *said["fillers"]]

    def segments(self, rng: np.random.Generator, target: float) -> list[Segment]:
        t = self.data
        instruction, voice = pick(rng, t["instructions"]), self.voice(rng)
        share = self.config.sound_share if self.sounds is not None else 0.0
        segs = Planned([self._sound(rng)] if rng.random() < share else [])  # a sound may come first, too
        info = {}
        if chance(rng, self.rates["hesitation"]):
            first, instruction = hesitation_parts(rng, instruction, templates("phenomena"))
            info = {"phenomenon": "hesitation"}
            segs.append(
                self.segment(rng, "instruction", self.spoken(first, voice), info={**info, "hesitation": True})
            )
        opening = self.spoken(instruction, voice)
        segs.append(self.segment(rng, "instruction", opening, pick(rng, t["acknowledgements"]), info=info))
        utterances = 0
        while True:
            if rng.random() < share:
                deck, seg = None, self._sound(rng)
            else:
                clip = self.speech.draw()
                deck, seg = self.speech, self.segment(rng, "speech", clip, clip.text)
            if utterances and not fits(segs, [seg], target):
                if deck is not None:
                    deck.put_back()
                return segs
            segs.append(seg)
            utterances += seg.kind == "speech"

    @cached_property
    def _sounds_by_length(self) -> tuple[ClipTable, np.ndarray]:
        lengths = self.pools.sounds.numbers("duration")
        order = np.argsort(lengths, kind="stable")
        return self.pools.sounds.subset(order), lengths[order]

    @cached_property
    def _speech_lengths(self) -> np.ndarray:
        return self.pools.speech.numbers("duration")

    def _sound(self, rng: np.random.Generator) -> Segment:
        """A sound at least as long as an utterance drawn from the pool (the longest there is, if none),
        cut to that length: then neither its length nor its place tells it from speech."""
        seconds = float(pick(rng, self._speech_lengths))
        ordered, lengths = self._sounds_by_length
        first = min(int(np.searchsorted(lengths, seconds, side="left")), len(ordered) - 1)
        sound = ordered[first + int(rng.integers(len(ordered) - first))]
        return self.segment(rng, "sound", sound, max_seconds=seconds)

"""ASR: a spoken instruction to transcribe, acknowledged; utterances answered by their transcripts;
sounds between them that get silent turns."""

from __future__ import annotations

import numpy as np

from streamaudio.plan import Segment
from streamaudio.scenarios.base import Scenario, fits, pick, templates


class AsrScenario(Scenario):
    name = "asr"
    needs = ("speech",)

    def segments(self, rng: np.random.Generator, target: float) -> list[Segment]:
        t = templates("asr")
        opening = self.spoken(pick(rng, t["instructions"]), self.voice(rng))
        segs = [self.segment(rng, "instruction", opening, pick(rng, t["acknowledgements"]))]
        utterances = 0
        while True:
            if self.sounds is not None and utterances and rng.random() < self.config.sound_share:
                deck, seg = self.sounds, self.segment(rng, "sound", self.sounds.draw())
            else:
                clip = self.speech.draw()
                deck, seg = self.speech, self.segment(rng, "speech", clip, clip.text)
            if utterances and not fits(segs, [seg], target):
                deck.put_back()
                return segs
            segs.append(seg)
            utterances += seg.kind == "speech"

"""ASR streams: a spoken instruction to transcribe, acknowledged, then utterances answered by transcripts."""

from __future__ import annotations

import numpy as np

from streamaudio.manifest import Clip
from streamaudio.plan import Segment, StreamPlan
from streamaudio.scenarios.base import (
    Deck,
    NoiseDraws,
    Pools,
    ScenarioConfig,
    stream_seed,
    templates,
    tts_clip,
    uniform,
)


class AsrScenario:
    """Plans ASR streams from speech clips that carry transcripts."""

    name = "asr"

    def __init__(self, pools: Pools, config: ScenarioConfig, seed: int) -> None:
        if not pools.voices:
            raise ValueError("the asr scenario needs at least one TTS voice for its instruction")
        deck_rng = np.random.default_rng([seed, 0xA5])
        self.speech = Deck(pools.speech, deck_rng)
        self.noise = NoiseDraws(Deck(pools.noise, deck_rng) if pools.noise else None, config)
        self.voices = pools.voices
        self.config = config
        self.seed = seed

    @staticmethod
    def usable(clip: Clip) -> str | None:
        """Why a speech clip cannot serve this scenario, or None."""
        return None if (clip.text or "").strip() else "no_transcript"

    def plan(self, index: int, stream_id: str) -> StreamPlan:
        cfg = self.config
        seed = stream_seed(self.seed, index)
        rng = np.random.default_rng(seed)
        target = uniform(rng, cfg.stream_seconds)
        t = templates(self.name)
        voice = self.voices[int(rng.integers(len(self.voices)))]
        instruction = tts_clip(str(rng.choice(t["instructions"])), voice, cfg.language, cfg.tts_engine)
        segments = [self._segment(rng, "instruction", instruction, str(rng.choice(t["acknowledgements"])))]
        total = segments[0].gap_before + instruction.duration
        tail_gap = uniform(rng, cfg.gap_seconds)
        while True:
            clip = self.speech.draw()
            seg = self._segment(rng, "speech", clip, clip.text)
            if len(segments) > 1 and total + seg.gap_before + clip.duration + tail_gap > target:
                self.speech.put_back(clip)
                break
            segments.append(seg)
            total += seg.gap_before + clip.duration
        return StreamPlan(
            id=stream_id,
            capability=self.name,
            split=cfg.split,
            language=cfg.language,
            seed=seed,
            segments=tuple(segments),
            tail_gap=tail_gap,
            tail_fill=self.noise.gap_fill(rng),
            background=self.noise.background(rng),
            reply_delay_chunks=cfg.reply_delay_chunks,
        )

    def _segment(self, rng: np.random.Generator, kind: str, clip: Clip, reply: str | None) -> Segment:
        cfg = self.config
        jitter = uniform(rng, (-cfg.gain_jitter_db, cfg.gain_jitter_db))
        return Segment(
            kind=kind,
            clip=clip,
            gap_before=uniform(rng, cfg.gap_seconds),
            gap_fill=self.noise.gap_fill(rng),
            level_db=cfg.speech_level_db + jitter,
            respond=True,
            reply=reply,
            emotion="normal",
        )

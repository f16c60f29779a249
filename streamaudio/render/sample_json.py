"""A rendered stream's JSON (``schemas/stream.schema.json``): its placed events and noise beds, its turns
with their reply chunks, and the chunk labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import numpy as np

from streamaudio.plan.stream_plan import NoiseSlice, Segment, StreamPlan
from streamaudio.protocol import (
    CHUNK_SAMPLES,
    LABEL_REPLY,
    LABEL_SILENT,
    SAMPLE_RATE,
    SCHEMA_STREAM,
    SYSTEM_PROMPT,
    normalize_emotion,
    reply_chunk,
)
from streamaudio.render.audio import (
    level_db,
)
from streamaudio.render.dsp import bed_offset


class EventJSON(TypedDict):
    """One event of a stream's JSON: speech, a sound or a noise bed, where it lies (samples), what it is."""

    kind: str
    start_sample: int
    end_sample: int
    source: str
    clip_id: str
    role: NotRequired[str]  # noise: "gap" or "background"; speech: "media" (a TV or radio)
    phenomenon: NotRequired[str]
    text: NotRequired[str]
    translation: NotRequired[str]
    language: NotRequired[str]
    speaker: NotRequired[str]
    voice: NotRequired[str]
    tts: NotRequired[dict[str, Any]]
    labels: NotRequired[list[str]]
    label_names: NotRequired[list[str]]
    category: NotRequired[str]
    talker: NotRequired[str]
    augment: NotRequired[list[dict[str, Any]]]
    clip_start_sample: NotRequired[int]
    audio_start_sample: NotRequired[int]
    audio_end_sample: NotRequired[int]
    fade_in_samples: NotRequired[int]
    fade_out_samples: NotRequired[int]
    offset: NotRequired[float]
    gain_db: NotRequired[float]
    snr_db: NotRequired[float]


class TurnJSON(TypedDict):
    """A foreground event's decision: the chunk it is decided on (planned once, read by every reader)."""

    event: int
    chunk: int
    respond: bool
    after_chunks: NotRequired[int]  # planned later than the protocol's rule (a timer)
    phenomenon: NotRequired[str]  # an interaction phenomenon (plan/phenomena.py)
    text: NotRequired[str]
    emotion: NotRequired[str]


class StreamJSON(TypedDict):
    """A stream's JSON as ``sample_json`` writes it and the readers (validate, export, harness, loader,
    view) take it; ``schemas/stream.schema.json`` checks the same shape at run time."""

    schema: str
    id: str
    capability: str
    split: NotRequired[str]
    language: str
    sample_rate: int
    num_chunks: int
    reply_delay_chunks: int
    system_prompt: str
    chunk_labels: str
    events: list[EventJSON]
    turns: list[TurnJSON]
    seed: int


@dataclass
class Placed:
    """A foreground clip in the stream: its audio (voice with room tone around it, faded) and where the
    voice itself lies, which is what the labels follow."""

    segment: Segment
    audio: np.ndarray
    powers: np.ndarray  # frame powers of its voice before gain (the room tone around it is not active)
    audio_start: int
    start: int  # the voice
    end: int
    trim_start: int  # where ``audio`` begins in the clip
    gain_db: float
    fades: tuple[int, int]

    @property
    def audio_end(self) -> int:
        return self.audio_start + self.audio.size


@dataclass
class Bed:
    """A gap's noise bed: the gap it fills, the span it is rendered over (reaching under the events
    around it), its fades there, and its gain."""

    gap: tuple[int, int]
    fill: NoiseSlice
    noise: np.ndarray
    span: tuple[int, int] = (0, 0)
    fades: tuple[int, int] = (0, 0)
    gain: float = 0.0


def turn_chunk(plan: StreamPlan, placed: Placed) -> int:
    """The chunk a turn is decided on: the protocol's rule from the end of its voice, as late as the plan
    asked (the stream's reply delay, and the turn's own: a timer answers seconds after it was set)."""
    return reply_chunk(placed.end, plan.reply_delay_chunks) + placed.segment.reply_after_chunks


def _audio_fields(span: tuple[int, int], fades: tuple[int, int]) -> dict[str, int]:
    """Where an event's audio lies in the stream (beyond its voice or gap) and its fades, in samples."""
    return {
        "audio_start_sample": span[0],
        "audio_end_sample": span[1],
        "fade_in_samples": fades[0],
        "fade_out_samples": fades[1],
    }


def sample_json(
    plan: StreamPlan,
    placed: list[Placed],
    beds: list[Bed],
    bg_gain_db: float | None,
    master_db: float,
    num_chunks: int,
) -> StreamJSON:
    events: list[EventJSON] = []
    turns: list[TurnJSON] = []
    labels = [LABEL_SILENT] * num_chunks
    for i, p in enumerate(placed):
        clip, seg = p.segment.clip, p.segment
        ev: EventJSON = {
            "kind": seg.kind,
            "start_sample": p.start,
            "end_sample": p.end,
            "source": clip.source,
            "clip_id": clip.id,
        }
        for key in ("text", "translation", "language", "speaker", "category"):
            if getattr(clip, key):
                ev[key] = getattr(clip, key)
        if clip.labels:
            ev["labels"] = list(clip.labels)
        if clip.label_names:
            ev["label_names"] = list(clip.label_names)
        if clip.tts:
            ev["tts"] = dict(clip.tts)
            ev["voice"] = clip.tts.get("id") or clip.speaker or clip.tts.get("voice")
        ev["clip_start_sample"] = p.trim_start
        ev.update(_audio_fields((p.audio_start, p.audio_end), p.fades))
        ev["gain_db"] = round(p.gain_db + master_db, 3)
        if seg.augment:
            ev["augment"] = [{"name": name, **params} for name, params in seg.augment]
        ev.update(seg.info)
        events.append(ev)
        chunk = turn_chunk(plan, p)
        turn: TurnJSON = {"event": i, "chunk": chunk, "respond": seg.respond}
        if seg.reply_after_chunks:
            turn["after_chunks"] = seg.reply_after_chunks
        if "phenomenon" in seg.info:
            turn["phenomenon"] = seg.info["phenomenon"]
        if seg.respond:
            turn["text"] = seg.reply
            turn["emotion"] = normalize_emotion(seg.emotion)
            labels[chunk] = LABEL_REPLY
        turns.append(turn)
    for bed in beds:
        events.append(
            {
                "kind": "noise",
                "role": "gap",
                "start_sample": bed.gap[0],
                "end_sample": bed.gap[1],
                "source": bed.fill.clip.source,
                "clip_id": bed.fill.clip.id,
                **({"category": bed.fill.clip.category} if bed.fill.clip.category else {}),
                **_audio_fields(bed.span, bed.fades),
                "offset": bed_offset(bed.fill.offset),
                "gain_db": round(level_db(bed.gain) + master_db, 3),
            }
        )
    if plan.background is not None and bg_gain_db is not None:
        events.append(
            {
                "kind": "noise",
                "role": "background",
                "start_sample": 0,
                "end_sample": num_chunks * CHUNK_SAMPLES,
                "source": plan.background.clip.source,
                "clip_id": plan.background.clip.id,
                **({"category": plan.background.clip.category} if plan.background.clip.category else {}),
                "offset": bed_offset(plan.background.offset),
                "snr_db": round(plan.background.snr_db, 3),
                "gain_db": round(bg_gain_db + master_db, 3),
            }
        )
    return {
        "schema": SCHEMA_STREAM,
        "id": plan.id,
        "capability": plan.capability,
        "split": plan.split,
        "language": plan.language,
        "sample_rate": SAMPLE_RATE,
        "num_chunks": num_chunks,
        "reply_delay_chunks": plan.reply_delay_chunks,
        "system_prompt": SYSTEM_PROMPT,
        "chunk_labels": "".join(labels),
        "events": events,
        "turns": turns,
        "seed": plan.seed,
    }

"""Contract checks of one stream (docs/protocol.md): schema, audio, labels, turns and semantics."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import Any

import fastjsonschema
import numpy as np

from streamaudio.check.fault import Fault
from streamaudio.check.phenomena import check_phenomena
from streamaudio.plan.scenarios import SCENARIOS
from streamaudio.plan.scenarios.base import templates
from streamaudio.plan.scenarios.proactive import rule_for
from streamaudio.prepare.manifest import Clip
from streamaudio.protocol import CHUNK_SAMPLES, LABEL_REPLY, SAMPLE_RATE, reply_chunk
from streamaudio.render.audio import MIN_CLIP_SECONDS, level_db, rms

CLIP_LIMIT = 0.999  # a sample at or above this magnitude counts as clipped
AUDIBLE_DB = -55.0  # an event quieter than this (RMS over its span) is silent


def schema(name: str) -> dict[str, Any]:
    """A JSON Schema from ``schemas/`` (``stream``, ``clip``, ``pipeline``…), with the capabilities that are
    registered now as the only ones a stream or a recipe may name."""
    return _schema(name, tuple(SCENARIOS))


@cache
def _schema(name: str, capabilities: tuple[str, ...]) -> dict[str, Any]:
    text = files("streamaudio.schemas").joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    found = json.loads(text)
    if name == "stream":
        found["properties"]["capability"] = {"enum": list(capabilities)}
    elif name == "pipeline":
        found["properties"]["capabilities"]["propertyNames"] = {"enum": list(capabilities)}
    return found


def _validator(name: str) -> Callable[[Any], Any]:
    """A compiled validator (fastjsonschema: ~20x faster than jsonschema on stream samples)."""
    return _compiled(name, tuple(SCENARIOS))


@cache
def _compiled(name: str, capabilities: tuple[str, ...]) -> Callable[[Any], Any]:
    return fastjsonschema.compile(_schema(name, capabilities))


def stream_problem(meta: Any) -> str | None:
    """Why a sample's JSON is not a stream's (its schema), or None when it is one."""
    try:
        _validator("stream")(meta)
    except fastjsonschema.JsonSchemaException as exc:
        return exc.message
    return None


def check_sample(meta: dict[str, Any], audio: np.ndarray, sample_rate: int) -> list[Fault]:
    """Every contract fault of one stream; an empty list means it is sound."""
    sid = meta.get("id", "?") if isinstance(meta, dict) else "?"
    if (problem := stream_problem(meta)) is not None:
        return [Fault("schema", f"{sid}: {problem}")]
    return [fault for check in STREAM_CHECKS for fault in check(sid, meta, audio, sample_rate)]


def _check_audio(sid: str, meta: dict[str, Any], audio: np.ndarray, sample_rate: int) -> list[Fault]:
    faults = []
    if sample_rate != SAMPLE_RATE:
        faults.append(Fault("sample_rate", f"{sid}: audio is {sample_rate} Hz, not {SAMPLE_RATE}"))
    if audio.ndim != 1:
        faults.append(Fault("channels", f"{sid}: audio has {audio.shape[1]} channels, not 1"))
        return faults
    expected = meta["num_chunks"] * CHUNK_SAMPLES
    if audio.size != expected:
        faults.append(
            Fault(
                "audio_length",
                f"{sid}: {audio.size} samples, expected num_chunks x {CHUNK_SAMPLES} = {expected}",
            )
        )
    if not np.isfinite(audio).all():
        faults.append(Fault("not_finite", f"{sid}: audio holds NaN or infinite samples"))
    elif (clipped := int(np.count_nonzero(np.abs(audio) >= CLIP_LIMIT))) > 0:
        faults.append(Fault("clipped", f"{sid}: {clipped} samples at full scale"))
    return faults


def _check_labels(sid: str, meta: dict[str, Any], audio: np.ndarray, sample_rate: int) -> list[Fault]:
    faults = []
    labels, n = meta["chunk_labels"], meta["num_chunks"]
    if len(labels) != n:
        faults.append(Fault("label_length", f"{sid}: {len(labels)} chunk labels for {n} chunks"))
    b_chunks = {i for i, c in enumerate(labels) if c == LABEL_REPLY}
    replying = [t["chunk"] for t in meta["turns"] if t["respond"]]
    seen: set[int] = set()
    for c in replying:
        if c in seen:
            faults.append(Fault("double_reply", f"{sid}: two replies on chunk {c}"))
        seen.add(c)
    for c in sorted(set(replying) - b_chunks):
        faults.append(
            Fault("missing_reply_label", f"{sid}: turn replies on chunk {c} but its label is not B")
        )
    for c in sorted(b_chunks - set(replying)):
        faults.append(Fault("extra_reply_label", f"{sid}: chunk {c} is B but no turn replies there"))
    events, delay = meta["events"], meta["reply_delay_chunks"]
    for i, turn in enumerate(meta["turns"]):
        if turn["event"] >= len(events):
            faults.append(
                Fault("bad_turn_event", f"{sid}: turn {i} names event {turn['event']} of {len(events)}")
            )
            continue
        want = reply_chunk(events[turn["event"]]["end_sample"], delay) + turn.get("after_chunks", 0)
        if turn["chunk"] != want:
            faults.append(
                Fault(
                    "reply_chunk",
                    f"{sid}: turn {i} is on chunk {turn['chunk']}, the rule gives "
                    f"{want} for its event ending at sample "
                    f"{events[turn['event']]['end_sample']}",
                )
            )
        if turn["chunk"] >= meta["num_chunks"]:
            faults.append(
                Fault("reply_outside", f"{sid}: turn {i} replies on chunk {turn['chunk']} past the end")
            )
    return faults


def _check_events(sid: str, meta: dict[str, Any], audio: np.ndarray, sample_rate: int) -> list[Fault]:
    faults = []
    length = meta["num_chunks"] * CHUNK_SAMPLES
    for i, ev in enumerate(meta["events"]):
        a, b = ev["start_sample"], ev["end_sample"]
        if not 0 <= a < b <= length:
            faults.append(Fault("event_bounds", f"{sid}: event {i} spans [{a}, {b}) outside [0, {length})"))
            continue
        if ev["kind"] != "noise" and b - a < MIN_CLIP_SECONDS * SAMPLE_RATE:
            seconds = (b - a) / SAMPLE_RATE
            faults.append(Fault("short_event", f"{sid}: {ev['kind']} event {i} lasts {seconds:.3f} s"))
        if ev["kind"] != "noise" and audio.ndim == 1 and b <= audio.size:
            level = level_db(rms(audio[a:b]))
            if level < AUDIBLE_DB:
                faults.append(
                    Fault(
                        "silent_event",
                        f"{sid}: {ev['kind']} event {i} is silent ({level:.1f} dBFS) in [{a}, {b})",
                    )
                )
    return faults


def _check_semantics(sid: str, meta: dict[str, Any], audio: np.ndarray, sample_rate: int) -> list[Fault]:
    faults = []
    events, cap = meta["events"], meta["capability"]
    count = 0
    for i, turn in enumerate(meta["turns"]):
        if turn["event"] >= len(events):
            continue
        ev = events[turn["event"]]
        text = turn.get("text") or ""
        if turn["respond"] and not text.strip():
            faults.append(Fault("empty_reply", f"{sid}: turn {i} replies with no text"))
        if cap == "asr" and ev["kind"] == "speech" and text != ev.get("text"):
            faults.append(
                Fault(
                    "asr_transcript",
                    f"{sid}: turn {i} replies {text!r}, but event {turn['event']} says {ev.get('text')!r}",
                )
            )
        if cap == "asr" and ev["kind"] == "sound" and turn["respond"]:
            faults.append(
                Fault("sound_reply", f"{sid}: sound event {turn['event']} gets a reply in an asr stream")
            )
        if cap == "s2tt" and ev["kind"] == "speech":
            if text != ev.get("translation"):
                faults.append(
                    Fault(
                        "s2tt_translation",
                        f"{sid}: turn {i} replies {text!r}, not the translation {ev.get('translation')!r}",
                    )
                )
            elif text.strip().lower() == (ev.get("text") or "").strip().lower():
                faults.append(Fault("s2tt_untranslated", f"{sid}: turn {i} repeats the source text"))
        if ev.get("pause_follows") and turn["respond"]:
            faults.append(
                Fault("reply_in_pause", f"{sid}: turn {i} replies inside a user turn's thinking pause")
            )
        if ev.get("addressed") is False and turn["respond"]:
            faults.append(Fault("reply_to_background", f"{sid}: turn {i} replies to background talk"))
        if cap == "counting":
            if ev.get("counting") == "start":
                count = 0
            elif "count" in ev:
                count += 1
                words = templates("counting")["counts"]
                want = words[count - 1] if count <= len(words) else None
                if ev["count"] != count or text != want:
                    faults.append(
                        Fault("count_order", f"{sid}: turn {i} says {text!r} for repetition {count}")
                    )
        if cap == "proactive" and ev["kind"] == "sound":
            faults += _check_policy(sid, i, ev, turn)
    return faults


def _check_policy(sid: str, i: int, ev: dict[str, Any], turn: dict[str, Any]) -> list[Fault]:
    clip = Clip(
        id=ev["clip_id"],
        source=ev["source"],
        duration=1.0,
        path="-",
        labels=tuple(ev.get("labels", ())),
        category=ev.get("category"),
    )
    rule = rule_for(clip)
    should = bool(rule and rule.respond)
    if turn["respond"] != should:
        verb = "needs" if should else "must not get"
        return [Fault("policy", f"{sid}: turn {i}: a {rule.name if rule else 'sound'} {verb} a reply")]
    if should and turn.get("text") not in rule.replies:
        return [Fault("policy_reply", f"{sid}: turn {i}: {turn.get('text')!r} is not a {rule.name} reply")]
    return []


StreamCheck = Callable[[str, dict[str, Any], np.ndarray, int], list[Fault]]
# the checks every stream gets, in order: (id, JSON, audio, sample rate) -> findings; add one here
STREAM_CHECKS: list[StreamCheck] = [
    _check_audio,
    _check_labels,
    _check_events,
    _check_semantics,
    check_phenomena,
]

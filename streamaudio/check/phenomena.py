"""The interaction phenomena of a stream (plan/phenomena.py) checked and counted: each tagged turn decided
as its phenomenon says, and how often each phenomenon happened against how often it could have (its rate,
as the capability's data file defines it)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from streamaudio.check.fault import Fault
from streamaudio.plan.phenomena import PHENOMENA, reply_parts
from streamaudio.plan.scenarios.chat import split_options

SILENT = {"acknowledgement", "talk_to_others", "near_miss_wake", "background_media"}


def check_phenomena(sid: str, meta: dict[str, Any], audio: Any, sample_rate: int) -> list[Fault]:
    """Faults of tagged turns: a phenomenon that must stay silent gets a reply, one that needs a reply gets
    none, a hesitation not completed, an acknowledgement or short answer with no reply before it."""
    faults = []
    events, turns = meta["events"], meta["turns"]
    for i, turn in enumerate(turns):
        if turn["event"] >= len(events):
            continue
        ev = events[turn["event"]]
        name = ev.get("phenomenon")
        if turn.get("phenomenon") != name:
            faults.append(Fault("phenomenon_tag", f"{sid}: turn {i} is tagged {turn.get('phenomenon')!r}, "
                                f"its event {name!r}"))  # fmt: skip
        if name is None:
            continue
        opening = bool(ev.get("hesitation") or ev.get("pause_follows"))
        must_reply = name == "short_answer" or (name in ("hesitation", "pause") and not opening)
        if name in SILENT or opening:
            if turn["respond"]:
                faults.append(Fault("phenomenon_reply", f"{sid}: turn {i} ({name}) must stay silent"))
        elif must_reply and not turn["respond"]:
            faults.append(Fault("phenomenon_silent", f"{sid}: turn {i} ({name}) must get a reply"))
        if opening and not _completed(turns, events, i, ev):
            faults.append(Fault("phenomenon_open", f"{sid}: turn {i} ({name}) is never completed"))
        if name in ("acknowledgement", "short_answer") and not (i and turns[i - 1]["respond"]):
            faults.append(Fault("phenomenon_context", f"{sid}: turn {i} ({name}) follows no reply"))
        if name == "background_media" and ev.get("role") != "media":
            faults.append(Fault("phenomenon_media", f"{sid}: turn {i} is media speech without role media"))
    return faults


def _completed(turns: list[dict[str, Any]], events: list[dict[str, Any]], i: int, ev: dict[str, Any]) -> bool:
    """Whether the next turn of the same talker after turn ``i`` completes it (same phenomenon, replied)."""
    talker = ev.get("talker")
    for turn in turns[i + 1 :]:
        later = events[turn["event"]]
        if later.get("talker") == talker and later.get("role") != "media":
            return later.get("phenomenon") == ev.get("phenomenon") and bool(turn["respond"])
    return False


def phenomenon_counts(meta: dict[str, Any]) -> Counter:
    """Per phenomenon, how often it happened (``(name, "seen")``) and could have (``(name, "could")``)
    in one stream, by the definitions of its rate in the capabilities' data files."""
    counts: Counter = Counter()
    cap, events, turns = meta["capability"], meta["events"], meta["turns"]
    if cap == "environment":
        counts["background_media", "could"] += 1
        counts["background_media", "seen"] += any(e.get("role") == "media" for e in events)
    previous_text = ""
    for k, turn in enumerate(turns):
        ev = events[turn["event"]]
        name = ev.get("phenomenon")
        counts[name, "seen"] += name in SILENT - {"background_media"} or name == "short_answer"
        if cap == "environment" and ev.get("addressed") is False and ev.get("role") != "media":
            counts["talk_to_others", "could"] += 1
            counts["near_miss_wake", "could"] += 1
        if ev.get("pause_follows"):
            previous_text = ev.get("text", "")
            continue
        user_turn = turn["respond"] and name != "short_answer" and not ev.get("follow_up")
        if not user_turn or ev["kind"] not in ("speech", "instruction"):
            continue
        if (cap == "chat" or (cap == "asr" and ev["kind"] == "instruction")) or ev.get("wake_phrase"):
            counts["hesitation", "could"] += 1
            counts["hesitation", "seen"] += name == "hesitation"
        if cap != "chat":
            continue
        whole = f"{previous_text} {ev.get('text', '')}" if name == "pause" else ev.get("text", "")
        previous_text = ""
        if name != "hesitation" and split_options(whole):
            counts["pause", "could"] += 1
            counts["pause", "seen"] += name == "pause"
        asked = k + 1 < len(turns) and events[turns[k + 1]["event"]].get("phenomenon") == "short_answer"
        if asked or reply_parts(turn.get("text", "")):
            counts["short_answer", "could"] += 1
        if not asked:
            counts["acknowledgement", "could"] += 1
    return counts


def rates_of(counts: Counter) -> dict[str, dict[str, float | int]]:
    """Each phenomenon that could happen: how often it did, out of how many chances, and the share."""
    out = {}
    for name in PHENOMENA:
        could = counts[name, "could"]
        if could:
            seen = counts[name, "seen"]
            out[name] = {"seen": seen, "could": could, "rate": round(seen / could, 4)}
    return out

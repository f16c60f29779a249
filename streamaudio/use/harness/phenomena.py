"""Scores per interaction phenomenon, in the Full-Duplex-Bench sense: where silence is right, how often
the backend takes the turn anyway; where a reply is right, how often it responds and how late."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from streamaudio.protocol import CHUNK_SECONDS, SAMPLE_RATE
from streamaudio.render.sample_json import StreamJSON, TurnJSON
from streamaudio.use.harness.loop import Emission
from streamaudio.use.harness.metrics import taken_over

RESPONSE_CHUNKS = 5  # a reply counts as a response when it comes at most this many chunks (2 s) late


@dataclass
class PhenomenonTally:
    silent: int = 0
    takeovers: int = 0
    replies: int = 0
    responses: int = 0
    latency_chunks: list[int] = field(default_factory=list)
    latency_seconds: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "silent_turns": self.silent,
            "takeover_rate": round(self.takeovers / self.silent, 4) if self.silent else None,
            "reply_turns": self.replies,
            "response_rate": round(self.responses / self.replies, 4) if self.replies else None,
            "latency_chunks": _median(self.latency_chunks),
            "latency_s": _median(self.latency_seconds, 3),
        }


def _median(values: list[float], digits: int = 1) -> float | None:
    return round(float(np.median(values)), digits) if values else None


def phenomenon_of(meta: StreamJSON, turn: TurnJSON) -> str | None:
    return turn.get("phenomenon") or meta["events"][turn["event"]].get("phenomenon")


def turn_outcomes(meta: StreamJSON, emissions: list[Emission]) -> list[dict[str, Any]]:
    """Per turn: where its trigger lies, whether a reply is right, its phenomenon, and what the backend
    did: ``took_over`` (a silent turn answered at its chunk or the next, by a reply no replying turn
    claims) or ``latency_chunks``/``latency_s`` (a reply turn's first prediction from one chunk early to
    ``RESPONSE_CHUNKS`` late; None when it did not respond)."""
    preds = sorted(e.chunk for e in emissions)
    out = []
    for t, took_over in zip(meta["turns"], taken_over(meta, preds), strict=True):
        ev = meta["events"][t["event"]]
        row: dict[str, Any] = {
            "start": round(ev["start_sample"] / SAMPLE_RATE, 3),
            "end": round(ev["end_sample"] / SAMPLE_RATE, 3),
            "chunk": t["chunk"],
            "respond": t["respond"],
            "phenomenon": phenomenon_of(meta, t),
        }
        if t["respond"]:
            late = [p for p in preds if t["chunk"] - 1 <= p <= t["chunk"] + RESPONSE_CHUNKS]
            row["latency_chunks"] = late[0] - t["chunk"] if late else None
            row["latency_s"] = round((late[0] + 1) * CHUNK_SECONDS - row["end"], 3) if late else None
        else:
            row["took_over"] = took_over
        out.append(row)
    return out


def phenomenon_scores(outcomes: list[list[dict[str, Any]]]) -> dict[str, Any]:
    """Each phenomenon's tally over all streams' turn outcomes, and ``overall`` over every tagged turn."""
    tallies: dict[str, PhenomenonTally] = defaultdict(PhenomenonTally)
    for rows in outcomes:
        for row in rows:
            if row["phenomenon"] is None:
                continue
            for key in (row["phenomenon"], "overall"):
                tally = tallies[key]
                if row["respond"]:
                    tally.replies += 1
                    if row["latency_chunks"] is not None:
                        tally.responses += 1
                        tally.latency_chunks.append(row["latency_chunks"])
                        tally.latency_seconds.append(row["latency_s"])
                else:
                    tally.silent += 1
                    tally.takeovers += row["took_over"]
    names = sorted(k for k in tallies if k != "overall")
    return {k: tallies[k].to_dict() for k in [*names, "overall"] if k in tallies}

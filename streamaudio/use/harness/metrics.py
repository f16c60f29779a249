"""Scores of a backend against the labels, per capability and overall."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamaudio.protocol import CHUNK_SECONDS, SAMPLE_RATE
from streamaudio.render.sample_json import StreamJSON
from streamaudio.use.harness.errors import NEEDS_SCORERS
from streamaudio.use.harness.loop import Emission


def require_scorers() -> None:
    """Raise ImportError with the install line unless jiwer and sacrebleu import: checked before any work."""
    try:
        import jiwer  # noqa: F401
        import sacrebleu  # noqa: F401
    except ImportError:
        raise ImportError(NEEDS_SCORERS) from None


@dataclass
class Tally:
    references: int = 0
    predictions: int = 0
    hits0: int = 0
    hits1: int = 0
    silent_turns: int = 0
    takeovers: int = 0

    def add(self, other: Tally) -> None:
        for k in vars(self):
            setattr(self, k, getattr(self, k) + getattr(other, k))


def match(refs: list[int], preds: list[int], tolerance: int) -> dict[int, int]:
    """One-to-one ref index → pred index, each ref taking the nearest free prediction within tolerance."""
    free = set(range(len(preds)))
    pairs = {}
    for i, r in enumerate(refs):
        near = [j for j in free if abs(preds[j] - r) <= tolerance]
        if near:
            j = min(near, key=lambda j: (abs(preds[j] - r), preds[j]))
            pairs[i] = j
            free.discard(j)
    return pairs


def taken_over(meta: StreamJSON, preds: list[int]) -> list[bool]:
    """Per turn: whether it should stay silent and a reply lands at its chunk or the next that no replying
    turn claims (within one chunk)."""
    claimed = set(match([t["chunk"] for t in meta["turns"] if t["respond"]], preds, 1).values())
    return [
        not t["respond"]
        and any(j not in claimed and t["chunk"] <= p <= t["chunk"] + 1 for j, p in enumerate(preds))
        for t in meta["turns"]
    ]


def _prf(hits: int, refs: int, preds: int) -> dict[str, float]:
    p = hits / preds if preds else (1.0 if not refs else 0.0)
    r = hits / refs if refs else 1.0
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
    }


def score(results: list[tuple[dict[str, Any], list[Emission]]]) -> dict[str, Any]:
    """Metrics for each capability and overall."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    latencies: dict[str, list[float]] = defaultdict(list)
    texts: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for meta, emissions in results:
        cap = meta["capability"]
        tally = Tally()
        replying = [t for t in meta["turns"] if t["respond"]]
        refs = [t["chunk"] for t in replying]
        preds = [e.chunk for e in emissions]
        exact, near = match(refs, preds, 0), match(refs, preds, 1)
        tally.references, tally.predictions = len(refs), len(preds)
        tally.hits0, tally.hits1 = len(exact), len(near)
        tally.silent_turns = sum(not t["respond"] for t in meta["turns"])
        tally.takeovers = sum(taken_over(meta, preds))
        for i, j in near.items():
            event = meta["events"][replying[i]["event"]]
            latencies[cap].append(1000 * ((preds[j] + 1) * CHUNK_SECONDS - event["end_sample"] / SAMPLE_RATE))
            if emissions[j].text and event["kind"] == "speech" and cap in ("asr", "s2tt"):
                texts[cap].append((replying[i]["text"], emissions[j].text))
        tallies[cap].add(tally)
    out: dict[str, Any] = {}
    total = Tally()
    for cap in sorted(tallies):
        out[cap] = _summary(tallies[cap], latencies[cap], cap, texts[cap])
        total.add(tallies[cap])
    out["overall"] = _summary(total, [v for vs in latencies.values() for v in vs], "overall", [])
    return out


def _summary(t: Tally, latencies: list[float], cap: str, texts: list[tuple[str, str]]) -> dict[str, Any]:
    latency = None
    if latencies:
        latency = {
            "median": round(float(np.median(latencies)), 1),
            "p90": round(float(np.percentile(latencies, 90)), 1),
        }
    result: dict[str, Any] = {
        "references": t.references,
        "predictions": t.predictions,
        "exact": _prf(t.hits0, t.references, t.predictions),
        "within_1_chunk": _prf(t.hits1, t.references, t.predictions),
        "latency_ms": latency,
        "takeover_rate": round(t.takeovers / t.silent_turns, 4) if t.silent_turns else None,
    }
    if texts and cap == "asr":
        import jiwer

        normal = jiwer.Compose(
            [
                jiwer.ToLowerCase(),
                jiwer.RemovePunctuation(),
                jiwer.RemoveMultipleSpaces(),
                jiwer.Strip(),
                jiwer.ReduceToListOfListOfWords(),
            ]
        )
        refs, hyps = zip(*texts, strict=True)
        result["wer"] = round(
            jiwer.wer(list(refs), list(hyps), reference_transform=normal, hypothesis_transform=normal), 4
        )
    if texts and cap == "s2tt":
        import sacrebleu

        refs, hyps = zip(*texts, strict=True)
        result["bleu"] = round(sacrebleu.corpus_bleu(list(hyps), [list(refs)]).score, 2)
    return result

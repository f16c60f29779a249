"""Corpus statistics from the streams' JSON: hours per capability and split, reply latencies, gaps, SNRs,
sources and voices (``stats`` prints them, ``plots`` draws them, ``view`` shows them)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from streamaudio.protocol import CHUNK_SECONDS, LABEL_REPLY, SAMPLE_RATE


def corpus_stats(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Hours and streams per capability and split, reply latencies, gaps, SNRs, top sources and the voices
    (TTS voices or recorded speakers) that speak in each capability."""
    table: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0])
    latencies, gaps, snrs = [], [], []
    sources: Counter = Counter()
    voices: dict[str, Counter] = defaultdict(Counter)  # capability -> voice -> speech events
    for meta in samples:
        row = table[(meta["capability"], meta.get("split", "?"))]
        row[0] += 1
        row[1] += meta["num_chunks"] * CHUNK_SECONDS / 3600
        row[2] += meta["chunk_labels"].count(LABEL_REPLY)
        for turn in meta["turns"]:
            if turn["respond"]:
                end = meta["events"][turn["event"]]["end_sample"] / SAMPLE_RATE
                latencies.append(1000 * ((turn["chunk"] + 1) * CHUNK_SECONDS - end))
        for ev in meta["events"]:
            if ev.get("role") == "gap":
                gaps.append((ev["end_sample"] - ev["start_sample"]) / SAMPLE_RATE)
            elif ev.get("role") == "background":
                snrs.append(ev["snr_db"])
            if ev["kind"] != "noise":
                sources[ev["source"]] += 1
            if ev["kind"] in ("speech", "instruction") and (voice := ev.get("voice") or ev.get("speaker")):
                voices[meta["capability"]][voice] += 1
    return {
        "table": {
            f"{c}/{s}": {"streams": n, "hours": round(h, 4), "replies": r}
            for (c, s), (n, h, r) in sorted(table.items())
        },
        "latency_ms": latencies,
        "gap_s": gaps,
        "snr_db": snrs,
        "sources": sources.most_common(10),
        "voices": {c: dict(v.most_common()) for c, v in sorted(voices.items())},
    }

"""Pictures of a corpus: one stream with its labels, and the corpus in figures."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files, not windows
import matplotlib.pyplot as plt
import numpy as np

from streamaudio import protocol as P

COLOURS = {"instruction": "tab:purple", "speech": "tab:blue", "sound": "tab:orange", "noise": "tab:gray"}


def plot_stream(meta: dict[str, Any], audio: np.ndarray, out: Path) -> Path:
    """Waveform and spectrogram over time, events as labelled spans, the chunk grid, and each reply
    marked where it is emitted (the end of its chunk) with its text."""
    seconds = audio.size / P.SAMPLE_RATE
    fig, (wave, spec) = plt.subplots(
        2,
        1,
        figsize=(min(40.0, max(12.0, seconds * 0.3)), 7),
        sharex=True,
        gridspec_kw={"height_ratios": [1.2, 1]},
    )
    t = np.arange(audio.size) / P.SAMPLE_RATE
    wave.plot(t, audio, lw=0.3, color="black")
    wave.set_ylim(-1.05, 1.05)
    wave.set_ylabel("amplitude")
    wave.set_title(
        f"{meta['id']}  ({meta['capability']}, {meta['num_chunks']} chunks, "
        f"{meta['chunk_labels'].count(P.LABEL_REPLY)} replies)"
    )
    for ev in meta["events"]:
        if ev.get("role") == "background":
            continue
        a, b = ev["start_sample"] / P.SAMPLE_RATE, ev["end_sample"] / P.SAMPLE_RATE
        colour = COLOURS.get(ev["kind"], "tab:green")
        wave.axvspan(a, b, ymin=0.0, ymax=0.08, color=colour, alpha=0.6 if ev["kind"] != "noise" else 0.25)
        if ev["kind"] != "noise":
            label = ev.get("text") or ", ".join(ev.get("label_names") or ev.get("labels") or [ev["kind"]])
            wave.text(a, -1.0, _short(label, 28), fontsize=6, color=colour, va="bottom", rotation=0)
    for c in range(meta["num_chunks"] + 1):
        for ax in (wave, spec):
            ax.axvline(c * P.CHUNK_SECONDS, color="lightgray", lw=0.3, zorder=0)
    for turn in meta["turns"]:
        if turn["respond"]:
            at = (turn["chunk"] + 1) * P.CHUNK_SECONDS
            wave.axvline(at, color="tab:red", lw=1)
            wave.text(
                at, 0.95, _short(turn.get("text", ""), 40), fontsize=6, color="tab:red", va="top", rotation=90
            )
    spec.specgram(audio, NFFT=512, Fs=P.SAMPLE_RATE, noverlap=384, cmap="magma")
    spec.set_ylabel("Hz")
    spec.set_xlabel("seconds (red: replies, grid: 0.4 s chunks)")
    spec.set_xlim(0, seconds)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def corpus_stats(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Hours and streams per capability and split, reply latencies, gaps, SNRs and top sources."""
    table: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0])
    latencies, gaps, snrs = [], [], []
    sources: Counter = Counter()
    for meta in samples:
        row = table[(meta["capability"], meta.get("split", "?"))]
        row[0] += 1
        row[1] += meta["num_chunks"] * P.CHUNK_SECONDS / 3600
        row[2] += meta["chunk_labels"].count(P.LABEL_REPLY)
        for turn in meta["turns"]:
            if turn["respond"]:
                end = meta["events"][turn["event"]]["end_sample"] / P.SAMPLE_RATE
                latencies.append(1000 * ((turn["chunk"] + 1) * P.CHUNK_SECONDS - end))
        for ev in meta["events"]:
            if ev.get("role") == "gap":
                gaps.append((ev["end_sample"] - ev["start_sample"]) / P.SAMPLE_RATE)
            elif ev.get("role") == "background":
                snrs.append(ev["snr_db"])
            if ev["kind"] != "noise":
                sources[ev["source"]] += 1
    return {
        "table": {
            f"{c}/{s}": {"streams": n, "hours": round(h, 4), "replies": r}
            for (c, s), (n, h, r) in sorted(table.items())
        },
        "latency_ms": latencies,
        "gap_s": gaps,
        "snr_db": snrs,
        "sources": sources.most_common(10),
    }


def plot_stats(stats: dict[str, Any], out: Path) -> Path:
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    (hours_ax, latency_ax, gap_ax), (snr_ax, source_ax, stream_ax) = axes
    names = list(stats["table"])
    hours = [v["hours"] for v in stats["table"].values()]
    hours_ax.barh(names, hours, color="tab:blue")
    hours_ax.set_title("hours per capability/split")
    stream_ax.barh(names, [v["streams"] for v in stats["table"].values()], color="tab:purple")
    stream_ax.set_title("streams per capability/split")
    latency_ax.hist(stats["latency_ms"], bins=22, range=(0, 440), color="tab:red")
    latency_ax.set_title("reply latency after the trigger ends (ms)")
    gap_ax.hist(stats["gap_s"], bins=30, color="tab:gray")
    gap_ax.set_title("gap lengths (s)")
    snr_ax.hist(stats["snr_db"], bins=20, color="tab:green")
    snr_ax.set_title("background SNR (dB)")
    if stats["sources"]:
        labels, counts = zip(*stats["sources"], strict=True)
        source_ax.barh(labels, counts, color="tab:orange")
    source_ax.set_title("top sources (events)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out

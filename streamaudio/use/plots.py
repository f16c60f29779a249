"""Pictures of a corpus: one stream with its labels, and the corpus in figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files, not windows
import matplotlib.pyplot as plt
import numpy as np

from streamaudio.protocol import CHUNK_SECONDS, LABEL_REPLY, SAMPLE_RATE
from streamaudio.render.sample_json import StreamJSON

COLOURS = {"instruction": "tab:purple", "speech": "tab:blue", "sound": "tab:orange", "noise": "tab:gray"}
OVERHEARD = "#93b4f5"  # talk not addressed to the assistant: speech's blue, lighter (as in the viewer)
LANES = ("instruction", "speech", "media", "sound", "gap", "background")  # media: a TV or radio
KEY_COLUMNS = 2
KEY_WIDTH = 70  # characters of text per entry in the key below the figure


def plot_stream(meta: StreamJSON, audio: np.ndarray, out: Path) -> Path:
    """Waveform; events in lanes by kind, numbered, with their texts in a key below (so no label sits on
    another); the chunk grid with each chunk's label; replies marked where they are emitted (the end of
    their chunk), lettered in the key; a spectrogram with its colour bar."""
    seconds = audio.size / SAMPLE_RATE
    entries = _key_entries(meta)
    key_rows = -(-len(entries) // KEY_COLUMNS)
    width = min(18.0, max(12.0, seconds * 0.16))  # at most about 2,000 px: text stays readable
    fig = plt.figure(figsize=(width, 7.5 + 0.17 * key_rows))
    key_share = 0.17 * key_rows / (7.5 + 0.17 * key_rows)
    grid = fig.add_gridspec(
        4, 2, height_ratios=[1.1, 0.9, 0.18, 1.1], width_ratios=[1, 0.012], hspace=0.08, wspace=0.01,
        bottom=key_share + 0.06, top=0.89, left=0.085, right=0.93,
    )  # fmt: skip
    wave = fig.add_subplot(grid[0, 0])
    lanes = fig.add_subplot(grid[1, 0], sharex=wave)
    chunks = fig.add_subplot(grid[2, 0], sharex=wave)
    spec = fig.add_subplot(grid[3, 0], sharex=wave)
    t = np.arange(audio.size) / SAMPLE_RATE
    wave.plot(t, audio, lw=0.3, color="black")
    wave.set_ylim(-1.05, 1.05)
    wave.set_ylabel("amplitude")
    # the title, then the legend, then the reply letters: three rows above the waveform, none on another
    fig.text(
        0.085, 0.995, f"{meta['id']}  ({meta['capability']}, {meta['num_chunks']} chunks, "
        f"{meta['chunk_labels'].count(LABEL_REPLY)} replies)", fontsize=12, va="top", ha="left",
    )  # fmt: skip
    _draw_lanes(lanes, meta)
    _draw_chunks(chunks, meta)
    replies = [t for t in meta["turns"] if t["respond"]]
    for k, turn in enumerate(replies):
        at = (turn["chunk"] + 1) * CHUNK_SECONDS
        for ax in (wave, lanes, spec):
            ax.axvline(at, color="tab:red", lw=0.9)
        wave.text(
            at, 1.01, _letter(k), fontsize=9, color="tab:red", ha="center", va="bottom", clip_on=False,
            transform=wave.get_xaxis_transform(),
        )  # fmt: skip
    with np.errstate(divide="ignore"):  # digital silence has no level: drawn at the floor
        *_, image = spec.specgram(audio, NFFT=512, Fs=SAMPLE_RATE, noverlap=384, cmap="magma", vmin=-150)
    colour_bar = fig.add_subplot(grid[3, 1])
    fig.colorbar(image, cax=colour_bar, label="dB")
    spec.set_ylabel("Hz")
    spec.set_xlabel("seconds (red lines: replies, emitted at the end of their chunk)")
    spec.set_xlim(0, seconds)
    for ax in (wave, lanes, chunks):
        ax.tick_params(labelbottom=False)
    kinds = ("instruction", "speech", "sound", "noise")
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLOURS[k]) for k in kinds]
    handles += [plt.Rectangle((0, 0), 1, 1, color=OVERHEARD), plt.Line2D([0], [0], color="tab:red")]
    names = ["instruction", "speech", "sound", "noise", "overheard talk", "reply"]
    fig.legend(
        handles, names, loc="upper left", bbox_to_anchor=(0.08, 0.965), ncol=6, fontsize=9, frameon=False
    )
    _draw_key(fig, entries, key_share)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _lane(ev: dict[str, Any]) -> str:
    return ev.get("role") or ev["kind"]


def lane_rows(meta: StreamJSON) -> tuple[list[tuple[int, str, int, float, float]], dict[str, int]]:
    """(event, lane, sub-row, start s, end s) for every event, and how many sub-rows each lane needs:
    an event that overlaps another of its lane takes the next free sub-row."""
    free: dict[str, list[float]] = {lane: [] for lane in LANES}  # per sub-row, where it is free again
    placed = []
    for i, ev in enumerate(meta["events"]):
        lane = _lane(ev)
        a, b = ev["start_sample"] / SAMPLE_RATE, ev["end_sample"] / SAMPLE_RATE
        rows = free.setdefault(lane, [])
        sub = next((k for k, end in enumerate(rows) if end <= a), len(rows))
        if sub == len(rows):
            rows.append(b)
        else:
            rows[sub] = b
        placed.append((i, lane, sub, a, b))
    return placed, {lane: max(1, len(rows)) for lane, rows in free.items()}


def _draw_lanes(ax: Any, meta: StreamJSON) -> None:
    """Each event a bar in its kind's lane, numbered; events that overlap in a lane take sub-rows."""
    placed, depth = lane_rows(meta)
    y, ticks, labels = 0.0, [], []
    base = {}
    for lane in reversed(LANES):
        base[lane] = y
        ticks.append(y + depth[lane] / 2)
        labels.append(lane)
        y += depth[lane] + 0.4
    for i, lane, sub, a, b in placed:
        ev = meta["events"][i]
        colour = OVERHEARD if ev.get("addressed") is False else COLOURS.get(ev["kind"], "tab:green")
        bottom = base[lane] + sub + 0.1
        ax.broken_barh(
            [(a, b - a)], (bottom, 0.8), color=colour, alpha=0.35 if ev["kind"] == "noise" else 0.75
        )
        if ev["kind"] != "noise":
            ax.text((a + b) / 2, bottom + 0.4, str(i), fontsize=8, ha="center", va="center", color="white")
    ax.set_yticks(ticks, labels, fontsize=9)
    ax.set_ylim(-0.2, y)
    ax.grid(False)


def _draw_chunks(ax: Any, meta: StreamJSON) -> None:
    """One cell per chunk: grey when the model keeps silent, red when it replies."""
    labels = meta["chunk_labels"]
    cells = [(c * CHUNK_SECONDS, CHUNK_SECONDS) for c in range(len(labels))]
    colours = ["tab:red" if x == LABEL_REPLY else "0.88" for x in labels]
    ax.broken_barh(cells, (0, 1), facecolors=colours, edgecolor="white", linewidth=0.3)
    ax.set_yticks([0.5], ["chunks"], fontsize=9)
    ax.set_ylim(0, 1)


def _letter(k: int) -> str:
    """Reply names: A, B, … Z, AA, AB, …"""
    name = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        name = chr(65 + r) + name
    return name


def _key_entries(meta: StreamJSON) -> list[tuple[str, str]]:
    """(marker, text) for every numbered event and every lettered reply."""
    found = []
    for i, ev in enumerate(meta["events"]):
        if ev["kind"] != "noise":
            label = ev.get("text") or ", ".join(ev.get("label_names") or ev.get("labels") or [ev["kind"]])
            found.append((str(i), _short(label, KEY_WIDTH)))
    replies = [t for t in meta["turns"] if t["respond"]]
    for k, turn in enumerate(replies):
        found.append(
            (
                f"reply {_letter(k)}",
                _short(f"[{turn.get('emotion', 'normal')}] {turn.get('text', '')}", KEY_WIDTH),
            )
        )
    return found


def _draw_key(fig: Any, entries: list[tuple[str, str]], share: float) -> None:
    """The key below the axes: numbered events and lettered replies with their texts, in columns."""
    rows = -(-len(entries) // KEY_COLUMNS)
    for n, (marker, text) in enumerate(entries):
        column, row = divmod(n, rows) if rows else (0, 0)
        x = 0.06 + column * (0.89 / KEY_COLUMNS)
        y = share + 0.005 - (row + 1) * (share / max(rows, 1)) * 0.98
        colour = "tab:red" if marker.startswith("reply") else "black"
        fig.text(x, y, f"{marker}: {text}", fontsize=8, color=colour, va="bottom", ha="left")


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def plot_stats(stats: dict[str, Any], out: Path) -> Path:
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    (hours_ax, latency_ax, gap_ax), (snr_ax, source_ax, stream_ax) = axes
    names = list(stats["table"])
    hours = [v["hours"] for v in stats["table"].values()]
    hours_ax.barh(names, hours, color="tab:blue")
    hours_ax.set_title("hours per capability/split")
    hours_ax.set_xlabel("hours")
    stream_ax.barh(names, [v["streams"] for v in stats["table"].values()], color="tab:purple")
    stream_ax.set_title("streams per capability/split")
    stream_ax.set_xlabel("streams")
    latency_ax.hist(stats["latency_ms"], bins=22, range=(0, 440), color="tab:red")
    latency_ax.set_title("reply latency after the trigger ends")
    latency_ax.set_xlabel("ms")
    latency_ax.set_ylabel("replies")
    gap_ax.hist(stats["gap_s"], bins=30, color="tab:gray")
    gap_ax.set_title("gap lengths")
    gap_ax.set_xlabel("seconds")
    gap_ax.set_ylabel("gaps")
    snr_ax.hist(stats["snr_db"], bins=20, color="tab:green")
    snr_ax.set_title("background SNR")
    snr_ax.set_xlabel("dB")
    snr_ax.set_ylabel("streams")
    if stats["sources"]:
        labels, counts = zip(*stats["sources"], strict=True)
        source_ax.barh(labels, counts, color="tab:orange")
    source_ax.set_title("top sources")
    source_ax.set_xlabel("events")
    from matplotlib.ticker import MaxNLocator

    for ax in (stream_ax, source_ax):  # counts: whole numbers on the count axis
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (latency_ax, gap_ax, snr_ax):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out

"""Read one stream back from a shard and lay out its timeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from streamaudio.errors import StreamAudioError
from streamaudio.protocol import CHUNK_SECONDS, LABEL_REPLY, SAMPLE_RATE
from streamaudio.render.sample_json import StreamJSON
from streamaudio.use.reader import ReadError, iter_samples, shard_paths


class InspectError(StreamAudioError):
    """A shard or key that cannot be read; one line naming it."""


def read_sample(target: Path, key: str) -> tuple[dict[str, Any], bytes]:
    """The JSON and FLAC bytes of ``key`` in a WebDataset tar, or in any shard of an output folder."""
    keys: list[str] = []
    try:
        for tar in shard_paths([target]):
            for sample in iter_samples(tar):
                if sample.key == key:
                    return sample.meta, sample.flac
                keys.append(sample.key)
    except ReadError as exc:
        raise InspectError(str(exc)) from None
    shown = ", ".join(keys[:3]) + (" …" if len(keys) > 3 else "")
    raise InspectError(f"{target}: no stream {key!r} (it holds {len(keys)}: {shown})")


def list_streams(target: Path, console: Console) -> int:
    """Print the streams of a shard or an output folder (key, capability, length, turns, replies, and
    the shard when there are several); their count."""
    rows = []
    try:
        tars = shard_paths([target])
        for tar in tars:
            for sample in iter_samples(tar):
                meta = sample.meta
                labels = str(meta.get("chunk_labels", ""))
                rows.append((
                    sample.key, str(meta.get("capability", "?")), f"{len(labels) * CHUNK_SECONDS:.1f}",
                    str(len(meta.get("turns", []))), str(labels.count(LABEL_REPLY)), tar.name,
                ))  # fmt: skip
    except ReadError as exc:
        raise InspectError(str(exc)) from None
    columns = ["key", "capability", "seconds", "turns", "replies"] + (["shard"] if len(tars) > 1 else [])
    table = Table(box=box.SIMPLE, pad_edge=False)
    for col in columns:
        right = col in ("seconds", "turns", "replies")
        wide = max((len(r[0]) for r in rows), default=3) if col == "key" else None
        table.add_column(col, no_wrap=col != "shard", justify="right" if right else "left", min_width=wide)
    for row in rows:
        table.add_row(*row[: len(columns)])
    console.print(table)
    console.print(f"{len(rows)} streams; give --key KEY to see one", highlight=False)
    return len(rows)


def _t(sample: int) -> str:
    return f"{sample / SAMPLE_RATE:8.2f}"


def show(meta: StreamJSON, console: Console) -> None:
    """Print a stream's header, events and turns as tables."""
    n = meta["num_chunks"]
    labels = meta["chunk_labels"]
    console.print(
        f"[bold]{meta['id']}[/]  capability={meta['capability']}  language={meta.get('language')}  "
        f"{n} chunks = {n * CHUNK_SECONDS:.1f} s  replies={labels.count(LABEL_REPLY)}  "
        f"seed={meta.get('seed')}"
    )
    events = Table(title="events, in time order", title_justify="left", box=box.SIMPLE, pad_edge=False)
    for col in ("#", "kind", "start s", "end s", "source"):
        events.add_column(col, no_wrap=True, justify="right" if col.endswith(" s") else "left")
    events.add_column("detail", overflow="fold", ratio=1, min_width=24)
    in_time = sorted(enumerate(meta["events"]), key=lambda e: (e[1]["start_sample"], e[1]["end_sample"]))
    for i, ev in in_time:
        kind = ev.get("role") or ev["kind"]
        if "snr_db" in ev:
            detail = f"SNR {ev['snr_db']:.1f} dB"
        elif ev.get("labels"):
            detail = ", ".join(ev.get("label_names") or ev["labels"])
        else:
            detail = escape(ev.get("text", ""))
        extra = f"gain {ev['gain_db']:+.1f} dB, " if "gain_db" in ev else ""
        detail = f"{detail}  [dim]({extra}{escape(ev['clip_id'])})[/]".strip()
        events.add_row(str(i), kind, _t(ev["start_sample"]), _t(ev["end_sample"]), ev["source"], detail)
    console.print(events)
    turns = Table(title="turns", title_justify="left", box=box.SIMPLE, pad_edge=False)
    for col in ("event", "chunk", "reply at s", "respond", "emotion"):
        turns.add_column(col, no_wrap=True)
    turns.add_column("text", overflow="fold", ratio=1, min_width=24)
    for turn in meta["turns"]:
        reply_at = f"{(turn['chunk'] + 1) * CHUNK_SECONDS:8.2f}" if turn["respond"] else "-"
        turns.add_row(
            str(turn["event"]),
            str(turn["chunk"]),
            reply_at,
            "yes" if turn["respond"] else "no",
            turn.get("emotion", ""),
            turn.get("text", ""),
        )
    console.print(turns)
    console.print("chunk labels (S silent, B reply):")
    per_line = max(10, (console.width - 10) // 10 * 10)  # whole tens of chunks that fit the terminal
    for i in range(0, n, per_line):
        console.print(f"  {i:5d}  {labels[i : i + per_line]}", highlight=False, soft_wrap=True)

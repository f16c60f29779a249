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
from streamaudio.use.reader import ReadError, iter_samples


class InspectError(StreamAudioError):
    """A shard or key that cannot be read; one line naming it."""


def read_sample(tar_path: Path, key: str) -> tuple[dict[str, Any], bytes]:
    """The JSON and FLAC bytes of ``key`` in a WebDataset tar."""
    keys: list[str] = []
    try:
        for sample in iter_samples(tar_path):
            if sample.key == key:
                return sample.meta, sample.flac
            keys.append(sample.key)
    except ReadError as exc:
        raise InspectError(str(exc)) from None
    shown = ", ".join(keys[:3]) + (" …" if len(keys) > 3 else "")
    raise InspectError(f"{tar_path}: no stream {key!r} (it holds {len(keys)}: {shown})")


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
    events = Table(title="events", title_justify="left", box=box.SIMPLE, pad_edge=False)
    for col in ("#", "kind", "start s", "end s", "source"):
        events.add_column(col, no_wrap=True, justify="right" if col.endswith(" s") else "left")
    events.add_column("detail", overflow="fold", ratio=1, min_width=24)
    for i, ev in enumerate(meta["events"]):
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
        reply_at = (turn["chunk"] + 1) * CHUNK_SECONDS
        turns.add_row(
            str(turn["event"]),
            str(turn["chunk"]),
            f"{reply_at:8.2f}",
            "yes" if turn["respond"] else "no",
            turn.get("emotion", ""),
            turn.get("text", ""),
        )
    console.print(turns)
    console.print("chunk labels (S silent, B reply):")
    for i in range(0, n, 100):
        console.print(f"  {i:5d}  {labels[i : i + 100]}", highlight=False)

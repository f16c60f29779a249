"""Export a corpus in the forms the released Audio-Interaction code consumes (docs/protocol.md).

Under the target folder:

    tokens/tokens.jsonl        training lines for the released trainer (with a tokenizer): input_ids, labels,
                               audio_pos, pt_path_dir, turn_audio_end_map; the only *.jsonl in its folder,
                               because the trainer reads every *.jsonl of a data folder
    features/<line>/AudioFeat.pt
                               the audio tower's output over the line's whole audio (with --checkpoint);
                               without one, step2.jsonl lists the WAVs for the released feature step
    wavs/<line>.wav            each training line's audio, 16 kHz 16-bit
    pieces/<stream>/NNN.wav    the stream cut where each turn's voice ends, for the released builder
    online.jsonl | stream2m.jsonl
                               the released builder's input lines over those pieces

A stream longer than ``max_tokens`` (the trainer's ``max_seq_length``, 4096) is cut at turn boundaries into
several lines, each a session of its own (prefix, then its chunks); a line that still does not fit (one
turn longer than the cap) is counted and reported, since the trainer would silently cut it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from streamaudio.protocol import (
    CHUNK_SAMPLES,
    FRAME_SAMPLES,
    FRAMES_PER_CHUNK,
    NO_RESPONSE,
    SAMPLE_RATE,
    SYSTEM_PROMPT,
    reply_chunk,
)
from streamaudio.render.sample_json import StreamJSON
from streamaudio.use.reader import iter_samples, shard_paths
from streamaudio.use.tokens import Encode, layout, reply_tokens, session_prefix

FORMATS = ("online", "stream2m")
MAX_TOKENS = 4096  # the released trainer's max_seq_length
LISTEN_TOKENS = 2 + FRAMES_PER_CHUNK  # AUDIO_BEGIN PAD×10 ASSISTANT


@dataclass
class ExportResult:
    streams: int = 0
    turns: int = 0
    lines: int = 0
    split_streams: int = 0  # streams cut into several lines to fit max_tokens
    over_limit: list[str] = field(default_factory=list)  # lines longer than max_tokens all the same
    files: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class Line:
    """One training line: chunks ``[start, stop)`` of a stream."""

    id: str
    start: int
    stop: int


def voice_end_frame(meta: StreamJSON, turn: dict[str, Any]) -> int:
    """The frame after which the released builder's rule puts this turn's decision on the turn's chunk:
    the first whole frame after its trigger event, moved on by as many chunks as the turn replies late
    (the stream's reply delay, and the turn's own)."""
    end = meta["events"][turn["event"]]["end_sample"]
    late = turn["chunk"] - reply_chunk(end)
    return -(-end // FRAME_SAMPLES) + FRAMES_PER_CHUNK * late


def turn_cuts(meta: StreamJSON) -> list[int]:
    """Sample positions where each turn's piece ends (whole frames), then the end of the stream."""
    cuts = [voice_end_frame(meta, t) * FRAME_SAMPLES for t in meta["turns"]]
    return [*cuts, meta["num_chunks"] * CHUNK_SAMPLES]


def chunk_tokens(meta: StreamJSON, encode: Encode) -> list[int]:
    """Tokens each chunk of the stream takes in a training line."""
    replies = {t["chunk"]: t for t in meta["turns"] if t["respond"]}
    return [LISTEN_TOKENS + len(reply_tokens(replies.get(c), encode)) for c in range(meta["num_chunks"])]


def plan_lines(meta: StreamJSON, encode: Encode, max_tokens: int) -> list[Line]:
    """Cut a stream at turn boundaries (after a turn's decision chunk) into lines of at most ``max_tokens``.

    Greedy: each line runs to the furthest boundary that fits. Where even the next boundary does not fit,
    the line runs to it anyway (it is reported as over the limit).
    """
    prefix = len(session_prefix(encode, meta.get("system_prompt", SYSTEM_PROMPT)))
    costs = np.cumsum([0, *chunk_tokens(meta, encode)])
    n = meta["num_chunks"]
    if prefix + costs[n] <= max_tokens:
        return [Line(meta["id"], 0, n)]
    bounds = sorted({t["chunk"] + 1 for t in meta["turns"] if t["chunk"] + 1 < n} | {n})
    spans, start = [], 0
    while start < n:
        ahead = [b for b in bounds if b > start]
        fitting = [b for b in ahead if prefix + costs[b] - costs[start] <= max_tokens]
        stop = fitting[-1] if fitting else ahead[0]
        spans.append((start, stop))
        start = stop
    return [Line(f"{meta['id']}-{k:02d}", a, b) for k, (a, b) in enumerate(spans)]


def turn_audio_end_map(meta: StreamJSON, line: Line) -> dict[str, int]:
    """``turn_K`` -> the number of audio chunks up to and including the K-th reply of the line.

    The released trainer (``_truncate_to_random_turn``) may cut a line after such a count of chunks and the
    next TEXT_END; only replies are listed, since after a silent turn the next TEXT_END lies chunks later.
    """
    chunks = sorted(
        t["chunk"] for t in meta["turns"] if t["respond"] and line.start <= t["chunk"] < line.stop
    )
    return {f"turn_{k}": c - line.start + 1 for k, c in enumerate(chunks)}


def _user_text(event: dict[str, Any]) -> str:
    if event.get("text"):
        return event["text"]
    names = event.get("label_names") or event.get("labels") or []
    return f"<{event['kind']}: {', '.join(names)}>" if names else f"<{event['kind']}>"


class FeatureWriter:
    """``AudioFeat.pt`` of a line's audio as the released feature step writes it: whisper's log-mel over
    the whole audio, the audio tower over runs of 40 mel frames, its ``last_hidden_state``."""

    def __init__(self, checkpoint: Path, device: str = "cpu") -> None:
        from streamaudio.use.harness.checkpoint import load_encoder, torch_device

        self.encoder = load_encoder(checkpoint).to(torch_device(device))

    def __call__(self, audio: np.ndarray, folder: Path) -> None:
        import torch

        from streamaudio.use.harness.checkpoint import encode_mel
        from streamaudio.use.harness.logmel import log_mel

        features = encode_mel(self.encoder, log_mel(audio))
        folder.mkdir(parents=True, exist_ok=True)
        torch.save(features.detach().cpu(), folder / "AudioFeat.pt")


def export_upstream(
    targets: list[Path],
    to: Path,
    fmt: str = "online",
    encode: Encode | None = None,
    features: Callable[[np.ndarray, Path], None] | None = None,
    max_tokens: int = MAX_TOKENS,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write the folder described in the module docstring; tokens only with ``encode``, features only with
    ``features``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    to = to.resolve()
    for sub in ("wavs", "pieces", "features"):
        (to / sub).mkdir(parents=True, exist_ok=True)
    result = ExportResult(files=[to / f"{fmt}.jsonl"])
    outputs = {"lines": to / f"{fmt}.jsonl"}
    if encode:
        (to / "tokens").mkdir(exist_ok=True)
        outputs["tokens"] = to / "tokens" / "tokens.jsonl"
        result.files.append(outputs["tokens"])
    if features is None:  # the WAVs for the released feature step
        outputs["step2"] = to / "step2.jsonl"
        result.files.append(outputs["step2"])
    files = {name: open(path, "w", encoding="utf-8") for name, path in outputs.items()}  # noqa: SIM115
    try:
        for sample in _samples(targets):
            audio, _ = sample.audio()
            meta = sample.meta
            pieces = _write_pieces(to / "pieces" / sample.key, audio, meta)
            files["lines"].write(json.dumps(_line(meta, pieces, fmt), ensure_ascii=False) + "\n")
            lines = (
                plan_lines(meta, encode, max_tokens) if encode else [Line(meta["id"], 0, meta["num_chunks"])]
            )
            result.split_streams += len(lines) > 1
            for line in lines:
                part = audio[line.start * CHUNK_SAMPLES : line.stop * CHUNK_SAMPLES]
                wav = to / "wavs" / f"{line.id}.wav"
                sf.write(wav, part, SAMPLE_RATE, subtype="PCM_16")
                folder = to / "features" / line.id
                if features is not None:
                    features(part, folder)
                else:  # the folder the released feature step will fill
                    folder.mkdir(parents=True, exist_ok=True)
                    step2 = {"idx": line.id, "concat_wav_path": str(wav)}
                    files["step2"].write(json.dumps(step2) + "\n")
                if encode:
                    tok = layout(meta, encode, line.start, line.stop)
                    if len(tok.input_ids) > max_tokens:
                        result.over_limit.append(line.id)
                    record = {
                        "tasks": "online",
                        "idx": line.id,
                        "input_ids": tok.input_ids,
                        "labels": tok.labels,
                        "audio_pos": [list(p) for p in tok.audio_pos],
                        "pt_path_dir": str(folder),
                        "turn_audio_end_map": turn_audio_end_map(meta, line),
                    }
                    files["tokens"].write(json.dumps(record) + "\n")
                result.lines += 1
            result.streams += 1
            result.turns += len(meta["turns"])
            if progress:
                progress(result.streams)
    finally:
        for f in files.values():
            f.close()
    return result


def _samples(targets: list[Path]) -> Iterator[Any]:
    for tar in shard_paths(targets):
        yield from iter_samples(tar)


def _write_pieces(folder: Path, audio: np.ndarray, meta: StreamJSON) -> list[tuple[Path, dict | None]]:
    """One WAV per turn, ending where its voice ends (whole frames), and the tail after the last one."""
    folder.mkdir(parents=True, exist_ok=True)
    pieces = []
    start = 0
    turns = meta["turns"]
    for k, end in enumerate(turn_cuts(meta)):
        if end <= start:
            continue
        path = folder / f"{k:03d}.wav"
        sf.write(path, audio[start:end], SAMPLE_RATE, subtype="PCM_16")
        pieces.append((path, turns[k] if k < len(turns) else None))
        start = end
    return pieces


def _item(turn: dict[str, Any], path: Path) -> dict[str, Any]:
    respond = bool(turn["respond"])
    return {
        "audio_path": str(path),
        "assistant": turn["text"] if respond else NO_RESPONSE,
        "emotion": turn.get("emotion", "normal") if respond else "normal",
    }


def _line(meta: StreamJSON, pieces: list[tuple[Path, dict | None]], fmt: str) -> dict[str, Any]:
    """The builder's line: one item per turn; the audio after the last turn is ``tail_audio_path``."""
    events = meta["events"]
    items = []
    tail = None
    for path, turn in pieces:
        if turn is None:
            tail = str(path)
            continue
        item = _item(turn, path)
        if fmt == "stream2m":
            event = events[turn["event"]]
            item = {"user": _user_text(event), **item, "scene_type": event["kind"]}
        items.append(item)
    if fmt == "online":
        return {"id": meta["id"], "conversation": items, "tail_audio_path": tail}
    return {
        "id": meta["id"],
        "stream_scene_type": meta["capability"],
        "num_turns": len(items),
        "turns": items,
        "tail_audio_path": tail,
    }

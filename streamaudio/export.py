"""Export a corpus in the forms the Audio-Interaction code consumes (DESIGN.md section 1).

Per stream: the whole stream as WAV, and one WAV per turn cut at the end of the turn's reply chunk,
so that the pieces are whole chunks and concatenate back into the stream exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import soundfile as sf

from streamaudio import protocol as P
from streamaudio.reader import iter_samples, shard_paths
from streamaudio.tokens import Encode, layout

FORMATS = ("online", "stream2m")


@dataclass
class ExportResult:
    streams: int = 0
    turns: int = 0
    files: list[Path] | None = None


def load_tokenizer(path: Path) -> Encode:
    """A Hugging Face ``tokenizer.json`` as an encode function (no special tokens)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    return lambda text: tokenizer.encode(text, add_special_tokens=False).ids


def turn_cuts(meta: dict[str, Any]) -> list[int]:
    """Sample positions where each turn's piece ends: the end of its reply chunk; the tail ends the stream."""
    cuts = [(t["chunk"] + 1) * P.CHUNK_SAMPLES for t in meta["turns"]]
    end = meta["num_chunks"] * P.CHUNK_SAMPLES
    return [*cuts, end] if not cuts or cuts[-1] < end else cuts


def _user_text(event: dict[str, Any]) -> str:
    if event.get("text"):
        return event["text"]
    names = event.get("label_names") or event.get("labels") or []
    return f"<{event['kind']}: {', '.join(names)}>" if names else f"<{event['kind']}>"


def export_upstream(
    targets: list[Path],
    to: Path,
    fmt: str = "online",
    encode: Encode | None = None,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write ``wavs/``, ``<format>.jsonl`` and, with a tokenizer, ``tokens.jsonl`` under ``to``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    wavs = to / "wavs"
    wavs.mkdir(parents=True, exist_ok=True)
    result = ExportResult(files=[to / f"{fmt}.jsonl"])
    tokens_file = open(to / "tokens.jsonl", "w", encoding="utf-8") if encode else None  # noqa: SIM115
    if tokens_file:
        result.files.append(to / "tokens.jsonl")
    try:
        with open(to / f"{fmt}.jsonl", "w", encoding="utf-8") as lines:
            for tar in shard_paths(targets):
                for sample in iter_samples(tar):
                    audio, sr = sample.audio()
                    meta = sample.meta
                    stream_wav = wavs / f"{sample.key}.wav"
                    sf.write(stream_wav, audio, sr, subtype="PCM_16")
                    pieces = _write_pieces(wavs / sample.key, audio, sr, meta)
                    lines.write(json.dumps(_line(meta, pieces, fmt), ensure_ascii=False) + "\n")
                    if tokens_file:
                        tok = layout(meta, encode)
                        tokens_file.write(
                            json.dumps(
                                {
                                    "tasks": "online",
                                    "idx": sample.key,
                                    "input_ids": tok.input_ids,
                                    "labels": tok.labels,
                                    "audio_pos": [list(p) for p in tok.audio_pos],
                                    "pt_path_dir": str(stream_wav),
                                }
                            )
                            + "\n"
                        )
                    result.streams += 1
                    result.turns += len(pieces)
                    if progress:
                        progress(result.streams)
    finally:
        if tokens_file:
            tokens_file.close()
    return result


def _write_pieces(folder: Path, audio: Any, sr: int, meta: dict[str, Any]) -> list[tuple[Path, dict | None]]:
    """One WAV per turn (and one for a silent tail); returns (path, turn or None for the tail)."""
    folder.mkdir(exist_ok=True)
    pieces = []
    start = 0
    turns = meta["turns"]
    for k, end in enumerate(turn_cuts(meta)):
        path = folder / f"{k:03d}.wav"
        sf.write(path, audio[start:end], sr, subtype="PCM_16")
        pieces.append((path, turns[k] if k < len(turns) else None))
        start = end
    return pieces


def _line(meta: dict[str, Any], pieces: list[tuple[Path, dict | None]], fmt: str) -> dict[str, Any]:
    events = meta["events"]
    items = []
    for path, turn in pieces:
        respond = bool(turn and turn["respond"])
        item = {
            "audio_path": str(path),
            "assistant": turn["text"] if respond else P.NO_RESPONSE,
            "emotion": turn.get("emotion", "normal") if respond else "normal",
        }
        if fmt == "stream2m":
            event = events[turn["event"]] if turn else None
            item = {
                "user": _user_text(event) if event else "",
                **item,
                "scene_type": event["kind"] if event else "silence",
            }
        items.append(item)
    if fmt == "online":
        return {"id": meta["id"], "conversation": items}
    return {
        "id": meta["id"],
        "stream_scene_type": meta["capability"],
        "num_turns": len(items),
        "turns": items,
    }

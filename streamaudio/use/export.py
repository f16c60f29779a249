"""Export a corpus in the forms the released Audio-Interaction code consumes (docs/protocol.md).

Under the target folder:

    tokens/tokens.jsonl        training lines for the released trainer (with a tokenizer): input_ids, labels,
                               audio_pos, pt_path_dir, turn_audio_end_map; the only *.jsonl in its folder,
                               because the trainer reads every *.jsonl of a data folder
    features/<line>/AudioFeat.pt
                               the audio tower's output over the line's whole audio (with --checkpoint);
                               without one, step2.jsonl lists the WAVs for the released feature step
    wavs/<line>.wav            each training line's audio, 16 kHz 16-bit
    pieces/<stream>/*.wav      the stream cut where each turn's voice ends, for the released builder
    online.jsonl | stream2m.jsonl
                               the released builder's input lines over those pieces (builder_lines.py)

Streams are cut at turn boundaries into lines that fit (lines.py): the trainer's lines in ``max_tokens``
(the trainer's ``max_seq_length``, 4096) and ``max_turns`` turn-map entries, the builder's in
``max_tokens`` with the most noise the builder adds. A line that still does not fit (one turn longer than
the cap) is counted and reported, since the trainer would silently cut it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from streamaudio.protocol import CHUNK_SAMPLES, SAMPLE_RATE, TEXT_BEGIN
from streamaudio.render.sample_json import StreamJSON
from streamaudio.use.builder_lines import FORMATS, builder_line, write_pieces
from streamaudio.use.lines import (
    MAX_TOKENS,
    MAX_TURNS,
    Line,
    LineCosts,
    Reach,
    plan_lines,
    turn_audio_end_map,
)
from streamaudio.use.reader import iter_samples, shard_paths
from streamaudio.use.tokens import Encode, TokenLayout, layout


@dataclass
class ExportResult:
    streams: int = 0
    turns: int = 0
    lines: int = 0
    split_streams: int = 0  # streams cut into several trainer lines to fit max_tokens and max_turns
    over_limit: list[str] = field(default_factory=list)  # trainer lines longer than max_tokens all the same
    builder_lines: int = 0
    builder_split_streams: int = 0
    builder_over_limit: list[str] = field(default_factory=list)  # builder lines that may pass max_tokens
    reach: Reach = field(default_factory=Reach)  # of the trainer's lines
    files: list[Path] = field(default_factory=list)


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
    max_turns: int | None = MAX_TURNS,
) -> ExportResult:
    """Write the folder described in the module docstring; tokens only with ``encode``, features only with
    ``features``. ``max_turns`` caps the trainer lines' turn-map entries (None: no cap)."""
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
            cost = LineCosts(meta, encode)  # the stream's tokens per chunk, for both kinds of line
            _write_builder_lines(
                files["lines"], to / "pieces" / sample.key, audio, meta, fmt, max_tokens, cost, result
            )
            lines = (
                plan_lines(meta, encode, max_tokens, max_turns, cost=cost)
                if encode
                else [Line(meta["id"], 0, meta["num_chunks"])]
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
                    files["tokens"].write(
                        json.dumps(_token_line(meta, line, encode, folder, max_tokens, result)) + "\n"
                    )
                result.lines += 1
            result.streams += 1
            result.turns += len(meta["turns"])
            if progress:
                progress(result.streams)
    finally:
        for f in files.values():
            f.close()
    return result


def _write_builder_lines(
    out: Any,
    folder: Path,
    audio: np.ndarray,
    meta: StreamJSON,
    fmt: str,
    max_tokens: int,
    cost: LineCosts,
    result: ExportResult,
) -> None:
    """The stream's builder lines, cut so that with the most noise the builder adds each stays within
    ``max_tokens`` (replies counted as ``cost`` counts them: by the tokenizer, or without one by a bound)."""
    lines = plan_lines(meta, None, max_tokens, None, builder=True, cost=cost)
    result.builder_split_streams += len(lines) > 1
    for line in lines:
        if cost.tokens(line.start, line.stop, builder=True) > max_tokens:
            result.builder_over_limit.append(line.id)
        pieces = write_pieces(folder, audio, meta, line)
        out.write(json.dumps(builder_line(meta, line, pieces, fmt), ensure_ascii=False) + "\n")
        result.builder_lines += 1


def _token_line(
    meta: StreamJSON, line: Line, encode: Encode, folder: Path, max_tokens: int, result: ExportResult
) -> dict[str, Any]:
    """The trainer's line of ``line``; counts it in the result (over the limit, reachable chunks)."""
    tok = layout(meta, encode, line.start, line.stop)
    if len(tok.input_ids) > max_tokens:
        result.over_limit.append(line.id)
    turn_map = turn_audio_end_map(meta, line)
    result.reach.add(*_chunk_labels(tok), turn_map, max_tokens)
    return {
        "tasks": "online",
        "idx": line.id,
        "input_ids": tok.input_ids,
        "labels": tok.labels,
        "audio_pos": [list(p) for p in tok.audio_pos],
        "pt_path_dir": str(folder),
        "turn_audio_end_map": turn_map,
    }


def _chunk_labels(tok: TokenLayout) -> tuple[list[int], list[bool]]:
    """Where each chunk's labels end in the line (the next chunk's AUDIO_BEGIN, or the line's end), and
    which chunks reply."""
    starts = [a - 1 for a, _ in tok.audio_pos[1:]]
    ends = [*starts, len(tok.input_ids)]
    replies = [tok.input_ids[b + 1] == TEXT_BEGIN for _, b in tok.audio_pos]
    return ends, replies


def _samples(targets: list[Path]) -> Iterator[Any]:
    for tar in shard_paths(targets):
        yield from iter_samples(tar)

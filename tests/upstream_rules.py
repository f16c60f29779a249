"""The released Audio-Interaction code's data rules, re-implemented line by line for the export tests.

Each function cites the lines of ``xzf-thu/Audio-Interaction`` (commit 30951392, ``src/audiointeraction/``)
it follows. They use nothing of streamaudio, so an export that passes them is read by that code as we mean.
"""

from __future__ import annotations

import glob
import json
import os
import random
from typing import Any

import numpy as np
import torch

MASK, PAD, TEXT_END, KEEP_SILENCE, TEXT_BEGIN = -100, 151608, 151643, 151605, 151644
MAX_TURNS = 10  # finetune/dataloader.py:27
NO_RESPONSE_MARKERS = {"<no need to response>", "no need to response"}  # dataset/cons_online_data.py:61


def scan(folder: str, check_audio_file: bool = True) -> tuple[list[dict[str, Any]], int]:
    """finetune/dataloader.py:125-170: every ``*.jsonl`` of the folder, blank lines skipped, and with
    ``check_audio_file`` (the trainer's default, train.py:113-120) lines whose AudioFeat.pt is missing."""
    items, skipped = [], 0
    for file_path in glob.glob(os.path.join(folder, "*.jsonl")):
        with open(file_path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                if check_audio_file and not _has_audio_feature(line):
                    skipped += 1
                    continue
                items.append(json.loads(line))
    return items, skipped


def _has_audio_feature(json_line: str) -> bool:
    """finetune/dataloader.py:161-170."""
    try:
        item = json.loads(json_line)
    except json.JSONDecodeError:
        return False
    pt_path_dir = item.get("pt_path_dir")
    if not pt_path_dir:
        return True
    return os.path.exists(os.path.join(pt_path_dir, "AudioFeat.pt"))


def truncate_to_turn(input_ids: list, labels: list, audio_pos: list, turn_map: dict, key: str) -> tuple:
    """finetune/dataloader.py:100-120 with the random choice made by the caller (``key``)."""
    if not [f"turn_{i}" for i in range(MAX_TURNS) if f"turn_{i}" in turn_map]:
        return input_ids, labels, audio_pos
    truncate_pos = turn_map[key]
    if not 0 < truncate_pos <= len(audio_pos):
        return input_ids, labels, audio_pos[:truncate_pos]
    last_audio_end = audio_pos[truncate_pos - 1][1]
    truncate_idx = next(
        (i + 1 for i in range(last_audio_end, len(input_ids)) if input_ids[i] == TEXT_END),
        None,
    )
    if truncate_idx is not None:
        input_ids = input_ids[:truncate_idx]
        labels = labels[:truncate_idx]
    return input_ids, labels, audio_pos[:truncate_pos]


def get_item(item: dict[str, Any], max_seq_len: int = 4096, turn: str | None = None) -> dict[str, Any]:
    """finetune/dataloader.py:49-87 (use_turn_map on, ``turn`` the drawn ``turn_K`` or None)."""
    input_ids, labels, audio_pos = item.get("input_ids", []), item.get("labels", []), item.get("audio_pos")
    turn_map = item.get("turn_audio_end_map")
    if turn is not None and audio_pos and turn_map:
        input_ids, labels, audio_pos = truncate_to_turn(input_ids, labels, audio_pos, turn_map, turn)
    pt_tensor: Any = [-1]
    pt_file = os.path.join(item.get("pt_path_dir", ""), "AudioFeat.pt")
    if audio_pos and os.path.exists(pt_file):
        pt_tensor = torch.load(pt_file, map_location="cpu")
    return {
        "cut": max(0, len(input_ids) - max_seq_len),  # tokens the trainer would drop
        "input_ids": input_ids[:max_seq_len] + [PAD] * (max_seq_len - len(input_ids)),
        "labels": labels[:max_seq_len] + [MASK] * (max_seq_len - len(labels)),
        "audio_pos": audio_pos,
        "pt_list": pt_tensor,
    }


def fill_online(audio_feats: torch.Tensor, segments: list, emb_dim: int, max_seq_length: int) -> torch.Tensor:
    """model.py:150-167: the feature rows the trainer writes into the PAD positions, chunk by chunk; raises
    ``ValueError`` where a chunk's features do not fit, as the trainer does."""
    x = torch.zeros(max_seq_length, emb_dim)
    for seg_idx, (start, end) in enumerate(segments):
        if start > max_seq_length:
            continue
        if end > max_seq_length:
            x[start:max_seq_length] = 0
            continue
        audio_feat = audio_feats[seg_idx * 10 : (seg_idx + 1) * 10]
        seg_len, feat_dim = audio_feat.shape
        if seg_len != end - start or feat_dim != emb_dim:
            raise ValueError(f"feature shape {tuple(audio_feat.shape)} != ({end - start}, {emb_dim})")
        x[start:end] = audio_feat
    return x


def output_len(num_samples: int) -> int:
    """dataset/utils/load_audio.py:19-54: encoder frames of a clip (padded to 160 samples, whisper's mel
    has ``len / 160`` frames, two stride-2 convolutions)."""
    padded = num_samples + (-num_samples) % 160
    mel_frames = padded // 160
    input_len = (mel_frames - 1) // 2 + 1
    return (input_len - 2) // 2 + 1


def builder_labels(turns: list[dict[str, Any]], tail_frames: int, leading: list[int] | None = None) -> str:
    """dataset/cons_online_data.py:309-336 (step 4): the chunk of every turn's decision, as S/B per chunk.

    ``turns`` carry ``audio_frames`` and ``assistant``; ``leading`` the noise frames the builder put before
    each turn (step 1 draws 20-60; 0 reproduces a stream whose pieces carry their own gaps).
    """
    leading = leading or [0] * len(turns)
    out: list[str] = []
    total_frames = 0
    for i, t in enumerate(turns):
        new_chunks = (total_frames + leading[i] + t["audio_frames"]) // 10 - total_frames // 10
        total_frames += leading[i] + t["audio_frames"]
        if i == 0:
            new_chunks += 1
        for j in range(new_chunks):
            reply = j == new_chunks - 1 and t["assistant"].strip().lower() not in NO_RESPONSE_MARKERS
            out.append("B" if reply else "S")
    tail = tail_frames - (total_frames + tail_frames) % 10  # step 2, cons_online_data.py:233-235
    if tail < 0:
        tail = (10 - (total_frames % 10)) % 10
    tail_chunks = (total_frames + tail) // 10 - total_frames // 10 - 1
    out.extend("S" * max(0, tail_chunks))
    return "".join(out)


def extract_turns(data_item: dict[str, Any]) -> list[dict[str, Any]]:
    """dataset/cons_online_data.py:105-121 (step 1): the turns the builder reads from an input line; a line
    it cannot read raises, and step 1 then drops it (:162-163)."""
    convs = data_item.get("conversation", [])
    if convs:
        return [
            {
                "audio_path": c["audio_path"],
                "assistant": c["assistant"],
                "emotion": c.get("emotion") or "normal",
            }
            for c in convs
        ]
    if "merge_path" in data_item and "assistant" in data_item:
        return [
            {
                "audio_path": data_item["merge_path"],
                "assistant": data_item["assistant"],
                "emotion": data_item.get("emotion", "normal"),
            }
        ]
    raise ValueError("missing 'conversation' or single-turn fields")


def builder_tokens(
    turns: list[dict[str, Any]], tail_frames: int, leading: list[int], encode: Any, system_ids: int
) -> int:
    """dataset/cons_online_data.py:309-351 (step 4): the length of the builder's token line; ``turns``
    carry ``audio_frames`` and ``assistant``, ``leading`` the noise frames put before each turn."""
    tokens = 5 + system_ids  # ONLINE ENGLISH SYSTEM TEXT_BEGIN <system> TEXT_END
    labels = builder_labels(turns, tail_frames, leading)
    replies = [t for t in turns if t["assistant"].strip().lower() not in NO_RESPONSE_MARKERS]
    tokens += 13 * len(labels)  # AUDIO_BEGIN PAD×10 ASSISTANT KEEP_SILENCE (a reply: its text instead)
    return tokens + sum(2 + len(encode(t["assistant"])) for t in replies)


def draw_turn(turn_map: dict[str, int], seed: int) -> str:
    """finetune/dataloader.py:104-108: the turn the trainer draws."""
    candidates = [f"turn_{i}" for i in range(MAX_TURNS) if f"turn_{i}" in turn_map]
    return random.Random(seed).choice(candidates)


def encoder_features(audio: np.ndarray, encoder: Any) -> torch.Tensor:
    """dataset/utils/extract_online_feature.py:40-48 with openai-whisper's own log-mel."""
    import whisper

    mel = whisper.log_mel_spectrogram(np.array(audio, dtype=np.float32), n_mels=128)
    len_feature = mel.shape[1]
    chunks = [40] * (len_feature // 40) + ([len_feature % 40] if len_feature % 40 else [])
    with torch.no_grad():
        return encoder(
            torch.as_tensor(mel), torch.tensor(chunks), torch.tensor((len_feature - 1) // 2 + 1)
        ).last_hidden_state

"""The token-level layout of a stream for Audio-Interaction training (docs/protocol.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamaudio import protocol as P

Encode = Callable[[str], list[int]]  # text -> token ids, no special tokens


@dataclass(frozen=True)
class TokenLayout:
    input_ids: list[int]
    labels: list[int]
    audio_pos: list[tuple[int, int]]  # per chunk, [start, end) of its PAD tokens


def session_prefix(encode: Encode, system_prompt: str = P.SYSTEM_PROMPT) -> list[int]:
    """``ONLINE ENGLISH SYSTEM TEXT_BEGIN <system prompt> TEXT_END`` (all labels masked)."""
    return [P.ONLINE, P.ENGLISH, P.SYSTEM, P.TEXT_BEGIN, *encode(system_prompt), P.TEXT_END]


def layout(meta: dict[str, Any], encode: Encode, start: int = 0, stop: int | None = None) -> TokenLayout:
    """Token ids, labels and audio positions of a stream sample's JSON, or of its chunks ``[start, stop)``
    as a session of their own."""
    replies = {t["chunk"]: t for t in meta["turns"] if t["respond"]}
    ids = session_prefix(encode, meta.get("system_prompt", P.SYSTEM_PROMPT))
    labels = [P.IGNORE_INDEX] * len(ids)
    audio_pos: list[tuple[int, int]] = []
    for chunk in range(start, meta["num_chunks"] if stop is None else stop):
        listen = [P.AUDIO_BEGIN, *([P.PAD] * P.FRAMES_PER_CHUNK), P.ASSISTANT]
        audio_pos.append((len(ids) + 1, len(ids) + 1 + P.FRAMES_PER_CHUNK))
        ids += listen
        labels += [P.IGNORE_INDEX] * len(listen)
        ids_answer = reply_tokens(replies.get(chunk), encode)
        ids += ids_answer
        labels += ids_answer
    return TokenLayout(ids, labels, audio_pos)


def reply_tokens(turn: dict[str, Any] | None, encode: Encode) -> list[int]:
    """What follows ``ASSISTANT`` in a chunk: KEEP_SILENCE, or ``TEXT_BEGIN EMOTION <text> TEXT_END``."""
    if turn is None:
        return [P.KEEP_SILENCE]
    emotion = P.EMOTION_TOKENS[P.normalize_emotion(turn.get("emotion"))]
    return [P.TEXT_BEGIN, emotion, *encode(turn["text"]), P.TEXT_END]

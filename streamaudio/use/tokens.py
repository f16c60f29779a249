"""The token-level layout of a stream for Audio-Interaction training (docs/protocol.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamaudio.errors import StreamAudioError
from streamaudio.protocol import (
    ASSISTANT,
    AUDIO_BEGIN,
    AUDIO_END,
    AUDIO_PAD,
    EMOTION_TOKENS,
    ENGLISH,
    FRAMES_PER_CHUNK,
    IGNORE_INDEX,
    KEEP_SILENCE,
    ONLINE,
    PAD,
    SYSTEM,
    SYSTEM_PROMPT,
    TEXT_BEGIN,
    TEXT_END,
    normalize_emotion,
)
from streamaudio.render.sample_json import StreamJSON

Encode = Callable[[str], list[int]]  # text -> token ids, no special tokens
# ids the protocol gives to tokens the tokenizer must hold as special tokens (Qwen2.5's layout)
SPECIAL_IDS = {
    "TEXT_END": TEXT_END,
    "TEXT_BEGIN": TEXT_BEGIN,
    "AUDIO_PAD": AUDIO_PAD,
    "AUDIO_BEGIN": AUDIO_BEGIN,
    "AUDIO_END": AUDIO_END,
}


class TokenizerError(StreamAudioError, ValueError):
    """A tokenizer.json that cannot be read or is not the protocol's vocabulary; one line saying why."""


@dataclass(frozen=True)
class TokenLayout:
    input_ids: list[int]
    labels: list[int]
    audio_pos: list[tuple[int, int]]  # per chunk, [start, end) of its PAD tokens


def session_prefix(encode: Encode, system_prompt: str = SYSTEM_PROMPT) -> list[int]:
    """``ONLINE ENGLISH SYSTEM TEXT_BEGIN <system prompt> TEXT_END`` (all labels masked)."""
    return [ONLINE, ENGLISH, SYSTEM, TEXT_BEGIN, *encode(system_prompt), TEXT_END]


def layout(meta: StreamJSON, encode: Encode, start: int = 0, stop: int | None = None) -> TokenLayout:
    """Token ids, labels and audio positions of a stream sample's JSON, or of its chunks ``[start, stop)``
    as a session of their own."""
    replies = {t["chunk"]: t for t in meta["turns"] if t["respond"]}
    ids = session_prefix(encode, meta.get("system_prompt", SYSTEM_PROMPT))
    labels = [IGNORE_INDEX] * len(ids)
    audio_pos: list[tuple[int, int]] = []
    for chunk in range(start, meta["num_chunks"] if stop is None else stop):
        listen = [AUDIO_BEGIN, *([PAD] * FRAMES_PER_CHUNK), ASSISTANT]
        audio_pos.append((len(ids) + 1, len(ids) + 1 + FRAMES_PER_CHUNK))
        ids += listen
        labels += [IGNORE_INDEX] * len(listen)
        ids_answer = reply_tokens(replies.get(chunk), encode)
        ids += ids_answer
        labels += ids_answer
    return TokenLayout(ids, labels, audio_pos)


def reply_tokens(turn: dict[str, Any] | None, encode: Encode) -> list[int]:
    """What follows ``ASSISTANT`` in a chunk: KEEP_SILENCE, or ``TEXT_BEGIN EMOTION <text> TEXT_END``."""
    if turn is None:
        return [KEEP_SILENCE]
    emotion = EMOTION_TOKENS[normalize_emotion(turn.get("emotion"))]
    return [TEXT_BEGIN, emotion, *encode(turn["text"]), TEXT_END]


def load_tokenizer(path: Path) -> Any:
    """A Hugging Face ``tokenizer.json`` whose special ids are the protocol's; one line if it is not."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises its own Exception type for every parse problem
        raise TokenizerError(f"{path}: not a tokenizer.json ({str(exc).splitlines()[0]})") from None
    check_tokenizer(tokenizer, path)
    return tokenizer


def check_tokenizer(tokenizer: Any, path: Path) -> None:
    special = {i for i, t in tokenizer.get_added_tokens_decoder().items() if t.special}
    for name, token_id in SPECIAL_IDS.items():
        if token_id not in special:
            raise TokenizerError(
                f"{path}: not the Audio-Interaction tokenizer: id {token_id} ({name}) is not a special "
                "token there (it needs the released model's tokenizer.json, Qwen2.5's vocabulary)"
            )


def encode_text(tokenizer: Any) -> Any:
    """``text -> ids`` without special tokens, as the released code's Tokenizer.encode gives them."""
    return lambda text: tokenizer.encode(text, add_special_tokens=False).ids

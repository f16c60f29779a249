"""Cutting a stream into training lines at turn boundaries, for the released trainer and the released
builder alike, and what of each line the trainer can ever train on.

A line is chunks ``[start, stop)`` of a stream, a session of its own (prefix, then its chunks). Lines end
right after a turn's decision chunk, never inside a turn. Each takes the longest run of turns that fits:
in ``max_tokens`` (the trainer's ``max_seq_length``; through the builder, with the most noise the builder
can add), and for the trainer in ``max_turns`` entries of ``turn_audio_end_map``, the most the released
dataloader draws from (``turn_0`` … ``turn_9``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamaudio.protocol import FRAME_SAMPLES, FRAMES_PER_CHUNK, SYSTEM_PROMPT, reply_chunk
from streamaudio.render.sample_json import StreamJSON, TurnJSON
from streamaudio.use.tokens import Encode, reply_tokens, session_prefix

MAX_TOKENS = 4096  # the released trainer's max_seq_length
MAX_TURNS = 10  # the released dataloader draws a cut from turn_0 … turn_9 (finetune/dataloader.py:27, :104)
LISTEN_TOKENS = 2 + FRAMES_PER_CHUNK  # AUDIO_BEGIN PAD×10 ASSISTANT
# the released builder puts 20-60 frames of its own noise before every turn and draws a tail of as many,
# and gives the first turn one chunk more (dataset/cons_online_data.py:44-45, :331-334, :344-345)
BUILDER_NOISE_CHUNKS = 6


@dataclass(frozen=True)
class Line:
    """One training line: chunks ``[start, stop)`` of a stream."""

    id: str
    start: int
    stop: int


def voice_end_frame(meta: StreamJSON, turn: TurnJSON) -> int:
    """The frame after which the released builder's rule puts this turn's decision on the turn's chunk:
    the first whole frame after its trigger event, moved on by as many chunks as the turn replies late
    (the stream's reply delay, and the turn's own)."""
    end = meta["events"][turn["event"]]["end_sample"]
    late = turn["chunk"] - reply_chunk(end)
    return -(-end // FRAME_SAMPLES) + FRAMES_PER_CHUNK * late


def text_tokens(encode: Encode | None) -> Encode:
    """``encode``, or without a tokenizer a bound on any byte-level BPE's count: one id per UTF-8 byte."""
    return encode or (lambda text: [0] * len(text.encode("utf-8")))


def chunk_tokens(meta: StreamJSON, encode: Encode | None) -> list[int]:
    """Tokens each chunk of the stream takes in a training line."""
    replies = {t["chunk"]: t for t in meta["turns"] if t["respond"]}
    count = text_tokens(encode)
    return [LISTEN_TOKENS + len(reply_tokens(replies.get(c), count)) for c in range(meta["num_chunks"])]


class LineCosts:
    """What a line ``[start, stop)`` of a stream costs: its tokens (through the builder, at most), and its
    number of ``turn_audio_end_map`` entries."""

    def __init__(self, meta: StreamJSON, encode: Encode | None) -> None:
        self.prefix = len(session_prefix(text_tokens(encode), meta.get("system_prompt", SYSTEM_PROMPT)))
        self.costs = np.cumsum([0, *chunk_tokens(meta, encode)])
        self.turns = np.array(sorted(t["chunk"] for t in meta["turns"]), dtype=np.int64)
        self.replies = sorted(t["chunk"] for t in meta["turns"] if t["respond"])

    def tokens(self, start: int, stop: int, builder: bool = False) -> int:
        tokens = int(self.prefix + self.costs[stop] - self.costs[start])
        if builder:  # the builder's noise before each turn and its tail, and the first turn's extra chunk
            turns = int(np.count_nonzero((self.turns >= start) & (self.turns < stop)))
            tokens += (LISTEN_TOKENS + 1) * (BUILDER_NOISE_CHUNKS * (turns + 1) + 1)
        return tokens

    def entries(self, start: int, stop: int) -> int:
        """One per reply, and one for the line's end when a silent chunk follows its last reply."""
        inside = [c for c in self.replies if start <= c < stop]
        return len(inside) + (not inside or inside[-1] != stop - 1)


def plan_lines(
    meta: StreamJSON,
    encode: Encode | None,
    max_tokens: int = MAX_TOKENS,
    max_turns: int | None = MAX_TURNS,
    builder: bool = False,
    cost: LineCosts | None = None,
) -> list[Line]:
    """Cut a stream at turn boundaries into lines of at most ``max_tokens`` and ``max_turns`` map entries
    (None: no limit); ``builder`` counts the noise the released builder adds (and no map: it writes none);
    ``cost``: the stream's ``LineCosts`` when the caller has them already.

    Greedy: each line runs to the furthest boundary that fits. Where even the next boundary does not fit,
    the line runs to it anyway (it is reported as over the limit).
    """
    n = meta["num_chunks"]
    cost = cost or LineCosts(meta, encode)

    def fits(start: int, stop: int) -> bool:
        if cost.tokens(start, stop, builder) > max_tokens:
            return False
        return builder or max_turns is None or cost.entries(start, stop) <= max_turns

    if fits(0, n):
        return [Line(meta["id"], 0, n)]
    bounds = sorted({*_boundaries(meta), n})
    spans, start = [], 0
    while start < n:
        ahead = [b for b in bounds if b > start]
        fitting = [b for b in ahead if fits(start, b)]
        stop = fitting[-1] if fitting else ahead[0]
        spans.append((start, stop))
        start = stop
    return [Line(f"{meta['id']}-{k:02d}", a, b) for k, (a, b) in enumerate(spans)]


def _boundaries(meta: StreamJSON) -> list[int]:
    """Chunks a line may start at: right after a turn's decision chunk, where every later turn's piece
    still holds audio of its own (its voice ends after that chunk's end)."""
    turns = meta["turns"]
    ends = [(t["chunk"], voice_end_frame(meta, t)) for t in turns]
    out = []
    for t in turns:
        b = t["chunk"] + 1
        if b < meta["num_chunks"] and all(end > b * FRAMES_PER_CHUNK for chunk, end in ends if chunk >= b):
            out.append(b)
    return out


def turn_audio_end_map(meta: StreamJSON, line: Line) -> dict[str, int]:
    """``turn_K`` -> a number of audio chunks the released trainer may cut the line after (with the next
    TEXT_END): each reply's chunk, then the line's end when silent chunks follow the last reply, so that
    the longest cut keeps the whole line.

    After a silent turn the next TEXT_END lies chunks later, so silent turns are not listed.
    """
    chunks = sorted(
        t["chunk"] for t in meta["turns"] if t["respond"] and line.start <= t["chunk"] < line.stop
    )
    ends = [c - line.start + 1 for c in chunks]
    if not ends or ends[-1] != line.stop - line.start:
        ends.append(line.stop - line.start)
    return {f"turn_{k}": end for k, end in enumerate(ends)}


@dataclass
class Reach:
    """Chunks and replies of the trainer's lines, and how many of them the released dataloader can ever
    train on, with ``use_turn_map`` on (its default) and off."""

    chunks: int = 0
    replies: int = 0
    chunks_on: int = 0
    replies_on: int = 0
    chunks_off: int = 0
    replies_off: int = 0

    def add(
        self, chunk_ends: list[int], reply: list[bool], turn_map: dict[str, int], max_tokens: int
    ) -> None:
        """A line: the token position where each chunk's label ends, which chunks reply, its map."""
        kept = sum(1 for end in chunk_ends if end <= max_tokens)  # the trainer cuts at max_seq_length
        drawn = [turn_map[f"turn_{i}"] for i in range(MAX_TURNS) if f"turn_{i}" in turn_map]
        on = min(kept, max(drawn)) if drawn else kept
        self.chunks += len(chunk_ends)
        self.replies += sum(reply)
        self.chunks_off += kept
        self.replies_off += sum(reply[:kept])
        self.chunks_on += on
        self.replies_on += sum(reply[:on])

    def shares(self) -> dict[str, float]:
        def share(part: int, whole: int) -> float:
            return part / whole if whole else 1.0

        return {
            "chunks_on": share(self.chunks_on, self.chunks),
            "replies_on": share(self.replies_on, self.replies),
            "chunks_off": share(self.chunks_off, self.chunks),
            "replies_off": share(self.replies_off, self.replies),
        }

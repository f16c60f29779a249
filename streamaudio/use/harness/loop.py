"""The streaming loop of the protocol: a FIFO of 0.4 s chunks and at most one reply (TEXT_BEGIN …
TEXT_END) per chunk, emitted whole after the chunk that triggered it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from streamaudio.protocol import CHUNK_SAMPLES
from streamaudio.render.sample_json import StreamJSON


@dataclass(frozen=True)
class Reply:
    """What a backend says after a chunk: text (may be empty for backends without language) and emotion."""

    text: str
    emotion: str = "normal"


@dataclass(frozen=True)
class Emission:
    chunk: int
    text: str
    emotion: str


class Backend(Protocol):
    """A model behind the loop: told about each stream, then fed its chunks one by one."""

    name: str

    def start(self, meta: StreamJSON) -> None:
        """A new stream; a backend with ``whole_stream = True`` is also given its audio (``audio=``), as
        the released offline generator encodes a whole file before it decides."""

    def step(self, chunk: np.ndarray, index: int) -> Reply | None: ...


class ChunkFifo:
    """Collects audio as it arrives and hands out whole 6400-sample chunks; a partial tail stays inside."""

    def __init__(self) -> None:
        self._parts: list[np.ndarray] = []
        self._held = 0

    def push(self, audio: np.ndarray) -> None:
        self._parts.append(audio)
        self._held += audio.size

    def chunks(self) -> Iterable[np.ndarray]:
        if self._held < CHUNK_SAMPLES:
            return
        data = np.concatenate(self._parts)
        whole = data.size // CHUNK_SAMPLES * CHUNK_SAMPLES
        rest = data[whole:]
        self._parts, self._held = ([rest] if rest.size else []), rest.size
        yield from data[:whole].reshape(-1, CHUNK_SAMPLES)


def run_stream(audio: np.ndarray, meta: StreamJSON, backend: Backend, arrival: int = 1600) -> list[Emission]:
    """Feed a stream in ``arrival``-sample pieces (as a microphone would) through the FIFO and the backend.

    After each whole chunk the backend decides; a reply's text is emitted whole after that chunk, and
    the next chunk is heard as usual.
    """
    if getattr(backend, "whole_stream", False):
        backend.start(meta, audio=audio)
    else:
        backend.start(meta)
    fifo = ChunkFifo()
    emitted: list[Emission] = []
    index = 0
    for start in range(0, audio.size, arrival):
        fifo.push(audio[start : start + arrival])
        for chunk in fifo.chunks():
            reply = backend.step(chunk, index)  # a reply is emitted whole after its chunk: no chunk is missed
            if reply is not None:
                emitted.append(Emission(index, reply.text, reply.emotion))
            index += 1
    return emitted

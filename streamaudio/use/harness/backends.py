"""Backends: ``oracle`` replays the labels; ``vad`` is a cascaded baseline that answers every end of
speech silero VAD hears, knowing nothing of what was said."""

from __future__ import annotations

from typing import Any

import numpy as np

from streamaudio.protocol import LABEL_REPLY
from streamaudio.render.sample_json import StreamJSON
from streamaudio.use.harness.errors import HarnessError
from streamaudio.use.harness.loop import Reply


class OracleBackend:
    """Replies exactly where the labels say, with the labelled text: proves the loop and the metrics."""

    name = "oracle"

    def start(self, meta: StreamJSON) -> None:
        self._replies = {t["chunk"]: t for t in meta["turns"] if t["respond"]}
        self._labels = meta["chunk_labels"]

    def step(self, chunk: np.ndarray, index: int) -> Reply | None:
        if index < len(self._labels) and self._labels[index] == LABEL_REPLY:
            turn = self._replies[index]
            return Reply(turn["text"], turn.get("emotion", "normal"))
        return None


class VadBackend:
    """End-of-speech detection with silero VAD run window by window, state kept across chunks.

    It replies on the chunk in which ``SILENCE_MS`` of non-speech follows at least ``SPEECH_MS`` of
    speech; it has no text to give.
    """

    name = "vad"
    SPEECH_MS = 300
    SILENCE_MS = 200

    def __init__(self) -> None:
        from streamaudio.check.vad import WINDOW, _session

        self._session = _session()
        self._window = WINDOW

    def start(self, meta: StreamJSON) -> None:
        from streamaudio.check.vad import CONTEXT

        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, CONTEXT), dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self._speech_ms = 0.0
        self._silence_ms = 0.0

    def _probabilities(self, audio: np.ndarray) -> list[float]:
        from streamaudio.check.vad import CONTEXT

        data = np.concatenate([self._pending, audio.astype(np.float32)])
        n = data.size // self._window
        self._pending = data[n * self._window :]
        sr = np.array(16000, dtype=np.int64)
        probs = []
        for w in data[: n * self._window].reshape(n, self._window):
            x = np.concatenate([self._context, w[None, :]], axis=1)
            out, self._state = self._session.run(None, {"input": x, "state": self._state, "sr": sr})
            self._context = x[:, -CONTEXT:]
            probs.append(float(out[0, 0]))
        return probs

    def step(self, chunk: np.ndarray, index: int) -> Reply | None:
        from streamaudio.check.vad import SPEECH

        window_ms = 1000 * self._window / 16000
        ended = False
        for p in self._probabilities(chunk):
            if p > SPEECH:
                self._speech_ms += window_ms
                self._silence_ms = 0.0
            elif self._speech_ms:
                self._silence_ms += window_ms
                if self._silence_ms >= self.SILENCE_MS:
                    ended = ended or self._speech_ms >= self.SPEECH_MS
                    self._speech_ms = self._silence_ms = 0.0
        return Reply("") if ended else None


def make_backend(name: str, **options: Any) -> Any:
    if name == "oracle":
        return OracleBackend()
    if name == "vad":
        return VadBackend()
    if name == "audio-interaction":
        from streamaudio.use.harness.audio_interaction import AudioInteractionBackend

        return AudioInteractionBackend(**options)
    raise HarnessError(f"unknown backend {name!r}; choose from oracle, vad, audio-interaction")

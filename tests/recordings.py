"""Real recorded audio from Debian packages (pocketsphinx-testdata, alsa-utils, sound-theme-freedesktop,
bucklespring-data), which .ci/run installs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
ALSA = Path("/usr/share/sounds/alsa")
FREEDESKTOP = Path("/usr/share/sounds/freedesktop/stereo")
BUCKLE = Path("/usr/share/buckle/wav")


def require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: install the Debian packages that .ci/run installs")
    return path


def librivox() -> list[tuple[Path, str]]:
    """(wav, transcript) of the LibriVox utterances."""
    out = []
    for line in require(LIBRIVOX / "transcription").read_text().splitlines():
        text, _, ident = line.rpartition("(")
        words = text.replace("<s>", "").replace("</s>", "").strip()
        out.append((LIBRIVOX / f"{ident.strip(') ')}.wav", words))
    return out


def write_as(src: Path, dst: Path, sample_rate: int, channels: int = 1, fmt: str | None = None) -> Path:
    """Re-encode a recording at another rate / channel count / format."""
    audio, sr = sf.read(src, dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    if sr != sample_rate:
        mono = soxr.resample(mono, sr, sample_rate)
    data = np.stack([mono] * channels, axis=1) if channels > 1 else mono
    dst.parent.mkdir(parents=True, exist_ok=True)
    sf.write(dst, data, sample_rate, format=fmt)
    return dst


def truncate(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path

"""Built-in noise beds made from numbers and speech: coloured noise, mains hum and babble."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from streamaudio.protocol import SAMPLE_RATE


def coloured_noise(seconds: float, exponent: float, seed: int) -> np.ndarray:
    """Noise with power spectrum ~ 1/f**exponent (0 white, 1 pink, 2 brown), unit RMS."""
    n = round(seconds * SAMPLE_RATE)
    rng = np.random.default_rng(seed)
    spectrum = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)
    freqs = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    freqs[0] = freqs[1]
    spectrum *= freqs ** (-exponent / 2.0)
    spectrum[0] = 0.0
    x = np.fft.irfft(spectrum, n)
    return (x / np.sqrt(np.mean(x**2))).astype(np.float32)


def mains_hum(seconds: float, base_hz: float, seed: int) -> np.ndarray:
    """Mains hum: a base tone with decaying odd and even harmonics, slow wobble and a little hiss."""
    n = round(seconds * SAMPLE_RATE)
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SAMPLE_RATE
    wobble = 1.0 + 0.1 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 2 * np.pi))
    x = np.zeros(n)
    for k in range(1, 9):
        x += (0.6**k) * np.sin(2 * np.pi * base_hz * k * t + rng.uniform(0, 2 * np.pi))
    x = x * wobble + 0.02 * rng.standard_normal(n)
    return (x / np.sqrt(np.mean(x**2))).astype(np.float32)


def babble(
    seconds: float, talkers: Sequence[tuple[str, str]], speak: Callable[[str, str], np.ndarray], seed: int
) -> np.ndarray:
    """Overlapped speech of several (text, voice) talkers, each looped to the length, unit RMS."""
    n = round(seconds * SAMPLE_RATE)
    rng = np.random.default_rng(seed)
    mix = np.zeros(n)
    for text, voice in talkers:
        clip = speak(text, voice)
        clip = clip / (np.sqrt(np.mean(clip**2)) + 1e-9)
        reps = -(-n // clip.size) + 1
        looped = np.tile(clip, reps)
        start = int(rng.integers(0, clip.size))
        mix += looped[start : start + n]
    return (mix / np.sqrt(np.mean(mix**2))).astype(np.float32)

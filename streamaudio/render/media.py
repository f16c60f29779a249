"""Speech as a TV or radio plays it into the room: band-limited by its loudspeaker, then reverberant."""

from __future__ import annotations

import numpy as np

from streamaudio.protocol import SAMPLE_RATE

ROLL_OFF_HZ = 100.0  # width of the raised-cosine edges of the pass band
TAIL_DB = 60.0  # the reverberation tail is kept until it has decayed this far


def pass_band(audio: np.ndarray, low_hz: float, high_hz: float) -> np.ndarray:
    """``audio`` through a loudspeaker's pass band (zero phase, raised-cosine edges)."""
    spectrum = np.fft.rfft(audio.astype(np.float64))
    freqs = np.fft.rfftfreq(audio.size, 1.0 / SAMPLE_RATE)
    gain = np.clip((freqs - (low_hz - ROLL_OFF_HZ)) / (2 * ROLL_OFF_HZ), 0.0, 1.0)
    gain *= np.clip(((high_hz + ROLL_OFF_HZ) - freqs) / (2 * ROLL_OFF_HZ), 0.0, 1.0)
    gain = 0.5 - 0.5 * np.cos(np.pi * gain)
    return np.fft.irfft(spectrum * gain, n=audio.size)


def room_response(rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A diffuse room's impulse response: the direct sound, then noise decaying by 60 dB in ``rt60`` s."""
    n = max(1, int(rt60 * TAIL_DB / 60.0 * SAMPLE_RATE))
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.standard_normal(n) * 10 ** (-3.0 * t / rt60) * 0.3 / np.sqrt(SAMPLE_RATE * rt60 / 13.8)
    tail[0] = 1.0
    return tail


def broadcast(audio: np.ndarray, params: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """The voice as heard from a TV or radio across the room; longer than ``audio`` by its reverberation."""
    band = pass_band(audio, params["low_hz"], params["high_hz"])
    response = room_response(params["rt60"], rng)
    size = band.size + response.size - 1
    fft_size = 1 << (size - 1).bit_length()
    wet = np.fft.irfft(np.fft.rfft(band, fft_size) * np.fft.rfft(response, fft_size), fft_size)[:size]
    return wet.astype(np.float32)

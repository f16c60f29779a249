"""Whisper's 128-bin log-mel spectrogram, computed as Audio-Interaction computes it.

The released code calls openai-whisper's ``log_mel_spectrogram(audio, n_mels=128)``: a centred 400-point
Hann STFT with hop 160, the last frame dropped, power through a Slaney mel bank, ``log10`` floored at
1e-10, then floored again at 8 below the maximum *of the span given*, and scaled as ``(x + 4) / 4``.
Because of that last floor the values of a chunk depend on what else is in the span, so the harness
passes the whole audio heard so far, as the released web server does. The mel bank is the same Slaney
filter matrix that whisper ships (it was made with librosa); here it is computed by transformers'
``mel_filter_bank``, and a test holds the result equal to openai-whisper's own function.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

N_FFT = 400
HOP = 160
N_MELS = 128
MEL_FRAMES_PER_CHUNK = 40  # 0.4 s of mel frames: the encoder's unit in the released code


@cache
def _filters(n_mels: int) -> Any:
    import torch
    from transformers.audio_utils import mel_filter_bank

    bank = mel_filter_bank(
        num_frequency_bins=N_FFT // 2 + 1,
        num_mel_filters=n_mels,
        min_frequency=0.0,
        max_frequency=8000.0,
        sampling_rate=16_000,
        norm="slaney",
        mel_scale="slaney",
    )
    return torch.from_numpy(np.ascontiguousarray(bank.T, dtype=np.float32))


def log_mel(audio: np.ndarray, n_mels: int = N_MELS) -> Any:
    """``(n_mels, len(audio) // 160)`` float32 tensor of 16 kHz mono ``audio``, as whisper computes it."""
    import torch

    samples = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))
    window = torch.hann_window(N_FFT)
    stft = torch.stft(samples, N_FFT, HOP, window=window, return_complex=True)
    power = stft[..., :-1].abs() ** 2
    mel = _filters(n_mels) @ power
    spec = torch.clamp(mel, min=1e-10).log10()
    spec = torch.maximum(spec, spec.max() - 8.0)
    return (spec + 4.0) / 4.0

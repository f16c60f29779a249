"""Audio I/O: decode anything libsndfile reads to 16 kHz mono float32, encode FLAC, measure level."""

from __future__ import annotations

import os
import stat
import struct
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from streamaudio.errors import StreamAudioError
from streamaudio.protocol import SAMPLE_RATE

ACTIVE_FRAME = 320  # 20 ms analysis frames at 16 kHz
ACTIVE_FLOOR_DB = -60.0  # frames below this level are never active
ACTIVE_RANGE_DB = 40.0  # frames more than this below the loudest frame are inactive
_ACTIVE_FLOOR_POWER = 10.0 ** (ACTIVE_FLOOR_DB / 10.0)
_ACTIVE_RANGE_RATIO = 10.0 ** (-ACTIVE_RANGE_DB / 10.0)
INT16_SUBTYPES = frozenset({"PCM_16", "PCM_S8", "PCM_U8"})  # read as int16 exactly, then scaled
# soxr's 16-bit preset, matched to the 16-bit shards: flat to 7.4 kHz like "HQ" (20-bit), aliases at
# least 108 dB down (HQ: 136 dB; both below the 16-bit floor of 98 dB), and 25% faster from 48 kHz
RESAMPLE_QUALITY = "MQ"


class AudioError(StreamAudioError):
    """A clip that cannot be used; the message names the file and the problem, ``reason`` is the reject's."""

    def __init__(self, message: str, reason: str = "decode_error") -> None:
        super().__init__(message)
        self.reason = reason


MIN_RATE, MAX_RATE = 1000, 768_000  # sample rates outside these are a lying header, not audio
MIN_CLIP_SECONDS = 0.05  # shorter than any sound worth an event (a bell's ding is 0.14 s)
MIN_SPEECH_SECONDS = 0.2  # shorter than any spoken word
LENGTH_TOLERANCE = (0.5, 0.1)  # seconds and share: a decoded clip further from its row's length is refused


def to_mono_16k(data: np.ndarray, sample_rate: int) -> np.ndarray:
    """Downmix (frames, channels) or (frames,) audio and resample it to 16 kHz float32."""
    if data.ndim == 2:
        data = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    data = np.ascontiguousarray(data, dtype=np.float32)
    if sample_rate != SAMPLE_RATE:
        data = soxr.resample(data, sample_rate, SAMPLE_RATE, quality=RESAMPLE_QUALITY)
        data = data.astype(np.float32, copy=False)
    return data


def load_audio(
    path: str | Path,
    offset: float = 0.0,
    duration: float | None = None,
    expect: tuple[int | None, int | None] = (None, None),
) -> np.ndarray:
    """Read a file (WAV, FLAC, MP3, OGG/Opus…) or a segment of it as 16 kHz mono float32. ``expect`` is the
    (sample rate, channels) its manifest row claims: a file that disagrees is refused, as is one that is not
    a regular file (a FIFO would block) or whose rate no audio has."""
    _require_file(path)
    wav = _read_pcm16_wav(path, offset, duration) if str(path).lower().endswith(".wav") else None
    if wav is not None:
        data, sr, integer = *wav, True
    else:
        try:
            with sf.SoundFile(str(path)) as f:
                sr = f.samplerate
                start = round(offset * sr)
                if start:
                    f.seek(start)
                frames = -1 if duration is None else round(duration * sr)
                integer = f.subtype in INT16_SUBTYPES
                data = f.read(frames, dtype="int16" if integer else "float32", always_2d=f.channels > 1)
        except (sf.LibsndfileError, RuntimeError, ValueError, OSError) as exc:
            raise AudioError(f"{path}: cannot decode audio ({_short(exc)})") from None
    if not MIN_RATE <= sr <= MAX_RATE:
        raise AudioError(f"{path}: the header says {sr} Hz", "bad_sample_rate")
    channels = data.shape[1] if data.ndim == 2 else 1
    rate, count = expect
    if rate is not None and rate != sr:
        raise AudioError(f"{path}: {sr} Hz, its manifest row says {rate} Hz", "rate_mismatch")
    if count is not None and count != channels:
        raise AudioError(f"{path}: {channels} channels, its manifest row says {count}", "channels_mismatch")
    if data.shape[0] == 0:
        raise AudioError(f"{path}: no audio samples", "empty_audio")
    if integer:  # libsndfile's own int-to-float scaling, done by numpy: the same values, faster
        data = np.multiply(data, np.float32(1.0 / 32768.0), dtype=np.float32)
    audio = to_mono_16k(data, sr)
    if not integer and not np.isfinite(audio).all():
        raise AudioError(f"{path}: audio holds NaN or infinite samples")
    return audio


def _require_file(path: str | Path) -> None:
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        raise AudioError(f"{path}: {getattr(exc, 'strerror', None) or exc}", "missing_audio") from None
    if not stat.S_ISREG(mode):
        raise AudioError(f"{path}: not a regular file", "not_a_file")


def _read_pcm16_wav(path: str | Path, offset: float, duration: float | None) -> tuple[np.ndarray, int] | None:
    """A plain 16-bit PCM WAV (or a segment of it) as int16 frames and its rate, read with one header read
    and one data read (a tenth of libsndfile's time to open a file); None for any other file or any
    problem, which then goes to libsndfile (and its error messages)."""
    try:
        with open(path, "rb", buffering=0) as f:
            header = _pcm16_header(f.read(_HEADER_BYTES))
            if header is None:
                return None
            sr, channels, data_start, data_size = header
            frame_bytes = 2 * channels
            available = max(0, min(data_size, os.fstat(f.fileno()).st_size - data_start)) // frame_bytes
            start = min(round(offset * sr), available)
            frames = available - start if duration is None else min(round(duration * sr), available - start)
            data = np.empty(frames * channels, dtype="<i2")
            f.seek(data_start + start * frame_bytes)
            got = f.readinto(memoryview(data).cast("B")) if frames else 0
    except OSError:
        return None
    data = data[: got // frame_bytes * channels]  # the file may have shrunk since its size was read
    return (data.reshape(-1, channels) if channels > 1 else data), sr


# the fmt and data chunks of a plain WAV start in its first bytes; a file with them later goes to libsndfile
_HEADER_BYTES = 4096
_CHUNK = struct.Struct("<4sI")
_FMT = struct.Struct("<HHIIHH")  # format tag, channels, rate, byte rate, block align, bits per sample


def _pcm16_header(head: bytes) -> tuple[int, int, int, int] | None:
    """(rate, channels, data offset, data size) of a 16-bit integer PCM WAV, from its first bytes."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    fmt = None
    pos = 12
    while pos + 8 <= len(head):
        name, size = _CHUNK.unpack_from(head, pos)
        if name == b"fmt " and size >= 16 and pos + 8 + 16 <= len(head):
            fmt = _FMT.unpack_from(head, pos + 8)
        elif name == b"data":
            if fmt is None or fmt[0] != 1 or fmt[5] != 16 or fmt[1] < 1 or fmt[4] != 2 * fmt[1] or not fmt[2]:
                return None  # not plain 16-bit PCM (extensible, float, 8/24/32-bit...) or a broken header
            return fmt[2], fmt[1], pos + 8, size
        pos += 8 + size + (size & 1)  # chunks are padded to an even size
    return None


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def to_pcm16(audio: np.ndarray, dtype: type[np.integer] = np.int16, *, in_place: bool = False) -> np.ndarray:
    """Float samples as 16-bit values (held in ``dtype``), rounded half to even and clipped, as libsndfile
    does. Adding 1.5 * 2**23 makes float32 arithmetic do the rounding, and the integer is then read from
    the bits: the same values as ``np.rint(...).astype(...)`` without numpy's slow float-to-int cast.
    ``in_place`` (float32 audio, int32 out) overwrites the audio with the result instead of allocating."""
    if in_place and (audio.dtype != np.float32 or dtype is not np.int32):
        raise ValueError("in-place conversion turns float32 audio into int32")
    scaled = audio if in_place else np.empty(audio.shape, dtype=np.float32)
    np.multiply(audio, np.float32(32768.0), out=scaled)
    np.clip(scaled, -32768.0, 32767.0, out=scaled)
    scaled += _ROUNDER
    pcm = scaled.view(np.int32)
    pcm -= _ROUNDER_BITS
    return pcm if dtype is np.int32 else pcm.astype(dtype)


_ROUNDER = np.float32(1.5 * 2**23)
_ROUNDER_BITS = int(_ROUNDER.view(np.int32))


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0


def frame_powers(audio: np.ndarray) -> np.ndarray:
    """Mean power of each whole 20 ms analysis frame, as float64. Each frame's 320 squares are summed in
    float32 by einsum's fused multiply-add loop (3x faster than squaring, then summing as float64), which
    leaves a relative error near 1e-7: far below anything a level in decibels can show."""
    n = audio.size // ACTIVE_FRAME
    frames = audio[: n * ACTIVE_FRAME].reshape(n, ACTIVE_FRAME)
    return np.einsum("ij,ij->i", frames, frames).astype(np.float64) / ACTIVE_FRAME


def active_mask(powers: np.ndarray) -> np.ndarray:
    """Which frames of these powers hold active signal (energy gate: above a floor, near the loudest)."""
    if powers.size == 0:
        return np.zeros(0, dtype=bool)
    shifted = powers + 1e-20  # compared as powers: the same test as in decibels, without the logarithms
    return (shifted > _ACTIVE_FLOOR_POWER) & (shifted > shifted.max() * _ACTIVE_RANGE_RATIO)


def active_power(audio: np.ndarray, powers: np.ndarray | None = None, gain: float = 1.0) -> tuple[float, int]:
    """Summed power and count of the active samples of ``audio * gain``, so that signals can be pooled;
    ``powers`` (its ``frame_powers``, if known) saves a pass over the audio."""
    if 0 < audio.size < ACTIVE_FRAME:  # shorter than one frame: the whole signal is the frame
        return float(np.sum(np.square(audio, dtype=np.float64))) * gain**2, int(audio.size)
    scaled = (frame_powers(audio) if powers is None else powers) * gain**2
    mask = active_mask(scaled)
    count = int(np.count_nonzero(mask))
    return float(np.sum(scaled[mask])) * ACTIVE_FRAME, count * ACTIVE_FRAME


def active_rms(audio: np.ndarray) -> float:
    """RMS over the active (speech) frames only, the level that SNR is measured against."""
    power, count = active_power(audio)
    return float(np.sqrt(power / count)) if count else 0.0


def level_db(value: float) -> float:
    return float(20.0 * np.log10(max(value, 1e-10)))


class DecoderWarnings:
    """Captures what C decoders (mpg123 inside libsndfile) print on stderr while active, and counts it.

    File descriptor 2 goes to a temporary file, so warnings such as "Xing stream size off" never
    reach the terminal; ``lines`` and a few ``examples`` go into reports instead.
    """

    def __init__(self) -> None:
        self.lines = 0
        self.examples: list[str] = []

    def __enter__(self) -> DecoderWarnings:
        self._tmp = tempfile.TemporaryFile(mode="w+b")
        self._saved = os.dup(2)
        os.dup2(self._tmp.fileno(), 2)
        return self

    def __exit__(self, *exc: object) -> None:
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._tmp.seek(0)
        for raw in self._tmp.read().decode("utf-8", "replace").splitlines():
            if raw.strip():
                self.lines += 1
                if len(self.examples) < 3:
                    self.examples.append(raw.strip()[:200])
        self._tmp.close()

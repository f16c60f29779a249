from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from streamaudio.render.audio import AudioError, active_rms, load_audio, rms, to_mono_16k, to_pcm16


def _tone(sr: int, seconds: float, hz: float, channels: int) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    x = 0.5 * np.sin(2 * np.pi * hz * t)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def _peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.fft.rfftfreq(x.size, 1 / 16000)[np.argmax(spectrum)])


@pytest.mark.parametrize(
    ("fmt", "subtype", "sr", "channels"),
    [
        ("WAV", "PCM_16", 16000, 1),
        ("FLAC", "PCM_24", 44100, 2),
        ("MP3", None, 48000, 1),
        ("OGG", "VORBIS", 48000, 2),
        ("OGG", "OPUS", 48000, 1),
    ],
)
def test_load_any_format_to_16k_mono(
    tmp_path: Path, fmt: str, subtype: str | None, sr: int, channels: int
) -> None:
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, _tone(sr, 1.5, 440.0, channels), sr, format=fmt, subtype=subtype)
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size - 24000) < 1200  # codecs may pad a little
    assert abs(_peak_hz(audio) - 440.0) < 2.0


def test_load_segment(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    sf.write(path, _tone(48000, 3.0, 300.0, 1), 48000)
    assert load_audio(path, offset=1.0, duration=0.5).size == 8000


@pytest.mark.parametrize("content", [b"", b"not audio at all" * 100])
def test_broken_files_raise_one_line_errors(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError) as info:
        load_audio(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match=r"nothere\.wav"):
        load_audio(tmp_path / "nothere.wav")


def test_active_rms_ignores_silence() -> None:
    speech = _tone(16000, 1.0, 200.0, 1).astype(np.float32)
    padded = np.concatenate([np.zeros(48000, np.float32), speech, np.zeros(16000, np.float32)])
    assert active_rms(padded) == pytest.approx(rms(speech), rel=0.02)
    assert rms(padded) < 0.5 * active_rms(padded)


@pytest.mark.parametrize(
    ("fmt", "subtype", "channels"),
    [
        ("WAV", "PCM_16", 1),  # read by the standard library's wave module
        ("WAV", "PCM_16", 2),
        ("WAVEX", "PCM_16", 1),  # WAVE_FORMAT_EXTENSIBLE: libsndfile
        ("WAV", "PCM_U8", 1),
        ("WAV", "FLOAT", 1),
    ],
)
def test_files_decode_to_the_values_libsndfile_gives(
    tmp_path: Path, fmt: str, subtype: str, channels: int
) -> None:
    path = tmp_path / "x.wav"
    sf.write(path, _tone(16000, 0.5, 300.0, channels) * 0.9, 16000, format=fmt, subtype=subtype)
    reference = sf.read(path, dtype="float32", always_2d=True)[0].mean(axis=1, dtype=np.float32)
    assert np.array_equal(load_audio(path), reference)
    assert np.array_equal(load_audio(path, offset=0.1, duration=0.2), reference[1600:4800])


def test_non_finite_float_samples_are_an_error(tmp_path: Path) -> None:
    path = tmp_path / "nan.wav"
    x = np.full(1600, 0.1, np.float32)
    x[100] = np.nan
    sf.write(path, x, 16000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(path)


@pytest.mark.parametrize("dtype", [np.int16, np.int32])
def test_pcm16_rounds_half_to_even_and_clips(dtype: type[np.integer]) -> None:
    halves = np.arange(-70000, 70000, dtype=np.float32) / 2 / 32768  # every tie, and past full scale
    noise = np.random.default_rng(2).standard_normal(50000).astype(np.float32)
    x = np.concatenate([halves, noise, np.float32([1.0, -1.0, 0.99999, -1.00001])])
    reference = np.clip(np.rint(x * np.float32(32768)), -32768, 32767).astype(dtype)
    pcm = to_pcm16(x, dtype)
    assert pcm.dtype == dtype and np.array_equal(pcm, reference)


def test_truncated_wav_gives_the_samples_that_are_there(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    sf.write(path, _tone(16000, 1.0, 300.0, 1) * 0.5, 16000, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:-10_001])  # the header still promises 16000 frames
    audio = load_audio(path)
    assert audio.size == 16000 - 5001
    assert np.array_equal(audio, sf.read(path, dtype="float32")[0])


def test_pcm16_in_place_needs_float32_in_and_int32_out() -> None:
    x = np.linspace(-1.2, 1.2, 1001, dtype=np.float32)
    expected = to_pcm16(x, np.int32)
    pcm = to_pcm16(x, np.int32, in_place=True)
    assert np.shares_memory(pcm, x) and np.array_equal(pcm, expected)
    with pytest.raises(ValueError, match="in-place"):
        to_pcm16(np.zeros(4), np.int32, in_place=True)


def _riff(*chunks: tuple[bytes, bytes]) -> bytes:
    body = b"".join(
        name + len(data).to_bytes(4, "little") + data + b"\0" * (len(data) & 1) for name, data in chunks
    )
    return b"RIFF" + (4 + len(body)).to_bytes(4, "little") + b"WAVE" + body


@pytest.mark.parametrize("junk", [0, 5, 4001, 9000])  # none, odd-sized (padded), data near and past 4 kB
def test_wav_chunks_before_the_data_are_skipped(tmp_path: Path, junk: int) -> None:
    pcm = (_tone(22050, 0.3, 440.0, 2) * 20000).astype("<i2")
    fmt = (1).to_bytes(2, "little") + (2).to_bytes(2, "little") + (22050).to_bytes(4, "little")
    fmt += (22050 * 4).to_bytes(4, "little") + (4).to_bytes(2, "little") + (16).to_bytes(2, "little")
    chunks = [(b"fmt ", fmt), (b"data", pcm.tobytes())]
    if junk:
        chunks.insert(0, (b"LIST", bytes(range(256)) * (junk // 256) + b"x" * (junk % 256)))
    path = tmp_path / "chunks.wav"
    path.write_bytes(_riff(*chunks))
    assert np.array_equal(load_audio(path), to_mono_16k(sf.read(path, dtype="float32")[0], 22050))


def _resampled_level_db(hz: float, rate: int = 48000) -> float:
    t = np.arange(rate) / rate
    y = to_mono_16k((0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate)[2000:-2000]
    return float(20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2)) / (0.5 / np.sqrt(2))))


@pytest.mark.parametrize("rate", [48000, 44100, 22050])
def test_resampling_is_flat_in_band_and_keeps_aliases_under_the_16_bit_floor(rate: int) -> None:
    for hz in (300.0, 1000.0, 4000.0):
        assert abs(_resampled_level_db(hz, rate)) < 0.01
    assert abs(_resampled_level_db(7000.0, rate)) < 0.1
    for hz in (8200.0, 9000.0, 10000.0):  # above 8 kHz: would fold back into the band
        if hz < rate / 2:
            assert _resampled_level_db(hz, rate) < -98.0

import ctypes
import ctypes.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from helpers import read_shard

from streamaudio.render import flac, flac_decoder
from streamaudio.render.audio import to_pcm16
from streamaudio.tts import EspeakEngine


@pytest.fixture(scope="module")
def noisy_speech() -> np.ndarray:
    speech = EspeakEngine().synthesize("Encoding a stream must not change a single sample.", "en-us")
    noise = np.random.default_rng(7).standard_normal(speech.size).astype(np.float32)
    return np.concatenate([0.7 * speech + 0.02 * noise, np.full(999, 1.5, np.float32)])  # ends clipped


def test_encoding_is_lossless_16_bit(noisy_speech: np.ndarray) -> None:
    data = flac.encode(noisy_speech)
    info = sf.info(io.BytesIO(data))
    assert (info.format, info.subtype, info.samplerate, info.channels) == ("FLAC", "PCM_16", 16000, 1)
    assert info.frames == noisy_speech.size
    decoded = sf.read(io.BytesIO(data), dtype="int16")[0]
    assert np.array_equal(decoded, to_pcm16(noisy_speech))
    assert decoded[-1] == 32767  # out-of-range samples clip, they do not wrap


def test_encoding_is_reproducible(noisy_speech: np.ndarray) -> None:
    assert flac.encode(noisy_speech) == flac.encode(noisy_speech.copy())


@pytest.mark.skipif(flac.ENCODER.startswith("libsndfile"), reason="libFLAC is not installed")
def test_libflac_writes_a_complete_streaminfo(noisy_speech: np.ndarray) -> None:
    data = flac.encode(noisy_speech)
    assert data[:4] == b"fLaC"
    info = data[8:42]  # STREAMINFO, filled in by seeking back once the stream is done
    min_frame, max_frame = int.from_bytes(info[4:7], "big"), int.from_bytes(info[7:10], "big")
    assert 0 < min_frame <= max_frame
    assert int.from_bytes(info[13:18], "big") & 0xFFFFFFFFF == noisy_speech.size
    compressed_enough = len(data) < 0.9 * 2 * noisy_speech.size
    assert compressed_enough


def test_a_reused_encoder_gives_the_same_bytes(noisy_speech: np.ndarray) -> None:
    encoder = flac.Encoder()
    long = np.tile(noisy_speech, 3)
    for audio in (long, noisy_speech, long[:12345], noisy_speech):  # its buffer shrinks and grows
        scratch = audio.copy()
        assert bytes(encoder.encode(scratch, consume=True)) == flac.encode(audio)
        if not flac.ENCODER.startswith("libsndfile"):
            assert np.array_equal(scratch.view(np.int32), to_pcm16(audio, np.int32))  # quantized in place


def test_both_encoders_give_a_build_the_same_samples(tmp_path: Path) -> None:
    """A build encoded by libsndfile (forced, as on a machine without libFLAC) holds exactly the samples
    of the same build encoded by libFLAC; each manifest names its encoder."""
    args = ["build", "--streams", "3", "--stream-seconds", "10:15", "--seed", "4"]
    for name, env in (("default", {}), ("libsndfile", {"STREAMAUDIO_FLAC": "libsndfile"})):
        cmd = [sys.executable, "-m", "streamaudio.cli", *args, "--out", str(tmp_path / name)]
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, **env})
    fallback = json.loads((tmp_path / "libsndfile" / "manifest.json").read_text())
    default = json.loads((tmp_path / "default" / "manifest.json").read_text())
    assert fallback["flac_encoder"].startswith("libsndfile") and default["flac_encoder"] == flac.ENCODER
    for tar in sorted((tmp_path / "default" / "shards").glob("*.tar")):
        ours, theirs = read_shard(tar), read_shard(tmp_path / "libsndfile" / "shards" / tar.name)
        assert ours.keys() == theirs.keys() and len(ours) == 3
        for key, (meta, audio, _) in ours.items():
            assert meta == theirs[key][0] and np.array_equal(audio, theirs[key][1])


def test_a_rerun_with_another_encoder_keeps_every_shard_and_a_rebuild_says_why(tmp_path: Path) -> None:
    """A finished build is kept whatever encoder the rerun would use (installing libFLAC or pyflac must
    not rebuild a corpus); the manifest names each shard's encoder; a shard built again says why."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "streamaudio.cli", "build", "--streams", "6", "--shard-streams", "2"]
    cmd += ["--stream-seconds", "8:10", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "STREAMAUDIO_FLAC": "libsndfile"})
    before = json.loads((out / "manifest.json").read_text())
    assert {s["encoder"] for s in before["shards"]} == {before["flac_encoder"]}
    rerun = subprocess.run(cmd, check=True, capture_output=True, text=True)  # the default encoder now
    assert "(3 already built)" in rerun.stdout and "rebuilt" not in rerun.stderr
    after = json.loads((out / "manifest.json").read_text())
    assert after["shards"] == before["shards"]  # same bytes, each still naming libsndfile
    (out / "shards" / "asr-train-000001.tar").unlink()
    again = subprocess.run(cmd, check=True, capture_output=True, text=True)
    assert "(2 already built)" in again.stdout
    assert "rebuilt asr-train-000001.tar: the shard is missing" in again.stderr
    encoders = {s["path"]: s["encoder"] for s in json.loads((out / "manifest.json").read_text())["shards"]}
    assert encoders["shards/asr-train-000001.tar"] == flac.ENCODER


def test_a_libflac_named_in_the_environment_is_used_and_a_bad_one_is_one_line(tmp_path: Path) -> None:
    system = ctypes.util.find_library("FLAC")
    args = [sys.executable, "-m", "streamaudio.cli", "build", "--streams", "2", "--stream-seconds", "8:10"]
    bad = subprocess.run(
        [*args, "--out", str(tmp_path / "bad")],
        capture_output=True,
        text=True,
        env={**os.environ, "STREAMAUDIO_FLAC": str(tmp_path / "no-such-libFLAC.so")},
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr + bad.stdout
    assert "STREAMAUDIO_FLAC" in bad.stderr + bad.stdout and "cannot load libFLAC" in bad.stderr + bad.stdout
    if system is None:
        pytest.skip("no system libFLAC to name")
    done = subprocess.run(
        [*args, "--out", str(tmp_path / "named")], env={**os.environ, "STREAMAUDIO_FLAC": system}, check=True
    )
    assert done.returncode == 0
    manifest = json.loads((tmp_path / "named" / "manifest.json").read_text())
    version = ctypes.c_char_p.in_dll(ctypes.CDLL(system), "FLAC__VERSION_STRING").value.decode()
    assert manifest["flac_encoder"] == f"libFLAC {version} level {flac.COMPRESSION_LEVEL}"


# -- decoding --------------------------------------------------------------------------------------------


def test_decoding_gives_libsndfiles_samples_as_float_and_int16(noisy_speech: np.ndarray) -> None:
    data = flac.encode(noisy_speech)
    assert flac_decoder.LIBFLAC, "libFLAC is installed here (CI installs libflac12)"
    for dtype in ("float32", "int16"):
        ours, rate = flac_decoder.decode_flac(data, dtype)
        theirs, their_rate = sf.read(io.BytesIO(data), dtype=dtype)
        assert rate == their_rate == 16000 and ours.dtype == theirs.dtype
        assert np.array_equal(ours, theirs)


def test_other_flac_goes_to_libsndfile_and_bad_bytes_are_a_value_error(noisy_speech: np.ndarray) -> None:
    stereo = io.BytesIO()
    sf.write(stereo, np.stack([noisy_speech, -noisy_speech], axis=1).clip(-1, 1), 22050, format="FLAC",
             subtype="PCM_24")  # fmt: skip
    audio, rate = flac_decoder.decode_flac(stereo.getvalue())
    assert rate == 22050 and audio.shape == (noisy_speech.size, 2)
    data = flac.encode(noisy_speech)
    damaged = bytearray(data)
    damaged[len(data) // 2 : len(data) // 2 + 16] = bytes(16)
    with pytest.raises(ValueError, match="damaged FLAC data"):
        flac_decoder.decode_flac(bytes(damaged))
    with pytest.raises(ValueError, match=f"ends after .* of its {noisy_speech.size} samples"):
        flac_decoder.decode_flac(data[: len(data) * 2 // 3])
    wav = io.BytesIO()
    sf.write(wav, noisy_speech.clip(-1, 1), 16000, format="WAV")
    with pytest.raises(ValueError, match="not FLAC data"):
        flac_decoder.decode_flac(wav.getvalue())


def test_a_lying_streaminfo_is_a_value_error_not_wrong_audio(noisy_speech: np.ndarray) -> None:
    data = bytearray(flac.encode(noisy_speech))
    fields = int.from_bytes(data[18:26], "big")
    more = fields + 1000  # the header claims 1 000 samples that no frame holds
    with pytest.raises(ValueError, match="ends after"):
        flac_decoder.decode_flac(bytes(data[:18] + more.to_bytes(8, "big") + data[26:]))
    fewer = fields - 1000  # fewer than the frames hold
    with pytest.raises(ValueError, match="do not match its header"):
        flac_decoder.decode_flac(bytes(data[:18] + fewer.to_bytes(8, "big") + data[26:]))
    stereo = io.BytesIO()
    sf.write(stereo, np.stack([noisy_speech, noisy_speech], axis=1).clip(-1, 1), 16000, format="FLAC")
    lying = bytearray(stereo.getvalue())
    lying[20] &= ~0x0E  # channels - 1 = 0: the header says mono, every frame holds two channels
    assert flac_decoder.stream_info(bytes(lying)).channels == 1
    with pytest.raises(ValueError, match="damaged FLAC data"):
        flac_decoder.decode_flac(bytes(lying))

"""FLAC bytes decoded to samples. Mono 16-bit streams, as shards hold, go to libFLAC directly (the
library the encoder uses: 1.6x libsndfile's speed here, the very same samples); anything else, or
without libFLAC (``STREAMAUDIO_FLAC=libsndfile``), to libsndfile."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile as sf

from streamaudio.render.flac import LIBFLAC

_SCALE = np.float32(1.0 / 32768.0)  # libsndfile's 16-bit to float scaling
# what decodes shard audio, in words
DECODER = (
    f"libFLAC {LIBFLAC[0].string(LIBFLAC[1].FLAC__VERSION_STRING).decode()}"
    if LIBFLAC
    else f"libsndfile {sf.__libsndfile_version__}"
)


@dataclass(frozen=True)
class StreamInfo:
    rate: int
    channels: int
    bits: int
    samples: int  # 0: not given


def stream_info(data: bytes) -> StreamInfo | None:
    """The STREAMINFO block of FLAC bytes, None when they do not start with one."""
    if len(data) < 42 or data[:4] != b"fLaC" or data[4] & 0x7F != 0:
        return None
    fields = int.from_bytes(data[18:26], "big")
    return StreamInfo(
        rate=fields >> 44, channels=(fields >> 41 & 7) + 1, bits=(fields >> 36 & 31) + 1,
        samples=fields & (1 << 36) - 1,
    )  # fmt: skip


def decode_flac(data: bytes, dtype: str = "float32") -> tuple[np.ndarray, int]:
    """Decode FLAC bytes to samples (float32, or int16) and their sample rate; anything else (WAV bytes in
    a ``.flac`` member) and damaged data are a ValueError."""
    if data[:4] != b"fLaC":
        raise ValueError("not FLAC data")
    info = stream_info(data)
    if LIBFLAC and info and info.channels == 1 and info.bits == 16 and info.samples:
        pcm = _Decoding(data, info.samples).run()
        audio = pcm.astype(np.int16) if dtype == "int16" else np.multiply(pcm, _SCALE, dtype=np.float32)
        return audio, info.rate
    audio, sr = sf.read(io.BytesIO(data), dtype=dtype)
    return audio, sr


class _Decoding:
    """One decode: the bytes read from memory, each frame's samples copied into one array."""

    def __init__(self, data: bytes, samples: int) -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.out = np.empty(samples, dtype=np.int32)
        self.address = _ffi.cast("char *", _ffi.from_buffer(self.out))  # where frames are copied to
        self.at = 0
        self.problem = ""

    def run(self) -> np.ndarray:
        decoder = _decoder()
        handle = _ffi.new_handle(self)
        if _lib.FLAC__stream_decoder_init_stream(
            decoder, _read, _ffi.NULL, _ffi.NULL, _ffi.NULL, _ffi.NULL, _frame, _ffi.NULL, _error, handle
        ):
            raise ValueError("libFLAC could not start decoding")
        ok = _lib.FLAC__stream_decoder_process_until_end_of_stream(decoder)
        _lib.FLAC__stream_decoder_finish(decoder)
        if self.problem:
            raise ValueError(f"damaged FLAC data ({self.problem})")
        if self.at != self.out.size:
            raise ValueError(f"FLAC data ends after {self.at} of its {self.out.size} samples")
        if not ok:
            raise ValueError("damaged FLAC data (libFLAC stopped)")
        return self.out


_local = threading.local()  # one libFLAC decoder per thread, reused from stream to stream
# FLAC__StreamDecoderErrorStatus, by value
_ERRORS = ("lost sync", "bad header", "frame CRC mismatch", "unparseable stream", "bad metadata")

if LIBFLAC:
    _ffi, _lib = LIBFLAC

    def _decoder() -> Any:
        decoder = getattr(_local, "decoder", None)
        if decoder is None:
            decoder = _ffi.gc(_lib.FLAC__stream_decoder_new(), _lib.FLAC__stream_decoder_delete)
            if decoder == _ffi.NULL:
                raise MemoryError("libFLAC could not create a decoder")
            _local.decoder = decoder
        return decoder

    @_ffi.callback("read_cb", error=2)
    def _read(_dec: Any, buffer: Any, size: Any, client: Any) -> int:
        job = _ffi.from_handle(client)
        n = min(size[0], len(job.data) - job.pos)
        if n <= 0:
            size[0] = 0
            return 2  # FLAC__STREAM_DECODER_READ_STATUS_END_OF_STREAM
        _ffi.memmove(buffer, job.data[job.pos : job.pos + n], n)
        job.pos += n
        size[0] = n
        return 0

    @_ffi.callback("frame_cb", error=1)
    def _frame(_dec: Any, header: Any, channels: Any, client: Any) -> int:
        job = _ffi.from_handle(client)
        blocksize, count = header[0], header[2]  # FLAC__FrameHeader: blocksize, sample_rate, channels
        if count != 1 or job.at + blocksize > job.out.size:
            job.problem = "frames that do not match its header"
            return 1  # FLAC__STREAM_DECODER_WRITE_STATUS_ABORT
        _ffi.memmove(job.address + 4 * job.at, channels[0], 4 * blocksize)
        job.at += blocksize
        return 0

    @_ffi.callback("error_cb")
    def _error(_dec: Any, status: int, client: Any) -> None:
        job = _ffi.from_handle(client)
        job.problem = job.problem or (_ERRORS[status] if 0 <= status < len(_ERRORS) else f"error {status}")

"""FLAC encoding of shard audio: the reference libFLAC through cffi when it can be found, else libsndfile.

libsndfile (inside the ``soundfile`` wheel) always computes the stream MD5 and runs LPC analysis at
level 5; for noisy speech neither pays (level 5 saves under 1% of the bytes). libFLAC called directly
encodes at level 0 (fixed integer predictors, no floating-point LPC search) with 4608-sample blocks and
no MD5. The build used, best first: the path in ``STREAMAUDIO_FLAC``; the libFLAC 1.4.3 that the
``pyflac`` package ships (``pip install 'streamaudio[fast]'``; 2x libsndfile's speed here); the system's
(Debian/Ubuntu ``libflac12``, Fedora ``flac-libs``, macOS ``brew install flac``; Debian 12's 1.4.2 is
1.3x). ``STREAMAUDIO_FLAC=libsndfile`` forces the fallback. All carry the same samples; ``ENCODER``
names the one in use and the build manifest records it (the bytes differ only in libFLAC's vendor string).
"""

from __future__ import annotations

import ctypes.util
import importlib.util
import io
import os
import platform
from pathlib import Path

import numpy as np
import soundfile as sf
from cffi import FFI

from streamaudio.protocol import SAMPLE_RATE
from streamaudio.render.audio import to_pcm16

COMPRESSION_LEVEL = 0
BLOCKSIZE = 4608  # the largest the FLAC subset allows: fewer frames than level 0's 1152, smaller and faster

_CDEF = """
typedef struct FLAC__StreamEncoder FLAC__StreamEncoder;
typedef int (*write_cb)(
    const FLAC__StreamEncoder *, const unsigned char *, size_t, uint32_t, uint32_t, void *);
typedef int (*seek_cb)(const FLAC__StreamEncoder *, uint64_t, void *);
typedef int (*tell_cb)(const FLAC__StreamEncoder *, uint64_t *, void *);
extern const char *FLAC__VERSION_STRING;
FLAC__StreamEncoder *FLAC__stream_encoder_new(void);
void FLAC__stream_encoder_delete(FLAC__StreamEncoder *);
int FLAC__stream_encoder_set_channels(FLAC__StreamEncoder *, uint32_t);
int FLAC__stream_encoder_set_bits_per_sample(FLAC__StreamEncoder *, uint32_t);
int FLAC__stream_encoder_set_sample_rate(FLAC__StreamEncoder *, uint32_t);
int FLAC__stream_encoder_set_compression_level(FLAC__StreamEncoder *, uint32_t);
int FLAC__stream_encoder_set_blocksize(FLAC__StreamEncoder *, uint32_t);
int FLAC__stream_encoder_set_do_md5(FLAC__StreamEncoder *, int);
int FLAC__stream_encoder_set_total_samples_estimate(FLAC__StreamEncoder *, uint64_t);
int FLAC__stream_encoder_init_stream(FLAC__StreamEncoder *, write_cb, seek_cb, tell_cb, void *, void *);
int FLAC__stream_encoder_process(FLAC__StreamEncoder *, const int32_t * const buffer[], uint32_t);
int FLAC__stream_encoder_finish(FLAC__StreamEncoder *);
typedef struct FLAC__StreamDecoder FLAC__StreamDecoder;
typedef int (*read_cb)(const FLAC__StreamDecoder *, unsigned char *, size_t *, void *);
typedef int (*frame_cb)(const FLAC__StreamDecoder *, const uint32_t *, const int32_t * const[], void *);
typedef void (*error_cb)(const FLAC__StreamDecoder *, int, void *);
FLAC__StreamDecoder *FLAC__stream_decoder_new(void);
void FLAC__stream_decoder_delete(FLAC__StreamDecoder *);
int FLAC__stream_decoder_init_stream(FLAC__StreamDecoder *, read_cb, void *, void *, void *, void *,
                                     frame_cb, void *, error_cb, void *);
int FLAC__stream_decoder_process_until_end_of_stream(FLAC__StreamDecoder *);
int FLAC__stream_decoder_finish(FLAC__StreamDecoder *);
"""


class _Output:
    """Where libFLAC writes, with the seek and tell it uses to fill in STREAMINFO at the end. The buffer
    is kept from stream to stream and only grows, so its pages are faulted in once; it is sized for the
    worst case before each stream, so that a write is a bare copy."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.address = None  # the buffer as a C pointer, for memmove
        self.pos = 0
        self.end = 0

    def start(self, capacity: int) -> None:
        """Empty, with room for ``capacity`` bytes; a new buffer, never a resize, since the last result
        may still be held."""
        if len(self.data) < capacity:
            self.data = bytearray(capacity)
            self.address = _ffi.from_buffer(self.data)
        self.pos = self.end = 0


def _pyflac_library() -> str | None:
    """The libFLAC build that the pyflac package ships (1.4.3, ~1.5x faster than Debian 12's 1.4.2)."""
    spec = importlib.util.find_spec("pyflac")
    if spec is None or not spec.submodule_search_locations:
        return None
    machine = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    folder = Path(spec.submodule_search_locations[0]) / "libraries" / f"{platform.system().lower()}-{machine}"
    found = (
        sorted(folder.glob("libFLAC*.so*"))
        + sorted(folder.glob("libFLAC*.dylib"))
        + sorted(folder.glob("libFLAC.dll"))
    )
    return str(found[0]) if found else None


def _load_libflac(path: str | None) -> tuple[tuple[FFI, object] | None, str | None]:
    """libFLAC from ``path``, else the best build found (pyflac's, then the system's); and, when ``path``
    cannot be loaded, why."""
    ffi = FFI()
    ffi.cdef(_CDEF)
    if path:
        try:
            return (ffi, ffi.dlopen(path)), None
        except OSError as exc:
            return None, f"STREAMAUDIO_FLAC={path}: cannot load libFLAC ({str(exc).splitlines()[0]})"
    for name in (_pyflac_library(), "libFLAC.so.12", "libFLAC.so.14", ctypes.util.find_library("FLAC")):
        if name:
            try:
                return (ffi, ffi.dlopen(name)), None
            except OSError:
                continue
    return None, None


_CHOICE = os.environ.get("STREAMAUDIO_FLAC", "")  # "libsndfile", or the path of a libFLAC to use
_LIB, PROBLEM = (None, None) if _CHOICE.lower() == "libsndfile" else _load_libflac(_CHOICE or None)
LIBFLAC = _LIB  # (cffi FFI, library) when libFLAC is used; decoding uses it too (flac_decoder.py)
ENCODER = (
    f"libFLAC {_LIB[0].string(_LIB[1].FLAC__VERSION_STRING).decode()} level {COMPRESSION_LEVEL}"
    if _LIB
    else f"libsndfile {sf.__libsndfile_version__}"
)

if _LIB:
    _ffi, _lib = _LIB
    _INT32_ARRAY = _ffi.typeof("int32_t[]")  # parsed once, not on the first encode
    _CHANNELS = _ffi.typeof("const int32_t *[1]")

    _RAISED: list[BaseException] = []  # what a callback raised (cffi would print and drop it)

    def _keep(exc_type, exc, _tb):
        _RAISED.append(exc)

    @_ffi.callback("write_cb", error=1, onerror=_keep)
    def _write(_enc, buffer, size, _samples, _frame, client):
        out = _ffi.from_handle(client)
        stop = out.pos + size
        if stop > len(out.data):
            return 1  # FLAC__STREAM_ENCODER_WRITE_STATUS_FATAL_ERROR: the encode fails, nothing overflows
        _ffi.memmove(out.address + out.pos, buffer, size)
        out.pos = stop
        out.end = max(out.end, stop)
        return 0

    @_ffi.callback("seek_cb", error=1, onerror=_keep)
    def _seek(_enc, offset, client):
        _ffi.from_handle(client).pos = offset
        return 0

    @_ffi.callback("tell_cb", error=1, onerror=_keep)
    def _tell(_enc, offset, client):
        offset[0] = _ffi.from_handle(client).pos
        return 0


def encode(audio: np.ndarray) -> bytes:
    """Encode 16 kHz mono float audio as 16-bit FLAC."""
    return bytes(Encoder().encode(audio))


class Encoder:
    """Encodes stream after stream into one reused output buffer: for a process that encodes many."""

    def __init__(self) -> None:
        self._out = _Output()

    def encode(self, audio: np.ndarray, *, consume: bool = False) -> memoryview:
        """The FLAC of ``audio``, valid until the next call; ``consume`` lets it quantize float32 audio
        in place (the caller's array is overwritten) rather than in a new array."""
        if not _LIB:
            buf = io.BytesIO()
            sf.write(buf, to_pcm16(audio), SAMPLE_RATE, format="FLAC", subtype="PCM_16")
            return buf.getbuffer()
        pcm = to_pcm16(audio, np.int32, in_place=consume and audio.dtype == np.float32)
        enc = _lib.FLAC__stream_encoder_new()
        if enc == _ffi.NULL:
            raise MemoryError("libFLAC could not create an encoder")
        out = self._out
        out.start(2 * pcm.size + 65536)  # more than the worst case, verbatim 16-bit frames and headers
        try:
            _lib.FLAC__stream_encoder_set_channels(enc, 1)
            _lib.FLAC__stream_encoder_set_bits_per_sample(enc, 16)
            _lib.FLAC__stream_encoder_set_sample_rate(enc, SAMPLE_RATE)
            _lib.FLAC__stream_encoder_set_compression_level(enc, COMPRESSION_LEVEL)
            _lib.FLAC__stream_encoder_set_blocksize(enc, BLOCKSIZE)
            _lib.FLAC__stream_encoder_set_do_md5(enc, 0)
            _lib.FLAC__stream_encoder_set_total_samples_estimate(enc, pcm.size)
            handle = _ffi.new_handle(out)
            if _lib.FLAC__stream_encoder_init_stream(enc, _write, _seek, _tell, _ffi.NULL, handle) != 0:
                raise RuntimeError("libFLAC could not start an encoder")
            # one channel given as its own array: libFLAC copies it block by block, where the
            # interleaved call would split it sample by sample (8% of the encode time)
            samples = _ffi.from_buffer(_INT32_ARRAY, pcm)
            channels = _ffi.new(_CHANNELS, [samples])
            ok = _lib.FLAC__stream_encoder_process(enc, channels, pcm.size)
            finished = _lib.FLAC__stream_encoder_finish(enc)
            if _RAISED:  # e.g. a KeyboardInterrupt that landed inside a callback: raised here instead
                raise _RAISED.pop()
            if not (finished and ok):
                raise RuntimeError("libFLAC failed to encode a stream")
        finally:
            _RAISED.clear()
            _lib.FLAC__stream_encoder_delete(enc)
        return memoryview(out.data)[: out.end]

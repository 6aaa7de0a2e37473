"""A small ctypes binding to libopus: a VOIP encoder with in-band FEC, and a decoder with FEC recovery
and packet-loss concealment (PLC).

Why not PyAV: FFmpeg's libopus *encoder* takes ``fec``/``packet_loss`` options, but its decoders
(``opus``, ``libopus``) only decode packets that arrived: there is no per-call ``decode_fec`` flag and
no way to ask for a concealment frame, which is what a jitter buffer needs. So this module talks to
libopus directly (Debian ``libopus0``: ``apt-get install libopus0``).

Audio is float32 mono (or interleaved) in [-1, 1]; sizes are in samples per channel.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass

import numpy as np

# opus_defines.h
OPUS_OK = 0
OPUS_APPLICATION_VOIP = 2048
OPUS_APPLICATION_AUDIO = 2049
OPUS_SIGNAL_VOICE = 3001
_SET_BITRATE = 4002
_GET_BITRATE = 4003
_SET_COMPLEXITY = 4010
_SET_INBAND_FEC = 4012
_SET_PACKET_LOSS_PERC = 4014
_SET_DTX = 4016
_SET_SIGNAL = 4024
_GET_LOOKAHEAD = 4027
_RESET_STATE = 4028

MAX_PACKET = 1275          # bytes: the largest single-frame Opus packet (RFC 6716, 3.2.1)
RATES = (8000, 12000, 16000, 24000, 48000)

_lib = None


def packet_has_fec(packet: bytes) -> bool:
    """Whether a single-frame Opus packet carries in-band FEC (SILK LBRR) data for the previous frame.

    libopus 1.3 has no query for this, so the SILK header is read: the TOC byte (RFC 6716, 3.1) must
    name a SILK-only or hybrid mode and one frame (code 0); then the range decoder
    (RFC 6716, 4.1) reads the VAD flags and the LBRR flag, both equiprobable bits (4.2.3).
    False for anything else (CELT-only, multi-frame or too-short packets).
    Tested against libopus: never set without FEC, set on most voiced frames with it.
    """
    if len(packet) < 2:
        return False
    toc = packet[0]
    config = toc >> 3
    if config >= 16 or toc & 3 != 0:          # CELT-only (no SILK layer) or more than one Opus frame
        return False
    silk_frames = (1, 1, 2, 3)[config & 3] if config < 12 else 1   # 10/20/40/60 ms SILK; hybrid: one
    flags = silk_frames + 1                    # one VAD flag per SILK frame, then the LBRR flag
    data = packet[1:]
    pos = 0

    def read_byte():
        nonlocal pos
        b = data[pos] if pos < len(data) else 0
        pos += 1
        return b

    rng = 128
    rem = read_byte()
    val = rng - 1 - (rem >> 1)

    def normalize():
        nonlocal rng, rem, val
        while rng <= 1 << 23:
            rng <<= 8
            sym = rem
            rem = read_byte()
            sym = ((sym << 8) | rem) >> 1
            val = ((val << 8) + (255 & ~sym)) & ((1 << 31) - 1)

    normalize()
    bit = 0
    for _ in range(flags):
        half = rng >> 1
        bit = int(val < half)
        if not bit:
            val -= half
        rng = half if bit else rng - half
        normalize()
    return bool(bit)


class OpusError(RuntimeError):
    """A libopus call failed (the message names the call and libopus' reason)."""


def load_libopus() -> ctypes.CDLL:
    """The libopus shared library (loaded once); RuntimeError with the install hint if missing."""
    global _lib
    if _lib is not None:
        return _lib
    names = [ctypes.util.find_library("opus"), "libopus.so.0", "libopus.0.dylib", "opus.dll"]
    lib = None
    for name in names:
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    if lib is None:
        raise RuntimeError("libopus not found: apt-get install libopus0 (or your system's libopus package)")
    c_p, c_int, c_i32 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int32
    f32p, u8p = ctypes.POINTER(ctypes.c_float), ctypes.c_char_p
    lib.opus_get_version_string.restype = ctypes.c_char_p
    lib.opus_strerror.restype = ctypes.c_char_p
    lib.opus_strerror.argtypes = [c_int]
    lib.opus_encoder_create.restype = c_p
    lib.opus_encoder_create.argtypes = [c_i32, c_int, c_int, ctypes.POINTER(c_int)]
    lib.opus_encoder_destroy.argtypes = [c_p]
    lib.opus_encoder_destroy.restype = None
    lib.opus_encode_float.restype = c_i32
    lib.opus_encode_float.argtypes = [c_p, f32p, c_int, ctypes.c_void_p, c_i32]
    lib.opus_decoder_create.restype = c_p
    lib.opus_decoder_create.argtypes = [c_i32, c_int, ctypes.POINTER(c_int)]
    lib.opus_decoder_destroy.argtypes = [c_p]
    lib.opus_decoder_destroy.restype = None
    lib.opus_decode_float.restype = c_int
    lib.opus_decode_float.argtypes = [c_p, u8p, c_i32, f32p, c_int, c_int]
    lib.opus_packet_get_nb_samples.restype = c_int
    lib.opus_packet_get_nb_samples.argtypes = [u8p, c_i32, c_i32]
    # opus_encoder_ctl / opus_decoder_ctl are variadic: arguments are passed explicitly per call.
    lib.opus_encoder_ctl.restype = c_int
    lib.opus_decoder_ctl.restype = c_int
    _lib = lib
    return lib


def version() -> str:
    """libopus' version string, e.g. 'libopus 1.3.1'."""
    return load_libopus().opus_get_version_string().decode()


def _check(code: int, what: str) -> int:
    if code < 0:
        reason = load_libopus().opus_strerror(code).decode()
        raise OpusError(f"{what} failed: {reason} ({code})")
    return code


@dataclass
class EncoderSettings:
    """Encoder configuration (defaults: 48 kHz mono 20 ms VOIP speech at 24 kbit/s with FEC)."""

    sample_rate: int = 48000           # Hz, one of RATES
    channels: int = 1
    frame_ms: float = 20.0             # 2.5, 5, 10, 20, 40 or 60 ms
    bitrate: int = 24000               # bit/s
    fec: bool = True                   # in-band FEC: each packet also carries the previous frame (SILK LBRR)
    expected_loss_pct: int = 10        # tells the encoder how much redundancy to spend (0..100)
    complexity: int = 5                # 0..10: CPU vs quality
    dtx: bool = False                  # discontinuous transmission (tiny packets in silence)
    application: int = OPUS_APPLICATION_VOIP

    @property
    def frame_size(self) -> int:
        """Samples per channel in one frame."""
        return int(round(self.sample_rate * self.frame_ms / 1000.0))


class OpusEncoder:
    """``encode((frame_size,) or (frame_size, channels) float32) -> bytes`` (one Opus packet)."""

    def __init__(self, settings: EncoderSettings | None = None, **overrides):
        self.settings = s = settings or EncoderSettings(**overrides)
        if s.sample_rate not in RATES:
            raise ValueError(f"Opus sample rate must be one of {RATES}, got {s.sample_rate}")
        if float(s.frame_ms) not in (2.5, 5.0, 10.0, 20.0, 40.0, 60.0):
            raise ValueError(f"Opus frame must be 2.5/5/10/20/40/60 ms, got {s.frame_ms} ms")
        self._lib = lib = load_libopus()
        err = ctypes.c_int(0)
        self._enc = lib.opus_encoder_create(s.sample_rate, s.channels, s.application, ctypes.byref(err))
        _check(err.value, "opus_encoder_create")
        self._ctl(_SET_BITRATE, int(s.bitrate))
        self._ctl(_SET_COMPLEXITY, int(s.complexity))
        self._ctl(_SET_INBAND_FEC, int(bool(s.fec)))
        self._ctl(_SET_PACKET_LOSS_PERC, int(s.expected_loss_pct))
        self._ctl(_SET_DTX, int(bool(s.dtx)))
        self._ctl(_SET_SIGNAL, OPUS_SIGNAL_VOICE)
        self._out = ctypes.create_string_buffer(MAX_PACKET * 3)
        self._pcm = np.zeros(s.frame_size * s.channels, dtype=np.float32)

    def _ctl(self, request: int, value: int):
        _check(self._lib.opus_encoder_ctl(ctypes.c_void_p(self._enc), ctypes.c_int(request),
                                          ctypes.c_int32(value)), f"opus_encoder_ctl({request})")

    def _get(self, request: int) -> int:
        out = ctypes.c_int32(0)
        _check(self._lib.opus_encoder_ctl(ctypes.c_void_p(self._enc), ctypes.c_int(request),
                                          ctypes.byref(out)), f"opus_encoder_ctl({request})")
        return out.value

    @property
    def lookahead(self) -> int:
        """Encoder look-ahead in samples (the codec's algorithmic delay, 6.5 ms for VOIP at 48 kHz)."""
        return self._get(_GET_LOOKAHEAD)

    @property
    def bitrate(self) -> int:
        return self._get(_GET_BITRATE)

    def set_expected_loss(self, percent: int):
        """Change the packet loss the encoder plans FEC for (0..100)."""
        self._ctl(_SET_PACKET_LOSS_PERC, int(np.clip(percent, 0, 100)))

    def encode(self, frame: np.ndarray) -> bytes:
        s = self.settings
        flat = np.asarray(frame, dtype=np.float32).reshape(-1)
        if flat.size != s.frame_size * s.channels:
            raise ValueError(f"encode needs {s.frame_size} samples x {s.channels} channels, got {np.shape(frame)}")
        self._pcm[:] = flat
        n = self._lib.opus_encode_float(self._enc, self._pcm.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                        s.frame_size, self._out, len(self._out))
        _check(n, "opus_encode_float")
        return self._out.raw[:n]

    def reset(self):
        _check(self._lib.opus_encoder_ctl(ctypes.c_void_p(self._enc), ctypes.c_int(_RESET_STATE)),
               "opus_encoder_ctl(RESET_STATE)")

    def close(self):
        if getattr(self, "_enc", None):
            self._lib.opus_encoder_destroy(self._enc)
            self._enc = None

    __del__ = close


class OpusDecoder:
    """Decode packets, recover a lost frame from the next packet's FEC data, or conceal a loss.

    All calls return a new (frame_size * channels,) float32 array (interleaved when channels > 1).
    ``decode`` raises OpusError on a corrupt packet; the caller decides whether to conceal.
    """

    def __init__(self, sample_rate: int = 48000, channels: int = 1, frame_size: int = 960):
        if sample_rate not in RATES:
            raise ValueError(f"Opus sample rate must be one of {RATES}, got {sample_rate}")
        self.sample_rate, self.channels, self.frame_size = sample_rate, channels, frame_size
        self._lib = lib = load_libopus()
        err = ctypes.c_int(0)
        self._dec = lib.opus_decoder_create(sample_rate, channels, ctypes.byref(err))
        _check(err.value, "opus_decoder_create")
        # room for the longest packet (120 ms) so that odd packets decode instead of failing
        self._pcm = np.zeros(sample_rate * 120 // 1000 * channels, dtype=np.float32)
        self._pcm_ptr = self._pcm.ctypes.data_as(ctypes.POINTER(ctypes.c_float))

    def _run(self, data, length: int, frame_size: int, fec: int, what: str) -> np.ndarray:
        n = self._lib.opus_decode_float(self._dec, data, length, self._pcm_ptr, frame_size, fec)
        _check(n, what)
        return self._pcm[: n * self.channels].copy()

    def decode(self, packet: bytes) -> np.ndarray:
        """The frame carried by ``packet`` (its own length, normally frame_size samples)."""
        if not packet:
            raise OpusError("opus_decode_float failed: empty packet")
        if len(packet) > MAX_PACKET * 3:
            raise OpusError(f"opus_decode_float failed: packet of {len(packet)} bytes is too long")
        return self._run(packet, len(packet), self._pcm.size // self.channels, 0, "opus_decode_float")

    def decode_fec(self, next_packet: bytes, frame_size: int | None = None) -> np.ndarray:
        """The *previous* frame rebuilt from ``next_packet``'s in-band FEC data (libopus conceals
        instead when that packet carries none). frame_size: samples of the lost frame."""
        frame_size = frame_size or self.frame_size
        if not next_packet or len(next_packet) > MAX_PACKET * 3:
            return self.conceal(frame_size)
        return self._run(next_packet, len(next_packet), frame_size, 1, "opus_decode_float(fec)")

    def conceal(self, frame_size: int | None = None) -> np.ndarray:
        """A packet-loss-concealment frame (libopus extrapolates from what it decoded last)."""
        frame_size = frame_size or self.frame_size
        return self._run(None, 0, frame_size, 0, "opus_decode_float(plc)")

    def packet_samples(self, packet: bytes) -> int:
        """Samples per channel in ``packet`` (OpusError if its header is invalid)."""
        return _check(self._lib.opus_packet_get_nb_samples(packet, len(packet), self.sample_rate),
                      "opus_packet_get_nb_samples")

    def reset(self):
        _check(self._lib.opus_decoder_ctl(ctypes.c_void_p(self._dec), ctypes.c_int(_RESET_STATE)),
               "opus_decoder_ctl(RESET_STATE)")

    def close(self):
        if getattr(self, "_dec", None):
            self._lib.opus_decoder_destroy(self._dec)
            self._dec = None

    __del__ = close

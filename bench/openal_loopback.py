"""OpenAL Soft's HRTF renderer driven through ctypes in loopback mode (ALC_SOFT_loopback), for the
audio benchmark: N static looping mono buffers (the same signals as the engine gets), the listener
orientation changed before every 256-frame render, 48 kHz float stereo.

Needs the system library libopenal.so.1 (Debian libopenal1; its HRTF data: libopenal-data).
OpenAL Soft reads its configuration (e.g. ``hrtf-paths``, where more data sets are) once, at its first
use in the process: call ``use_config`` before opening any device.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

import numpy as np

ALC_FREQUENCY = 0x1007
ALC_FORMAT_CHANNELS_SOFT = 0x1990
ALC_FORMAT_TYPE_SOFT = 0x1991
ALC_STEREO_SOFT = 0x1501
ALC_FLOAT_SOFT = 0x1406
ALC_HRTF_SOFT = 0x1992
ALC_HRTF_STATUS_SOFT = 0x1993
ALC_NUM_HRTF_SPECIFIERS_SOFT = 0x1994
ALC_HRTF_SPECIFIER_SOFT = 0x1995
ALC_HRTF_ID_SOFT = 0x1996
ALC_TRUE = 1
HRTF_STATUS = {0: "disabled", 1: "enabled", 2: "denied", 3: "required", 4: "headphones detected",
               5: "unsupported format"}
AL_FORMAT_MONO_FLOAT32 = 0x10010
AL_POSITION = 0x1004
AL_ORIENTATION = 0x100F
AL_BUFFER = 0x1009
AL_LOOPING = 0x1007
AL_SOURCE_STATE = 0x1010
AL_PLAYING = 0x1012


def _library():
    path = ctypes.util.find_library("openal") or "libopenal.so.1"
    try:
        return ctypes.CDLL(path)
    except OSError as exc:
        raise RuntimeError(f"OpenAL Soft not found ({exc}); install libopenal1") from exc


def use_config(path) -> None:
    """Make OpenAL Soft read the config file ``path`` (via ALSOFT_CONF); call before any device opens
    (OpenAL Soft 1.19 reads its configuration once, at its first use in the process)."""
    os.environ["ALSOFT_CONF"] = str(path)


class OpenALLoopback:
    """A loopback device + context with ``sources`` looping mono float buffers (sources, T) placed
    at ``positions`` (sources, 3) metres; ``render(out)`` fills out (frames, 2) float32.

    hrtf_name: the enumerated HRTF data set to request (ALC_HRTF_ID_SOFT), None = OpenAL's first one.
    looping: False plays each buffer once (used to record impulse responses).
    """

    def __init__(self, signals: np.ndarray, positions: np.ndarray, rate: int = 48000, hrtf: bool = True,
                 hrtf_name: str | None = None, looping: bool = True):
        al = self.al = _library()
        al.alcGetProcAddress.restype = ctypes.c_void_p
        al.alcGetProcAddress.argtypes = [ctypes.c_void_p, ctypes.c_char_p]

        def proc(name, restype, *argtypes):
            addr = al.alcGetProcAddress(None, name)
            if not addr:
                raise RuntimeError(f"OpenAL has no {name.decode()} (ALC_SOFT_loopback missing)")
            return ctypes.CFUNCTYPE(restype, *argtypes)(addr)

        open_dev = proc(b"alcLoopbackOpenDeviceSOFT", ctypes.c_void_p, ctypes.c_char_p)
        supported = proc(b"alcIsRenderFormatSupportedSOFT", ctypes.c_char, ctypes.c_void_p, ctypes.c_int,
                         ctypes.c_int, ctypes.c_int)
        self._render = proc(b"alcRenderSamplesSOFT", None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)
        al.alcCreateContext.restype = ctypes.c_void_p
        al.alcCreateContext.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int)]
        al.alcMakeContextCurrent.argtypes = [ctypes.c_void_p]
        al.alcGetIntegerv.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
        al.alcGetString.restype = ctypes.c_char_p
        al.alcGetString.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.device = open_dev(None)
        if not self.device:
            raise RuntimeError("alcLoopbackOpenDeviceSOFT failed")
        if not ord(supported(self.device, rate, ALC_STEREO_SOFT, ALC_FLOAT_SOFT)):
            raise RuntimeError("loopback float stereo not supported")
        attr_list = [ALC_FORMAT_CHANNELS_SOFT, ALC_STEREO_SOFT, ALC_FORMAT_TYPE_SOFT, ALC_FLOAT_SOFT,
                     ALC_FREQUENCY, rate, ALC_HRTF_SOFT, ALC_TRUE if hrtf else 0]
        self.hrtf_list = self._hrtf_specifiers(proc)
        if hrtf_name is not None:
            if hrtf_name not in self.hrtf_list:
                al.alcCloseDevice(ctypes.c_void_p(self.device))
                raise RuntimeError(f"OpenAL Soft has no HRTF '{hrtf_name}' (it lists {self.hrtf_list})")
            attr_list += [ALC_HRTF_ID_SOFT, self.hrtf_list.index(hrtf_name)]
        attrs = (ctypes.c_int * (len(attr_list) + 1))(*attr_list, 0)
        self.context = al.alcCreateContext(self.device, attrs)
        if not self.context:
            raise RuntimeError("alcCreateContext failed")
        al.alcMakeContextCurrent(self.context)
        status = ctypes.c_int(-1)
        al.alcGetIntegerv(self.device, ALC_HRTF_STATUS_SOFT, 1, ctypes.byref(status))
        self.hrtf_status = HRTF_STATUS.get(status.value, str(status.value))
        name = al.alcGetString(self.device, ALC_HRTF_SPECIFIER_SOFT)
        self.hrtf_name = name.decode() if name else ""
        n = signals.shape[0]
        self.buffers = (ctypes.c_uint * n)()
        self.sources = (ctypes.c_uint * n)()
        al.alGenBuffers(n, self.buffers)
        al.alGenSources(n, self.sources)
        al.alSource3f.argtypes = [ctypes.c_uint, ctypes.c_int, ctypes.c_float, ctypes.c_float, ctypes.c_float]
        al.alListenerfv.argtypes = [ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
        self._signals = np.ascontiguousarray(signals, dtype=np.float32)
        for i in range(n):
            data = self._signals[i]
            al.alBufferData(self.buffers[i], AL_FORMAT_MONO_FLOAT32, data.ctypes.data_as(ctypes.c_void_p),
                            ctypes.c_int(data.nbytes), ctypes.c_int(rate))
            al.alSourcei(self.sources[i], AL_BUFFER, ctypes.c_int(self.buffers[i]))
            al.alSourcei(self.sources[i], AL_LOOPING, ctypes.c_int(1 if looping else 0))
            al.alSource3f(self.sources[i], AL_POSITION, *map(float, positions[i]))
        al.alSourcePlayv(n, self.sources)
        self._orientation = (ctypes.c_float * 6)()

    def _hrtf_specifiers(self, proc) -> list[str]:
        """Names of the HRTF data sets OpenAL Soft enumerates for this device (index = ALC_HRTF_ID_SOFT)."""
        al = self.al
        count = ctypes.c_int(0)
        al.alcGetIntegerv(self.device, ALC_NUM_HRTF_SPECIFIERS_SOFT, 1, ctypes.byref(count))
        get = proc(b"alcGetStringiSOFT", ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int)
        return [(get(self.device, ALC_HRTF_SPECIFIER_SOFT, i) or b"").decode() for i in range(count.value)]

    def set_yaw(self, yaw: float) -> None:
        """Listener facing -z turned by yaw radians (left positive), up +y."""
        o = self._orientation
        o[0], o[1], o[2], o[3], o[4], o[5] = -np.sin(yaw), 0.0, -np.cos(yaw), 0.0, 1.0, 0.0
        self.al.alListenerfv(AL_ORIENTATION, o)

    def render(self, out: np.ndarray) -> None:
        self._render(self.device, out.ctypes.data_as(ctypes.c_void_p), out.shape[0])

    def close(self) -> None:
        al = self.al
        n = len(self.sources)
        al.alSourceStopv(n, self.sources)
        al.alDeleteSources(n, self.sources)
        al.alDeleteBuffers(n, self.buffers)
        al.alcMakeContextCurrent(None)
        al.alcDestroyContext(ctypes.c_void_p(self.context))
        al.alcCloseDevice(ctypes.c_void_p(self.device))


def impulse_response(hrtf_name: str | None, position=(0.0, 0.0, -1.0), frames: int = 512,
                     rate: int = 48000) -> np.ndarray:
    """What OpenAL Soft renders (frames, 2) for a one-sample impulse from one source at ``position``
    (metres, listener frame) with the HRTF data set ``hrtf_name``: its length shows the FIR length."""
    impulse = np.zeros((1, frames), np.float32)
    impulse[0, 0] = 1.0
    al = OpenALLoopback(impulse, np.asarray([position], float), rate, hrtf=True, hrtf_name=hrtf_name, looping=False)
    try:
        out = np.zeros((frames, 2), np.float32)
        al.render(out)
        return out
    finally:
        al.close()


def response_length(response: np.ndarray, floor: float = 1e-9) -> int:
    """1 + index of the last sample of ``response`` (frames, ...) with magnitude above ``floor``."""
    live = np.flatnonzero(np.abs(response).reshape(len(response), -1).max(axis=1) > floor)
    return int(live[-1]) + 1 if len(live) else 0


def hrtf_filter_taps(path="/usr/share/openal/hrtf/default-48000.mhr") -> int | None:
    """Filter length of an OpenAL Soft MinPHR02 data set (header byte 14), or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError:
        return None
    return head[14] if head[:8] == b"MinPHR02" else None

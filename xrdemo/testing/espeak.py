"""Labelled speech for tests: libespeak-ng (through ctypes) says a sentence and reports each phoneme.

``synthesise(text, voice)`` returns the audio (22,050 Hz mono float32) and the phonemes with their
start in that audio, from espeak-ng's C API: ``espeak_Initialize`` with synchronous output and the
phoneme-events option, a synth callback that keeps the samples and every ``espeakEVENT_PHONEME``
event (its ``audio_position`` in ms and the mnemonic in ``id.string``). The command line's ``--pho``
needs mbrola voices, which Debian does not ship; the library reports the same events itself.

espeak-ng (Debian ``espeak-ng``, ``libespeak-ng1``) is GPL-3; xrdemo only loads it at test time
and uses what it says (audio and phoneme labels) as test data, which the licence does not restrict.
Not part of the product: nothing outside tests and tuning scripts imports this module.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass

import numpy as np

AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_PHONEME_EVENTS = 0x0001
EVENT_LIST_TERMINATED = 0
EVENT_PHONEME = 7
EVENT_MSG_TERMINATED = 6
CHARS_UTF8 = 1
POS_CHARACTER = 1
PARAM_RATE = 1           # words per minute
PARAM_PITCH = 3          # 0..100


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """espeak_EVENT (speak_lib.h)."""

    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                   ctypes.POINTER(_Event))


class EspeakUnavailable(RuntimeError):
    """libespeak-ng is not installed (Debian: apt-get install libespeak-ng1 espeak-ng)."""


@dataclass
class Utterance:
    """One synthesised sentence and its phoneme labels.

    audio: (S,) float32 in [-1, 1] at ``rate`` Hz. phonemes: espeak mnemonics (e.g. "p", "i:",
    "aI"); starts_s: (P,) float64 seconds, where each phoneme starts in ``audio``; a phoneme lasts
    until the next one starts (the last one until the end of the audio).
    """

    text: str
    voice: str
    audio: np.ndarray
    rate: int
    phonemes: list
    starts_s: np.ndarray

    def labels_at(self, times_s: np.ndarray) -> list:
        """The phoneme sounding at each time (T,) seconds ("" before the first one)."""
        idx = np.searchsorted(self.starts_s, np.asarray(times_s, np.float64), side="right") - 1
        return ["" if i < 0 else self.phonemes[i] for i in idx.tolist()]


class _Espeak:
    """The library, initialised once per process (espeak-ng keeps global state)."""

    def __init__(self):
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            raise EspeakUnavailable(f"libespeak-ng not found ({exc}); install libespeak-ng1") from exc
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_Synchronize.restype = ctypes.c_int
        lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
        lib.espeak_Info.restype = ctypes.c_char_p
        rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 200, None, INITIALIZE_PHONEME_EVENTS)
        if rate <= 0:
            raise EspeakUnavailable(f"espeak_Initialize failed ({rate}); is espeak-ng-data installed?")
        self.lib, self.rate = lib, int(rate)
        self.version = (lib.espeak_Info(None) or b"?").decode()
        self._chunks: list = []
        self._events: list = []
        self._callback = _SYNTH_CALLBACK(self._collect)        # kept alive with the object
        lib.espeak_SetSynthCallback(self._callback)
        self.lock = threading.Lock()

    def _collect(self, wav, count, events) -> int:
        if count > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, (count,)).copy())
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == EVENT_PHONEME:
                self._events.append((ev.id.string.decode("ascii", "replace"), ev.audio_position))
            i += 1
        return 0                                                # 0: carry on synthesising

    def say(self, text: str, voice: str, rate_wpm: int, pitch: int) -> Utterance:
        lib = self.lib
        with self.lock:
            if lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {voice!r}")
            lib.espeak_SetParameter(PARAM_RATE, int(rate_wpm), 0)
            lib.espeak_SetParameter(PARAM_PITCH, int(pitch), 0)
            self._chunks, self._events = [], []
            data = text.encode("utf-8") + b"\0"
            buf = ctypes.create_string_buffer(data)
            err = lib.espeak_Synth(buf, len(data), 0, POS_CHARACTER, 0, CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
            if err != 0:
                raise RuntimeError(f"espeak_Synth failed ({err}) for {text!r}")
            pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            events = list(self._events)
        phonemes = [name for name, _ in events]
        starts = np.array([ms for _, ms in events], np.float64) * 1e-3
        return Utterance(text, voice, pcm.astype(np.float32) / 32768.0, self.rate, phonemes, starts)


_LIB: _Espeak | None = None


def library() -> _Espeak:
    """The initialised library (EspeakUnavailable when it is not installed)."""
    global _LIB
    if _LIB is None:
        _LIB = _Espeak()
    return _LIB


def synthesise(text: str, voice: str = "en-us", rate_wpm: int = 160, pitch: int = 50) -> Utterance:
    """Say ``text`` with an espeak-ng voice (e.g. "en-us", "en-gb+f3"); audio and phoneme labels."""
    return library().say(text, voice, rate_wpm, pitch)

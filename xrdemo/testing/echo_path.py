"""A simulated acoustic echo path, for testing and benchmarking ``audio.mic_processing``.

The far end is what this machine plays: the project's own voices (``MeetingVoices``) rendered
binaurally by ``SpatialAudioEngine`` for a listener at the table. It reaches the microphone through
a synthetic room impulse response per ear speaker (a direct path after ``delay_ms``, then an
exponentially decaying diffuse tail), and adds to the near-end talker and fan noise at known levels.
``run_live_order`` then drives a processor the way the live program does: the output renders
``ahead`` blocks before they play and hands each to ``far_end`` as it writes it; the microphone
captures 256-sample blocks; the sender wakes every 20 ms and processes whole 10 ms frames.
All signals are float32 at 48 kHz; levels are RMS in dBFS over the active parts.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 48000
BLOCK = 256


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))


def rms_db(x: np.ndarray) -> float:
    """RMS of x in dBFS (-200 for silence)."""
    p = float(np.mean(np.square(x, dtype=np.float64))) if x.size else 0.0
    return 10.0 * np.log10(max(p, 1e-20))


def played_mix(seconds: float, talking=(0, 1, 2), seed: int = 0) -> np.ndarray:
    """(T, 2) float32: three remote people at the table, as this listener hears them.

    talking: which of the three talk (all the time: the clips have their own pauses)."""
    from xrdemo.audio.engine import SpatialAudioEngine
    from xrdemo.audio.meeting import MeetingVoices

    n = 3
    voices = MeetingVoices(n, SAMPLE_RATE, BLOCK, seed=seed)
    engine = SpatialAudioEngine(SAMPLE_RATE, BLOCK, kernel="numpy")
    engine.set_sources(np.array([[-0.9, 1.6, -0.5], [0.0, 1.6, -1.2], [0.9, 1.6, -0.5]]))
    engine.set_listener((0.0, 1.6, 0.0), (0.0, 0.0, 0.0, 1.0))
    speaking = np.zeros(n, bool)
    speaking[list(talking)] = True
    blocks = int(np.ceil(seconds * SAMPLE_RATE / BLOCK))
    out = np.zeros((blocks * BLOCK, 2), np.float32)
    for k in range(blocks):
        mono, _ = voices.next_block(speaking)
        out[k * BLOCK:(k + 1) * BLOCK] = engine.process(mono)
    return out[:int(seconds * SAMPLE_RATE)]


def room_response(delay_ms: float, rt60_s: float = 0.3, length_s: float = 0.25, seed: int = 0,
                  channels: int = 2) -> np.ndarray:
    """(L, channels) float64: speaker k -> microphone impulse responses. A unit direct path at
    ``delay_ms`` (the ears' speakers differ by up to 0.2 ms), then a diffuse tail decaying by 60 dB
    in ``rt60_s`` whose energy is -6 dB relative to the direct sound."""
    rng = np.random.default_rng([seed, 0xEC0])
    n = int(length_s * SAMPLE_RATE)
    h = np.zeros((n, channels))
    t = np.arange(n) / SAMPLE_RATE
    for c in range(channels):
        d = int(round((delay_ms + 0.1 * c) * SAMPLE_RATE / 1000.0))
        tail = rng.standard_normal(n) * np.exp(-6.9 * (t - t[d]) / rt60_s)
        tail[:d + 24] = 0.0      # the first reflections arrive ~0.5 ms after the direct sound
        tail *= np.sqrt(0.25 / np.sum(tail ** 2))
        h[:, c] = tail
        h[d, c] += 1.0
    return h


def echo_at_mic(far: np.ndarray, response: np.ndarray) -> np.ndarray:
    """(T,) float64: the far-end mix (T, channels) through the room response (L, channels)."""
    from scipy.signal import oaconvolve

    t = far.shape[0]
    return sum(oaconvolve(far[:, c].astype(np.float64), response[:, c])[:t] for c in range(far.shape[1]))


def near_talker(seconds: float, clip: int = 3, start_s: float = 0.0, stop_s: float | None = None,
                gap_s: float = 0.4) -> np.ndarray:
    """(T,) float32: a shipped speech clip (repeated with gap_s gaps) between start_s and stop_s."""
    from xrdemo.audio.voices import load_voices, voice_track

    total = int(seconds * SAMPLE_RATE)
    x = voice_track(load_voices(SAMPLE_RATE)[clip], total, int(start_s * SAMPLE_RATE), int(gap_s * SAMPLE_RATE))
    if stop_s is not None:
        x[int(stop_s * SAMPLE_RATE):] = 0.0
    return x


def fan_noise(seconds: float, seed: int = 0) -> np.ndarray:
    """(T,) float64, unit RMS: a fan: pink-ish broadband noise (-3 dB/octave above 100 Hz, low-passed
    at 4 kHz) plus a 150 Hz blade-pass hum 12 dB below it."""
    rng = np.random.default_rng([seed, 0xFA7])
    n = int(seconds * SAMPLE_RATE)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    shape = 1.0 / np.sqrt(np.maximum(f, 100.0)) / (1.0 + (f / 4000.0) ** 4)
    noise = np.fft.irfft(spec * shape, n)
    noise /= np.sqrt(np.mean(noise ** 2))
    hum = np.sqrt(2.0) * np.sin(2 * np.pi * 150.0 * np.arange(n) / SAMPLE_RATE) * db_to_gain(-12.0)
    x = noise + hum
    return x / np.sqrt(np.mean(x ** 2))


def active_mask(x: np.ndarray, frame: int = 480, floor_db: float = -45.0) -> np.ndarray:
    """(T // frame,) bool: 10 ms frames of x whose RMS is above floor_db relative to x's loudest
    frame (where a clean signal is "active")."""
    f = x[:x.size // frame * frame].reshape(-1, frame).astype(np.float64)
    p = 10.0 * np.log10(np.maximum(np.mean(f ** 2, axis=1), 1e-20))
    return p > p.max() + floor_db


def scale_to(x: np.ndarray, level_db: float, frame: int = 480) -> np.ndarray:
    """x scaled so that its RMS over its active 10 ms frames is level_db dBFS."""
    mask = active_mask(x, frame)
    f = x[:x.size // frame * frame].reshape(-1, frame)
    current = rms_db(f[mask])
    return (x * db_to_gain(level_db - current)).astype(np.float32)


def run_live_order(processor, far: np.ndarray, mic: np.ndarray, ahead: int = 3, wake: int = 960):
    """Drive ``processor`` (``far_end`` / ``process``) as the live program does.

    far: (T, channels) what the device plays at each sample; mic: (T,) what the microphone captures
    at each sample (echo already in it). The output hands block k + ahead to ``far_end`` while
    block k plays; the sender wakes every ``wake`` samples and processes every whole 10 ms frame
    captured so far. Returns (cleaned (T',) float32, vad (T' // 480,) bool), T' = whole frames."""
    from xrdemo.audio.mic_processing import FRAME

    t = min(far.shape[0], mic.shape[0]) // BLOCK * BLOCK
    out = np.zeros(t // FRAME * FRAME, np.float32)
    vad = np.zeros(t // FRAME, bool)
    written = 0          # samples handed to far_end
    done = 0             # microphone frames processed
    next_wake = wake
    for k in range(t // BLOCK):
        # block k starts playing: everything up to block k + ahead has been rendered and handed over
        target = min(t, (k + 1 + ahead) * BLOCK)
        if target > written:
            processor.far_end(far[written:target])
            written = target
        captured = (k + 1) * BLOCK
        if captured >= next_wake or captured == t:
            next_wake += wake
            while (done + 1) * FRAME <= captured:
                s = done * FRAME
                out[s:s + FRAME], vad[done] = processor.process(mic[s:s + FRAME])
                done += 1
    return out[:done * FRAME], vad[:done]

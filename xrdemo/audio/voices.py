"""Speech clips for scripted people, and a per-source voice-activity / energy signal.

Clips live in assets/voices/ (made by scripts/make_voices.sh with espeak-ng, 16 kHz mono). The
activity signal (RMS level smoothed with fast attack / slow release, plus a hysteresis gate) drives
lips, jaw and the speaking indicator later.
"""

from __future__ import annotations

import wave

import numpy as np

VOICE_FILES = ("voices/voice_0.wav", "voices/voice_1.wav", "voices/voice_2.wav", "voices/voice_3.wav")


def read_wav(path) -> tuple[np.ndarray, int]:
    """Mono float32 samples in [-1, 1] and the sample rate of a 16-bit PCM WAV file."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV is supported")
        rate = w.getframerate()
        channels = w.getnchannels()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    return data.reshape(-1, channels).mean(axis=1), rate


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling of a whole clip (FFT zero-padding / truncation); float32 out."""
    if rate_in == rate_out:
        return x.astype(np.float32)
    n_out = int(round(len(x) * rate_out / rate_in))
    spectrum = np.fft.rfft(x)
    bins = n_out // 2 + 1
    if bins > spectrum.size:
        spectrum = np.concatenate([spectrum, np.zeros(bins - spectrum.size, complex)])
    return (np.fft.irfft(spectrum[:bins], n_out) * (n_out / len(x))).astype(np.float32)


def load_voices(sample_rate=48000) -> list[np.ndarray]:
    """The shipped speech clips, resampled to ``sample_rate``: a list of (samples,) float32."""
    from xrdemo.resources import asset_path

    clips = []
    for name in VOICE_FILES:
        x, rate = read_wav(asset_path(name))
        clips.append(resample(x, rate, sample_rate))
    return clips


def voice_track(clip: np.ndarray, total: int, offset: int, gap: int) -> np.ndarray:
    """A (total,) track with ``clip`` repeated every len(clip) + gap samples, starting at ``offset``."""
    track = np.zeros(total, dtype=np.float32)
    period = len(clip) + gap
    start = offset
    while start < total:
        end = min(total, start + len(clip))
        track[start:end] = clip[: end - start]
        start += period
    return track


class VoiceActivity:
    """Per-source speaking level from mono blocks: ``update((N, B)) -> (level (N,), speaking (N,))``.

    level: smoothed RMS in dBFS mapped to 0..1 (``floor_db`` -> 0, ``full_db`` -> 1); speaking: a gate
    with hysteresis (opens above ``open_db``, closes below ``close_db``), so it does not flicker.
    """

    def __init__(self, count: int, block_seconds: float, attack_s=0.01, release_s=0.15,
                 floor_db=-60.0, full_db=-12.0, open_db=-40.0, close_db=-48.0):
        self.level_db = np.full(count, floor_db)
        self.speaking = np.zeros(count, dtype=bool)
        self._attack = 1.0 - np.exp(-block_seconds / attack_s)
        self._release = 1.0 - np.exp(-block_seconds / release_s)
        self.floor_db, self.full_db, self.open_db, self.close_db = floor_db, full_db, open_db, close_db

    def update(self, blocks: np.ndarray):
        rms = np.sqrt(np.mean(np.square(blocks, dtype=np.float64), axis=-1))
        db = 20.0 * np.log10(np.maximum(rms, 1e-6))
        rate = np.where(db > self.level_db, self._attack, self._release)
        self.level_db += rate * (db - self.level_db)
        self.speaking = np.where(self.speaking, self.level_db > self.close_db, self.level_db > self.open_db)
        level = np.clip((self.level_db - self.floor_db) / (self.full_db - self.floor_db), 0.0, 1.0)
        return level, self.speaking.copy()

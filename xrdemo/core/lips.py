"""Jaw opening from voice energy, in sync with what the user hears (ITU-R BT.1359).

Voice energy envelopes are sampled on the *audio* clock: sample k describes the sound that reaches
the listener's ears at ``t0_ns + k / rate_hz``, expressed in the display (XrTime) clock domain — the
audio layer converts its stream time with its output latency and clock offset
(:func:`audio_presentation_time_ns`). A frame shown at the predicted display time T should show the
mouth for the sound heard at T. BT.1359 finds a lip-sync error detectable when sound leads the
picture by 45 ms or lags it by 125 ms, so we aim slightly late (``target_audio_lag_ms``, default
+15 ms: the middle of the window is on the "sound late" side) and report the error actually reached
when the envelope does not reach far enough into the future.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

AUDIO_EARLY_LIMIT_MS = 45.0
"""BT.1359 detectability threshold: sound before picture."""
AUDIO_LATE_LIMIT_MS = 125.0
"""BT.1359 detectability threshold: sound after picture."""


def audio_presentation_time_ns(stream_time_ns: int, output_latency_ns: int, clock_offset_ns: int = 0) -> int:
    """Display-clock time at which audio written at ``stream_time_ns`` (audio clock) is heard.

    clock_offset_ns: display clock minus audio clock, measured by the audio layer.
    """
    return int(stream_time_ns) + int(output_latency_ns) + int(clock_offset_ns)


@dataclass
class VoiceEnvelope:
    """Per-person speech energy on the audio clock.

    values: (N, K) float 0..1, sample k heard at ``t0_ns + k * 1e9 / rate_hz`` (display clock);
    valid: (N,) bool, people whose energy comes from real audio (the rest use the script).
    """

    values: np.ndarray
    t0_ns: int
    rate_hz: float
    valid: np.ndarray


@dataclass
class LipSample:
    """The envelope value chosen for one display time, and the sync error it implies."""

    energy: np.ndarray       # (N,) 0..1
    offset_ms: float         # sound time shown minus display time: > 0 sound late, < 0 sound early
    in_sync: bool            # within BT.1359's -45/+125 ms


def sample_envelope(env: VoiceEnvelope, display_time_ns: int, target_audio_lag_ms: float = 15.0) -> LipSample:
    """Energy of the sound heard at ``display_time_ns + target_audio_lag_ms``, linear interpolation.

    Queries past the newest sample clamp to it (the picture then shows older sound: sound early);
    queries before the oldest clamp to it (sound late).
    """
    k = env.values.shape[1]
    want_ns = display_time_ns + target_audio_lag_ms * 1e6
    pos = (want_ns - env.t0_ns) * env.rate_hz * 1e-9
    pos = min(max(pos, 0.0), k - 1.0)
    i0 = int(pos)
    i1 = min(i0 + 1, k - 1)
    f = pos - i0
    e = env.values[:, i0] * (1.0 - f) + env.values[:, i1] * f
    used_ns = env.t0_ns + pos * 1e9 / env.rate_hz
    offset_ms = (used_ns - display_time_ns) * 1e-6
    ok = -AUDIO_EARLY_LIMIT_MS <= offset_ms <= AUDIO_LATE_LIMIT_MS
    return LipSample(e, float(offset_ms), bool(ok))


def jaw_from_energy(energy: np.ndarray, prev_jaw: np.ndarray, dt_s: float,
                    floor: float = 0.04, gain: float = 1.6, attack_s: float = 0.02,
                    release_s: float = 0.07) -> np.ndarray:
    """Jaw opening 0..1 from energy 0..1: a soft gate and curve, then attack/release smoothing.

    (N,), (N,), seconds -> (N,). Opens fast (attack ~20 ms) and closes a little slower (~70 ms), as
    jaws do; the attack lag is one reason the default sync target is a little on the late side.
    """
    goal = np.minimum(np.maximum(energy - floor, 0.0) * gain, 1.0) ** 0.7
    if dt_s <= 0.0:
        return goal if prev_jaw is None else prev_jaw
    ka = 1.0 - math.exp(-dt_s / attack_s)
    kr = 1.0 - math.exp(-dt_s / release_s)
    step = goal - prev_jaw
    step *= np.where(step > 0.0, ka, kr)            # opening (goal above): attack; closing: release
    return prev_jaw + step

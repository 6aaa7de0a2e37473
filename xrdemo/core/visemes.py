"""Mouth shapes from the sound of a voice alone (no text): short-time spectra -> five visemes + jaw.

Every audio block (hop), for each of N people, the newest ``window`` samples of what the listener
hears become one feature row: the spectral shape (log energies in ``BANDS`` log-spaced bands from
100 Hz to 8 kHz, minus their mean: formant-like peaks and tilt, independent of loudness), the
loudness relative to the speaker's recent peak (stops and closures are quiet), and the zero-crossing
rate (fricatives). Rows from the last few hops are stacked (``LAGS``: the recent past only, so no
look-ahead), a linear discriminant (fitted by ``scripts/tune_visemes.py`` on the tuning sentences
of ``xrdemo/testing/viseme_truth.py``, stored in ``viseme_model.py``) scores the five groups of
``expressions.VISEME_GROUPS``, and its posteriors, gated by loudness, become the weights:

- lips_closed, lower_lip_tuck, lip_stretch, lip_funnel: the gated posterior of their group;
- jaw_open: the 'open' posterior plus a share of the other vowels' (wide, round), times the chance
  the lips are not closed, times a loudness curve (0 at 20 dB under the speaker's recent peak), so
  quiet sounds and closures bring the jaw up. (Chosen on the tuning set among a few variants:
  smoothing 4 or 12 ms, loudness floor 10 or 20 dB, with or without the closed-lips factor; the
  rule was "most accurate with p/b/m closed on >= 93 % of tuning frames".)

The weights describe the sound ``delay_s`` before the end of the newest block (the window's middle):
the caller time-stamps them so (see ``audio/visemes.py``). Pure numpy: no clock, no I/O; the
state of N people advances together, vectorised over N.
"""

from __future__ import annotations

import math

import numpy as np

from . import viseme_model as _MODEL
from .expressions import EXPRESSION_COUNT, INDEX, VISEME_EXPRESSION, VISEME_GROUPS

BANDS = 16
BAND_LO_HZ, BAND_HI_HZ = 100.0, 8000.0
WINDOW_S = 1024 / 48000            # ~21 ms analysis window
LAGS = (0, 2, 4, 8)                # stacked feature rows, in hops back from the newest
FEATURES = BANDS + 2               # spectral shape, relative loudness, zero-crossing rate
PEAK_DECAY_PER_S = 3.75            # natural-log power units per second (~16 dB/s) the peak falls
GATE_FLOOR_DB, GATE_RANGE_DB = -55.0, 15.0     # dBFS: below the floor the face is at rest
JAW_SHARE = np.array([0.0, 0.1, 0.3, 0.35, 1.0])  # jaw opening per group (closed..open)
SMOOTH_S = 0.012                   # posterior smoothing time constant
REST_LEVEL = 0.05                  # a mouth whose five weights all stay below this shows as closed
JAW_CLOSED = 0.1                   # jaw_open below this reads as a closed mouth

MOUTH_COLUMNS = np.array([INDEX[VISEME_EXPRESSION[g]] for g in VISEME_GROUPS])
"""Expression columns of the five groups' weights, in VISEME_GROUPS order (closed, fv, wide,
round, open -> lips_closed, lower_lip_tuck, lip_stretch, lip_funnel, jaw_open)."""


def window_length(rate_hz: float) -> int:
    """Samples in the analysis window at ``rate_hz`` (a power of two near WINDOW_S)."""
    return 1 << int(round(math.log2(WINDOW_S * rate_hz)))


def band_matrix(rate_hz: float, window: int) -> np.ndarray:
    """(window // 2 + 1, BANDS) float64: 1 where an rfft bin falls in a band (log-spaced edges); a band
    narrower than a bin takes the bin nearest its centre."""
    freqs = np.fft.rfftfreq(window, 1.0 / rate_hz)
    edges = np.geomspace(BAND_LO_HZ, BAND_HI_HZ, BANDS + 1)
    m = (freqs[:, None] >= edges[None, :-1]) & (freqs[:, None] < edges[None, 1:])
    centres = np.sqrt(edges[:-1] * edges[1:])
    for band in np.flatnonzero(~m.any(axis=0)):          # narrower than a bin: take the nearest bin
        m[np.argmin(np.abs(freqs - centres[band])), band] = True
    return m.astype(np.float64)


class VisemeTracker:
    """Per-person state of the voice -> viseme mapping, advanced one hop at a time.

    n: people; rate_hz: sample rate of the frames; hop_s: seconds between updates (one block);
    model: (W (len(LAGS) * FEATURES, 5), b (5,)) of the discriminant (default: viseme_model.py).
    """

    def __init__(self, n: int, rate_hz: float, hop_s: float, model=None):
        if model is None:
            model = (_MODEL.W, _MODEL.B)
        self.w = np.asarray(model[0], np.float64)
        self.b = np.asarray(model[1], np.float64)
        if self.w.shape != (len(LAGS) * FEATURES, len(VISEME_GROUPS)) or self.b.shape != (5,):
            raise ValueError(f"viseme model: W {self.w.shape}, b {self.b.shape} do not fit "
                             f"{len(LAGS)} x {FEATURES} features and 5 groups")
        self.n, self.rate_hz, self.hop_s = int(n), float(rate_hz), float(hop_s)
        self.window = window_length(rate_hz)
        self.bands = band_matrix(rate_hz, self.window)
        self.taper = np.hanning(self.window)
        self.lag_rows = np.array(LAGS)
        self.history = np.zeros((self.n, max(LAGS) + 1, FEATURES))
        self.peak = np.full(self.n, -30.0)
        self.posterior = np.full((self.n, 5), 0.2)
        self.peak_step = PEAK_DECAY_PER_S * self.hop_s
        self.smooth_k = 1.0 - math.exp(-self.hop_s / SMOOTH_S)
        self.weights = np.zeros((self.n, 5))     # the five mouth weights (VISEME_GROUPS order)
        self.delay_s = 0.5 * self.window / self.rate_hz

    def features(self, frames: np.ndarray) -> np.ndarray:
        """(N, FEATURES) rows of frames (N, window) float; advances the loudness peak."""
        x = np.asarray(frames, np.float64)
        power = np.abs(np.fft.rfft(x * self.taper, axis=-1)) ** 2
        bands = np.log(power @ self.bands + 1e-10)
        total = np.log(power.sum(axis=-1) + 1e-10)
        self.peak = np.maximum(total, self.peak - self.peak_step)
        crossings = np.count_nonzero(np.signbit(x[:, 1:]) != np.signbit(x[:, :-1]), axis=-1)
        out = np.empty((len(x), FEATURES))
        out[:, :BANDS] = bands - bands.mean(axis=-1, keepdims=True)
        out[:, BANDS] = total - self.peak
        out[:, BANDS + 1] = crossings / (x.shape[-1] - 1)
        return out

    def stacked(self) -> np.ndarray:
        """(N, len(LAGS) * FEATURES): the newest feature rows at LAGS, side by side (what the
        discriminant scores)."""
        return self.history[:, self.lag_rows].reshape(self.n, -1)

    def update(self, frames: np.ndarray) -> np.ndarray:
        """The five mouth weights (N, 5) 0..1 (VISEME_GROUPS order) after one hop.

        frames: (N, window) float, each person's newest ``window`` samples in -1..1 (zeros for
        silence). Also keeps ``self.weights`` and ``self.jaw`` (N,).
        """
        row = self.features(frames)
        hist = self.history
        hist[:, 1:] = hist[:, :-1]
        hist[:, 0] = row
        scores = self.stacked() @ self.w + self.b
        scores -= scores.max(axis=-1, keepdims=True)
        p = np.exp(scores)
        p /= p.sum(axis=-1, keepdims=True)
        self.posterior += self.smooth_k * (p - self.posterior)
        rms_db = 20.0 * np.log10(np.sqrt(np.mean(np.square(frames), axis=-1)) + 1e-9)
        gate = np.clip((rms_db - GATE_FLOOR_DB) / GATE_RANGE_DB, 0.0, 1.0)
        loud = np.clip(1.0 + row[:, BANDS] / 4.6, 0.0, 1.0)     # 0 at 20 dB under the recent peak
        w = self.weights
        w[:] = self.posterior * gate[:, None]
        w[:, 4] = gate * (self.posterior @ JAW_SHARE) * (1.0 - self.posterior[:, 0]) * loud
        return w

    def expressions(self, out: np.ndarray | None = None) -> np.ndarray:
        """(N, EXPRESSION_COUNT) float32 rows with the mouth weights in their columns (rest 0),
        or written into ``out``'s mouth columns (other columns untouched)."""
        if out is None:
            out = np.zeros((self.n, EXPRESSION_COUNT), np.float32)
        out[:, MOUTH_COLUMNS] = self.weights
        return out


def shown_group(weights: np.ndarray) -> np.ndarray:
    """(T,) int: the group a face with mouth weights (T, 5) shows: the largest weight's group, or
    closed (0) when every weight is below REST_LEVEL (a face at rest has its lips together)."""
    w = np.asarray(weights)
    return np.where(w.max(axis=-1) < REST_LEVEL, 0, w.argmax(axis=-1))


def mouth_closed(weights: np.ndarray) -> np.ndarray:
    """(T,) bool: the mouth reads as closed: lips_closed is the largest of the five weights, or
    jaw_open is below JAW_CLOSED."""
    w = np.asarray(weights)
    return (w.argmax(axis=-1) == 0) | (w[..., 4] < JAW_CLOSED)

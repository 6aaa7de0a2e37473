"""HRTF set loader and direction lookup: bilinear interpolation between measured directions.

The shipped asset (made by scripts/make_hrtf_asset.py from MIT KEMAR) holds minimum-phase HRIRs and
a separate delay per ear; interpolating both with the same weights makes ITD and ILD change
continuously as a source moves, without the comb filtering of interpolating delayed responses.

Directions are in the listener's head frame (OpenXR: +x right, +y up, -z forward). Azimuth is in
degrees counter-clockwise seen from above (0 = ahead, 90 = left), elevation in degrees (+90 = up).
Only numpy is needed at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_ASSET = "hrtf_kemar_48k.npz"
_ZERO, _ONE, _PI = np.array(0.0), np.array(1.0), np.array(np.pi)  # 0-d: cheaper operands than floats
NEAR_FIELD_CUTOFF_HZ = 1000.0  # corner of the low-pass used for the near-field low-frequency ILD cue
ITD_CUTOFF_HZ = 3000.0  # Gaussian low-pass applied before the interaural cross-correlation (ITD)


def interaural_lag(left, right, sample_rate=48000, max_lag=48, cutoff_hz=ITD_CUTOFF_HZ):
    """Interaural time difference (...,) in samples by cross-correlation: positive = left ear later.

    left, right: (..., T) signals or impulse responses. The cross-power spectrum is weighted by a
    Gaussian low-pass (``cutoff_hz`` = its standard deviation; None = full band) before the peak
    search within +-max_lag, and the peak is refined to sub-sample precision by a parabola through
    the three highest samples. Why low-passed: above ~3 kHz the contralateral ear of a lateral or
    rear-lateral KEMAR direction hears two diffracted paths (round the front and round the back of
    the head), so the full-band correlation has two near-equal peaks 3-16 samples apart and the
    winner depends on the test signal; below it the peak is single. This one definition makes the
    asset's ITD table (scripts/make_hrtf_asset.py) and the tests measure the same thing.
    """
    left = np.asarray(left, dtype=np.float64)
    right = np.asarray(right, dtype=np.float64)
    n = 1 << int(np.ceil(np.log2(left.shape[-1] + right.shape[-1] + 2 * max_lag)))
    cross = np.fft.rfft(left, n) * np.conj(np.fft.rfft(right, n))
    if cutoff_hz is not None:
        f = np.fft.rfftfreq(n, 1.0 / sample_rate)
        cross *= np.exp(-0.5 * (f / cutoff_hz) ** 2)
    c = np.fft.irfft(cross, n)
    window = np.concatenate([c[..., n - max_lag:], c[..., :max_lag + 1]], axis=-1)  # lags -max..max
    k = np.clip(np.argmax(window, axis=-1), 1, 2 * max_lag - 1)[..., None]
    a, b, d = (np.take_along_axis(window, k + o, axis=-1)[..., 0] for o in (-1, 0, 1))
    denom = a - 2.0 * b + d
    frac = np.where(denom < 0.0, 0.5 * (a - d) / np.where(denom < 0.0, denom, -1.0), 0.0)
    return k[..., 0] - max_lag + frac


@dataclass(frozen=True)
class HrtfSet:
    """A measured HRTF set, ready for interpolation.

    hrir:      (D, 2, T) float32, minimum-phase impulse responses, ear 0 = left.
    hrir_low:  (D, 2, T) float32, the same low-passed at NEAR_FIELD_CUTOFF_HZ (near-field cue).
    delay:     (D, 2) float32, per-ear onset delay in samples, inserted after the minimum-phase
               filter (the lead ear of a measured direction gets 1 sample).
    itd_table: (D,) float32, the asset's ITD in samples: ``interaural_lag`` of the minimum-phase pair
               delayed by ``delay`` (positive = left ear later); what ``itd`` interpolates.
    ring_elevation: (R,) elevations of the measurement rings, ascending, degrees.
    ring_start, ring_count: (R,) first table index and number of azimuths of each ring
                            (azimuths are uniformly spaced from 0 in each ring).
    """

    sample_rate: int
    hrir: np.ndarray
    hrir_low: np.ndarray
    delay: np.ndarray
    itd_table: np.ndarray
    ring_elevation: np.ndarray
    ring_start: np.ndarray
    ring_count: np.ndarray
    citation: str

    @property
    def taps(self) -> int:
        return int(self.hrir.shape[-1])

    @property
    def max_delay(self) -> float:
        return float(self.delay.max())

    def __post_init__(self):
        # what ``neighbours`` needs, precomputed so that one gather fetches it (one column per pair
        # of adjacent rings, indexed by its lower ring lo): ``_pair_rows`` (6, R-1) float64: the
        # lower ring's elevation and 1 / ring spacing, measured steps per radian of azimuth on the
        # lower and on the upper ring, and where each of the two rings starts in ``_wrap_rows``
        # (2, A) intp, which maps a ring's azimuth step a = 0..count to the table indices of steps
        # a and a + 1 modulo count (the wrap-around without a modulo per block).
        rings = np.radians(np.asarray(self.ring_elevation, dtype=np.float64))
        count, start = self.ring_count.astype(np.int64), self.ring_start.astype(np.int64)
        lower, upper = np.arange(len(rings) - 1), np.arange(1, len(rings))
        steps = [np.arange(c + 1) for c in count]
        wrap = np.concatenate([np.stack([s + a % c, s + (a + 1) % c], axis=1)
                               for s, c, a in zip(start, count, steps)])
        wrap_start = np.concatenate([[0], np.cumsum(count + 1)[:-1]])
        pair = np.stack([rings[lower], 1.0 / (rings[upper] - rings[lower]),
                         count[lower] / (2.0 * np.pi), count[upper] / (2.0 * np.pi),
                         wrap_start[lower], wrap_start[upper]], axis=1)  # (small integers exact)
        object.__setattr__(self, "_inner_rings", np.ascontiguousarray(rings[1:-1]))
        object.__setattr__(self, "_pair_rows", np.ascontiguousarray(pair.T, np.float64))
        object.__setattr__(self, "_wrap_rows", np.ascontiguousarray(wrap.T, np.intp))

    def neighbours(self, direction: np.ndarray):
        """Table indices (..., 4) and bilinear weights (..., 4) for unit directions (..., 3), head frame.

        Order of the 4: (lower ring, upper ring) x (azimuth below, azimuth above). Elevations below
        the lowest ring use the lowest ring.
        """
        d = np.asarray(direction, dtype=np.float64)
        lead = d.shape[:-1]
        d = d.reshape(-1, 3).T
        idx, w = self.neighbours_rows(np.ascontiguousarray(d[0]), np.ascontiguousarray(d[1]),
                                      np.ascontiguousarray(d[2]))
        m = d.shape[1]  # rows come as (side, ring): reorder to (ring, side)
        idx = idx.reshape(2, 2, m).transpose(2, 1, 0).reshape(lead + (4,))
        return idx, w.reshape(2, 2, m).transpose(2, 1, 0).reshape(lead + (4,))

    def neighbours_rows(self, x: np.ndarray, y: np.ndarray, z: np.ndarray):
        """``neighbours`` for direction components given as rows x, y, z (M,) float64 (contiguous),
        in a transposed layout: indices (4, M) intp and weights (4, M) float64, the 4 in the order
        (azimuth below, azimuth above) x (lower ring, upper ring).

        This is the form the engine calls every audio block, written as few operations on
        contiguous arrays: for tens of sources numpy's per-call cost dominates, and broadcasting,
        strided views, mixed dtypes and Python-scalar operands each make a call slower.
        """
        m = x.shape[0]
        el = np.arctan2(y, np.hypot(x, z))  # radians
        lo = self._inner_rings.searchsorted(el, side="right")  # lower ring of the pair, 0..R-2
        pair = self._pair_rows.take(lo, axis=1)  # (6, M)
        ring_weight = np.empty((2, m))  # (1 - t_el, t_el)
        t_el = np.subtract(el, pair[0], out=ring_weight[1])
        np.multiply(t_el, pair[1], out=t_el)
        np.maximum(t_el, _ZERO, out=t_el)
        np.subtract(_ONE, t_el, out=ring_weight[0])
        # azimuth counter-clockwise from ahead = atan2(-x, -z) = atan2(x, z) + pi, in [0, 2 pi];
        # in measured steps of each ring: pos in [0, count]
        az = np.arctan2(x, z)
        np.add(az, _PI, out=az)
        t_az, step = np.modf(np.multiply(az, pair[2:4]))  # (2 rings, M): fraction, whole steps
        step += pair[4:]  # + where the ring starts in the wrap table
        step = step.astype(np.intp)
        idx = np.empty((2, 2, m), np.intp)  # (side, ring, M)
        self._wrap_rows[0].take(step, out=idx[0], mode="clip")
        self._wrap_rows[1].take(step, out=idx[1], mode="clip")
        w = np.empty((2, 2, m))
        np.multiply(ring_weight, t_az, out=w[1])  # ring weight x t_az
        np.subtract(ring_weight, w[1], out=w[0])  # ring weight x (1 - t_az)
        return idx.reshape(4, m), w.reshape(4, m)

    def lookup(self, direction: np.ndarray):
        """Interpolated (hrir (..., 2, T), hrir_low (..., 2, T), delay (..., 2)) for unit directions (..., 3)."""
        idx, w = self.neighbours(direction)
        hrir = np.einsum("...k,...ket->...et", w, self.hrir[idx])
        low = np.einsum("...k,...ket->...et", w, self.hrir_low[idx])
        delay = np.einsum("...k,...ke->...e", w, self.delay[idx])
        return hrir, low, delay

    def itd(self, direction: np.ndarray) -> np.ndarray:
        """The HRTF's interaural time difference (...,) in samples (positive = left ear later): the
        measured directions' ``itd_table`` interpolated with the same weights as filters and delays."""
        idx, w = self.neighbours(direction)
        return np.einsum("...k,...k->...", w, self.itd_table[idx])


def _one_pole_lowpass(h: np.ndarray, sample_rate: int, cutoff_hz: float) -> np.ndarray:
    """h (..., T) filtered by a one-pole low-pass, truncated to T taps (the tail is < -80 dB)."""
    taps = h.shape[-1]
    a = np.exp(-2.0 * np.pi * cutoff_hz / sample_rate)
    n = 4 * taps
    spectrum = np.fft.rfft(h, n) * (1.0 - a) / (1.0 - a * np.exp(-2j * np.pi * np.fft.rfftfreq(n)))
    return np.fft.irfft(spectrum, n)[..., :taps].astype(np.float32)


def load_hrtf(path=None) -> HrtfSet:
    """Load an HRTF asset (default: the shipped MIT KEMAR set at 48 kHz)."""
    if path is None:
        from xrdemo.resources import asset_path

        path = asset_path(DEFAULT_ASSET)
    with np.load(path) as data:
        az = data["azimuth_deg"].astype(np.float64)
        el = data["elevation_deg"].astype(np.float64)
        hrir = data["hrir"].astype(np.float32)
        delay = data["delay"].astype(np.float32)
        itd = data["itd"].astype(np.float32)
        rate = int(data["sample_rate"])
        citation = str(data["citation"])
    if float(delay.min()) < 1.0:
        raise ValueError("HRTF delays must be >= 1 sample (the fractional-delay filter needs one)")
    order = np.lexsort((az, el))
    az, el, hrir, delay, itd = az[order], el[order], hrir[order], delay[order], itd[order]
    rings, start, count = np.unique(el, return_index=True, return_counts=True)
    for r, s, c in zip(rings, start, count):
        expected = np.arange(c) * 360.0 / c
        if not np.allclose(az[s:s + c], expected, atol=0.01):
            raise ValueError(f"HRTF ring at elevation {r} is not uniformly spaced from azimuth 0")
    return HrtfSet(
        sample_rate=rate,
        hrir=np.ascontiguousarray(hrir),
        hrir_low=_one_pole_lowpass(hrir, rate, NEAR_FIELD_CUTOFF_HZ),
        delay=np.ascontiguousarray(delay),
        itd_table=np.ascontiguousarray(itd),
        ring_elevation=rings,
        ring_start=start.astype(np.int64),
        ring_count=count.astype(np.int64),
        citation=citation,
    )

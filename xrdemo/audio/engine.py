"""Binaural spatial-audio engine: numpy DSP (two loops optionally compiled by numba), no I/O, no threads, no clock.

N mono sources at world positions are rendered for one listener (head pose) into stereo blocks:
head-relative direction and distance -> interpolated minimum-phase HRIR pair + fractional per-ear
delay (Lagrange, order 3) + distance gain + near-field low-frequency ILD + optional table-plane
reflection (image source folded into the same filter) -> one 2B-point spectrum per source and ear.
Convolution is overlap-save (FFT size 2B, filters up to B+1 taps) vectorised over all sources and
summed in the frequency domain. When any filter changes, the block is rendered with the old and the
new filters and crossfaded with a raised-cosine window; the window is the same for all sources, so
it commutes with the sum: 4 inverse FFTs per block, whatever N is. A soft-knee limiter ends the
chain so the output never exceeds the ceiling.

Speed (``process`` runs every 5.33 ms): the HRIR spectra of every measured direction are computed
once (``_spectral_tables``), so a filter spectrum is a weighted sum of 4 stored spectra (one batched
matmul for all sources) times the spectrum of its delay: an integer-delay phasor from a table times
the order-3 Lagrange fractional delay, whose spectrum is a cubic polynomial in the fraction (one
small matmul). Filters are kept source-major (slot, source, ear, bin), the layout the build writes;
the mix is one multiply by the input spectra (both slots at once) and one ``np.add.reduce`` over
sources; no Python loop runs over sources. A head turn alone reuses the cached distances, gains
and world-frame unit vectors (one 3x3 @ 3xM product per block). For tens of sources numpy's
per-call cost (~0.5 us) dominates the fixed part, so buffers and views are made once and every
step is one whole-array call; the per-source part is bound by memory traffic (~100 kB per source
and block through the caches: table gather, interpolation, delay spectra, filters, products).
When numba is installed, ``kernel="auto"`` runs the filter build and the mix as two fused loops
instead (``fused.py``: the same arithmetic per bin in registers, about half the cost per source);
the numpy route stays the reference and the fallback.

Units: metres, seconds; positions in the stage/world frame (OpenXR: +y up, -z forward);
quaternions (x, y, z, w).

Why one long module (~650 lines): the engine is one object whose steps share its work buffers
(filter build, mix, crossfade, limiter); the numba kernels live apart in fused.py, HRTF loading in
hrtf.py, FFT plans in fft.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xrdemo.audio import fused
from xrdemo.audio.hrtf import HrtfSet, load_hrtf

from xrdemo.audio.fft import InverseRealFFT, RealFFT

SPEED_OF_SOUND = 343.0  # m/s
_max, _min = np.maximum.reduce, np.minimum.reduce  # ufunc reductions: less per-call overhead
NEAR_FIELD_ONSET = 1.0  # m: below this distance the near-field low-frequency ILD cue grows


# ----------------------------------------------------------------------------- pure rules
def distance_gain(r, reference=1.0, near_exponent=1.0, far_exponent=0.5, min_distance=0.15):
    """Gain (...) for source distance r (...) in metres, tuned for a meeting table.

    Inside ``reference`` the level follows 1/r (closer is louder, up to min_distance); beyond it,
    a gentle 1/sqrt(r) so voices across a table (2-3 m) stay present: -3 dB at 2 m, -5 dB at 3 m.
    Strictly decreasing, and never zero at any finite distance.
    """
    x = np.maximum(np.asarray(r, dtype=np.float64), min_distance) / reference
    if near_exponent == 2.0 * far_exponent:  # the default: one power, (x * min(x, 1)) ** -far
        return np.power(x * np.minimum(x, 1.0), -far_exponent)
    return np.where(x < 1.0, x ** -near_exponent, x ** -far_exponent)


def near_field_low_gain(r, lateral, onset=1.0, strength=1.0, max_gain=3.0):
    """Extra low-frequency gain (..., 2) on each ear for a source at distance r (...) metres.

    lateral (...): head-frame x of the unit direction (+1 = right). Below ``onset`` metres the ear on
    the source's side gets a low-passed boost growing like (onset/r - 1) (Brungart & Rabinowitz 1999:
    low-frequency ILD rises sharply below 1 m); zero at and beyond ``onset``.
    """
    r = np.maximum(np.asarray(r, dtype=np.float64), 0.05)
    amount = np.minimum(np.maximum(strength * (onset / r - 1.0), 0.0), max_gain)
    lateral = np.asarray(lateral, dtype=np.float64)
    gains = np.empty(lateral.shape + (2,))
    np.multiply(amount, np.maximum(-lateral, 0.0), out=gains[..., 0])
    np.multiply(amount, np.maximum(lateral, 0.0), out=gains[..., 1])
    return gains


def whisper_gains(head_positions, threshold=0.45, attenuation_db=-15.0, intimate_db=3.0):
    """Whisper rule (DESIGN.md): (P, P) gain that speaker i's voice gets at listener j.

    A speaker whose head is within ``threshold`` metres of a neighbour's head whispers to the nearest
    such neighbour: that neighbour hears it slightly raised (``intimate_db``, on top of the natural
    closeness), everyone else hears it attenuated by ``attenuation_db``. The diagonal is 0 (nobody
    hears themselves). head_positions: (P, 3) metres.
    """
    p = np.asarray(head_positions, dtype=np.float64)
    n = p.shape[0]
    dist = np.linalg.norm(p[:, None, :] - p[None, :, :], axis=-1)
    np.fill_diagonal(dist, np.inf)
    gains = np.ones((n, n))
    if n > 1:
        nearest = np.argmin(dist, axis=1)
        whispering = dist[np.arange(n), nearest] < threshold
        rows = np.nonzero(whispering)[0]
        gains[rows, :] = 10.0 ** (attenuation_db / 20.0)
        gains[rows, nearest[rows]] = 10.0 ** (intimate_db / 20.0)
    np.fill_diagonal(gains, 0.0)
    return gains


def whisper_gains_from_pairs(pairs, n, attenuation_db=-15.0, intimate_db=3.0):
    """Whisper rule from the core's decision (core/whisper.py, ``scene.whisper_pairs_now``):
    (n, n) gain that speaker i's voice gets at listener j. In each pair (i, j) both whisper to
    each other: the partner hears it raised by ``intimate_db``, everyone else attenuated by
    ``attenuation_db``. pairs: (P, 2) int. The diagonal is 0 (nobody hears themselves).
    The decision has hysteresis and dwell, so the gains never flap with tracking noise."""
    gains = np.ones((n, n))
    p = np.asarray(pairs, dtype=np.intp).reshape(-1, 2)
    if len(p):
        who = np.concatenate([p[:, 0], p[:, 1]])
        to = np.concatenate([p[:, 1], p[:, 0]])
        gains[who, :] = 10.0 ** (attenuation_db / 20.0)
        gains[who, to] = 10.0 ** (intimate_db / 20.0)
    np.fill_diagonal(gains, 0.0)
    return gains


def lagrange3(frac):
    """Order-3 Lagrange fractional-delay taps (..., 4) for a delay of 1 + frac samples, frac in [0, 1)."""
    d = 1.0 + np.asarray(frac, dtype=np.float64)
    d1, d2, d3 = d - 1.0, d - 2.0, d - 3.0
    taps = np.empty(d.shape + (4,))
    taps[..., 0] = d1 * d2 * d3 * (-1.0 / 6.0)
    taps[..., 1] = d * d2 * d3 * 0.5
    taps[..., 2] = d * d1 * d3 * -0.5
    taps[..., 3] = d * d1 * d2 * (1.0 / 6.0)
    return taps


def _lagrange3_polynomial() -> np.ndarray:
    """c (4 taps, 4 powers): tap j of ``lagrange3(frac)`` equals sum_p c[j, p] * frac**p (exact: cubics)."""
    f = np.array([0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0])
    return np.linalg.solve(np.vander(f, 4, increasing=True), lagrange3(f)).T


_TABLES: dict = {}


def _spectral_tables(hrtf: HrtfSet, fft_size: int):
    """Per measured direction, the fft_size-point spectra of the minimum-phase HRIRs and of their
    low-passed copies, scaled by 1/fft_size (the engine's inverse FFT is unnormalised).

    Returns (table (D, 4 * bins + 2) float32: complex64 spectra (D, 2, bins) viewed as floats and
    then the two per-ear delays in samples, so that one real matmul gives a source's weighted
    spectra and its interpolated delays; low (D, 2, bins) complex64). Cached per HRTF set.
    """
    key = (id(hrtf), fft_size)
    cached = _TABLES.get(key)
    if cached is not None and cached[0] is hrtf:
        return cached[1]
    scale = 1.0 / fft_size
    spectra = (np.fft.rfft(hrtf.hrir.astype(np.float64), fft_size) * scale).astype(np.complex64)
    low = (np.fft.rfft(hrtf.hrir_low.astype(np.float64), fft_size) * scale).astype(np.complex64)
    floats = np.ascontiguousarray(spectra).reshape(spectra.shape[0], -1).view(np.float32)
    tables = (np.ascontiguousarray(np.concatenate([floats, hrtf.delay.astype(np.float32)], axis=1)), low)
    _TABLES[key] = (hrtf, tables)
    return tables


def _split_tables(hrtf: HrtfSet, fft_size: int):
    """``_spectral_tables`` in the fused kernel's layout: (spectra (D, 2, 2, bins), low (D, 2, 2, bins),
    delays (D, 2)) float32, re/im planes split. Cached per HRTF set."""
    key = ("split", id(hrtf), fft_size)
    cached = _TABLES.get(key)
    if cached is not None and cached[0] is hrtf:
        return cached[1]
    table, low = _spectral_tables(hrtf, fft_size)
    d, bins = low.shape[0], low.shape[2]
    spectra = table[:, :4 * bins].view(np.complex64).reshape(d, 2, bins)
    tables = (fused.split(spectra), fused.split(low), np.ascontiguousarray(table[:, 4 * bins:]))
    _TABLES[key] = (hrtf, tables)
    return tables


if hasattr(np, "vecdot"):
    _dot3 = np.vecdot
else:  # numpy < 2
    def _dot3(a, b):
        return np.einsum("...i,...i->...", a, b)


def rotation_matrix(q) -> np.ndarray:
    """3x3 rotation matrix of one unit quaternion (x, y, z, w) (scalar maths: this runs every block)."""
    x, y, z, w = (float(c) for c in q)
    n = x * x + y * y + z * z + w * w
    s = 2.0 / n if n > 0.0 else 0.0
    return np.array([
        1.0 - s * (y * y + z * z), s * (x * y - z * w), s * (x * z + y * w),
        s * (x * y + z * w), 1.0 - s * (x * x + z * z), s * (y * z - x * w),
        s * (x * z - y * w), s * (y * z + x * w), 1.0 - s * (x * x + y * y),
    ]).reshape(3, 3)


@dataclass
class Geometry:
    """Head-frame quantities for M (direct or image) sources: directions (M,3), distances (M,)."""

    direction: np.ndarray
    distance: np.ndarray


def head_relative(listener_position, listener_orientation, source_positions, rotation=None) -> Geometry:
    """World positions (M, 3) -> unit directions and distances in the listener's head frame.
    ``rotation``: rotation_matrix(listener_orientation) if the caller already has it."""
    rot = rotation_matrix(listener_orientation) if rotation is None else rotation  # head -> world
    v = np.asarray(source_positions, dtype=np.float64) - np.asarray(listener_position, dtype=np.float64)
    v = v @ rot
    r = np.sqrt(_dot3(v, v))
    if float(_min(r, axis=None, initial=1.0)) >= 1e-6:
        return Geometry(v / r[..., None], r)
    direction = v / np.maximum(r, 1e-6)[..., None]
    direction[r < 1e-6] = (0.0, 0.0, -1.0)  # a source inside the head: straight ahead
    return Geometry(direction, r)


def build_filters(hrtf: HrtfSet, geometry: Geometry, gains, extra_delay, fft_size: int,
                  near_field: bool = True) -> np.ndarray:
    """Time-domain binaural filters (M, 2, fft_size) float64 for M sources.

    geometry: head-frame directions/distances; gains (M,) linear (distance law already applied by
    the caller, or not: this function multiplies only by ``gains``); extra_delay (M,) samples added
    to both ears (image-source path difference). Each filter is the interpolated minimum-phase HRIR
    (+ near-field low-frequency boost) convolved with an order-3 Lagrange fractional delay, placed at
    its integer delay; non-zero taps stay below fft_size // 2 + 1 (overlap-save validity).
    """
    idx, w = hrtf.neighbours(geometry.direction)  # (M, 4)
    h = np.einsum("mk,mket->met", w, hrtf.hrir[idx])
    if near_field:
        nf = near_field_low_gain(geometry.distance, geometry.direction[:, 0])  # (M, 2)
        if np.any(nf > 0.0):
            h = h + nf[..., None] * np.einsum("mk,mket->met", w, hrtf.hrir_low[idx])
    h *= np.asarray(gains, dtype=np.float64)[:, None, None]
    delay = np.einsum("mk,mke->me", w, hrtf.delay[idx]) + np.asarray(extra_delay, dtype=np.float64)[:, None]
    delay = np.maximum(delay, 1.0)
    whole = np.floor(delay)
    taps = lagrange3(delay - whole)  # (M, 2, 4), delay = whole + frac = (whole - 1) + (1 + frac)
    start = whole.astype(np.int64) - 1
    length = h.shape[-1]
    limit = fft_size // 2 + 1 - (length + 3)
    if np.any(start < 0) or np.any(start > limit):
        raise ValueError(f"filter delay out of range 1..{limit + 1} samples for fft size {fft_size}")
    shaped = np.zeros(h.shape[:-1] + (fft_size,))
    for k in range(4):
        shaped[..., k:k + length] += taps[..., k:k + 1] * h
    # shift each row right by its own integer delay: a circular gather that never wraps real taps
    cols = (np.arange(fft_size) - start[..., None]) % fft_size
    return np.take_along_axis(shaped, cols, axis=-1)


class Limiter:
    """Stereo peak limiter with instant attack, smooth release and a soft knee: |output| < ceiling."""

    def __init__(self, ceiling=0.98, knee=0.9, release_per_block=0.02):
        self.ceiling = float(ceiling)
        self.knee = float(knee) * self.ceiling
        self.release = float(release_per_block)
        self.gain = 1.0
        self.engaged_blocks = 0

    def process(self, y: np.ndarray) -> np.ndarray:
        """Limit y (B, 2) in place and return it."""
        peak = max(float(_max(y, axis=None)), -float(_min(y, axis=None))) if y.size else 0.0
        if peak <= self.knee and self.gain == 1.0:
            return y  # nothing to do (the common case)
        target = min(1.0, self.knee / peak) if peak > 0.0 else 1.0
        old = self.gain
        new_gain = min(target, old + self.release)
        if new_gain != 1.0 or old != 1.0:
            unit, ramp = self._ramp_buffers(y)
            np.multiply(unit, new_gain - old, out=ramp)  # old -> new_gain over the block
            ramp += old
            y *= ramp
            self.engaged_blocks += 1
        self.gain = new_gain
        if peak * max(old, new_gain) <= self.knee * (1.0 - 1e-6):
            return y  # the ramp kept every sample below the knee (the release blocks)
        over = np.abs(y) > self.knee
        if np.any(over):  # soft knee: what the ramp could not catch bends smoothly below the ceiling
            span = self.ceiling - self.knee
            mag = np.abs(y[over])
            # tanh reaches exactly 1 in float32 for loud input: stay strictly below the ceiling.
            top = np.nextafter(y.dtype.type(self.ceiling), y.dtype.type(0))
            y[over] = np.sign(y[over]) * np.minimum(self.knee + span * np.tanh((mag - self.knee) / span), top)
        return y

    def _ramp_buffers(self, y: np.ndarray):
        """(unit ramp k/B for k = 1..B broadcast over y's channels, a scratch array), y's shape."""
        key = (y.shape, y.dtype)
        if getattr(self, "_ramp_key", None) != key:
            unit = np.arange(1, y.shape[0] + 1, dtype=y.dtype) / y.dtype.type(y.shape[0])
            self._unit_ramp = np.ascontiguousarray(np.broadcast_to(unit.reshape((-1,) + (1,) * (y.ndim - 1)), y.shape))
            self._ramp = np.empty(y.shape, y.dtype)
            self._ramp_key = key
        return self._unit_ramp, self._ramp


# ----------------------------------------------------------------------------- the engine
class SpatialAudioEngine:
    """Render N mono sources for one head-tracked listener, one block at a time.

    Usage (all arrays numpy):
        engine = SpatialAudioEngine(sample_rate=48000, block=256)
        engine.set_sources(positions (N, 3), gains (N,))      # world metres, linear gain
        engine.set_listener(position (3,), orientation (4,))  # head pose, quaternion (x, y, z, w)
        stereo = engine.process(mono_blocks (N, block))      # -> (block, 2) float32

    Geometry changes take effect on the next ``process`` call, crossfaded over that block.
    Optional: ``set_whisper_gains(g (N,))`` per-source whisper gain for this listener (see
    ``whisper_gains``); ``reflections=True`` adds the table-plane image source of every voice.
    ``kernel``: "auto" (fused loops when numba is installed, ``$XRDEMO_AUDIO_KERNEL`` overrides),
    "fused" or "numpy"; ``engine.kernel`` says which runs. Their outputs agree within float32
    rounding (~-133 dB).
    """

    def __init__(self, sample_rate=48000, block=256, hrtf: HrtfSet | None = None,
                 reflections=False, table_height=0.75, reflection_gain=0.5,
                 near_field=True, limiter=True, kernel="auto"):
        self.hrtf = hrtf if hrtf is not None else load_hrtf()
        if self.hrtf.sample_rate != sample_rate:
            raise ValueError(f"HRTF is {self.hrtf.sample_rate} Hz but the engine runs at {sample_rate} Hz")
        self.sample_rate = int(sample_rate)
        self.block = int(block)
        self.fft_size = 2 * self.block
        self.bins = self.block + 1
        # filter room: taps + Lagrange + HRTF delay must fit in block + 1 taps
        self.max_extra_delay = self.block + 1 - (self.hrtf.taps + 3) - int(np.ceil(self.hrtf.max_delay)) - 1
        if self.max_extra_delay < 0:
            raise ValueError(f"block {block} too short for {self.hrtf.taps}-tap HRIRs; use block >= 256")
        self.reflections = bool(reflections)
        self.table_height = float(table_height)
        self.reflection_gain = float(reflection_gain)
        self.near_field = bool(near_field)
        self.limiter = Limiter() if limiter else None
        self._table, self._low_spectra = _spectral_tables(self.hrtf, self.fft_size)
        omega = -2j * np.pi * np.arange(self.bins) / self.fft_size
        tap_phasors = np.exp(np.outer(np.arange(4), omega))  # (4 taps, bins)
        # spectrum of the Lagrange fractional delay = [1, f, f^2, f^3] @ poly (as floats: re, im, ...)
        poly = (_lagrange3_polynomial().T @ tap_phasors).astype(np.complex64)  # (4 powers, bins)
        self._lagrange_poly = np.ascontiguousarray(poly).view(np.float32)  # (4, 2 * bins)
        max_start = self.block + 1
        # indexed by the integer part of the delay: row k delays by k - 1 (the Lagrange taps start there)
        self._delay_phasors = np.exp(np.outer(np.arange(-1, max_start), omega)).astype(np.complex64)
        self.kernel, compiled = fused.load(kernel)
        self._fused = compiled is not None
        if self._fused:
            self._build_kernel, self._mix_kernel = compiled
            self._kernel_scratch = np.zeros((3, 2, 2, self.bins), np.float32)  # the loops' work rows
            self._split_table, self._split_low, self._split_delays = _split_tables(self.hrtf, self.fft_size)
            self._split_poly = fused.split(self._lagrange_poly.view(np.complex64))  # (4, 2, bins)
            self._split_phasors = fused.split(self._delay_phasors)  # (K, 2, bins)
            self._both_slots = np.arange(2, dtype=np.intp)
            self._one_slot = (np.array([0], np.intp), np.array([1], np.intp))
        n = np.arange(self.block)
        self._fade_in = (0.5 - 0.5 * np.cos(np.pi * (n + 1) / self.block)).astype(np.float32)
        self._listener_pose = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)  # position, quaternion (x, y, z, w)
        self._listener_position = np.zeros(3)
        self._rotation = np.eye(3)
        self._rotation_t = np.eye(3)  # world -> head
        self._dirty = True
        self._geometry = None  # per-source quantities that do not depend on the head's orientation
        self.filter_updates = 0
        self._allocate(0)
        self.set_sources(np.zeros((0, 3)), np.zeros(0))

    # -- state
    def _allocate(self, count: int):
        """Preallocate every per-block buffer for ``count`` sources."""
        self._input_fft = RealFFT((count,), self.fft_size, measure=True)  # the overlap-save windows
        # filter spectra, source-major: [slot (old/new alternate), source, ear, bin]
        self._filters = np.zeros((2, 0 if self._fused else count, 2, self.bins), dtype=np.complex64)
        # the fused kernel's filters: [slot, source, ear, re/im, bin]
        self._split_filters = np.zeros((2, count, 2, 2, self.bins) if self._fused else (0,), np.float32)
        self._slot = 0  # the slot holding the filters in use
        self._mix_both = InverseRealFFT((2, 2), self.fft_size, normalised=False)  # [slot, ear]
        self._mix_one = InverseRealFFT((2,), self.fft_size, normalised=False)  # [ear]
        self._crossfade = np.zeros((2, self.block), dtype=np.float32)
        self._positions = np.zeros((count, 3))
        self._gains = np.ones(count)
        self._whisper = np.ones(count)
        self._voice_gains = np.ones(count)  # gains x whisper
        self._half = 1  # which half of the overlap-save window the next block goes into
        self._out = np.zeros((self.block, 2), dtype=np.float32)
        self._allocate_virtual(count * (2 if self.reflections else 1))
        # views made once: [half] the window's halves and the inverse FFTs' valid parts, the input
        # spectra (N, 1, bins) (one per source, the same for both ears), the filter slots
        b = self.block
        self._window_halves = (self._input_fft.input[:, :b], self._input_fft.input[:, b:])
        self._valid_both = (self._mix_both.output[:, :, :b], self._mix_both.output[:, :, b:])  # [half][slot]
        self._valid_one = (self._mix_one.output[:, :b], self._mix_one.output[:, b:])
        self._mix_one_input = self._mix_one.input[None]  # (1 slot, ear, bins) for the fused mix
        self._spectrum = self._input_fft.output[:, None, :]
        self._filter_slots = (self._filters[0], self._filters[1])

    def _allocate_virtual(self, m: int):
        """Buffers of the filter build for m direct (+ image) sources.

        The largest buffers share one scratch array (the per-block working set then stays nearer
        the CPU's caches): the 4 gathered neighbour rows live only until the interpolating matmul;
        then the same memory holds the delay spectra and phasors, and after the filter build the
        products filters x input spectra that the mix sums over sources."""
        self._virtual_count = m
        self._total_gains = np.zeros(m)
        if self._fused:  # the kernel's own inputs; the numpy route's buffers are left empty
            self._near = np.zeros((m, 2))  # near-field low-frequency gain per ear
            self._no_extra = np.zeros(m)  # extra delay (samples) when there are no reflections
            m, n = 0, 0
        else:
            n = self.source_count
        bins = self.bins
        width = self._table.shape[1]
        scratch = np.zeros(max(4 * width * m, 2 * 4 * bins * m, 2 * 4 * bins * n), np.float32)
        self._weights32 = np.zeros((m, 1, 4), np.float32)
        self._gathered = scratch[:4 * width * m].reshape(m, 4, width)
        self._mixed = np.zeros((m, 1, width), np.float32)  # spectra (as floats), delays
        self._delay = np.zeros((m, 2))  # samples
        self._powers = np.zeros((4, 2 * m), np.float32)  # gain x [1, f, f^2, f^3] per (source, ear), as rows
        self._shift = scratch[:4 * bins * m].reshape(2 * m, 2 * bins)  # delay spectra (as floats)
        self._phasors = scratch[4 * bins * m:8 * bins * m].view(np.complex64).reshape(2 * m, bins)
        # filters x input spectra, before the sum over sources: [slot, source, ear, bin]
        self._products = scratch[:8 * bins * n].view(np.complex64).reshape(2, n, 2, bins)
        self._product_slots = (self._products[0], self._products[1])
        self._virtual_spectra = np.zeros((m, 2, bins), np.complex64) if self.reflections else None
        # views made once (each view costs a call per block otherwise)
        mixed = self._mixed[:, 0]
        self._mixed_spectra = mixed[:, :4 * bins].view(np.complex64).reshape(m, 2, bins)
        self._mixed_delay = mixed[:, 4 * bins:]  # (M, 2) samples
        self._weights32_rows = self._weights32[:, 0].T  # (4, M) view
        self._powers_rows = tuple(self._powers)
        self._powers_t = self._powers.T
        self._shift_spectra = self._shift.view(np.complex64).reshape(m, 2, bins)
        self._shift_flat = self._shift.view(np.complex64)  # (2M, bins)

    @property
    def source_count(self) -> int:
        return self._positions.shape[0]

    def set_sources(self, positions, gains=None):
        """Source positions (N, 3) world metres and linear gains (N,) (default 1). N may change
        (that reallocates buffers: do it outside the audio callback)."""
        positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        if positions.shape[0] != self.source_count:
            self._allocate(positions.shape[0])
        self._positions[:] = positions
        self._gains[:] = 1.0 if gains is None else np.asarray(gains, dtype=np.float64)
        np.multiply(self._gains, self._whisper, out=self._voice_gains)
        self._dirty = True
        self._geometry = None

    def set_whisper_gains(self, gains):
        """Per-source whisper gain (N,) for this listener, e.g. a column of ``whisper_gains``."""
        self._whisper[:] = np.asarray(gains, dtype=np.float64)
        np.multiply(self._gains, self._whisper, out=self._voice_gains)
        self._dirty = True
        self._geometry = None

    def set_listener(self, position, orientation):
        """Listener head pose: position (3,) world metres, orientation (4,) quaternion head -> world."""
        pose = tuple(position) + tuple(orientation)  # compared by value; arrays are read once
        if pose != self._listener_pose:
            if pose[:3] != self._listener_pose[:3]:
                self._listener_position = np.array(pose[:3], dtype=np.float64)
                self._geometry = None
            self._listener_pose = pose
            self._rotation = rotation_matrix(pose[3:])
            self._rotation_t = np.ascontiguousarray(self._rotation.T)
            self._dirty = True

    @property
    def _listener_orientation(self) -> np.ndarray:
        return np.array(self._listener_pose[3:], dtype=np.float64)

    # -- filters
    def _virtual_sources(self):
        """Positions (M, 3), linear gains (M,) and extra delays (M,) samples of direct (+ image) sources."""
        positions = self._positions
        gains = self._voice_gains
        extra = None
        if self.reflections:
            image = positions.copy()
            image[:, 1] = 2.0 * self.table_height - image[:, 1]
            p = self._listener_position
            direct = np.sqrt(((positions - p) ** 2).sum(-1))
            reflected = np.sqrt(((image - p) ** 2).sum(-1))
            path = np.clip((reflected - direct) / SPEED_OF_SOUND * self.sample_rate, 0.0, self.max_extra_delay)
            positions = np.concatenate([positions, image])
            gains = np.concatenate([gains, self.reflection_gain * gains])
            extra = np.concatenate([np.zeros(self.source_count), path])
        return positions, gains, extra

    def source_filters(self) -> np.ndarray:
        """Reference time-domain filters (N, 2, fft_size) float64 for the current geometry.

        Computed directly in the time domain (``build_filters``); ``process`` builds the same
        filters' spectra by a faster route, and the tests hold the two together.
        """
        positions, gains, extra = self._virtual_sources()
        geo = head_relative(self._listener_position, self._listener_orientation, positions)
        if extra is None:
            extra = np.zeros(len(gains))
        filters = build_filters(self.hrtf, geo, gains * distance_gain(geo.distance), extra,
                                self.fft_size, self.near_field)
        n = self.source_count
        return filters[:n] + filters[n:] if self.reflections else filters

    def _update_geometry(self):
        """Cache what depends on source and listener positions and gains but not on the head's
        orientation: world-frame unit vectors to the (virtual) sources as rows (3, M), distances,
        total gains (float32, written into the constant column of the Lagrange powers), extra
        delays (M,) samples or None, and whether the near-field cue can apply. A head turn then
        costs one 3x3 @ 3xM product."""
        positions, gains, extra = self._virtual_sources()
        m = positions.shape[0]
        if self._virtual_count != m:
            self._allocate_virtual(m)
        offsets = (positions - self._listener_position).T  # (3, M)
        distance = np.sqrt(np.einsum("im,im->m", offsets, offsets))
        inside = m > 0 and float(distance.min()) < 1e-6  # a source inside the head: head_relative's rule
        units = None if inside else np.ascontiguousarray(offsets / distance)
        total = gains * distance_gain(distance)
        self._total_gains[:] = total
        if not self._fused:
            self._powers[0] = np.repeat(total, 2)  # row 0 of gain x [1, f, f^2, f^3]
        near = self.near_field and m > 0 and float(distance.min()) < NEAR_FIELD_ONSET
        self._geometry = (units, distance, extra, near)

    def _head_directions(self) -> np.ndarray:
        """Head-frame unit directions (3, M) of the (virtual) sources as rows, for the current pose."""
        if self._geometry is None:
            self._update_geometry()
        units = self._geometry[0]
        if units is None:  # some source inside the head: the general (slower) path
            positions, _, _ = self._virtual_sources()
            return np.ascontiguousarray(head_relative(self._listener_position, None, positions,
                                                      self._rotation).direction.T)
        return self._rotation_t @ units

    def filter_spectra(self) -> np.ndarray:
        """Spectra (N, 2, bins) complex64 of ``source_filters()`` / fft_size, as the engine's kernel
        builds them for the current geometry (for tests: ``process`` uses them in place)."""
        out = np.zeros((self.source_count, 2, self.bins), np.complex64)
        if self._fused:
            spare = 1 - self._slot  # rewritten before its next use
            self._fused_filters(spare)
            out.real, out.imag = self._split_filters[spare, :, :, 0], self._split_filters[spare, :, :, 1]
        else:
            self._filter_spectra(out)
        return out

    def _fused_filters(self, slot: int) -> None:
        """``_filter_spectra`` by the fused kernel, into ``_split_filters[slot]``."""
        rows = self._head_directions()
        _, distance, extra, near = self._geometry
        x, y, z = rows
        idx, w = self.hrtf.neighbours_rows(x, y, z)  # (4, M)
        if near:
            self._near[...] = near_field_low_gain(distance, x, onset=NEAR_FIELD_ONSET)
        self._build_kernel(self._split_table, self._split_low, self._split_delays, idx, w, self._near, near,
                           self._total_gains, self._no_extra if extra is None else extra, self._split_poly,
                           self._split_phasors, self.source_count, self._split_filters, slot,
                           self._kernel_scratch)

    def _filter_spectra(self, out: np.ndarray) -> None:
        """Spectra (N, 2, bins) of ``source_filters()`` / fft_size into ``out`` (any (N, 2, bins)
        complex64 array or view), built in the frequency domain: weighted sum of the stored HRIR
        spectra of the 4 neighbouring directions x gain x Lagrange fractional delay x integer-delay
        phasor. Every step is one whole-array call into a preallocated buffer."""
        rows = self._head_directions()
        _, distance, extra, near = self._geometry
        x, y, z = rows
        idx, w = self.hrtf.neighbours_rows(x, y, z)  # (4, M)
        np.copyto(self._weights32_rows, w)
        idx_t = idx.T  # (M, 4)
        np.take(self._table, idx_t, axis=0, out=self._gathered, mode="clip")  # (M, 4, 4 bins + 2)
        # one matmul: interpolated spectra (as floats) and, in the last two columns, delays
        np.matmul(self._weights32, self._gathered, out=self._mixed)
        spectra = self._mixed_spectra  # (M, 2, bins) view of the matmul's result
        if extra is not None:
            delay = np.add(self._mixed_delay, extra[:, None], out=self._delay)
        else:
            delay = self._mixed_delay
        if near:
            nf = near_field_low_gain(distance, x, onset=NEAR_FIELD_ONSET)  # (M, 2)
            close = np.nonzero(nf.max(axis=1) > 0.0)[0]
            if close.size:
                ear_w = (w.T[close, None, :] * nf[close, :, None]).astype(np.float32)  # (m, 2, 4)
                spectra[close] += np.einsum("mek,mkeb->meb", ear_w, self._low_spectra[idx_t[close]])
        # delays are >= 1 sample (the asset's lead ear has 1; ``load_hrtf`` checks), extra >= 0
        frac, whole = np.modf(delay)  # (M, 2) each: new contiguous arrays
        frac = frac.reshape(-1)  # (2M,) per (source, ear)
        # gain x [1, f, f^2, f^3] @ poly = gain x Lagrange fractional-delay spectrum
        gains, linear, square, cube = self._powers_rows  # row 0 holds the gains (``_update_geometry``)
        np.multiply(gains, frac, out=linear)
        np.multiply(linear, frac, out=square)
        np.multiply(square, frac, out=cube)
        np.matmul(self._powers_t, self._lagrange_poly, out=self._shift)
        # phasor of (whole - 1): the taps sit at whole-1 .. whole+2
        shift = self._shift_flat
        shift *= np.take(self._delay_phasors, whole.reshape(-1).astype(np.intp), axis=0, out=self._phasors,
                         mode="clip")
        if self.reflections:
            n = self.source_count
            np.multiply(spectra, self._shift_spectra, out=self._virtual_spectra)
            np.add(self._virtual_spectra[:n], self._virtual_spectra[n:], out=out)
        else:
            np.multiply(spectra, self._shift_spectra, out=out)

    # -- the block
    def process(self, mono_blocks, out: np.ndarray | None = None) -> np.ndarray:
        """Render one block: mono_blocks (N, block) -> stereo (block, 2) float32 (``out`` if given)."""
        # overlap-save window: the new block overwrites the older half. When that is the first
        # half, the window is circularly rotated by one block, and so is the output: its valid
        # part is then the first half of the inverse FFT instead of the second.
        half = self._half
        self._window_halves[half][...] = mono_blocks
        self._half = 1 - half
        out = self._out if out is None else out
        if self.source_count == 0:
            out[:] = 0.0
            return out
        self._input_fft()
        spectrum = self._spectrum  # (N, 1, bins)
        old = self._slot
        if self._dirty:
            new = 1 - old
            # filters x spectra for both slots, summed over sources: (slot, ear, bins)
            if self._fused:
                self._fused_filters(new)
                self._mix_kernel(self._input_fft.output, self._split_filters, self._both_slots,
                                 self._mix_both.input, self._kernel_scratch)
            else:
                self._filter_spectra(self._filter_slots[new])
                np.multiply(self._filters, spectrum, out=self._products)
                np.add.reduce(self._products, axis=1, out=self._mix_both.input)
            self._mix_both()
            y_old, y_new = self._valid_both[half][old], self._valid_both[half][new]  # (ear, block)
            fade = self._crossfade
            np.subtract(y_new, y_old, out=fade)
            fade *= self._fade_in
            np.add(fade, y_old, out=out.T)
            self._slot = new
            self._dirty = False
            self.filter_updates += 1
        else:
            if self._fused:
                self._mix_kernel(self._input_fft.output, self._split_filters, self._one_slot[old],
                                 self._mix_one_input, self._kernel_scratch)
            else:
                products = self._product_slots[old]
                np.multiply(self._filter_slots[old], spectrum, out=products)
                np.add.reduce(products, axis=0, out=self._mix_one.input)
            self._mix_one()
            out.T[...] = self._valid_one[half]
        if self.limiter is not None:
            self.limiter.process(out)
        return out

"""Fused per-block loops of the binaural engine, compiled with numba when it is installed.

The engine's numpy route builds each source's filter spectra in about eight whole-array calls
(gather the 4 neighbouring HRTF spectra, interpolate, Lagrange delay spectrum, integer-delay
phasor, products) and then mixes them with the sources' input spectra in two more; each call
streams its arrays through the caches, so most of the cost per voice is memory traffic. Here the
same arithmetic runs as one loop over the bins per (source, ear), in registers: the same filters
and mix, within float32 rounding (``tests/audio/test_engine_numerics.py`` runs every numerical test
on both routes). numba is an optional accelerator like pyFFTW (``pip install .[fast]``); without it
the engine uses the numpy route.

Array layouts (float32 unless said; re/im as separate planes so the loops vectorise):
    table   (D, 2 ears, 2 re/im, bins)    HRTF spectra of the measured directions, / fft_size
    low     (D, 2, 2, bins)               their low-passed copies (near-field cue)
    delays  (D, 2)                        per-ear delays, samples
    poly    (4 powers, 2, bins)           Lagrange fractional-delay spectrum = sum_p f^p poly[p]
    phasors (K, 2, bins)                  row k: delay of k - 1 samples
    filters (2 slots, N, 2 ears, 2, bins) the sources' filter spectra, old and new
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

AVAILABLE = importlib.util.find_spec("numba") is not None  # imported on first use (~0.25 s)
ENV = "XRDEMO_AUDIO_KERNEL"  # "numpy" or "fused": overrides the engine's kernel="auto"


def _requested(kernel: str) -> str:
    """What was asked for: ``kernel``, or for "auto" ``$XRDEMO_AUDIO_KERNEL`` when it is set."""
    if kernel != "auto":
        return kernel
    wish = os.environ.get(ENV, "").strip().lower()
    if wish and wish not in ("fused", "numpy"):
        raise ValueError(f"${ENV} must be 'fused' or 'numpy', not {wish!r}")
    return wish or "auto"


def choose(kernel: str = "auto") -> str:
    """The kernel an engine asked for ``kernel`` ("auto", "fused" or "numpy") runs: "fused" or "numpy".

    "auto" takes ``$XRDEMO_AUDIO_KERNEL`` when set, else "fused" when numba is installed.
    """
    kernel = _requested(kernel)
    if kernel == "auto":
        kernel = "fused" if AVAILABLE else "numpy"
    if kernel not in ("fused", "numpy"):
        raise ValueError(f"audio kernel must be 'auto', 'fused' or 'numpy', not {kernel!r}")
    if kernel == "fused" and not AVAILABLE:
        raise ValueError("the fused audio kernel needs numba (pip install numba, or .[fast]); "
                         f"set {ENV}=numpy to use the numpy route")
    return kernel


_FALLBACK_SAID = False


def load(kernel: str = "auto"):
    """(kernel name, (build, mix) or None) for an engine asked for ``kernel``.

    When "auto" picked the fused loops but numba cannot import or compile them (a broken install),
    the engine falls back to the numpy route and says so once on stderr; asked explicitly (the
    argument or ``$XRDEMO_AUDIO_KERNEL=fused``), the failure is an error naming the cause."""
    global _FALLBACK_SAID
    name = choose(kernel)
    if name == "numpy":
        return name, None
    try:
        return name, kernels()
    except Exception as exc:  # numba raises many kinds (import, typing, LLVM)
        explicit = _requested(kernel) == "fused"
        cause = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if explicit:
            raise ValueError(f"the fused audio kernel could not be loaded ({cause})") from exc
        if not _FALLBACK_SAID:
            _FALLBACK_SAID = True
            sys.stderr.write(f"audio: the fused kernel could not be loaded ({cause}); using the numpy route\n")
        return "numpy", None


def split(spectra: np.ndarray) -> np.ndarray:
    """Complex spectra (..., bins) -> float32 (..., 2, bins) with the real and imaginary planes."""
    return np.ascontiguousarray(np.stack([spectra.real, spectra.imag], axis=-2), dtype=np.float32)


def build(table, low, delays, idx, weights, near, use_near, gains, extra, poly, phasors, n, filters, slot, scratch):
    """Filter spectra of M = n or 2n virtual sources into ``filters[slot]`` (image sources, the
    second n, are added to their direct source's filters).

    idx (4, M) intp and weights (4, M) float64: the neighbouring directions (``neighbours_rows``);
    near (M, 2) float64: near-field low-frequency gain per ear, read when ``use_near``; gains (M,)
    float64: linear gain; extra (M,) float64: extra delay in samples (reflections); scratch
    (3, 2, 2, bins) float32: work rows (no allocation per block)."""
    m_count = idx.shape[1]
    bins = table.shape[3]
    last = phasors.shape[0] - 1
    h = scratch[0, 0]  # interpolated HRTF spectrum of one ear (re, im)
    image = scratch[1]  # an image source's filters (ear, re/im, bin) before they are added
    # every inner loop is branch-free so that it vectorises (a test inside one keeps it scalar)
    for m in range(m_count):
        i0, i1, i2, i3 = idx[0, m], idx[1, m], idx[2, m], idx[3, m]
        w0, w1 = np.float32(weights[0, m]), np.float32(weights[1, m])
        w2, w3 = np.float32(weights[2, m]), np.float32(weights[3, m])
        for e in range(2):
            d = (weights[0, m] * delays[i0, e] + weights[1, m] * delays[i1, e]
                 + weights[2, m] * delays[i2, e] + weights[3, m] * delays[i3, e] + extra[m])
            whole = int(np.floor(d))
            frac = d - whole
            whole = min(max(whole, 0), last)
            c0 = np.float32(gains[m])
            c1 = np.float32(gains[m] * frac)
            c2 = np.float32(gains[m] * frac * frac)
            c3 = np.float32(gains[m] * frac * frac * frac)
            t0, t1, t2, t3 = table[i0, e], table[i1, e], table[i2, e], table[i3, e]
            for b in range(bins):
                h[0, b] = w0 * t0[0, b] + w1 * t1[0, b] + w2 * t2[0, b] + w3 * t3[0, b]
                h[1, b] = w0 * t0[1, b] + w1 * t1[1, b] + w2 * t2[1, b] + w3 * t3[1, b]
            g = np.float32(near[m, e]) if use_near else np.float32(0.0)
            if g != 0.0:
                l0, l1, l2, l3 = low[i0, e], low[i1, e], low[i2, e], low[i3, e]
                for b in range(bins):
                    h[0, b] += g * (w0 * l0[0, b] + w1 * l1[0, b] + w2 * l2[0, b] + w3 * l3[0, b])
                    h[1, b] += g * (w0 * l0[1, b] + w1 * l1[1, b] + w2 * l2[1, b] + w3 * l3[1, b])
            ph = phasors[whole]
            out = filters[slot, m] if m < n else image
            for b in range(bins):
                lr = c0 * poly[0, 0, b] + c1 * poly[1, 0, b] + c2 * poly[2, 0, b] + c3 * poly[3, 0, b]
                li = c0 * poly[0, 1, b] + c1 * poly[1, 1, b] + c2 * poly[2, 1, b] + c3 * poly[3, 1, b]
                dr = lr * ph[0, b] - li * ph[1, b]
                di = lr * ph[1, b] + li * ph[0, b]
                out[e, 0, b] = h[0, b] * dr - h[1, b] * di
                out[e, 1, b] = h[0, b] * di + h[1, b] * dr
            if m >= n:  # the table-plane image of source m - n
                direct = filters[slot, m - n, e]
                for b in range(bins):
                    direct[0, b] += image[e, 0, b]
                    direct[1, b] += image[e, 1, b]


def mix(spectra, filters, slots, out, scratch):
    """out[j] (2 ears, bins) complex64 = sum over sources of spectra (N, bins) complex64 x
    filters[slots[j]] (N, 2, 2, bins), for each slot j listed in ``slots`` (intp); scratch as
    for ``build`` (its last (2, 2, bins) holds the sums)."""
    n = spectra.shape[0]
    bins = spectra.shape[1]
    acc = scratch[2]
    for j in range(slots.shape[0]):
        acc[:] = 0.0
        f = filters[slots[j]]
        for s in range(n):
            x = spectra[s]
            for e in range(2):
                fe = f[s, e]
                ar = acc[e, 0]
                ai = acc[e, 1]
                for b in range(bins):
                    xr = x[b].real
                    xi = x[b].imag
                    ar[b] += xr * fe[0, b] - xi * fe[1, b]
                    ai[b] += xr * fe[1, b] + xi * fe[0, b]
        for e in range(2):
            for b in range(bins):
                out[j, e, b] = complex(acc[e, 0, b], acc[e, 1, b])


_COMPILED = None
_FAILURE = None  # the exception of a failed load, raised again instead of retrying per engine


def kernels():
    """(build, mix) compiled (numba caches the machine code beside this file, or in the user's
    cache when that is read-only) and run once on small arrays, so that no audio callback ever
    waits for the compiler. Call outside the audio callback."""
    global _COMPILED, _FAILURE
    if _FAILURE is not None:
        raise _FAILURE
    if _COMPILED is None:
        if not AVAILABLE:
            raise ImportError("numba is not installed")
        try:
            import numba

            # fastmath without "nnan"/"ninf": a non-finite delay must still clamp to a phasor row
            fast = {"nsz", "arcp", "contract", "afn", "reassoc"}
            jit = numba.njit(cache=True, fastmath=fast, nogil=True, boundscheck=False)
            compiled = jit(build), jit(mix)
            _warm_up(*compiled)
        except Exception as exc:  # numba raises many kinds (import, typing, LLVM)
            _FAILURE = exc
            raise
        _COMPILED = compiled
    return _COMPILED


def _warm_up(build_fn, mix_fn):
    """Compile for the argument types the engine passes (the same dtypes, C-contiguous)."""
    bins, n = 3, 1
    table = np.zeros((2, 2, 2, bins), np.float32)
    delays = np.ones((2, 2), np.float32)
    filters = np.zeros((2, n, 2, 2, bins), np.float32)
    scratch = np.zeros((3, 2, 2, bins), np.float32)
    build_fn(table, table, delays, np.zeros((4, n), np.intp), np.full((4, n), 0.25), np.zeros((n, 2)),
             True, np.ones(n), np.zeros(n), np.zeros((4, 2, bins), np.float32),
             np.zeros((3, 2, bins), np.float32), n, filters, 1, scratch)
    spectra = np.zeros((n, bins), np.complex64)
    mix_fn(spectra, filters, np.zeros(2, np.intp), np.zeros((2, 2, bins), np.complex64), scratch)

"""Batched real FFTs with preallocated buffers: FFTW (pyfftw) when installed, else scipy, else numpy.

The engine transforms the same shapes every block, so plans and buffers are made once per shape.
pyfftw is an optional accelerator (about 1.6x faster than pocketfft at 512 points); results agree
to float32 precision whichever backend runs.
"""

from __future__ import annotations

import numpy as np

try:
    import pyfftw as _pyfftw
except ImportError:  # pragma: no cover - depends on the environment
    _pyfftw = None
try:
    from scipy import fft as _scipy_fft
except ImportError:  # pragma: no cover
    _scipy_fft = None

BACKEND = "fftw" if _pyfftw is not None else ("scipy" if _scipy_fft is not None else "numpy")


def _empty(shape, dtype):
    if _pyfftw is not None:
        return _pyfftw.empty_aligned(shape, dtype=dtype)
    return np.zeros(shape, dtype=dtype)


class RealFFT:
    """Forward real FFT along the last axis: ``self.input`` (..., n) float32 -> returns (..., n//2+1) complex64.

    ``measure=True``: with FFTW, time a few algorithms when planning (ms, once per shape and process:
    FFTW keeps the wisdom) for a faster transform every block.
    """

    def __init__(self, shape, n: int, measure: bool = False):
        self.input = _empty(tuple(shape) + (n,), np.float32)
        self.input[...] = 0.0
        self.output = _empty(tuple(shape) + (n // 2 + 1,), np.complex64)
        self._plan = None
        if _pyfftw is not None and self.input.size:
            flags = ("FFTW_MEASURE",) if measure else ("FFTW_ESTIMATE",)
            self._plan = _pyfftw.FFTW(self.input, self.output, axes=(-1,), flags=flags, threads=1)
            self.input[...] = 0.0  # planning with FFTW_MEASURE overwrites the arrays

    def __call__(self) -> np.ndarray:
        if self._plan is not None:
            self._plan.execute()
        elif self.input.size:
            lib = _scipy_fft if _scipy_fft is not None else np.fft
            self.output[...] = lib.rfft(self.input, axis=-1)
        return self.output


class InverseRealFFT:
    """Inverse real FFT: ``self.input`` (..., n//2+1) complex64 -> returns (..., n) float32.

    ``normalised=False`` skips the 1/n scaling (the caller folds it into its spectra: one pass less).
    """

    def __init__(self, shape, n: int, normalised: bool = True):
        self.n = n
        self.normalised = bool(normalised)
        self.input = _empty(tuple(shape) + (n // 2 + 1,), np.complex64)
        self.input[...] = 0.0
        self.output = _empty(tuple(shape) + (n,), np.float32)
        self._plan = None
        if _pyfftw is not None and self.input.size:
            # FFTW's c2r destroys its input; that is fine here (the input is rewritten every block)
            self._plan = _pyfftw.FFTW(self.input, self.output, axes=(-1,), direction="FFTW_BACKWARD",
                                      flags=("FFTW_ESTIMATE", "FFTW_DESTROY_INPUT"), threads=1)

    def __call__(self) -> np.ndarray:
        if self._plan is not None:
            self._plan.execute()
            if self.normalised:
                self.output *= 1.0 / self.n  # FFTW is unnormalised
        else:
            lib = _scipy_fft if _scipy_fft is not None else np.fft
            self.output[...] = lib.irfft(self.input, n=self.n, axis=-1,
                                         norm="backward" if self.normalised else "forward")
        return self.output

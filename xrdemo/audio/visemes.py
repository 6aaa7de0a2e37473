"""Visemes in the audio path: the mono blocks each person's voice is rendered from -> mouth weights.

``VisemeAnalyser(n, rate, block).update(blocks)`` is called with the same (N, block) mono blocks
the engine spatialises (so the mouth follows the sound the listener hears, not the network or the
script), once per block, next to ``VoiceActivity``. It keeps each person's newest analysis window
(~21 ms) and advances ``core.visemes.VisemeTracker`` by one hop; the result is (N, 5) mouth weights
in ``VISEME_GROUPS`` order that describe the sound ``delay_s`` before the end of the block. Time
them like the voice level: the weights of a block whose last sample is heard at display time T
belong at ``T - delay_s`` (``core.lips.VoiceEnvelope`` sampling then keeps the face within
BT.1359's window). Cost per block: one rfft of (N, window) and a (N, 72) x (72, 5) product; see
``bench/visemes.py``. Allocates a few (N, window) temporaries per block (numpy's FFT does).
"""

from __future__ import annotations

import numpy as np

from xrdemo.core.visemes import VisemeTracker


class VisemeAnalyser:
    """Mono blocks (N, block) in, mouth weights (N, 5) out, one call per audio block."""

    def __init__(self, n: int, sample_rate: int = 48000, block: int = 256, model=None):
        self.n, self.sample_rate, self.block = int(n), int(sample_rate), int(block)
        self.tracker = VisemeTracker(n, sample_rate, block / sample_rate, model)
        self.window = self.tracker.window
        if self.block > self.window:
            raise ValueError(f"viseme analysis: block {block} longer than the {self.window}-sample window")
        self.frames = np.zeros((self.n, self.window))

    @property
    def delay_s(self) -> float:
        """Seconds from the end of the newest block back to the sound the weights describe."""
        return self.tracker.delay_s

    def update(self, blocks: np.ndarray) -> np.ndarray:
        """(N, 5) mouth weights 0..1 after this block (a view, overwritten by the next call)."""
        b = np.asarray(blocks)
        if b.shape != (self.n, self.block):
            raise ValueError(f"viseme analysis: blocks {b.shape}, expected {(self.n, self.block)}")
        f = self.frames
        f[:, :-self.block] = f[:, self.block:]
        f[:, -self.block:] = b
        return self.tracker.update(f)

    def run(self, audio: np.ndarray) -> np.ndarray:
        """Offline helper: (T, 5) weights for one person's whole signal (S,), block by block
        (T = S // block), exactly as the real-time path computes them."""
        if self.n != 1:
            raise ValueError("VisemeAnalyser.run needs a one-person analyser")
        x = np.asarray(audio, np.float64)
        t = len(x) // self.block
        out = np.empty((t, 5))
        for i in range(t):
            out[i] = self.update(x[None, i * self.block:(i + 1) * self.block])[0]
        return out

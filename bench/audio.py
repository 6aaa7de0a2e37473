"""Audio engine benchmark: time per 256-sample block with a head turn every block.

    PYTHONPATH=. python bench/audio.py [--blocks 400]

Compares, in the same process on the same signals, the engine (overlap-save, frequency-domain sum,
crossfade every block) with a per-source scipy.signal.oaconvolve loop using the same filters.
Prints median and p99 µs per block, real-time factor (block duration / median) and marginal µs
per extra voice (least-squares slope over N). OpenAL Soft comparison: not implemented yet.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.signal import oaconvolve

from xrdemo.audio.engine import SpatialAudioEngine
from xrdemo.audio.fft import BACKEND
from xrdemo.core.pose import quat_from_yaw_pitch_roll

BLOCK = 256
RATE = 48000


def time_engine(n: int, blocks: int, signals: np.ndarray) -> np.ndarray:
    engine = SpatialAudioEngine(RATE, BLOCK, limiter=True)
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    engine.set_sources(np.stack([1.5 * np.sin(angles), np.zeros(n), 1.5 * np.cos(angles)], axis=1))
    times = np.empty(blocks)
    for k in range(blocks):
        x = signals[:n, k * BLOCK:(k + 1) * BLOCK]
        t0 = time.perf_counter()
        engine.set_listener((0.0, 0.0, 0.0), quat_from_yaw_pitch_roll(0.01 * k))
        engine.process(x)
        times[k] = time.perf_counter() - t0
    return times[20:]


def time_oaconvolve(n: int, blocks: int, signals: np.ndarray) -> np.ndarray:
    engine = SpatialAudioEngine(RATE, BLOCK, limiter=False)
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    engine.set_sources(np.stack([1.5 * np.sin(angles), np.zeros(n), 1.5 * np.cos(angles)], axis=1))
    filters = engine.source_filters()[:, :, :BLOCK + 1].astype(np.float32)  # same filters, same length
    tail = np.zeros((n, 2, BLOCK), np.float32)
    times = np.empty(blocks)
    for k in range(blocks):
        x = signals[:n, k * BLOCK:(k + 1) * BLOCK]
        t0 = time.perf_counter()
        out = np.zeros((2, BLOCK), np.float32)
        for s in range(n):  # overlap-add per source and ear (filters held: the cheaper case)
            for e in range(2):
                y = oaconvolve(x[s], filters[s, e])
                out[e] += y[:BLOCK] + tail[s, e]
                tail[s, e] = y[BLOCK:2 * BLOCK]
        times[k] = time.perf_counter() - t0
    return times[20:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=400)
    args = ap.parse_args()
    counts = [1, 4, 8, 16, 32, 64]
    signals = (np.random.default_rng(0).standard_normal((64, BLOCK * (args.blocks + 1))) * 0.05).astype(np.float32)
    block_us = BLOCK / RATE * 1e6
    print(f"engine FFT backend: {BACKEND}; block {BLOCK} @ {RATE} Hz = {block_us:.0f} µs; 128-tap HRIRs")
    print(f"{'N':>3} | {'engine med':>10} {'p99':>7} {'RTF':>6} | {'oaconv med':>10} {'p99':>7} | {'speed-up':>8}")
    medians = []
    for n in counts:
        e = time_engine(n, args.blocks, signals) * 1e6
        o = time_oaconvolve(n, max(60, args.blocks // 4), signals) * 1e6
        medians.append(np.median(e))
        print(f"{n:>3} | {np.median(e):>10.0f} {np.percentile(e, 99):>7.0f} {block_us / np.median(e):>6.0f} | "
              f"{np.median(o):>10.0f} {np.percentile(o, 99):>7.0f} | {np.median(o) / np.median(e):>7.1f}x")
    slope = np.polyfit(counts, medians, 1)[0]
    print(f"marginal cost: {slope:.2f} µs per extra voice (least-squares over N)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

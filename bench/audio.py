"""Audio engine benchmark: time per 256-sample block with a head turn every block.

    PYTHONPATH=. python bench/audio.py [--blocks 400] [--rounds 4]

Compares, in the same process on the same signals, the engine (overlap-save, frequency-domain sum,
crossfade every block, 128-tap HRIRs; its fused kernel when numba is installed, and its numpy route)
with (a) OpenAL Soft's HRTF renderer (libopenal1 through
ctypes, ALC_SOFT_loopback, static looping buffers of the same signals, listener orientation changed
every block) twice: with its default data set (default-48000, 32-tap filters) and with our own
128-tap KEMAR set written as an OpenAL data set (bench/openal_mhr.py, loaded through a temporary
ALSOFT_CONF ``hrtf-paths``), so that one column compares equal filter lengths; and (b) a per-source
scipy.signal.oaconvolve loop using the engine's filters. Prints median and p99 µs per block, real-time factor (block
duration / median), marginal µs per extra voice (least-squares slope over N) and the ratios.
Engine and both OpenAL set-ups run in alternating rounds per N, so that load from other processes on a shared
machine hits both alike; the timed region is set_listener + process (the head-pose quaternions,
tracking input, are made beforehand). Without pyFFTW the engine falls back to scipy.fft; without
numba only the numpy route runs (it is then the "engine" column).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.signal import oaconvolve

from xrdemo.audio import fused
from xrdemo.audio.engine import SpatialAudioEngine
from xrdemo.audio.fft import BACKEND
from xrdemo.core.pose import quat_from_yaw_pitch_roll

# bench/ is on sys.path as the script's folder
from openal_loopback import OpenALLoopback, hrtf_filter_taps, impulse_response, response_length, use_config
from openal_mhr import write_mhr

BLOCK = 256
RATE = 48000
AL_DEFAULT = "default-48000"  # Debian libopenal-data's set, the one OpenAL picks at 48 kHz by default
AL_KEMAR = "xrdemo-kemar128"  # our engine's HRIRs as an OpenAL data set


def time_engine(n: int, blocks: int, signals: np.ndarray, kernel: str) -> np.ndarray:
    engine = SpatialAudioEngine(RATE, BLOCK, limiter=True, kernel=kernel)
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    engine.set_sources(np.stack([1.5 * np.sin(angles), np.zeros(n), 1.5 * np.cos(angles)], axis=1))
    times = np.empty(blocks)
    head = np.zeros(3)
    turns = [quat_from_yaw_pitch_roll(0.01 * k) for k in range(blocks)]  # tracking input, made before
    out = np.zeros((BLOCK, 2), np.float32)
    for k in range(blocks):
        x = signals[:n, k * BLOCK:(k + 1) * BLOCK]
        t0 = time.perf_counter()
        engine.set_listener(head, turns[k])
        engine.process(x, out)
        times[k] = time.perf_counter() - t0
    return times[20:]


def ring_positions(n: int) -> np.ndarray:
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([1.5 * np.sin(angles), np.zeros(n), 1.5 * np.cos(angles)], axis=1)


def time_openal(n: int, blocks: int, signals: np.ndarray, hrtf_name: str):
    al = OpenALLoopback(signals[:n], ring_positions(n), RATE, hrtf=True, hrtf_name=hrtf_name)
    out = np.zeros((BLOCK, 2), np.float32)
    times = np.empty(blocks)
    try:
        for k in range(blocks):
            t0 = time.perf_counter()
            al.set_yaw(0.01 * k)
            al.render(out)
            times[k] = time.perf_counter() - t0
        if al.hrtf_status != "enabled" or al.hrtf_name != hrtf_name:
            raise RuntimeError(f"OpenAL HRTF {al.hrtf_status} with '{al.hrtf_name}', asked for '{hrtf_name}'")
        return times[20:], al.hrtf_status, al.hrtf_name
    finally:
        al.close()


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
    ap.add_argument("--blocks", type=int, default=400, help="timed blocks per N (after 20 warm-up blocks)")
    ap.add_argument("--rounds", type=int, default=4, help="alternating engine/OpenAL rounds per N")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="xrdemo-openal-") as folder:
        mhr = write_mhr(folder, AL_KEMAR)
        conf = Path(folder) / "alsoft.conf"
        conf.write_text(f"[general]\nhrtf-paths = {folder},\n")  # trailing comma: the system sets too
        use_config(conf)  # before OpenAL's first use in this process
        return run(args, {AL_DEFAULT: hrtf_filter_taps(), AL_KEMAR: hrtf_filter_taps(mhr)})


def run(args, file_taps: dict) -> int:
    counts = [1, 4, 8, 16, 32, 64]
    signals = (np.random.default_rng(0).standard_normal((64, BLOCK * (args.blocks + 1))) * 0.05).astype(np.float32)
    block_us = BLOCK / RATE * 1e6
    names = (AL_DEFAULT, AL_KEMAR)
    kernels = ("fused", "numpy") if fused.AVAILABLE else ("numpy",)
    rows, medians, al_medians = [], {k: [] for k in kernels}, {name: [] for name in names}
    status = {}
    for n in counts:
        # alternate both engine routes and both OpenAL set-ups in rounds so that load from other
        # processes hits all alike
        e, a = {k: [] for k in kernels}, {name: [] for name in names}
        for _ in range(args.rounds):
            for k in kernels:
                e[k].append(time_engine(n, args.blocks // args.rounds + 20, signals, k) * 1e6)
            for name in names:
                al, status[name], _ = time_openal(n, args.blocks // args.rounds + 20, signals, name)
                a[name].append(al * 1e6)
        e, a = [np.concatenate(e[k]) for k in kernels], [np.concatenate(a[name]) for name in names]
        o = time_oaconvolve(n, max(60, args.blocks // 4), signals) * 1e6
        for k, times in zip(kernels, e):
            medians[k].append(np.median(times))
        for name, times in zip(names, a):
            al_medians[name].append(np.median(times))
        rows.append((n, e[0], e[-1], a[0], a[1], o))
    print(f"engine: {kernels[0]} kernel, FFT backend {BACKEND}, 128-tap HRIRs (MIT KEMAR), crossfade every block; "
          f"numpy: the same engine's numpy route")
    for label, name in (("OpenAL", AL_DEFAULT), ("AL-128", AL_KEMAR)):
        # what OpenAL renders for one impulse from 1 m ahead: FIR length (+ the ear's onset delay)
        ir = response_length(impulse_response(name, (0.0, 0.0, -1.0), rate=RATE))
        print(f"{label}: OpenAL Soft HRTF {status[name]} ('{name}', {file_taps[name]}-tap filters in the file; "
              f"impulse from ahead renders {ir} samples), loopback, static looping buffers, listener turned "
              f"every block")
    print(f"block {BLOCK} @ {RATE} Hz = {block_us:.0f} µs; times are µs per block (median, p99)")
    print(f"{'N':>3} | {'engine':>7} {'p99':>6} {'RTF':>5} | {'numpy':>6} {'p99':>6} | {'OpenAL':>7} {'p99':>6} "
          f"{'RTF':>5} | {'AL-128':>7} {'p99':>6} {'RTF':>5} | {'oaconv':>7} {'p99':>6} | {'np/eng':>6} "
          f"{'AL/eng':>6} {'AL128/eng':>9} {'oa/eng':>6}")
    for n, e, p, a, k, o in rows:
        me, mp, ma, mk, mo = np.median(e), np.median(p), np.median(a), np.median(k), np.median(o)
        print(f"{n:>3} | {me:>7.0f} {np.percentile(e, 99):>6.0f} {block_us / me:>5.0f} | {mp:>6.0f} "
              f"{np.percentile(p, 99):>6.0f} | {ma:>7.0f} {np.percentile(a, 99):>6.0f} {block_us / ma:>5.0f} | "
              f"{mk:>7.0f} {np.percentile(k, 99):>6.0f} {block_us / mk:>5.0f} | {mo:>7.0f} "
              f"{np.percentile(o, 99):>6.0f} | {mp / me:>5.2f}x {ma / me:>5.2f}x {mk / me:>8.2f}x {mo / me:>5.1f}x")
    slopes = {k: np.polyfit(counts, medians[k], 1)[0] for k in kernels}
    al_slope, k_slope = (np.polyfit(counts, al_medians[name], 1)[0] for name in names)
    print(f"marginal cost per extra voice (least squares over N): engine {slopes[kernels[0]]:.2f} µs "
          f"(numpy route {slopes['numpy']:.2f} µs), OpenAL Soft {al_slope:.2f} µs ({file_taps[AL_DEFAULT]} taps), "
          f"{k_slope:.2f} µs ({file_taps[AL_KEMAR]} taps)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Microphone processing benchmark: µs per 10 ms frame for echo cancellation, noise suppression,
gain control and voice activity (xrdemo/audio/mic_processing.py).

    PYTHONPATH=. python bench/aec.py [--rounds 5] [--seconds 6]

Input: the simulated acoustic path of the tests (xrdemo/testing/echo_path.py): the binaural mix of
three people at the table through a room with a 60 ms delay, plus a near-end talker and fan noise.
Each row processes every 10 ms frame of it (far end handed over first, as the live program does);
times are medians over ``--rounds`` rounds (alternating between the rows) of the mean per frame, in
process CPU time (the native code's threads included). Reference rows in the same process give the ratio column: a plain copy of
the frame, and a numpy FIR (np.convolve of the frame with a 512-tap filter).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import median_us_per_call  # noqa: E402

from xrdemo.audio.mic_processing import FRAME, MicProcessor  # noqa: E402
from xrdemo.testing import echo_path as E  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args(argv)

    seconds = args.seconds
    far = E.played_mix(seconds)
    echo = E.scale_to(E.echo_at_mic(far, E.room_response(60)), -28.0)
    near = E.scale_to(E.near_talker(seconds, start_s=1.0), -22.0)
    fan = (E.fan_noise(seconds, seed=1) * E.db_to_gain(-50.0)).astype(np.float32)
    mic = (echo + near + fan).astype(np.float32)
    n = mic.size // FRAME
    mic_frames = [mic[k * FRAME:(k + 1) * FRAME].copy() for k in range(n)]
    far_frames = [far[k * FRAME:(k + 1) * FRAME].copy() for k in range(n)]
    items = list(zip(far_frames, mic_frames))

    out = np.zeros(FRAME, np.float32)
    taps = np.random.default_rng(0).standard_normal(512).astype(np.float32) / 512

    def copy(item):
        np.copyto(out, item[1])

    def fir(item):
        np.convolve(item[1], taps)

    def chain(**options):
        p = MicProcessor(delay_ms=16, **options)

        def run(item):
            p.far_end(item[0])
            p.process(item[1])
        return run

    import webrtcvad

    vad = webrtcvad.Vad(3)
    pcm = [(np.clip(m, -1, 1) * 32767).astype(np.int16).tobytes() for m in mic_frames]

    rows = [
        ("plain copy of the frame (reference)", copy, items),
        ("numpy FIR, 512 taps (reference)", fir, items),
        ("full chain: AEC + NS + AGC + high-pass + VAD", chain(), items),
        ("echo canceller only (+ VAD)", chain(noise_suppression=False, gain_control=False, high_pass=False), items),
        ("noise suppressor only (+ VAD)", chain(echo_cancellation=False, gain_control=False, high_pass=False), items),
        ("gain control only (+ VAD)", chain(echo_cancellation=False, noise_suppression=False, high_pass=False), items),
        ("nothing on: the calls' own cost (+ VAD)", chain(echo_cancellation=False, noise_suppression=False,
                                                          gain_control=False, high_pass=False), items),
        ("webrtcvad alone", lambda b: vad.is_speech(b, 48000), pcm),
    ]
    for name, fn, data in rows:
        for item in data[:50]:       # warm up (the canceller's first frames allocate)
            fn(item)
    # rounds alternate between the rows, so a burst of load from other programs hits them alike;
    # process CPU time (all this process's threads) counts the other programs' load less
    per_round = [[median_us_per_call(fn, data, 1, clock=time.process_time) for _, fn, data in rows]
                 for _ in range(args.rounds)]
    results = [(name, statistics.median(r[i] for r in per_round)) for i, (name, _, _) in enumerate(rows)]
    fir_us = results[1][1]
    print(f"{n} frames of 10 ms, {args.rounds} rounds, medians\n")
    print("| row | µs per 10 ms | share of real time | ÷ numpy FIR |")
    print("|---|---|---|---|")
    for name, us in results:
        print(f"| {name} | {us:.1f} | {us / 100.0:.2f} % | {us / fir_us:.2f}× |")


if __name__ == "__main__":
    main()

"""Voice -> viseme analysis in the audio path: CPU µs per 256-sample block, and the held-out score.

    PYTHONPATH=. python bench/visemes.py [--rounds 5] [--blocks 400] [--repeats 3]

Cost rows: ``VisemeAnalyser.update`` for N people per block (48 kHz, 256 samples = 5,333 µs of
sound), next to ``VoiceActivity.update`` (the level meter the audio path already runs on the same
blocks) as the in-process reference, and the share of one core at 187.5 blocks/s. CPU time
(time.process_time), median over rounds. Score rows (needs libespeak-ng): the held-out sentences
of xrdemo/testing/viseme_truth.py said ``--repeats`` times (espeak-ng's output varies by a few
samples per call), accuracy over the five groups and p/b/m frames with the mouth closed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from xrdemo.audio.visemes import VisemeAnalyser
from xrdemo.audio.voices import VoiceActivity

from timing import median_us_per_call

RATE, BLOCK = 48000, 256


def cost_rows(rounds, blocks):
    rng = np.random.default_rng(0)
    print(f"{'people':>6} {'visemes µs/block':>17} {'level µs/block':>15} {'ratio':>6} {'core share':>11}")
    for n in (1, 4, 16, 32):
        data = (0.1 * rng.standard_normal((blocks, n, BLOCK))).astype(np.float32)
        an = VisemeAnalyser(n, RATE, BLOCK)
        va = VoiceActivity(n, BLOCK / RATE)
        v = median_us_per_call(an.update, data, rounds, clock=time.process_time)
        r = median_us_per_call(va.update, data, rounds, clock=time.process_time)
        print(f"{n:>6} {v:>17.1f} {r:>15.1f} {v / r:>6.1f} {v / (1e6 * BLOCK / RATE):>10.2%}")


def score_rows(repeats):
    from xrdemo.testing import viseme_truth as T
    print(f"\n{'run':>4} {'accuracy':>9} {'p/b/m closed':>13} {'frames':>7}")
    for k in range(repeats):
        sc = T.score(T.run_sentences(T.labelled("held_out")))
        print(f"{k:>4} {sc.accuracy:>9.3f} {sc.closed:>13.3f} {sc.frames:>7}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--blocks", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    cost_rows(a.rounds, a.blocks)
    score_rows(a.repeats)


if __name__ == "__main__":
    main()

"""Print the behaviour statistics of a seeded meeting, measured from its frames as drawn.

Tapes a meeting of scripted people (xrdemo/testing/meeting_tape.py) and prints the conversation
numbers (talk_stats.summary: turns, backchannels, silences, nods, laughs, question brows) and the
gaze and blink numbers (gaze_stats.measure_all: gaze around turns, listeners on faces, saccade
rhythm, blinks) that docs/presence.md quotes. The defaults are the tests' tapes (tests/core/conftest.py):
6 people at a round table with seed 11, 10 people at a rectangular one with seed 12.

    python -m xrdemo.testing.behaviour_report --people 6
    python -m xrdemo.testing.behaviour_report --people 10 --minutes 5 --seed 6
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from . import gaze_stats, talk_stats
from .meeting_tape import record_tape

TEST_TAPES = {6: (11, "round"), 10: (12, "rect")}
"""people -> (seed, table) of the tapes the statistics tests record."""


def _line(name: str, value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"  {name:28s} {float(value):.3f}"
    return f"  {name:28s} {value}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m xrdemo.testing.behaviour_report",
                                 description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="A 20-minute tape takes ~30 s to record (0.4 ms a frame).")
    ap.add_argument("--people", type=int, default=6, help="people at the table, 2-64 (default 6)")
    ap.add_argument("--minutes", type=float, default=20.0, help="meeting length (default 20)")
    ap.add_argument("--seed", type=int, default=None, help="default: the tests' seed for 6 or 10 people, else 1")
    ap.add_argument("--table", choices=("round", "rect"), default=None,
                    help="default: the tests' table for 6 or 10 people, else round")
    ap.add_argument("--fps", type=int, default=60, help="frames a second (default 60)")
    a = ap.parse_args(argv)
    if not 2 <= a.people <= 64:
        ap.error(f"--people must be 2..64, not {a.people}")
    if not 0.5 <= a.minutes <= 120:
        ap.error(f"--minutes must be 0.5..120, not {a.minutes}")
    seed, table = TEST_TAPES.get(a.people, (1, "round"))
    seed = seed if a.seed is None else a.seed
    table = table if a.table is None else a.table
    print(f"taping {a.people} people, {table} table, seed {seed}, {a.minutes:g} min at {a.fps} Hz ...",
          file=sys.stderr, flush=True)
    tape = record_tape(a.people, seed=seed, minutes=a.minutes, fps=a.fps, table=table,
                       progress=lambda k, n: print(f"  {100 * k // n:3d} %", file=sys.stderr, flush=True))
    print("conversation")
    for k, v in talk_stats.summary(tape).items():
        print(_line(k, v))
    print("gaze and blinks")
    for k, v in gaze_stats.measure_all(tape).items():
        print(_line(k, v))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

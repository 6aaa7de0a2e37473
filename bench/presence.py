"""Time the per-frame presence update (xrdemo.core.presence.presence_step) for 1, 4, 16, 64 people.

Every behaviour is on: scripted conversation, gaze, blinks, jaws, gestures, hand fades, whisper
pairs and table contacts for every hand, with one local (head-driven) user. Prints a table in ms per
frame and the ratio to a reference run in the same process (a plain numpy op loop), so numbers from
different machines can be compared. Run: PYTHONPATH=$PWD python bench/presence.py
"""

from __future__ import annotations

import time

import numpy as np

from xrdemo.core.pose import quat_from_yaw_pitch_roll
from xrdemo.core.presence import PresenceConfig, new_presence, presence_step
from xrdemo.core.table import TableGeometry

FPS = 90


def seats(n: int):
    ang = np.arange(n) * 2.0 * np.pi / n
    r = 0.6 + 0.06 * n
    pos = np.stack([np.sin(ang) * r, np.full(n, 1.2), np.cos(ang) * r], axis=1)
    q = quat_from_yaw_pitch_roll(np.arctan2(pos[:, 0], pos[:, 2]))
    return pos, q


def bench_people(n: int, frames: int = 900) -> float:
    table = TableGeometry(np.array([0.0, 0.75, 0.0]), np.array([0.0, 1.0, 0.0]),
                          np.array([1.0, 0.0, 0.0]), np.array([1.0, 0.6]))
    st = new_presence(PresenceConfig(n=n, seed=1, local_index=0, table=table), t_ns=0)
    pos, q = seats(n)
    rng = np.random.default_rng(0)
    joints = pos[:, None, None, :] * 0.7 + rng.normal(0, 0.05, (n, 2, 26, 3))
    joints[..., 1] = 0.76
    tracked = np.ones((n, 2), bool)
    for k in range(FPS * 5):  # warm up past the first turns
        presence_step(st, pos, q, int(k * 1e9 / FPS), hand_joints=joints, hand_tracked=tracked)
    t0 = time.perf_counter()
    for k in range(FPS * 5, FPS * 5 + frames):
        presence_step(st, pos, q, int(k * 1e9 / FPS), hand_joints=joints, hand_tracked=tracked)
    return (time.perf_counter() - t0) / frames * 1e3


def reference_ms(reps: int = 20000) -> float:
    """A fixed workload: 100 small numpy ufunc calls, for ratios across machines."""
    a = np.random.default_rng(0).random(16)
    t0 = time.perf_counter()
    for _ in range(reps // 100):
        for _ in range(100):
            a = np.sqrt(a * a + 0.5)
    return (time.perf_counter() - t0) / (reps // 100) * 1e3


def main() -> None:
    ref = reference_ms()
    print(f"reference (100 small numpy ops): {ref:.3f} ms")
    print(f"{'people':>6} | {'ms/frame':>8} | {'x ref':>6} | target")
    for n in (1, 4, 16, 64):
        ms = min(bench_people(n) for _ in range(3))
        target = "<= 0.3 ms (whole core step)" if n == 16 else ""
        print(f"{n:>6} | {ms:8.3f} | {ms / ref:6.2f} | {target}")


if __name__ == "__main__":
    main()

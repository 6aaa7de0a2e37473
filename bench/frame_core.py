"""Benchmark: the core's per-frame work for 1, 4, 16 and 64 people.

Two measurements in the same process, on the same inputs:
  vectorised — xrdemo.core.scene.step with every behaviour on (presence: conversation, gaze,
               saccades, blinks, jaws, gestures, whispering, table contacts; then bone-preserving
               blends, wrists, hands to stage, heads, cues, every hand to capsules, the FrameScene);
  loop       — the same hand work written as a straightforward per-hand, per-joint Python loop
               (blend each joint, project each bone to its length, transform each joint, emit
               each capsule), which is what "not vectorised" costs.
Prints milliseconds per frame (median of repeats) and the ratio loop / vectorised.
Run: .venv/bin/python bench/frame_core.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from xrdemo.core import hands as H
from xrdemo.core import pose as P
from xrdemo.core import scene as S
from xrdemo.core import script

FRAME_NS = 11_111_111   # 90 Hz


def time_per_call(fn, repeats: int, inner: int) -> float:
    """Median over `repeats` of the mean time of `inner` calls, in milliseconds."""
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner * 1e3)
    return statistics.median(samples)


def loop_hands(state: S.MeetingState, t_s: float):
    """The hand work of one frame as plain per-joint Python loops (the reference), from the
    gesture weights and lifts of the state's newest presence frame."""
    n = len(state.people)
    weights, raised = state.frame.gesture_weights, np.clip(state.frame.hand_lift, 0, 1)
    wrist_p, wrist_q = script.wrist_poses(state.script, state.seat_pos, state.seat_rot,
                                          state.table.height, raised, t_s)
    lib = H.POSE_LIBRARY
    caps = []
    for k in range(n):
        for h in range(2):
            w = weights[k, h] / weights[k, h].sum()
            mean = [sum(w[i] * lib[i][j] for i in range(len(w))) for j in range(H.JOINT_COUNT)]
            out = [m.copy() for m in mean]
            for (parent, child), length in zip(H.BONES, H.BONE_LENGTHS):
                d = mean[child] - mean[parent]
                out[child] = out[parent] + d / np.linalg.norm(d) * length
            out[H.PALM] = 0.5 * (out[H.JOINT["middle_metacarpal"]] + out[H.JOINT["middle_proximal"]])
            stage = []
            for j in range(H.JOINT_COUNT):
                p = out[j].copy()
                if h == 0:
                    p[0] = -p[0]
                stage.append(wrist_p[k, h] + P.quat_rotate(wrist_q[k, h], p))
            for c, (i, j) in enumerate(H.CAPSULE_JOINTS):
                r = 0.5 * (H.TYPICAL_RADII[i] + H.TYPICAL_RADII[j]) * H._CAPSULE_WIDEN[c]
                caps.append((stage[i], stage[j], r))
    return caps


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    rows = []
    for n in (1, 4, 16, 64):
        state = S.make_meeting(n, seed=1)
        for i in range(90):                      # 3 s of meeting: people talk, look, gesture
            state, _ = S.step(state, None, i * 33_333_333)
        frame = [90 * 3]

        def vec():
            nonlocal state
            frame[0] += 1
            state, _ = S.step(state, None, frame[0] * FRAME_NS)

        def loop():
            frame[0] += 1
            loop_hands(state, frame[0] * FRAME_NS * 1e-9)

        vec_ms = time_per_call(vec, args.repeats, max(20, 400 // n))
        loop_ms = time_per_call(loop, max(3, args.repeats // 2), max(1, 16 // n))
        rows.append((n, vec_ms, loop_ms))
    print(f"{'people':>6} | {'core step (ms)':>14} | {'per-joint loop, hands only (ms)':>31} | {'loop / step':>11}")
    print("-" * 74)
    for n, v, l in rows:
        print(f"{n:>6} | {v:>14.3f} | {l:>31.2f} | {l / v:>10.1f}x")
    print("\ncore step: xrdemo.core.scene.step, everything for one frame; loop: the hands alone, "
          "per joint.\nTargets (DESIGN.md): <= 0.3 ms at 16 people, >= 20x faster than the loop there.")


if __name__ == "__main__":
    main()

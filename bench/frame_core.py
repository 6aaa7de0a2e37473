"""Benchmark: the core's per-frame work for 1, 4, 16 and 64 people.

Two measurements in the same process, on the same inputs:
  vectorised — xrdemo.core.scene.step with every behaviour on (presence: conversation, gaze,
               saccades, blinks, jaws, gestures, whispering, table contacts; then bone-preserving
               blends, wrists, hands to stage, heads, cues, every hand to capsules, the FrameScene);
  loop       — the same hand work written as a straightforward per-hand, per-joint Python loop
               (blend each joint, project each bone to its length, transform each joint, emit
               each capsule), which is what "not vectorised" costs.
  reference  — with --reference CHECKOUT: the same step from another checkout (e.g. main's
               worktree), imported under another package name and timed interleaved with ours,
               so load on the shared machine hits both alike.
Prints milliseconds per frame (median of repeats), the ratio step / reference and loop / step.
Run: .venv/bin/python bench/frame_core.py [--repeats N] [--reference /work/main]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

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


def _stepper(S, n: int):
    """(step one frame, (frame counter, the newest state)) for a meeting of n after 3 s."""
    box = {"state": S.make_meeting(n, seed=1)}
    for i in range(90):                          # 3 s of meeting: people talk, look, gesture
        box["state"], _ = S.step(box["state"], None, i * 33_333_333)
    frame = [90 * 3]

    def step():
        frame[0] += 1
        box["state"], _ = S.step(box["state"], None, frame[0] * FRAME_NS)
    return step, (frame, lambda: box["state"])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--reference", type=Path, default=None, help="checkout with the old step")
    args = ap.parse_args(argv)
    R = None
    if args.reference is not None:
        from faces import load_reference        # bench/faces.py (bench/ is on the path when run)
        R = load_reference(args.reference)
    rows = []
    for n in (1, 4, 16, 64):
        vec, frame = _stepper(S, n)
        ref = _stepper(R, n)[0] if R is not None else None

        def loop(state):
            frame[0][0] += 1
            loop_hands(state, frame[0][0] * FRAME_NS * 1e-9)

        inner = max(20, 400 // n)
        if ref is None:
            vec_ms, ref_ms = time_per_call(vec, args.repeats, inner), None
        else:                                    # interleaved: one sample of each in turn
            pairs = [(time_per_call(vec, 1, inner), time_per_call(ref, 1, inner)) for _ in range(args.repeats)]
            vec_ms = statistics.median(p[0] for p in pairs)
            ref_ms = statistics.median(p[1] for p in pairs)
        state = frame[1]()
        loop_ms = time_per_call(lambda: loop(state), max(3, args.repeats // 2), max(1, 16 // n))
        rows.append((n, vec_ms, ref_ms, loop_ms))
    refcol = f" | {'reference (ms)':>14} | {'step / ref':>10}" if R is not None else ""
    print(f"{'people':>6} | {'core step (ms)':>14}{refcol} | {'per-joint loop, hands only (ms)':>31} | {'loop / step':>11}")
    print("-" * (74 + len(refcol)))
    for n, v, r, l in rows:
        rc = f" | {r:>14.3f} | {v / r:>10.2f}" if r is not None else ""
        print(f"{n:>6} | {v:>14.3f}{rc} | {l:>31.2f} | {l / v:>10.1f}x")
    print("\ncore step: xrdemo.core.scene.step, everything for one frame; loop: the hands alone, "
          "per joint.\nTargets (DESIGN.md): <= 0.3 ms at 16 people, >= 20x faster than the loop there.")


if __name__ == "__main__":
    main()

"""Benchmark: the in-headset menu's per-frame cost, against the core's meeting step.

Three measurements in the same process, at 72 Hz steps with scripted hands:
  closed     — menu_step with the left palm turned away (the usual frame: nothing shown);
  open+poke  — menu_step with the panel open beside the left hand, the right index poking a
               button and a controller ray on the panel (every path runs);
  core.step  — xrdemo.core.scene.step for 6 people, the frame's main core work, as the reference.
Prints microseconds per call (median of repeats) and each as a fraction of core.step.
Run: .venv/bin/python bench/menu.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from xrdemo.core import menu as M
from xrdemo.core import pose as P
from xrdemo.core import scene as S
from xrdemo.testing.menu_hands import left_hand, right_hand

FRAME_NS = 13_888_889   # 72 Hz
HEAD = np.array([0.0, 1.2, 1.0])


def per_call_us(fn, repeats: int, inner: int) -> float:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner * 1e6)
    return statistics.median(samples)


def menu_runner(open_panel: bool):
    palm = HEAD + np.array([-0.1, -0.28, -0.28])
    left = left_hand(palm, HEAD, 0.0 if open_panel else 120.0)
    state = M.MenuState()
    kw = dict(head_pos=HEAD, head_rot=P.IDENTITY_QUAT, joints_valid=np.ones((2, 26), bool),
              aim_pos=np.zeros((2, 3)), aim_rot=np.tile(P.IDENTITY_QUAT, (2, 1)),
              aim_valid=np.zeros(2, bool), trigger=np.zeros(2), menu_button=np.zeros(2, bool),
              toggles={M.MenuAction.MUTE: True}, volume=0.8)
    joints = np.stack([left, right_hand(HEAD + [0.3, -0.5, -0.3])])
    t = [10**9]
    for _ in range(60):                                   # open it (or not)
        t[0] += FRAME_NS
        state, *_ = M.menu_step(state, t_ns=t[0], joints=joints, **kw)
    if open_panel:
        c, n = M.button_centres_room(state)[4], M.panel_normal(state)
        kw["aim_pos"] = np.array([[0.0, 0.0, 0.0], HEAD + [0.2, -0.3, -0.1]])
        kw["aim_rot"][1] = P.look_rotation(c - kw["aim_pos"][1])
        kw["aim_valid"] = np.array([False, True])
    depths = np.concatenate([np.linspace(0.04, -0.01, 8), np.linspace(-0.01, 0.04, 8)])
    tips = [np.stack([left, right_hand(c + n * d, -n)]) for d in depths] if open_panel else [joints]
    box = {"state": state, "i": 0}

    def step():
        t[0] += FRAME_NS
        box["i"] += 1
        box["state"], *_ = M.menu_step(box["state"], t_ns=t[0], joints=tips[box["i"] % len(tips)], **kw)
    return step


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    meeting = S.make_meeting(6, seed=0)
    box = {"s": meeting, "t": 10**9}

    def core():
        box["t"] += FRAME_NS
        box["s"], _ = S.step(box["s"], None, box["t"])
    ref = per_call_us(core, args.repeats, 100)
    rows = [("menu closed", per_call_us(menu_runner(False), args.repeats, 400)),
            ("menu open + poke + ray", per_call_us(menu_runner(True), args.repeats, 400)),
            ("core.step, 6 people", ref)]
    print(f"{'what':<26}{'us / frame':>12}{'of core.step':>15}")
    for name, us in rows:
        print(f"{name:<26}{us:>12.1f}{us / ref:>14.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

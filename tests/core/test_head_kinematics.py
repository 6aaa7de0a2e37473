"""Heads and eyes as drawn (People.head_rot, People.gaze from scene.step): on large gaze shifts the
eyes lead and the head follows with a bell-shaped speed profile (it starts from rest, peaks mid-
turn at a human speed), never jumping to its top speed in one frame."""

import numpy as np
import pytest

from xrdemo.core import pose as P
from xrdemo.core import scene as S

FPS = 60


@pytest.mark.parametrize("seed", [7, 5])
def test_head_turns_are_bell_shaped_and_follow_the_eyes(seed):
    st = S.make_meeting(6, local=-1, seed=seed)
    heads, gazes = [], []
    for i in range(60 * FPS):
        st, _ = S.step(st, None, int(i * 1e9 / FPS))
        heads.append(st.people.head_rot.copy())
        gazes.append(st.people.gaze.copy())
    q, g = np.array(heads), np.array(gazes)
    head_speed = np.degrees(P.quat_angle(q[1:], q[:-1])) * FPS                    # (T-1, N) deg/s
    gaze_speed = np.degrees(np.arccos(np.clip((g[1:] * g[:-1]).sum(-1), -1, 1))) * FPS
    shifts = 0
    for k in range(6):
        moving = head_speed[:, k] > 8.0
        edges = np.diff(moving.astype(int))
        on, off = np.flatnonzero(edges == 1) + 1, np.flatnonzero(edges == -1) + 1
        for a in on:
            b = off[off > a]
            if not len(b) or a < 10:
                continue
            seg = head_speed[a:b[0], k]
            total = seg.sum() / FPS
            if total < 20.0 or len(seg) < 6:
                continue
            shifts += 1
            peak = int(np.argmax(seg))
            assert peak >= 2, seg[:6]                          # not at full speed in its first frames
            assert seg.max() < 400.0, seg.max()                # human head speeds (was up to 800°/s)
            assert seg[0] < 0.5 * seg.max()                   # it starts from rest
            assert gaze_speed[a - 8:a, k].max() > 10.0         # a saccade came first (fixations: ~0.1°/s)
    assert shifts >= 10, shifts

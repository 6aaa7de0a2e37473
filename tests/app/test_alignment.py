"""Table alignment: touches on a real (tilted, offset, turned) table move the meeting onto it."""

import numpy as np
import pytest

from xrdemo.alignment import TableAlignment, TouchCollector
from xrdemo.core import pose as P
from xrdemo.platform.base import ControllersInput, FrameInput, HandsInput, Pose, SessionState


def real_table():
    """A real table in stage space: top at 0.71 m, centre (0.4, 0.71, -0.3), turned 25°, tilted 1°."""
    q = P.quat_mul(P.quat_from_yaw_pitch_roll(np.radians(25)), P.quat_from_axis_angle([1, 0, 0], np.radians(1.0)))
    return np.array([0.4, 0.71, -0.3]), q


def frame_with_tips(t_ns, left_tip, right_tip, valid=(True, True)):
    hands = HandsInput.untracked()
    hands.positions[0, 10] = left_tip
    hands.positions[1, 10] = right_tip
    hands.valid[:, :] = np.asarray(valid)[:, None]
    hands.active[:] = valid
    return FrameInput(t_ns, 11_111_111, [], Pose(np.array([0, 1.2, 0.5]), P.IDENTITY_QUAT.copy(), True),
                      hands, ControllersInput.idle(), None, SessionState.FOCUSED, True)


def touches(rng, centre, q, n_touches=10, frames=20):
    """Fingertips that move to a spot, rest there, and move on; 10 % wild samples."""
    half = np.array([0.8, 0.45])
    t = 0
    out = []
    for _ in range(n_touches):
        spots = []
        for _hand in range(2):
            u = rng.uniform(-1, 1, 2) * half
            spots.append(centre + P.quat_rotate(q, [u[0], 0.0, u[1]]))
        for f in range(frames):
            approach = max(0.0, 1 - f / 5)             # the first frames come down from above
            tips = [s + [0, 0.08 * approach, 0] + rng.normal(0, 0.0015, 3) for s in spots]
            if rng.random() < 0.1:
                tips[0] = tips[0] + rng.normal(0, 0.05, 3)
            out.append(frame_with_tips(t, tips[0], tips[1]))
            t += 11_111_111
        t += 300_000_000
    return out


def test_touches_recover_the_real_table_and_map_it_onto_the_virtual_one():
    rng = np.random.default_rng(5)
    centre, q = real_table()
    col = TouchCollector()
    for f in touches(rng, centre, q):
        col.add(f)
    al = col.fit()
    assert abs(al.table_height - 0.71) < 0.01
    # points on the real top land on the virtual top (y = table height in room space)
    for u in ([0, 0], [0.6, 0.3], [-0.7, -0.4]):
        p_stage = centre + P.quat_rotate(q, [u[0], 0.0, u[1]])
        p_room = al.points(p_stage)
        assert abs(p_room[1] - al.table_height) < 0.01
    # the real centre of the touched area maps near the virtual centre
    assert np.linalg.norm(al.points(centre)[[0, 2]]) < 0.15
    # the real up direction becomes the room's up (within 1°)
    up = P.quat_rotate(al.orientation, P.quat_rotate(q, [0, 1, 0]))
    assert np.degrees(np.arccos(np.clip(up[1], -1, 1))) < 1.0


def test_apply_moves_every_pose_of_a_frame():
    centre, q = real_table()
    al = TableAlignment(np.array([0.1, 0.0, -0.2]), P.quat_from_yaw_pitch_roll(0.3), 0.7)
    f = frame_with_tips(0, centre, centre + [0.1, 0, 0])
    g = al.apply(f)
    assert np.allclose(g.hands.positions[0, 10], al.points(centre), atol=1e-5)
    assert np.allclose(g.head.position, al.points(f.head.position))
    assert f.hands.positions[0, 10] is not g.hands.positions[0, 10]      # the input is untouched


def test_too_few_touches_and_bad_files_are_clear_errors():
    col = TouchCollector()
    with pytest.raises(ValueError, match="touch the real table"):
        col.fit()
    with pytest.raises(ValueError, match="not a table alignment"):
        TableAlignment.from_json("{}", "x.json")
    with pytest.raises(ValueError, match="unsupported version"):
        TableAlignment.from_json('{"version": 9}', "x.json")
    al = TableAlignment(np.array([0.1, 0.0, -0.2]), P.quat_from_yaw_pitch_roll(0.3), 0.7, 0.002, 40)
    back = TableAlignment.from_json(al.to_json())
    assert np.allclose(back.position, al.position) and back.samples == 40

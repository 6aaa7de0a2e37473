"""Seated bodies follow the head, [avatars] torso = false leaves heads and hands, eyes converge."""

import numpy as np

from xrdemo.config import config_from_dict
from xrdemo.core import pose as P
from xrdemo.core import scene as S
from xrdemo.core.avatars import BODY_SPHERES, SKIN_TONES, eye_angles, eye_gaze, skin_tones


def _bodies(fs, people):
    return fs.meshes["sphere"].transforms[:people * BODY_SPHERES]


def test_torso_false_draws_heads_and_hands_only():
    from xrdemo.meetings import meeting_state

    cfg = config_from_dict({"avatars": {"torso": False}, "meeting": {"people": 4}})
    st = meeting_state(cfg)
    assert st.torso is False
    st, fs = S.step(st, None, 0)
    spheres = fs.meshes["sphere"].transforms
    # Only contact shadows (flat on the table) remain among the spheres.
    assert np.allclose(spheres[:, 1, 3], st.table.height + 0.0009, atol=1e-6)
    assert len(fs.faces) == 3 and len(fs.capsules) > 0
    on = meeting_state(config_from_dict({"meeting": {"people": 4}}))
    on, fs_on = S.step(on, None, 0)
    assert len(fs_on.meshes["sphere"]) == len(fs.meshes["sphere"]) + 3 * BODY_SPHERES


def test_chest_leans_and_turns_with_the_head_but_hips_stay_in_the_chair():
    st = S.make_meeting(4, local=0, seed=1)
    st.draw_local_head = True
    seat = st.seat_pos[0]
    st, upright = S.step(st, S.LocalInput(head_pos=seat, head_rot=st.seat_rot[0]), 0)
    lean_pos = seat + P.quat_rotate(st.seat_rot[0], np.array([0.25, -0.05, -0.15]))
    turned = P.quat_mul(st.seat_rot[0], P.quat_from_yaw_pitch_roll(-0.8))
    st, leaned = S.step(st, S.LocalInput(head_pos=lean_pos, head_rot=turned), 10_000_000)
    a, b = _bodies(upright, 4)[0], _bodies(leaned, 4)[0]        # person 0's chest
    shift = b[:3, 3] - a[:3, 3]
    assert 0.05 < np.linalg.norm(shift) < 0.25                    # follows, less than the head did
    # the chest's forward turns a share of the head's 0.8 rad turn
    fa, fb = -a[:3, 2] / np.linalg.norm(a[:3, 2]), -b[:3, 2] / np.linalg.norm(b[:3, 2])
    turn = np.arccos(np.clip(fa @ fb, -1, 1))
    assert 0.1 < turn < 0.6
    # the bottom of the chest stays near the chair
    bottom = lambda m: m[:3, 3] - m[:3, 1]                        # noqa: E731
    assert np.linalg.norm(bottom(b) - bottom(a)) < 0.06


def test_skin_tones_span_the_range_and_are_seeded():
    s1, h1 = skin_tones(9, seed=3)
    s2, _ = skin_tones(9, seed=3)
    assert np.array_equal(s1, s2)
    assert len(np.unique(np.round(s1[:, 0], 2))) >= 7             # nine people, many tones
    assert s1[:, 0].min() < SKIN_TONES[2, 0] and s1[:, 0].max() > SKIN_TONES[-3, 0]
    assert np.all(h1[:, 3] == 1.0)


def test_eyes_converge_on_a_near_target():
    R = np.eye(3)[None]
    eyes_off = np.array([[-0.031, 0.0, 0.0], [0.031, 0.0, 0.0]])
    ahead = np.array([[0.0, 0.0, -1.0]])
    g_near = eye_gaze(R, ahead, np.array([0.3]))
    g_none = eye_gaze(R, ahead, np.array([0.0]))
    assert g_none[0, 3] > 1.0                                   # nobody in particular: far
    near = eye_angles(g_near, eyes_off)[0]
    far = eye_angles(g_none, eyes_off)[0]
    # left eye turns right (yaw < 0), right eye turns left (yaw > 0); more when near
    assert near[0] < far[0] <= 0.0 <= far[2] < near[2]
    assert np.degrees(near[2] - near[0]) > 10
    # the gaze goes into the head frame: a head turned 90° left sees "ahead" on its right
    turned = P.quat_to_matrix(P.quat_from_yaw_pitch_roll(np.pi / 2))[None]
    assert np.allclose(eye_gaze(turned, ahead, np.array([1.0]))[0, :3], [1.0, 0.0, 0.0], atol=1e-6)

"""The step's shortcuts in placing wrists and building the frame (core/frame_build.py) give what
the plain formulas give (issue 14's speed budget; docs/performance.md): wrist turns from one
product per hand, sphere arrays from per-seating templates, heads from one template, capsule ends
in one take, and the arrays shared between frames are read-only while the others are fresh."""

import numpy as np
import pytest

from xrdemo.core import hands as H
from xrdemo.core import pose as P
from xrdemo.core import scene as S
from xrdemo.core import script
from xrdemo.core.avatars import BODY_SPHERES, body_instances
from xrdemo.core.table import CONTACT_JOINTS


def test_wrist_turns_are_the_wrist_frames_transposed_and_mirrored():
    for n, on_table in ((1, False), (5, True), (16, True), (64, False)):
        st = S.make_meeting(n, seed=n)
        model = script.WristModel.make(st.script, st.seat_pos, st.seat_rot, st.table.height,
                                       st.table if on_table else None)
        rng = np.random.default_rng(n)
        for t in (0.0, 1.7, 93.25):
            raised = rng.random((n, 2))
            raised[0] = (0.0, 1.0)
            p0, R0 = script.wrist_frames(model, raised, t)
            p1, turn = script.wrist_turns(model, raised, t)
            mirror = np.array([[-1.0], [1.0], [1.0]])
            assert np.allclose(p1, p0, atol=1e-12, rtol=0)
            assert np.allclose(turn[:, 0], R0[:, 0].swapaxes(-1, -2) * mirror, atol=1e-12, rtol=0)
            assert np.allclose(turn[:, 1], R0[:, 1].swapaxes(-1, -2), atol=1e-12, rtol=0)
            # a right-hand point placed by the turn is the left hand's mirrored point placed by R
            q = rng.normal(size=3)
            assert np.allclose(q @ turn[:, 0] + p1[:, 0], (R0[:, 0] @ (q * [-1.0, 1.0, 1.0])) + p0[:, 0],
                               atol=1e-12, rtol=0)


def _plain_spheres(st):
    """Bodies of the drawn heads (unless torso is off), then one glow per touching joint."""
    ppl = st.people
    n = len(ppl)
    hide = -1 if st.draw_local_head else st.local
    drawn = np.arange(n) != hide
    present = np.ones(n, bool) if ppl.present is None else ppl.present
    drawn &= present
    mats, cols = [np.zeros((0, 4, 4))], [np.zeros((0, 4))]
    if st.torso:
        body_t, body_c = body_instances(st.seat_pos, P.quat_to_matrix(st.seat_rot), ppl.head_pos,
                                        P.quat_to_matrix(ppl.head_rot), ppl.color)
        mats.append(body_t[drawn].reshape(-1, 4, 4))
        cols.append(body_c[drawn].reshape(-1, 4))
    contact = ppl.contact * present[:, None, None]
    for k, h, s in zip(*np.nonzero(contact > 0.05)):
        p = ppl.joints[k, h, CONTACT_JOINTS[s]]
        m = np.diag([0.012, 0.0008, 0.012, 1.0])
        m[:3, 3] = (p[0], st.table.height + 0.0009, p[2])
        mats.append(m[None])
        cols.append(np.array([[0.12, 0.07, 0.04, 0.6 * contact[k, h, s]]]))
    return np.concatenate(mats).astype(np.float32), np.concatenate(cols).astype(np.float32), drawn


def _check_frame(st, fs):
    ppl = st.people
    mats, cols, drawn = _plain_spheres(st)
    sph = fs.meshes["sphere"]
    assert sph.transforms.shape == mats.shape and sph.colors.shape == cols.shape
    assert np.allclose(sph.transforms, mats, atol=1e-6, rtol=0)
    assert np.allclose(sph.colors, cols, atol=1e-6, rtol=0)
    R = P.quat_to_matrix(ppl.head_rot)[drawn]
    f = fs.faces
    assert np.allclose(f.transforms[:, :3, :3], R, atol=1e-6, rtol=0)
    assert np.allclose(f.transforms[:, :3, 3], ppl.head_pos[drawn], atol=1e-6, rtol=0)
    assert np.array_equal(f.transforms[:, 3], np.tile([0.0, 0.0, 0.0, 1.0], (len(R), 1)))
    assert np.array_equal(f.skin, st.derived.skin[drawn]) and np.array_equal(f.hair, st.derived.hair[drawn])
    assert np.array_equal(f.expressions, ppl.expressions[drawn])
    assert np.allclose(fs.labels.positions, ppl.head_pos[drawn] + [0.0, S.NAME_TAG_HEIGHT, 0.0], atol=1e-6)
    assert fs.shell and np.array_equal(fs.light_dir, [0.3, 0.9, 0.4])
    return sph


@pytest.mark.parametrize("n, local, draw_local, torso", [(6, 2, False, True), (6, 2, True, True),
                                                         (9, -1, False, False), (5, 0, False, True)])
def test_frame_arrays_match_the_plain_formulas(n, local, draw_local, torso):
    """Spheres (bodies, contact shadows), heads and tag positions over a meeting with people
    leaving and coming back, with and without a hidden viewer and seated bodies."""
    st = S.make_meeting(n, local=local, seed=n + 3)
    st.draw_local_head, st.torso = draw_local, torso
    shadows = 0
    for i in range(240):
        if i in (80, 160):
            S.set_present(st, None if i == 160 else np.arange(n) % 3 != 1)
        st, fs = S.step(st, None, i * 22_222_222)
        sph = _check_frame(st, fs)
        shadows += len(sph) - (BODY_SPHERES * len(fs.faces) if torso else 0)
    assert shadows > 100                                  # hands did touch the table


def test_frame_arrays_with_tracked_local_hands_and_verified_tags():
    """The local person's own (partly invalid) hands take the plain capsule path; verified flags
    change the tags' seating key."""
    n = 4
    st = S.make_meeting(n, local=1, seed=7)
    for i in range(60):
        st, _ = S.step(st, None, i * 22_222_222)
    joints = st.people.joints[1].copy()
    valid = np.ones((2, H.JOINT_COUNT), bool)
    valid[0, 10:] = False
    rm = S.RemoteInput.empty(n)
    rm.verified = np.array([1, 0, -1, 1], np.int8)
    st, fs = S.step(st, S.LocalInput(joints=joints, valid=valid, remote=rm), 61 * 22_222_222)
    _check_frame(st, fs)
    assert len(fs.capsules) < 2 * n * H.CAPSULES_PER_HAND          # invalid bones are left out
    assert fs.labels.texts[0].startswith(S.VERIFIED_MARK) and fs.labels.texts[1].startswith(S.FLAGGED_MARK)


def test_shared_arrays_are_read_only_and_the_others_fresh():
    st = S.make_meeting(5, seed=2)
    st, a = S.step(st, None, 0)
    st, b = S.step(st, None, 11_111_111)
    for shared in (a.faces.skin, a.faces.hair, a.capsules.radius, a.capsules.colors, a.light_dir, a.clear_color):
        assert not shared.flags.writeable
        with pytest.raises(ValueError):
            shared[0] = 0.0
    fresh = lambda fs: (fs.meshes["sphere"].transforms, fs.meshes["sphere"].colors, fs.faces.transforms,   # noqa: E731
                        fs.faces.eyes, fs.capsules.a, fs.capsules.b, fs.labels.positions, fs.labels.colors)
    for x, y in zip(fresh(a), fresh(b)):
        assert x.flags.writeable and not np.shares_memory(x, y)
    assert a.shell is b.shell                                  # shared, like the static meshes


def test_homogeneous_blend_and_wrist_transforms_place_hands_as_the_plain_way():
    """(p, 1) @ [turn; position] of homogeneous blended joints is p @ turn + position of the
    plain blend (the step's one product per hand)."""
    st = S.make_meeting(6, seed=3)
    model = st.derived.wrist if st.derived else S._derived(st).wrist
    rng = np.random.default_rng(5)
    w = rng.random((12, len(H.POSE_NAMES)))
    plain, homo = H.blend_poses(w), H.blend_poses(w, homogeneous=True)
    assert np.array_equal(homo[..., :3], plain) and np.all(homo[..., 3] == 1.0)
    raised = rng.random((6, 2))
    m = script.wrist_transforms(model, raised, 2.5)
    pos, turn = script.wrist_turns(model, raised, 2.5)
    placed = homo.reshape(6, 2, H.JOINT_COUNT, 4) @ m
    assert np.allclose(placed, plain.reshape(6, 2, H.JOINT_COUNT, 3) @ turn + pos[:, :, None, :], atol=1e-12)

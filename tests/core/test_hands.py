"""The XR_EXT_hand_tracking hand: joint tree, bone lengths through poses and blends, and the
vectorised capsule builder against a plain per-joint loop."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from xrdemo.core import hands as H
from xrdemo.core import pose as P


def test_joint_tree_is_valid_openxr_hand():
    assert len(H.JOINT_NAMES) == H.JOINT_COUNT == 26
    assert H.JOINT_NAMES[0] == "palm" and H.JOINT_NAMES[1] == "wrist"
    assert H.JOINT_NAMES[25] == "little_tip"
    roots = np.flatnonzero(H.PARENTS < 0)
    assert list(roots) == [H.WRIST]
    for j in range(26):            # every joint reaches the wrist without cycles
        seen, k = set(), j
        while H.PARENTS[k] >= 0:
            assert k not in seen
            seen.add(k)
            k = H.PARENTS[k]
        assert k == H.WRIST
    for chain in H.FINGER_CHAINS:
        assert H.PARENTS[chain[0]] == H.WRIST
        for parent, child in zip(chain, chain[1:]):
            assert H.PARENTS[child] == parent
    assert np.all((H.TYPICAL_RADII > 0.004) & (H.TYPICAL_RADII < 0.03))


def bone_lengths(joints):
    return np.linalg.norm(joints[..., H.BONES[:, 1], :] - joints[..., H.BONES[:, 0], :], axis=-1)


def test_bone_lengths_constant_across_named_poses():
    for i, name in enumerate(H.POSE_NAMES):
        assert np.allclose(bone_lengths(H.POSE_LIBRARY[i]), H.BONE_LENGTHS, atol=1e-12), name


@settings(max_examples=60)
@given(arrays(np.float64, (4, len(H.POSE_NAMES)), elements=st.floats(0, 1)).filter(
    lambda w: np.all(w.sum(1) > 1e-3)))
def test_bone_lengths_constant_across_blends(weights):
    joints = H.blend_poses(weights)
    assert np.allclose(bone_lengths(joints), H.BONE_LENGTHS, atol=1e-8)   # 10 nm (float32 trig)


def test_blend_of_one_pose_is_that_pose_and_blends_move_between():
    w = np.zeros((1, len(H.POSE_NAMES)))
    w[0, H.pose_index("fist")] = 1
    assert np.allclose(H.blend_poses(w)[0], H.POSE_LIBRARY[H.pose_index("fist")], atol=1e-7)
    tip = H.JOINT["index_tip"]
    w2 = np.zeros((3, len(H.POSE_NAMES)))
    w2[:, H.pose_index("flat")] = [1.0, 0.5, 0.0]
    w2[:, H.pose_index("fist")] = [0.0, 0.5, 1.0]
    tips = H.blend_poses(w2)[:, tip]
    wrist_dist = np.linalg.norm(tips, axis=-1)
    assert wrist_dist[0] > wrist_dist[1] > wrist_dist[2]    # curling brings the tip in


def bend_angles(joints, finger):
    """Angles (..., bones - 1) degrees between consecutive bones of a finger's chain."""
    chain = list(H.FINGER_CHAINS[finger])
    b = np.diff(joints[..., chain, :], axis=-2)
    b /= np.linalg.norm(b, axis=-1, keepdims=True)
    return np.degrees(np.arccos(np.clip(np.sum(b[..., :-1, :] * b[..., 1:, :], axis=-1), -1.0, 1.0)))


@pytest.mark.parametrize("other", ["fist", "point", "thumbs_up", "pinch"])
def test_blends_curl_fingers_smoothly_and_never_backwards(other):
    """Between an open hand and a curled pose every finger joint bends steadily from one angle to
    the other: the blend is of joint angles. (A mean of joint positions folded the index finger's
    middle joint 137 degrees half way to a fist, beyond the fist's 100.)"""
    t = np.linspace(0.0, 1.0, 21)
    w = np.zeros((len(t), len(H.POSE_NAMES)))
    w[:, H.pose_index("open")] = 1.0 - t
    w[:, H.pose_index(other)] = t
    joints = H.blend_poses(w)
    for finger in range(1, 5):
        angles = bend_angles(joints, finger)[:, 1:]              # (21, 2): the two joints past the knuckle
        start, end = angles[0], angles[-1]
        expected = start + t[:, None] * (end - start)
        assert np.allclose(angles, expected, atol=1e-4), (finger, angles)  # pure flexion: linear in t


def test_joints_from_angles_equal_forward_kinematics():
    rng = np.random.default_rng(5)
    flex = rng.uniform(-0.6, 2.0, (40, 5, 4))
    abduction = rng.uniform(-0.5, 0.5, (40, 5))
    reference, _ = H.forward_kinematics(flex, abduction)
    assert np.max(np.abs(H.joints_from_angles(flex, abduction) - reference)) < 1e-7   # 0.1 micrometre


def test_poses_differ_where_they_should():
    lib = {n: H.POSE_LIBRARY[i] for i, n in enumerate(H.POSE_NAMES)}
    tip = lambda pose, f: np.linalg.norm(lib[pose][H.FINGERTIPS[f]])
    assert tip("point", 1) > 1.5 * tip("fist", 1)                 # index straight when pointing
    assert tip("point", 2) < 0.75 * tip("open", 2)                # middle curled when pointing
    pinch_gap = np.linalg.norm(lib["pinch"][H.JOINT["thumb_tip"]] - lib["pinch"][H.JOINT["index_tip"]])
    open_gap = np.linalg.norm(lib["open"][H.JOINT["thumb_tip"]] - lib["open"][H.JOINT["index_tip"]])
    assert pinch_gap < 0.5 * open_gap
    # fingers curl toward the palm (-Y), never backwards
    assert lib["fist"][H.JOINT["middle_tip"], 1] < -0.01


def test_curls_from_controllers_are_valid_hands():
    curls = np.array([[0, 0, 0, 0, 0], [1, 1, 1, 1, 1], [0.3, 0.9, 0.5, 0.2, 0.0]])
    joints = H.hand_from_curls(curls)
    assert np.allclose(bone_lengths(joints), H.BONE_LENGTHS, atol=1e-9)
    assert np.linalg.norm(joints[0, H.JOINT["index_tip"]]) > np.linalg.norm(joints[1, H.JOINT["index_tip"]])


def test_left_hand_is_mirror_image():
    local = H.POSE_LIBRARY[:2]
    world = H.hands_to_stage(np.zeros((2, 3)), np.tile(P.IDENTITY_QUAT, (2, 1)), local,
                             np.array([True, False]))
    assert np.allclose(world[0, :, 0], -local[0, :, 0])
    assert np.allclose(world[1], local[1])
    # right thumb on -X, left thumb on +X (OpenXR hand frame, back of the hand up)
    assert world[1, H.JOINT["thumb_tip"], 0] < 0 < world[0, H.JOINT["thumb_tip"], 0]


def reference_capsules(joints, radii, valid, colors, alpha):
    """Straightforward per-hand, per-capsule loop: the meaning of hand_capsules."""
    out_a, out_b, out_r, out_c = [], [], [], []
    for k in range(joints.shape[0]):
        col = list(colors[k][:3]) + [colors[k][3] if colors.shape[1] == 4 else 1.0]
        col[3] *= alpha[k]
        for c, (i, j) in enumerate(H.CAPSULE_JOINTS):
            if not (valid[k, i] and valid[k, j]) or col[3] <= 0:
                continue
            out_a.append(joints[k, i])
            out_b.append(joints[k, j])
            out_r.append(0.5 * (radii[k, i] + radii[k, j]) * H._CAPSULE_WIDEN[c])
            out_c.append(col)
    return (np.array(out_a).reshape(-1, 3), np.array(out_b).reshape(-1, 3), np.array(out_r),
            np.array(out_c).reshape(-1, 4))


@settings(max_examples=30)
@given(st.integers(1, 6), st.integers(0, 2**31 - 1))
def test_vectorised_capsules_equal_per_joint_loop(k, seed):
    rng = np.random.default_rng(seed)
    joints = rng.normal(size=(k, 26, 3))
    radii = rng.uniform(0.005, 0.02, size=(k, 26))
    valid = rng.random((k, 26)) > 0.2
    colors = rng.random((k, 4))
    alpha = np.where(rng.random(k) < 0.3, 0.0, rng.random(k))
    got = H.hand_capsules(joints, radii, valid, colors, alpha)
    ra, rb, rr, rc = reference_capsules(joints, radii, valid, colors, alpha)
    assert len(got) == len(ra)
    assert np.allclose(got.a, ra, atol=1e-6) and np.allclose(got.b, rb, atol=1e-6)
    assert np.allclose(got.radius, rr, atol=1e-6) and np.allclose(got.colors, rc, atol=1e-6)


def test_no_arm_capsules():
    """Hands only: every capsule stays within a hand's reach of its wrist (no forearm)."""
    joints = H.hands_to_stage(np.array([[0.0, 1.0, 0.0]]), P.IDENTITY_QUAT[None], H.POSE_LIBRARY[:1],
                              np.array([False]))
    caps = H.hand_capsules(joints, H.TYPICAL_RADII[None], np.ones((1, 26), bool), np.ones((1, 3)))
    wrist = joints[0, H.WRIST]
    assert np.all(np.linalg.norm(caps.a - wrist, axis=1) < 0.22)
    assert np.all(np.linalg.norm(caps.b - wrist, axis=1) < 0.22)
    # nothing extends behind the wrist (toward the elbow, +Z in the wrist frame)
    assert np.all(caps.a[:, 2] <= wrist[2] + 1e-9) and np.all(caps.b[:, 2] <= wrist[2] + 1e-9)


def test_unknown_pose_name_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown hand pose 'wave'.*choose from"):
        H.pose_index("wave")

"""Property tests of the pose maths (hypothesis) and projection checks computed independently."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from xrdemo.core import pose as P

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
vec3 = arrays(np.float64, 3, elements=finite)
quat_raw = arrays(np.float64, 4, elements=st.floats(-1, 1, allow_nan=False)).filter(
    lambda q: np.linalg.norm(q) > 0.1)


def unit(q):
    return q / np.linalg.norm(q)


def same_rotation(a, b, tol=1e-9):
    return abs(abs(np.dot(a, b)) - 1.0) < tol


@given(quat_raw, vec3)
def test_rotation_preserves_length_and_matches_matrix(q, v):
    q = unit(q)
    r = P.quat_rotate(q, v)
    assert np.isclose(np.linalg.norm(r), np.linalg.norm(v), atol=1e-9)
    assert np.allclose(P.quat_to_matrix(q) @ v, r, atol=1e-9)


@given(quat_raw)
def test_quaternion_matrix_round_trip(q):
    q = unit(q)
    m = P.quat_to_matrix(q)
    assert np.allclose(m @ m.T, np.eye(3), atol=1e-9)
    assert np.isclose(np.linalg.det(m), 1.0, atol=1e-9)
    assert same_rotation(P.matrix_to_quat(m), q, 1e-9)


@given(vec3, quat_raw, vec3)
def test_pose_inverse_undoes_pose(t, q, p):
    q = unit(q)
    ti, qi = P.pose_invert(t, q)
    back = P.transform_points(ti, qi, P.transform_points(t, q, p))
    assert np.allclose(back, p, atol=1e-8)
    tc, qc = P.pose_compose(t, q, ti, qi)
    assert np.allclose(tc, 0, atol=1e-8) and same_rotation(qc, [0, 0, 0, 1])


@given(vec3, quat_raw, vec3, quat_raw, vec3, quat_raw)
def test_composition_is_associative_and_matches_matrices(t1, q1, t2, q2, t3, q3):
    q1, q2, q3 = unit(q1), unit(q2), unit(q3)
    left = P.pose_compose(*P.pose_compose(t1, q1, t2, q2), t3, q3)
    right = P.pose_compose(t1, q1, *P.pose_compose(t2, q2, t3, q3))
    assert np.allclose(left[0], right[0], atol=1e-8)
    assert same_rotation(left[1], right[1], 1e-9)
    m = P.pose_to_matrix(t1, q1) @ P.pose_to_matrix(t2, q2) @ P.pose_to_matrix(t3, q3)
    assert np.allclose(P.pose_to_matrix(*left), m, atol=1e-8)
    tb, qb = P.matrix_to_pose(m)
    assert np.allclose(tb, left[0], atol=1e-8) and same_rotation(qb, left[1], 1e-8)


@given(quat_raw, quat_raw, st.floats(0, 1))
def test_slerp_endpoints_and_constant_speed(a, b, t):
    a, b = unit(a), unit(b)
    assert same_rotation(P.quat_slerp(a, b, 0.0), a, 1e-9)
    assert same_rotation(P.quat_slerp(a, b, 1.0), b, 1e-9)
    total = P.quat_angle(a, b)
    mid = P.quat_slerp(a, b, t)
    assert np.isclose(P.quat_angle(a, mid), t * total, atol=1e-6)


@settings(max_examples=50)
@given(vec3.filter(lambda v: np.linalg.norm(v) > 1e-3))
def test_look_rotation_points_minus_z_along_forward(f):
    q = P.look_rotation(f)
    fwd = P.quat_rotate(q, [0, 0, -1])
    assert np.allclose(fwd, f / np.linalg.norm(f), atol=1e-9)
    up = P.quat_rotate(q, [0, 1, 0])
    horizontal = np.linalg.norm(f[[0, 2]]) > 1e-6 * np.linalg.norm(f)
    if horizontal:
        assert up[1] >= -1e-9      # +Y stays on the upper side


def test_batched_shapes_broadcast():
    q = P.quat_from_yaw_pitch_roll(np.linspace(-1, 1, 5))
    pts = np.random.default_rng(0).normal(size=(7, 5, 3))
    assert P.quat_rotate(q, pts).shape == (7, 5, 3)
    assert P.pose_to_matrix(np.zeros((5, 3)), q).shape == (5, 4, 4)
    assert P.matrix_to_quat(P.quat_to_matrix(q)).shape == (5, 4)


def test_yaw_turns_left():
    q = P.quat_from_yaw_pitch_roll(np.pi / 2)
    assert np.allclose(P.quat_rotate(q, [0, 0, -1]), [-1, 0, 0], atol=1e-12)
    assert np.isclose(P.yaw_of(q), np.pi / 2)


@settings(max_examples=60)
@given(st.floats(-1.2, -0.2), st.floats(0.2, 1.2), st.floats(0.2, 1.2), st.floats(-1.2, -0.2),
       st.floats(0.5, 20.0))
def test_projection_maps_frustum_edges_to_clip_edges(al, ar, au, ad, depth):
    """A point on each edge of an asymmetric OpenXR fov lands on that edge of NDC; computed from
    the definition of the frustum (tangents of the half-angles), not from the matrix code."""
    m = P.projection_from_fov(al, ar, au, ad, near=0.05, far=100.0)
    for x, y, ndc_x, ndc_y in ((np.tan(al), 0.0, -1, None), (np.tan(ar), 0.0, 1, None),
                               (0.0, np.tan(au), None, 1), (0.0, np.tan(ad), None, -1)):
        p = np.array([x * depth, y * depth, -depth, 1.0])
        c = m @ p
        ndc = c[:3] / c[3]
        if ndc_x is not None:
            assert np.isclose(ndc[0], ndc_x, atol=1e-9)
        if ndc_y is not None:
            assert np.isclose(ndc[1], ndc_y, atol=1e-9)
    # Depth: the near plane maps to -1 and the far plane to +1 (GL convention).
    for z, expect in ((0.05, -1.0), (100.0, 1.0)):
        c = m @ np.array([0.0, 0.0, -z, 1.0])
        assert np.isclose(c[2] / c[3], expect, atol=1e-7)


def test_symmetric_projection_matches_textbook_perspective():
    """Against the classic gluPerspective matrix for a symmetric fov."""
    fovy, aspect, n, f = np.radians(60), 1.5, 0.1, 50.0
    half_v = fovy / 2
    half_h = np.arctan(np.tan(half_v) * aspect)
    m = P.projection_from_fov(-half_h, half_h, half_v, -half_v, n, f)
    cot = 1 / np.tan(half_v)
    glu = np.array([[cot / aspect, 0, 0, 0], [0, cot, 0, 0],
                    [0, 0, (f + n) / (n - f), 2 * f * n / (n - f)], [0, 0, -1, 0]])
    assert np.allclose(m, glu, atol=1e-12)


@given(st.floats(-4, 4), st.floats(-1.5, 1.5), st.floats(-3, 3))
def test_closed_form_yaw_pitch_roll_matches_composed_axis_angles(yaw, pitch, roll):
    composed = P.quat_mul(P.quat_from_axis_angle([0, 1, 0], yaw),
                          P.quat_mul(P.quat_from_axis_angle([1, 0, 0], pitch),
                                     P.quat_from_axis_angle([0, 0, -1], roll)))
    assert same_rotation(P.quat_from_yaw_pitch_roll(yaw, pitch, roll), composed, 1e-9)


@given(vec3.filter(lambda v: np.linalg.norm(v[[0, 2]]) > 1e-3))
def test_yaw_pitch_toward_points_forward_at_direction(d):
    q = P.quat_from_yaw_pitch_roll(*P.yaw_pitch_toward(d))
    assert np.allclose(P.quat_rotate(q, [0, 0, -1]), d / np.linalg.norm(d), atol=1e-9)

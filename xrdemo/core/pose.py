"""Batched rigid transforms and quaternions in OpenXR's conventions.

Right-handed, +Y up, -Z forward, metres; quaternions are (x, y, z, w) with w the scalar part.
A pose ``T_a_b`` maps points given in frame b into frame a: ``p_a = R_a_b @ p_b + t_a_b``.
Every function broadcasts over leading axes: quaternions are (..., 4), vectors (..., 3),
homogeneous matrices (..., 4, 4). Pure numpy; no state, no clock.
"""

from __future__ import annotations

import numpy as np

IDENTITY_QUAT = np.array([0.0, 0.0, 0.0, 1.0])


def _quat_tables():
    """Constant tensors for quat_mul and quat_to_matrix (x, y, z, w order)."""
    mul = np.zeros((4, 4, 4))
    x, y, z, w = range(4)
    for (i, j, k, sign) in [(w, x, 0, 1), (x, w, 0, 1), (y, z, 0, 1), (z, y, 0, -1),
                            (w, y, 1, 1), (x, z, 1, -1), (y, w, 1, 1), (z, x, 1, 1),
                            (w, z, 2, 1), (x, y, 2, 1), (y, x, 2, -1), (z, w, 2, 1),
                            (w, w, 3, 1), (x, x, 3, -1), (y, y, 3, -1), (z, z, 3, -1)]:
        mul[i, j, k] = sign
    rot = np.zeros((4, 4, 3, 3))
    for (i, j, r, c, coef) in [(y, y, 0, 0, -2), (z, z, 0, 0, -2), (x, y, 0, 1, 2), (w, z, 0, 1, -2),
                               (x, z, 0, 2, 2), (w, y, 0, 2, 2), (x, y, 1, 0, 2), (w, z, 1, 0, 2),
                               (x, x, 1, 1, -2), (z, z, 1, 1, -2), (y, z, 1, 2, 2), (w, x, 1, 2, -2),
                               (x, z, 2, 0, 2), (w, y, 2, 0, -2), (y, z, 2, 1, 2), (w, x, 2, 1, 2),
                               (x, x, 2, 2, -2), (y, y, 2, 2, -2)]:
        rot[i, j, r, c] = coef
    pairs = [(i, j) for i in range(4) for j in range(i, 4)]
    rot_pairs = np.array([rot[i, j] + (rot[j, i] if i != j else 0.0) for i, j in pairs]).reshape(10, 9)
    return mul.reshape(16, 4), rot_pairs, np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


_QUAT_MUL, _QUAT_TO_MATRIX, _PAIR_I, _PAIR_J = _quat_tables()
_MUL_I = np.repeat(np.arange(4), 4)
_MUL_J = np.tile(np.arange(4), 4)
_EYE9 = np.eye(3).reshape(9)


def normalize(v: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Unit vectors along the last axis; zero vectors stay zero. (..., D) -> (..., D)."""
    v = np.asarray(v, dtype=np.float64)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, eps)


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a*b (apply b first, then a). (..., 4), (..., 4) -> (..., 4)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    # Every product component is a signed sum of a_i * b_j: the 16 products, one matrix product.
    ab = a.take(_MUL_I, axis=-1) * b.take(_MUL_J, axis=-1)
    return ab @ _QUAT_MUL


def quat_conj(q: np.ndarray) -> np.ndarray:
    """Conjugate, which is the inverse of a unit quaternion. (..., 4) -> (..., 4)."""
    q = np.asarray(q, dtype=np.float64)
    return q * np.array([-1.0, -1.0, -1.0, 1.0])


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product along the last axis (cheaper than np.cross for small batches)."""
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    out[..., 0] = a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1]
    out[..., 1] = a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2]
    out[..., 2] = a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]
    return out


def quat_rotate(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v by unit quaternions q. (..., 4), (..., 3) -> (..., 3)."""
    q = np.asarray(q, dtype=np.float64)
    v = np.asarray(v, dtype=np.float64)
    u = q[..., :3]
    t = 2.0 * _cross(u, v)
    return v + q[..., 3:4] * t + _cross(u, t)


def quat_from_axis_angle(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Unit quaternion for a rotation of ``angle`` radians about ``axis``. (..., 3), (...) -> (..., 4)."""
    axis = normalize(axis)
    half = 0.5 * np.asarray(angle, dtype=np.float64)[..., None]
    return np.concatenate([axis * np.sin(half), np.cos(half)], axis=-1)


def quat_from_yaw_pitch_roll(yaw, pitch=0.0, roll=0.0) -> np.ndarray:
    """Head-style rotation: yaw about +Y, then pitch about +X, then roll about -Z (radians).

    Yaw > 0 turns the -Z forward direction toward -X (to the left); pitch > 0 looks up.
    Closed form of q_yaw * q_pitch * q_roll; broadcasts, returns (..., 4).
    """
    yaw, pitch, roll = np.broadcast_arrays(
        np.asarray(yaw, float), np.asarray(pitch, float), np.asarray(roll, float))
    cy, sy = np.cos(0.5 * yaw), np.sin(0.5 * yaw)
    cp, sp = np.cos(0.5 * pitch), np.sin(0.5 * pitch)
    cr, sr = np.cos(0.5 * roll), -np.sin(0.5 * roll)      # roll about -Z
    out = np.empty(yaw.shape + (4,))
    out[..., 0] = cy * sp * cr + sy * cp * sr
    out[..., 1] = sy * cp * cr - cy * sp * sr
    out[..., 2] = cy * cp * sr - sy * sp * cr
    out[..., 3] = cy * cp * cr + sy * sp * sr
    return out


def yaw_pitch_toward(direction: np.ndarray):
    """Yaw and pitch (radians, as quat_from_yaw_pitch_roll) that turn -Z toward direction (..., 3)."""
    d = np.asarray(direction, dtype=np.float64)
    yaw = np.arctan2(-d[..., 0], -d[..., 2])
    pitch = np.arctan2(d[..., 1], np.hypot(d[..., 0], d[..., 2]))
    return yaw, pitch


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices from unit quaternions. (..., 4) -> (..., 3, 3)."""
    q = np.asarray(q, dtype=np.float64)
    # Each entry is 0 or 1 plus a signed sum of 2 * q_i * q_j: the 10 distinct products, one
    # matrix product.
    qq = q.take(_PAIR_I, axis=-1) * q.take(_PAIR_J, axis=-1)
    m = qq @ _QUAT_TO_MATRIX
    m += _EYE9
    return m.reshape(q.shape[:-1] + (3, 3))


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Unit quaternions (w >= 0) from rotation matrices. (..., 3, 3) -> (..., 4).

    Uses the numerically stable branch per element (largest diagonal term).
    """
    m = np.asarray(m, dtype=np.float64)
    shape = m.shape[:-2]
    m = m.reshape(-1, 3, 3)
    tr = np.trace(m, axis1=-2, axis2=-1)
    d = np.stack([m[:, 0, 0], m[:, 1, 1], m[:, 2, 2], tr], axis=-1)
    case = np.argmax(d, axis=-1)
    q = np.empty((m.shape[0], 4))
    # Each row of `cand` is one candidate formula; pick per element.
    s0 = np.sqrt(np.maximum(1.0 + m[:, 0, 0] - m[:, 1, 1] - m[:, 2, 2], 1e-30)) * 2
    s1 = np.sqrt(np.maximum(1.0 - m[:, 0, 0] + m[:, 1, 1] - m[:, 2, 2], 1e-30)) * 2
    s2 = np.sqrt(np.maximum(1.0 - m[:, 0, 0] - m[:, 1, 1] + m[:, 2, 2], 1e-30)) * 2
    s3 = np.sqrt(np.maximum(1.0 + tr, 1e-30)) * 2
    cand = np.stack(
        [
            np.stack([0.25 * s0, (m[:, 0, 1] + m[:, 1, 0]) / s0, (m[:, 0, 2] + m[:, 2, 0]) / s0,
                      (m[:, 2, 1] - m[:, 1, 2]) / s0], -1),
            np.stack([(m[:, 0, 1] + m[:, 1, 0]) / s1, 0.25 * s1, (m[:, 1, 2] + m[:, 2, 1]) / s1,
                      (m[:, 0, 2] - m[:, 2, 0]) / s1], -1),
            np.stack([(m[:, 0, 2] + m[:, 2, 0]) / s2, (m[:, 1, 2] + m[:, 2, 1]) / s2, 0.25 * s2,
                      (m[:, 1, 0] - m[:, 0, 1]) / s2], -1),
            np.stack([(m[:, 2, 1] - m[:, 1, 2]) / s3, (m[:, 0, 2] - m[:, 2, 0]) / s3,
                      (m[:, 1, 0] - m[:, 0, 1]) / s3, 0.25 * s3], -1),
        ],
        axis=0,
    )
    q = cand[case, np.arange(m.shape[0])]
    q = normalize(q)
    q = np.where(q[:, 3:4] < 0, -q, q)
    return q.reshape(shape + (4,))


def quat_slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Shortest-path spherical interpolation from a (t=0) to b (t=1). (..., 4), (..., 4), (...) -> (..., 4)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0, -b, b)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_t = np.sin(theta)
    small = sin_t < 1e-6
    safe = np.where(small, 1.0, sin_t)
    wa = np.where(small, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    wb = np.where(small, t, np.sin(t * theta) / safe)
    return normalize(wa * a + wb * b)


def quat_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation angle in radians between two unit quaternions. (..., 4), (..., 4) -> (...)."""
    dot = np.abs(np.sum(np.asarray(a, float) * np.asarray(b, float), axis=-1))
    return 2.0 * np.arccos(np.clip(dot, 0.0, 1.0))


def pose_compose(t_ab: np.ndarray, q_ab: np.ndarray, t_bc: np.ndarray, q_bc: np.ndarray):
    """T_a_c = T_a_b * T_b_c. Positions (..., 3), quaternions (..., 4) -> (t_ac, q_ac)."""
    return np.asarray(t_ab, float) + quat_rotate(q_ab, t_bc), quat_mul(q_ab, q_bc)


def pose_invert(t_ab: np.ndarray, q_ab: np.ndarray):
    """T_b_a from T_a_b. (..., 3), (..., 4) -> (t_ba, q_ba)."""
    q_ba = quat_conj(q_ab)
    return -quat_rotate(q_ba, t_ab), q_ba


def transform_points(t_ab: np.ndarray, q_ab: np.ndarray, p_b: np.ndarray) -> np.ndarray:
    """Points from frame b to frame a. Pose (..., 3)/(..., 4) broadcast against p_b (..., 3)."""
    return np.asarray(t_ab, float) + quat_rotate(q_ab, p_b)


def pose_to_matrix(t: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Homogeneous 4x4 matrices from poses. (..., 3), (..., 4) -> (..., 4, 4)."""
    t = np.asarray(t, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    shape = np.broadcast_shapes(t.shape[:-1], q.shape[:-1])
    m = np.zeros(shape + (4, 4))
    m[..., :3, :3] = quat_to_matrix(q)
    m[..., :3, 3] = t
    m[..., 3, 3] = 1.0
    return m


def matrix_to_pose(m: np.ndarray):
    """(t, q) from rigid 4x4 matrices. (..., 4, 4) -> ((..., 3), (..., 4))."""
    m = np.asarray(m, dtype=np.float64)
    return m[..., :3, 3].copy(), matrix_to_quat(m[..., :3, :3])


def look_rotation(forward: np.ndarray, up=(0.0, 1.0, 0.0)) -> np.ndarray:
    """Quaternion whose -Z axis points along ``forward`` and whose +Y is as close to ``up`` as possible.

    (..., 3), (..., 3) -> (..., 4). A forward parallel to up falls back to +Z as the up hint.
    """
    f = normalize(forward)
    up = np.broadcast_to(np.asarray(up, float), f.shape)
    x = np.cross(up, -f)
    degenerate = np.linalg.norm(x, axis=-1, keepdims=True) < 1e-9
    x = np.where(degenerate, np.cross(np.array([0.0, 0.0, 1.0]), -f), x)
    x = normalize(x)
    y = np.cross(-f, x)
    m = np.stack([x, y, -f], axis=-1)
    return matrix_to_quat(m)


def look_at(eye: np.ndarray, target: np.ndarray, up=(0.0, 1.0, 0.0)):
    """Pose T_world_viewer at ``eye`` looking at ``target``. (..., 3) each -> ((..., 3), (..., 4))."""
    eye = np.asarray(eye, dtype=np.float64)
    return eye.copy(), look_rotation(np.asarray(target, float) - eye, up)


def view_matrix(t_world_view: np.ndarray, q_world_view: np.ndarray) -> np.ndarray:
    """The GL view matrix (world -> view) for a view pose T_world_view. -> (..., 4, 4)."""
    t_vw, q_vw = pose_invert(t_world_view, q_world_view)
    return pose_to_matrix(t_vw, q_vw)


def projection_from_fov(angle_left, angle_right, angle_up, angle_down,
                        near: float = 0.05, far: float = 100.0) -> np.ndarray:
    """GL clip-space projection (depth -1..1) from an OpenXR XrFovf, angles in radians.

    angle_left and angle_down are usually negative. The frustum may be asymmetric.
    Scalars or arrays broadcast; returns (..., 4, 4).
    """
    tl, tr = np.tan(np.asarray(angle_left, float)), np.tan(np.asarray(angle_right, float))
    tu, td = np.tan(np.asarray(angle_up, float)), np.tan(np.asarray(angle_down, float))
    shape = np.broadcast_shapes(tl.shape, tr.shape, tu.shape, td.shape)
    w = tr - tl
    h = tu - td
    m = np.zeros(shape + (4, 4))
    m[..., 0, 0] = 2.0 / w
    m[..., 0, 2] = (tr + tl) / w
    m[..., 1, 1] = 2.0 / h
    m[..., 1, 2] = (tu + td) / h
    m[..., 2, 2] = -(far + near) / (far - near)
    m[..., 2, 3] = -2.0 * far * near / (far - near)
    m[..., 3, 2] = -1.0
    return m


def symmetric_fov(horizontal_deg: float, aspect: float):
    """An OpenXR-style fov tuple (left, right, up, down) in radians for a centred window view."""
    half_h = np.radians(horizontal_deg) / 2.0
    half_v = np.arctan(np.tan(half_h) / aspect)
    return (-half_h, half_h, half_v, -half_v)


def yaw_of(q: np.ndarray) -> np.ndarray:
    """Heading in radians of the -Z axis projected on the floor (0 = facing -Z, + = turned left)."""
    f = quat_rotate(q, np.array([0.0, 0.0, -1.0]))
    return np.arctan2(-f[..., 0], -f[..., 2])

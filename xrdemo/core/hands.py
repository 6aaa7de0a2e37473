"""The XR_EXT_hand_tracking hand: 26 joints, procedural poses, blending, and capsule instances.

Joint order, names and parents follow the OpenXR XR_EXT_hand_tracking joint set. Hands are built
in the wrist frame of a right hand (OpenXR joint convention: -Z toward the fingertips, +Y out of
the back of the hand, +X completing a right-handed frame, so the right thumb is on -X); a left hand
is the mirror image (x -> -x). All lengths are metres, angles radians.

Per frame, scripted hands cost one weighted sum of the pose library's joint angles and one batched
forward kinematics (`blend_poses`), one rigid transform (`hands_to_stage`), and one vectorised call
that turns every hand into capsules (`hand_capsules`).
"""

from __future__ import annotations

import numpy as np

from . import pose as P
from .frame import Capsules

JOINT_NAMES = (
    "palm", "wrist",
    "thumb_metacarpal", "thumb_proximal", "thumb_distal", "thumb_tip",
    "index_metacarpal", "index_proximal", "index_intermediate", "index_distal", "index_tip",
    "middle_metacarpal", "middle_proximal", "middle_intermediate", "middle_distal", "middle_tip",
    "ring_metacarpal", "ring_proximal", "ring_intermediate", "ring_distal", "ring_tip",
    "little_metacarpal", "little_proximal", "little_intermediate", "little_distal", "little_tip",
)
JOINT_COUNT = 26
JOINT = {name: i for i, name in enumerate(JOINT_NAMES)}
PALM, WRIST = 0, 1

# Each finger's joints from its base (metacarpal) to its tip; the thumb has no intermediate joint.
FINGER_NAMES = ("thumb", "index", "middle", "ring", "little")
FINGER_CHAINS = (
    (2, 3, 4, 5),
    (6, 7, 8, 9, 10),
    (11, 12, 13, 14, 15),
    (16, 17, 18, 19, 20),
    (21, 22, 23, 24, 25),
)
FINGERTIPS = np.array([5, 10, 15, 20, 25])

# Parent of each joint in the kinematic tree (-1 for the root, the wrist). The palm joint hangs
# off the wrist, as does every metacarpal.
PARENTS = np.array([1, -1, 1, 2, 3, 4, 1, 6, 7, 8, 9, 1, 11, 12, 13, 14,
                    1, 16, 17, 18, 19, 1, 21, 22, 23, 24])

# Typical joint radii (metres) of an adult hand, in the spirit of what runtimes report.
TYPICAL_RADII = np.array([
    0.018, 0.017,
    0.014, 0.0115, 0.0100, 0.0088,
    0.0120, 0.0098, 0.0088, 0.0080, 0.0070,
    0.0120, 0.0100, 0.0090, 0.0082, 0.0072,
    0.0115, 0.0095, 0.0085, 0.0078, 0.0068,
    0.0110, 0.0085, 0.0077, 0.0070, 0.0062,
])

# --- the skeleton (right hand, wrist frame) ------------------------------------------------------
# Metacarpal bases (carpometacarpal joints) and knuckles; the metacarpal bone joins them.
_FINGER_BASE = np.array([[-0.021, -0.012, -0.022],   # thumb CMC (palm side, toward -X)
                         [-0.012, 0.0, -0.022],
                         [-0.002, 0.0, -0.024],
                         [0.009, -0.001, -0.022],
                         [0.019, -0.003, -0.019]])
_KNUCKLE = np.array([[0.0, 0.0, 0.0],                # thumb: direction set below instead
                     [-0.024, 0.0, -0.094],
                     [-0.004, 0.0, -0.098],
                     [0.015, -0.002, -0.092],
                     [0.031, -0.006, -0.081]])
# Phalanx lengths after the metacarpal: (proximal, intermediate, distal->tip) per finger; the
# thumb's chain is metacarpal, proximal, distal->tip.
_THUMB_LENGTHS = np.array([0.046, 0.032, 0.028])
_FINGER_PHALANGES = np.array([[0.041, 0.024, 0.021],
                              [0.045, 0.028, 0.022],
                              [0.042, 0.027, 0.022],
                              [0.033, 0.019, 0.020]])
_THUMB_DIRECTION = P.normalize(np.array([-0.50, -0.24, -0.83]))
_THUMB_UP = P.normalize(np.array([-0.80, 0.55, 0.0]))   # the thumbnail faces out and up


def _finger_frames():
    """Base orientation (5, 4) and bone lengths (5, 4) of each finger chain, right hand."""
    q = np.zeros((5, 4))
    lengths = np.zeros((5, 4))
    q[0] = P.look_rotation(_THUMB_DIRECTION, _THUMB_UP)
    lengths[0, :3] = _THUMB_LENGTHS
    for f in range(1, 5):
        d = _KNUCKLE[f] - _FINGER_BASE[f]
        q[f] = P.look_rotation(d, (0.0, 1.0, 0.0))
        lengths[f, 0] = np.linalg.norm(d)
        lengths[f, 1:] = _FINGER_PHALANGES[f - 1]
    return q, lengths


_BASE_Q, _BONE_LENGTHS = _finger_frames()

# The bones of every chain: parent joint, child joint, length. Ordered so parents come first.
_CHAIN_CHILD = []
_CHAIN_PARENT = []
_CHAIN_LENGTH = []
for _f, _chain in enumerate(FINGER_CHAINS):
    for _k in range(len(_chain) - 1):
        _CHAIN_PARENT.append(_chain[_k])
        _CHAIN_CHILD.append(_chain[_k + 1])
        _CHAIN_LENGTH.append(_BONE_LENGTHS[_f, _k])
_CHAIN_PARENT = np.array(_CHAIN_PARENT)
_CHAIN_CHILD = np.array(_CHAIN_CHILD)
_CHAIN_LENGTH = np.array(_CHAIN_LENGTH)

BONES = np.array(list(zip(_CHAIN_PARENT, _CHAIN_CHILD)))
"""(23, 2) parent/child joint pairs of the finger and thumb bones (metacarpals included)."""
BONE_LENGTHS = _CHAIN_LENGTH.copy()
"""(23,) metres, the length of each bone in BONES; constant across every pose and blend."""


def forward_kinematics(flex: np.ndarray, abduction: np.ndarray):
    """Joint positions and orientations of right hands in the wrist frame.

    flex: (K, 5, 4) flexion at each finger joint (base, then along the finger), radians, positive
    curls toward the palm. abduction: (K, 5) sideways rotation at the first flexing joint (the
    knuckle; the CMC for the thumb), radians, positive toward the thumb side.
    Returns positions (K, 26, 3) metres and orientations (K, 26, 4) quaternions.
    """
    flex = np.asarray(flex, dtype=np.float64)
    abduction = np.asarray(abduction, dtype=np.float64)
    k = flex.shape[0]
    pos = np.zeros((k, JOINT_COUNT, 3))
    rot = np.zeros((k, JOINT_COUNT, 4))
    rot[:, WRIST] = P.IDENTITY_QUAT
    x_axis = np.array([1.0, 0.0, 0.0])
    y_axis = np.array([0.0, 1.0, 0.0])
    fwd = np.array([0.0, 0.0, -1.0])
    q = np.broadcast_to(_BASE_Q, (k, 5, 4)).copy()
    p = np.broadcast_to(_FINGER_BASE, (k, 5, 3)).copy()
    # The thumb abducts at its base (CMC); fingers at the knuckle (joint 1 of the chain).
    abd_joint = np.array([0, 1, 1, 1, 1])
    for depth in range(4):
        q = P.quat_mul(q, P.quat_from_axis_angle(x_axis, -flex[:, :, depth]))
        abd = np.where(abd_joint == depth, abduction, 0.0)
        q = P.quat_mul(q, P.quat_from_axis_angle(y_axis, abd))
        for f, chain in enumerate(FINGER_CHAINS):
            if depth < len(chain):
                pos[:, chain[depth]] = p[:, f]
                rot[:, chain[depth]] = q[:, f]
        p = p + P.quat_rotate(q, fwd) * _BONE_LENGTHS[:, depth][None, :, None]
    for f, chain in enumerate(FINGER_CHAINS[1:], start=1):   # finger tips, after 4 bones
        pos[:, chain[4]] = p[:, f]
        rot[:, chain[4]] = q[:, f]
    pos[:, PALM] = 0.5 * (pos[:, JOINT["middle_metacarpal"]] + pos[:, JOINT["middle_proximal"]])
    rot[:, PALM] = rot[:, JOINT["middle_metacarpal"]]
    return pos, rot


def _deg(rows):
    return np.radians(np.asarray(rows, dtype=np.float64))


# Named poses: flexion (5 fingers x 4 joints) and abduction (5), degrees.
_POSE_TABLE = {
    "open": ([[8, 5, 5, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
             [14, 9, 0, -7, -15]),
    "relaxed": ([[10, 15, 15, 0], [0, 22, 32, 18], [0, 26, 38, 20], [4, 30, 42, 22], [8, 34, 44, 22]],
                [8, 4, 0, -4, -8]),
    "fist": ([[30, 40, 45, 0], [0, 88, 100, 62], [0, 90, 102, 62], [6, 92, 100, 60], [12, 92, 96, 58]],
             [-18, 0, 0, 0, 0]),
    "point": ([[30, 38, 40, 0], [0, 4, 4, 2], [0, 90, 102, 62], [6, 92, 100, 60], [12, 92, 96, 58]],
              [-12, 4, 0, 0, 0]),
    "pinch": ([[28, 22, 18, 0], [0, 42, 44, 20], [0, 34, 42, 20], [4, 38, 46, 22], [8, 42, 48, 22]],
              [-2, 2, 0, -4, -8]),
    "thumbs_up": ([[-5, 0, 0, 0], [0, 88, 100, 62], [0, 90, 102, 62], [6, 92, 100, 60], [12, 92, 96, 58]],
                  [10, 0, 0, 0, 0]),
    "flat": ([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]],
             [10, 3, 0, -3, -6]),
    "beat": ([[8, 10, 8, 0], [0, 12, 14, 8], [0, 16, 18, 10], [3, 20, 22, 12], [6, 24, 26, 14]],
             [14, 7, 0, -6, -12]),
}
POSE_NAMES = tuple(_POSE_TABLE)
"""Names of the procedural poses, in the order of POSE_LIBRARY's first axis."""


def _build_library():
    flex = np.stack([_deg(v[0]) for v in _POSE_TABLE.values()])
    abd = np.stack([_deg(v[1]) for v in _POSE_TABLE.values()])
    return forward_kinematics(flex, abd)


POSE_LIBRARY, POSE_LIBRARY_ROTATIONS = _build_library()
"""(len(POSE_NAMES), 26, 3) joint positions (metres, right-hand wrist frame) for each named pose,
and their (.., 26, 4) joint orientations."""


def pose_index(name: str) -> int:
    """Index of a named pose in POSE_LIBRARY; ValueError names the valid choices."""
    try:
        return POSE_NAMES.index(name)
    except ValueError:
        raise ValueError(f"unknown hand pose {name!r}; choose from {', '.join(POSE_NAMES)}") from None


def bone_rotation(flex: np.ndarray, abduction: np.ndarray) -> np.ndarray:
    """Rx(-flex) @ Ry(abduction): a bone's rotation relative to its parent, in the order
    forward_kinematics composes them. flex, abduction (...) radians -> (..., 3, 3)."""
    cf, sf, ca, sa = np.cos(flex), np.sin(flex), np.cos(abduction), np.sin(abduction)
    m = np.empty(np.shape(flex) + (3, 3))
    m[..., 0, 0], m[..., 0, 1], m[..., 0, 2] = ca, 0.0, sa
    m[..., 1, 0], m[..., 1, 1], m[..., 1, 2] = -sf * sa, cf, sf * ca
    m[..., 2, 0], m[..., 2, 1], m[..., 2, 2] = -cf * sa, -sf, cf * ca
    return m


def _assembly() -> np.ndarray:
    """(26, 25): joints from [5 chain bases, then 5 x 4 bone vectors (finger-major)]; each joint
    is its chain's base plus the bones before it, the palm halfway along the middle metacarpal,
    the wrist the origin."""
    a = np.zeros((JOINT_COUNT, 25))
    for f, chain in enumerate(FINGER_CHAINS):
        for k, j in enumerate(chain):
            a[j, f] = 1.0
            a[j, 5 + 4 * f:5 + 4 * f + k] = 1.0
    a[PALM] = 0.5 * (a[JOINT["middle_metacarpal"]] + a[JOINT["middle_proximal"]])
    return a


_ASSEMBLY = _assembly()
_BASE_FRAMES = P.quat_to_matrix(_BASE_Q)             # (5, 3, 3) the chains' base frames
_ABDUCTION_DEPTH = np.array([0, 1, 1, 1, 1])         # the thumb abducts at its CMC, fingers at the knuckle
_FROM_ABDUCTION = (np.arange(4)[None, :] >= _ABDUCTION_DEPTH[:, None]).astype(np.float64)   # (5, 4)
# joints (26) = the chain bases' part (constant) + (26, 20) @ unit bone directions (finger, depth),
# the bone lengths (bones run along -Z) folded into the matrix
_BONES_TO_JOINTS = _ASSEMBLY[:, 5:] * -_BONE_LENGTHS.reshape(-1)
_BASES_TO_JOINTS = _ASSEMBLY[:, :5] @ _FINGER_BASE


def _angle_rows_matrix() -> np.ndarray:
    """(50, 25): [flex (20, finger-major), abduction (5)] -> the angles joints_from_angles takes
    the cosine and sine of, all linear in the joint angles: phi (20, flexion so far), psi (20,
    phi - phi_a), phi_a (5, flexion up to the abducting joint), abduction (5)."""
    m = np.zeros((50, 25))
    for f in range(5):
        for d in range(4):
            m[4 * f + d, 4 * f:4 * f + d + 1] = 1.0                              # phi
        m[40 + f] = m[4 * f + _ABDUCTION_DEPTH[f]]                                # phi_a
        for d in range(4):
            m[20 + 4 * f + d] = m[4 * f + d] - m[40 + f]                          # psi
        m[45 + f, 20 + f] = 1.0                                                   # abduction
    return m


_ANGLE_ROWS = _angle_rows_matrix()


def joints_from_angles(flex: np.ndarray, abduction: np.ndarray) -> np.ndarray:
    """forward_kinematics' joint positions (K, 26, 3) alone, in closed form for every hand at
    once: flex (K, 5, 4), abduction (K, 5) radians."""
    k = np.shape(flex)[0]
    angles = np.concatenate([np.reshape(flex, (k, 20)), np.reshape(abduction, (k, 5))], axis=1)
    return _joints_from_angle_rows(_ANGLE_ROWS @ angles.T)


def _joints_from_angle_rows(rows: np.ndarray, homogeneous: bool = False) -> np.ndarray:
    """Joints (K, 26, 3) from the angle rows (50, K) of _angle_rows_matrix (homogeneous: (K, 26, 4)
    with a last column of ones, ready for a 4 x 3 transform).

    Along a finger every rotation is about the bone's own x axis except the one abduction a (at
    the knuckle; the thumb's CMC). In its chain's base frame a bone whose flexion so far is phi
    points along -(0, sin phi, cos phi) before that joint, and from it on along
    -[(0, sin phi, cos phi) + cos psi (sin a, (cos a - 1) sin phi_a, (cos a - 1) cos phi_a)]
    (-Z turned by Rx(-phi_a) Ry(a) Rx(-psi), expanded). Laid out (finger, xyz, depth, hand), each
    step is one call for all hands; the joints are one matrix product over the bones. It all runs
    in float32 (numpy's float64 sine is ~8x slower, and mixed types cost a cast per call; the
    result is within ~2e-8 m of the float64 formulas for a hand's 0.2 m) and is returned as
    float64.
    """
    k = rows.shape[1]
    r = rows.astype(np.float32)
    v = np.empty((5, 3, 4, k), np.float32)                                 # directions, base frames
    phi = r[:20].reshape(5, 4, k)
    np.sin(phi, out=v[:, 1])
    np.cos(phi, out=v[:, 2])
    cos_psi = np.cos(r[20:40]).reshape(5, 4, k)
    cos_psi *= _FROM_ABDUCTION32
    sin_ends, cos_ends = np.sin(r[40:]), np.cos(r[40:])
    np.multiply(cos_psi, sin_ends[5:, None], out=v[:, 0])                  # x: cos psi sin a
    u = np.empty((5, 2, 1, k), np.float32)                                 # (cos a - 1) (sin, cos phi_a)
    cos_a1 = cos_ends[5:] - np.float32(1.0)
    np.multiply(cos_a1, sin_ends[:5], out=u[:, 0, 0])
    np.multiply(cos_a1, cos_ends[:5], out=u[:, 1, 0])
    v[:, 1:] += cos_psi[:, None] * u
    directions = _BASE_FRAMES32 @ v.reshape(5, 3, 4 * k)                  # (5, 3, 4 K)
    by_bone = directions.reshape(5, 3, 4, k).transpose(0, 2, 1, 3).reshape(20, 3 * k)
    joints = (_BONES_TO_JOINTS32 @ by_bone).reshape(JOINT_COUNT, 3, k)
    joints += _BASES_TO_JOINTS32
    if homogeneous:
        out = np.empty((k, JOINT_COUNT, 4))
        out[..., 3] = 1.0
        out[..., :3] = joints.transpose(2, 0, 1)
        return out
    return np.ascontiguousarray(joints.transpose(2, 0, 1), dtype=np.float64)


_FROM_ABDUCTION32 = _FROM_ABDUCTION[..., None].astype(np.float32)
_BASE_FRAMES32 = _BASE_FRAMES.astype(np.float32)
_BONES_TO_JOINTS32 = _BONES_TO_JOINTS.astype(np.float32)
_BASES_TO_JOINTS32 = _BASES_TO_JOINTS[:, :, None].astype(np.float32)


def _library_angle_rows() -> np.ndarray:
    """(50, L): the angle rows of each named pose, columns in POSE_NAMES order."""
    flex = np.stack([_deg(v[0]).reshape(-1) for v in _POSE_TABLE.values()])
    abd = np.stack([_deg(v[1]) for v in _POSE_TABLE.values()])
    return _ANGLE_ROWS @ np.concatenate([flex, abd], axis=1).T


_LIBRARY_ANGLE_ROWS = _library_angle_rows()
_ONES_L = np.ones(_LIBRARY_ANGLE_ROWS.shape[1])


def blend_poses(weights: np.ndarray, homogeneous: bool = False) -> np.ndarray:
    """Blend named poses with per-hand weights: (K, L) non-negative (rows normalised here; L =
    len(POSE_NAMES)) -> (K, 26, 3) right-hand wrist-frame joint positions (homogeneous: (K, 26, 4),
    a last column of ones).

    The blend is of joint angles (each joint's flexion and abduction the weighted mean of the
    poses'), so every in-between hand is a hand: bones keep their lengths and fingers curl
    smoothly between the poses, never bending backwards (a mean of joint positions would
    fold the last bones back half way between an open hand and a fist).
    """
    w = np.asarray(weights, dtype=np.float64)
    rows = _LIBRARY_ANGLE_ROWS @ w.T                   # every angle is linear in the weights
    rows /= np.maximum(w @ _ONES_L, 1e-12)
    return _joints_from_angle_rows(rows, homogeneous)


def hand_from_curls(curls: np.ndarray, spread: np.ndarray | None = None) -> np.ndarray:
    """Right-hand joints (K, 26, 3) from per-finger curl values.

    curls: (K, 5) in 0..1 for thumb, index, middle, ring, little (0 straight, 1 a fist);
    spread: (K,) 0..1 finger spread (default 0.5). Used to synthesise hands from controllers.
    """
    curls = np.clip(np.asarray(curls, dtype=np.float64), 0.0, 1.0)
    k = curls.shape[0]
    spread = np.full(k, 0.5) if spread is None else np.clip(np.asarray(spread, float), 0.0, 1.0)
    open_flex, open_abd = _deg(_POSE_TABLE["flat"][0]), _deg(_POSE_TABLE["open"][1])
    fist_flex, fist_abd = _deg(_POSE_TABLE["fist"][0]), _deg(_POSE_TABLE["fist"][1])
    c = curls[:, :, None]
    flex = open_flex[None] * (1 - c) + fist_flex[None] * c
    abd = (open_abd[None] * spread[:, None]) * (1 - curls) + fist_abd[None] * curls
    return joints_from_angles(flex, abd)


def mirror_to_left(local: np.ndarray, is_left: np.ndarray) -> np.ndarray:
    """Mirror right-hand wrist-frame points into left hands where is_left. (K, J, 3), (K,) -> (K, J, 3)."""
    out = np.array(local, dtype=np.float64, copy=True)
    out[np.asarray(is_left, bool), :, 0] *= -1.0
    return out


def hands_to_stage(t_stage_wrist: np.ndarray, q_stage_wrist: np.ndarray, local: np.ndarray,
                   is_left: np.ndarray) -> np.ndarray:
    """Place wrist-frame hands in the stage. (K, 3), (K, 4), (K, 26, 3), (K,) -> (K, 26, 3) metres."""
    return hands_to_stage_matrices(t_stage_wrist, P.quat_to_matrix(q_stage_wrist), local, is_left)


def hands_to_stage_matrices(t_stage_wrist: np.ndarray, R_stage_wrist: np.ndarray, local: np.ndarray,
                            is_left: np.ndarray) -> np.ndarray:
    """hands_to_stage with the wrist rotations as matrices (K, 3, 3). -> (K, 26, 3) metres.

    Mirroring a left hand (x -> -x) is folded into its rotation (its first column negated).
    """
    R = np.asarray(R_stage_wrist, dtype=np.float64)
    Rt = np.swapaxes(R, -1, -2) * np.where(np.asarray(is_left, bool)[:, None, None], _MIRROR_X, 1.0)
    return np.matmul(np.asarray(local, np.float64), Rt) + np.asarray(t_stage_wrist)[:, None, :]


_MIRROR_X = np.array([[-1.0], [1.0], [1.0]])
"""Row signs of R^T for a mirrored (left) hand: p_stage = p_local @ (diag(-1, 1, 1) R^T)."""


# --- drawing: hands as capsules -----------------------------------------------------------------
# Capsules per hand: every bone (23), three that fill the palm (knuckle line, base line, wrist to
# palm centre) and one for the ball of the thumb. Radii are the mean of the two joints' radii,
# widened on palm bones so the palm reads as a solid surface.
_PALM_FILL = np.array([[JOINT["index_proximal"], JOINT["little_proximal"]],
                       [JOINT["index_metacarpal"], JOINT["little_metacarpal"]],
                       [WRIST, PALM],
                       [WRIST, JOINT["thumb_proximal"]]])
CAPSULE_JOINTS = np.concatenate([BONES, _PALM_FILL])
"""(26, 2) joint index pairs drawn as capsules, per hand."""
_CAPSULE_WIDEN = np.ones(len(CAPSULE_JOINTS))
_CAPSULE_WIDEN[[i for i, (a, b) in enumerate(BONES) if a in (2, 6, 11, 16, 21)]] = 1.15
_CAPSULE_WIDEN[len(BONES):] = [1.05, 1.25, 1.2, 1.1]
CAPSULES_PER_HAND = len(CAPSULE_JOINTS)


_CAPSULE_RADIUS_MIX = np.zeros((JOINT_COUNT, CAPSULES_PER_HAND), np.float32)
for _c, (_i, _j) in enumerate(CAPSULE_JOINTS):
    _CAPSULE_RADIUS_MIX[_i, _c] += 0.5 * _CAPSULE_WIDEN[_c]
    _CAPSULE_RADIUS_MIX[_j, _c] += 0.5 * _CAPSULE_WIDEN[_c]
"""(26, 26): joint radii -> capsule radii (the widened mean of the capsule's two joints)."""
_CAPSULE_A = np.ascontiguousarray(CAPSULE_JOINTS[:, 0])
_CAPSULE_B = np.ascontiguousarray(CAPSULE_JOINTS[:, 1])


def hand_capsule_radii(radii: np.ndarray) -> np.ndarray:
    """(K * CAPSULES_PER_HAND,) float32 capsule radii of K hands' joint radii (K, 26) metres."""
    return (np.asarray(radii, dtype=np.float32) @ _CAPSULE_RADIUS_MIX).reshape(-1)


def hand_capsules(joints: np.ndarray, radii: np.ndarray, valid: np.ndarray,
                  colors: np.ndarray, alpha: np.ndarray | None = None,
                  capsule_radii: np.ndarray | None = None, capsule_colors: np.ndarray | None = None) -> Capsules:
    """Capsule instances for K hands, in one vectorised pass.

    joints: (K, 26, 3) stage positions, metres. radii: (K, 26) metres. valid: (K, 26) bool
    (a capsule is drawn only when both its joints are valid). colors: (K, 3) or (K, 4) linear RGB(A).
    alpha: (K,) 0..1 fade per hand (0 hides the hand). capsule_radii: hand_capsule_radii(radii)
    when the caller keeps it (radii rarely change). capsule_colors: (K * CAPSULES_PER_HAND, 4)
    float32 per-capsule colours, every alpha > 0, when the caller keeps them (hands fully shown);
    colors and alpha are not used then. Returns Capsules with up to
    K * CAPSULES_PER_HAND instances, hand-major, in CAPSULE_JOINTS order.
    """
    joints = np.asarray(joints, dtype=np.float32)
    k = joints.shape[0]
    valid = np.asarray(valid, dtype=bool)
    colors = np.asarray(colors, dtype=np.float32)
    ia, ib = _CAPSULE_A, _CAPSULE_B
    a = joints.take(ia, axis=1).reshape(-1, 3)
    b = joints.take(ib, axis=1).reshape(-1, 3)
    r = hand_capsule_radii(radii) if capsule_radii is None else capsule_radii.copy()
    if capsule_colors is not None:
        c = capsule_colors.copy()
        shown = True
    else:
        if colors.shape[-1] == 4:
            rgba = colors.copy()
        else:
            rgba = np.ones((k, 4), np.float32)
            rgba[:, :3] = colors
        if alpha is not None:
            rgba[:, 3] *= np.asarray(alpha, np.float32)
        c = rgba.repeat(CAPSULES_PER_HAND, axis=0)
        shown = rgba[:, 3].min(initial=1.0) > 0.0
    if shown and np.count_nonzero(valid) == valid.size:
        return Capsules(a, b, r, c)
    keep = (valid[:, ia] & valid[:, ib]).reshape(-1) & (c[:, 3] > 0.0)
    return Capsules(a[keep], b[keep], r[keep], c[keep])

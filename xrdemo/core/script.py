"""Where scripted people's wrists are: resting on the table in front of them, or raised to gesture.

The gesture itself (which hand pose, how much each hand is raised) comes from presence/gestures;
this module places the wrists, per seat, as a pure function of (seeded tables, raise, time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import pose as P


@dataclass(frozen=True)
class ScriptTables:
    """Seeded per-hand variety, made once per meeting (N people).

    jitter: (N, 2) in -0.5..0.5; it spreads resting places and bob rates so hands never move in
    lockstep.
    """

    jitter: np.ndarray

    @staticmethod
    def make(seed: int, n: int) -> "ScriptTables":
        rng = np.random.default_rng([seed, n, 0x5C1])
        return ScriptTables(jitter=rng.random((n, 2)) - 0.5)


def wrist_poses(tables: ScriptTables, seat_pos: np.ndarray, q_seat: np.ndarray,
                table_height: float, raised: np.ndarray, t_s: float):
    """Stage poses of every scripted wrist.

    seat_pos: (N, 3) eye positions; q_seat: (N, 4) seat orientations; raised: (N, 2) 0..1.
    Returns positions (N, 2, 3) and orientations (N, 2, 4). Resting hands lie palm-down on the
    table in front of their owner; raised hands lift, turn the palm inward and bob with speech.
    """
    side = np.array([-1.0, 1.0])                       # left hand on -X of the seat frame
    jitter = tables.jitter
    # Wrist in the seat frame (x right, y up, -z toward the table centre).
    bob = 0.025 * np.sin((2 * np.pi * t_s) * (1.7 + 0.4 * jitter) + 6.0 * jitter) * raised
    local = np.empty(raised.shape + (3,))
    local[..., 0] = side * (0.20 + 0.04 * jitter - 0.05 * raised)
    local[..., 1] = (table_height + 0.022 - seat_pos[:, 1:2]) + raised * (0.17 + 0.03 * jitter) + bob
    local[..., 2] = -(0.37 + 0.05 * jitter) - 0.04 * raised
    q_seat2 = q_seat[:, None, :]
    pos = seat_pos[:, None, :] + P.quat_rotate(q_seat2, local)
    # Resting: palm down, fingers toward the table centre and slightly inward. Raised: roll the
    # palm toward the body's midline and tilt the fingers up a little.
    q_local = P.quat_from_yaw_pitch_roll(-side * np.radians(14.0), np.radians(18.0) * raised,
                                         side * np.radians(65.0) * raised)
    return pos, P.quat_mul(q_seat2, q_local)


@dataclass(frozen=True)
class WristModel:
    """wrist_poses' constants for one meeting, so a frame costs a handful of array operations.

    The wrist position is linear in the raise r and the bob: pos = rest + r * (lift + sin(phase) *
    bob_axis), phase = (2 pi t) * rate + offset. The wrist orientation is the seat's times a
    yaw-pitch-roll whose half-angles are r * half_angles; as a quaternion it is linear in the
    outer product of (cos, sin) of those half-angles: q = kron @ to_quat.
    Shapes: rest, lift (N, 2, 3); bob_axis (N, 1, 3); rate, offset (N, 2); half_angles (2, 2)
    (per side: pitch, roll); to_quat (N, 2, 4, 4).
    """

    rest: np.ndarray
    lift: np.ndarray
    bob_axis: np.ndarray
    rate: np.ndarray
    offset: np.ndarray
    half_angles: np.ndarray
    to_quat: np.ndarray

    @staticmethod
    def make(tables: ScriptTables, seat_pos: np.ndarray, q_seat: np.ndarray,
             table_height: float) -> "WristModel":
        side = np.array([-1.0, 1.0])
        j = tables.jitter
        seat_pos = np.asarray(seat_pos, float)
        R = P.quat_to_matrix(q_seat)                                  # (N, 3, 3)
        rest = np.stack([side * (0.20 + 0.04 * j),
                         np.broadcast_to(table_height + 0.022 - seat_pos[:, 1:2], j.shape),
                         -(0.37 + 0.05 * j)], axis=-1)
        lift = np.stack([np.broadcast_to(-0.05 * side, j.shape), 0.17 + 0.03 * j,
                         np.full(j.shape, -0.04)], axis=-1)
        rest = seat_pos[:, None, :] + np.einsum("nij,nhj->nhi", R, rest)
        lift = np.einsum("nij,nhj->nhi", R, lift)
        bob_axis = 0.025 * R[:, None, :, 1]
        # q_local = quat_from_yaw_pitch_roll(-side*14deg, 18deg*r, side*65deg*r): with cy, sy the
        # yaw's half-angle terms and (cp, sp), (cr, sr) those of r * half_angles, q_local is
        # [cp*cr, cp*sr, sp*cr, sp*sr] @ Y[side]; q_seat * q_local is linear in q_local too.
        half_yaw = 0.5 * (-side * np.radians(14.0))
        cy, sy = np.cos(half_yaw), np.sin(half_yaw)
        Y = np.zeros((2, 4, 4))
        Y[:, 0, 1], Y[:, 0, 3] = sy, cy
        Y[:, 1, 0], Y[:, 1, 2] = sy, cy
        Y[:, 2, 0], Y[:, 2, 2] = cy, -sy
        Y[:, 3, 1], Y[:, 3, 3] = -cy, sy
        left_mul = np.einsum("ni,ijk->njk", np.asarray(q_seat, float), P._QUAT_MUL.reshape(4, 4, 4))
        to_quat = Y[None] @ left_mul[:, None]                         # (N, 2, 4, 4)
        half_angles = np.stack([np.full(2, 0.5 * np.radians(18.0)), -side * 0.5 * np.radians(65.0)], axis=-1)
        return WristModel(rest=rest, lift=lift, bob_axis=bob_axis, rate=1.7 + 0.4 * j, offset=6.0 * j,
                          half_angles=half_angles, to_quat=to_quat)


def wrist_frames(model: WristModel, raised: np.ndarray, t_s: float):
    """wrist_poses from a WristModel, with the orientations as rotation matrices.

    raised: (N, 2) 0..1. Returns positions (N, 2, 3) and rotations (N, 2, 3, 3), stage space.
    """
    bob = np.sin((2 * np.pi * t_s) * model.rate + model.offset)
    pos = model.rest + raised[..., None] * (model.lift + bob[..., None] * model.bob_axis)
    half = raised[..., None] * model.half_angles                     # (N, 2, 2): pitch, roll
    cs = np.empty(half.shape + (2,))
    np.cos(half, out=cs[..., 0])
    np.sin(half, out=cs[..., 1])
    kron = cs[..., 0, :, None] * cs[..., 1, None, :]                  # (cp, sp) x (cr, sr)
    q = (kron.reshape(raised.shape + (1, 4)) @ model.to_quat).reshape(raised.shape + (4,))
    return pos, P.quat_to_matrix(q)

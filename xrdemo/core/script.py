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


REST_INSET_M = 0.06
"""Metres a resting wrist lies inside the table's edge (the hand reaches further in)."""
REST_HALF_SPAN_M = 0.20
"""Metres from the body's midline to a resting wrist, when the table leaves room for it."""


def rest_wrists(tables: ScriptTables, seat_pos: np.ndarray, q_seat: np.ndarray, table) -> np.ndarray:
    """(N, 2, 3) stage positions of resting wrists (y = 0: the caller sets the height) on the top
    of ``table`` (core.room.Table, round or rect). Each person's hands lie REST_INSET_M inside the
    edge in front of them (a rectangle's edge they sit at, a circle's radius toward them),
    REST_HALF_SPAN_M to each side, narrower when neighbours sit close (about a fifth of the edge
    each person has, so spread fingers stay clear of the next person's), then clamped onto the
    top: no resting wrist is off the table."""
    seat_pos = np.asarray(seat_pos, float)
    n = len(seat_pos)
    j = tables.jitter
    fwd = P.quat_rotate(np.asarray(q_seat, float), np.array([0.0, 0.0, -1.0]))
    fwd[:, 1] = 0.0
    fwd /= np.linalg.norm(fwd, axis=1, keepdims=True)
    right = np.stack([-fwd[:, 2], np.zeros(n), fwd[:, 0]], axis=1)
    if table.shape == "round":
        inner = table.radius - REST_INSET_M
        # Where the seat's facing line meets the inset circle, and the arc each person has there.
        edge = -fwd * inner
        arc = 2.0 * np.pi * inner / max(n, 1)
    else:
        # The edge each person sits at (a long side or an end), straight in front of them: hands
        # lie along that edge (a seat near a corner faces the centre at a slant; its hands don't).
        hw, hd = table.width / 2 - REST_INSET_M, table.depth / 2 - REST_INSET_M
        x, z = seat_pos[:, 0], seat_pos[:, 2]
        long_side = np.abs(z) - table.depth / 2 >= np.abs(x) - table.width / 2
        sz, sx = np.sign(z), np.sign(x)
        edge = np.where(long_side[:, None], np.stack([np.clip(x, -hw, hw), np.zeros(n), sz * hd], 1),
                        np.stack([sx * hw, np.zeros(n), np.clip(z, -hd, hd)], 1))
        fwd = np.where(long_side[:, None], np.stack([np.zeros(n), np.zeros(n), -sz], 1),
                       np.stack([-sx, np.zeros(n), np.zeros(n)], 1))
        right = np.stack([-fwd[:, 2], np.zeros(n), fwd[:, 0]], axis=1)
        side_id = np.where(long_side, 2 + sz, sx)
        d = np.linalg.norm(seat_pos[:, None, :] - seat_pos[None], axis=-1)
        d[(side_id[:, None] != side_id[None]) | np.eye(n, dtype=bool)] = np.inf
        arc = d.min(axis=1)
        length = np.where(long_side, 2.0 * hw, 2.0 * hd)
        arc = np.where(np.isfinite(arc), arc, length)
        # Corner seats: keep the outer hand clear of the corner's neighbour on the other edge.
        room = np.where(long_side, hw - np.abs(np.clip(x, -hw, hw)), hd - np.abs(np.clip(z, -hd, hd)))
        arc = np.minimum(arc, 2.0 * (room + 0.5 * REST_HALF_SPAN_M) + 0.2)
    half = np.minimum(REST_HALF_SPAN_M + 0.02 * j, 0.21 * np.asarray(arc)[..., None] * (1.0 + 0.05 * j))
    side = np.array([-1.0, 1.0])
    pos = edge[:, None, :] + right[:, None, :] * (side * half)[..., None]
    pos[..., 1] = 0.0
    return _onto_top(pos, table)


def _onto_top(pos, table):
    """Clamp (..., 3) points (x, z) onto the inset table top."""
    out = pos.copy()
    if table.shape == "round":
        inner = table.radius - REST_INSET_M
        r = np.hypot(out[..., 0], out[..., 2])
        k = np.minimum(1.0, inner / np.maximum(r, 1e-9))
        out[..., 0] *= k
        out[..., 2] *= k
    else:
        out[..., 0] = np.clip(out[..., 0], -(table.width / 2 - REST_INSET_M), table.width / 2 - REST_INSET_M)
        out[..., 2] = np.clip(out[..., 2], -(table.depth / 2 - REST_INSET_M), table.depth / 2 - REST_INSET_M)
    return out


def wrist_poses(tables: ScriptTables, seat_pos: np.ndarray, q_seat: np.ndarray,
                table_height: float, raised: np.ndarray, t_s: float, table=None):
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
    if table is not None:
        # Resting places on the table top; the raise moves them as before (in the seat frame).
        rest_local = local.copy()
        rest_local[..., 1] = table_height + 0.022 - seat_pos[:, 1:2]
        rest_local[..., 0] = side * (0.20 + 0.04 * jitter)
        rest_local[..., 2] = -(0.37 + 0.05 * jitter)
        old_rest = seat_pos[:, None, :] + P.quat_rotate(q_seat2, rest_local)
        new_rest = rest_wrists(tables, seat_pos, q_seat, table)
        new_rest[..., 1] = old_rest[..., 1]
        pos = pos + (new_rest - old_rest)
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
    turn_angles: np.ndarray | None = None
    """(2, 2) per side: radians of pitch (about +X) and turn about +Z per unit raise (wrist_turns)."""
    frame_map: np.ndarray | None = None
    """(N, 2, 15, 12) wrist_turns' features -> (mirrored R^T (9), position (3)), see there."""

    @staticmethod
    def make(tables: ScriptTables, seat_pos: np.ndarray, q_seat: np.ndarray,
             table_height: float, table=None) -> "WristModel":
        """table: core.room.Table to rest the hands on (rest_wrists); None: in front of each seat."""
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
        if table is not None:
            y = rest[..., 1].copy()
            rest = rest_wrists(tables, seat_pos, q_seat, table)
            rest[..., 1] = y
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
        turn_angles = np.stack([np.full(2, np.radians(18.0)), -side * np.radians(65.0)], axis=-1)
        return WristModel(rest=rest, lift=lift, bob_axis=bob_axis, rate=1.7 + 0.4 * j, offset=6.0 * j,
                          half_angles=half_angles, to_quat=to_quat, turn_angles=turn_angles,
                          frame_map=_frame_map(R, -side * np.radians(14.0), rest, lift, bob_axis))


def _frame_map(R_seat, yaw, rest, lift, bob_axis) -> np.ndarray:
    """(N, 2, 15, 12): wrist_turns' features (1, cos p, sin p, r, r bob) x (1, cos z, sin z) of a
    hand -> its mirrored R^T (row-major 9) and position (3). The wrist's rotation is
    R_seat Ry(yaw) Rx(p) Rz(z) (quat_from_yaw_pitch_roll with the roll about -Z), and each
    elementary rotation is A0 + cos * Ac + sin * As: the product is linear in the 9 products."""
    n = len(R_seat)
    x_parts = np.zeros((3, 3, 3))                              # Rx = X0 + cos Xc + sin Xs
    x_parts[0, 0, 0] = 1.0
    x_parts[1, 1, 1] = x_parts[1, 2, 2] = 1.0
    x_parts[2, 2, 1], x_parts[2, 1, 2] = 1.0, -1.0
    z_parts = np.zeros((3, 3, 3))                              # Rz = Z0 + cos Zc + sin Zs
    z_parts[0, 2, 2] = 1.0
    z_parts[1, 0, 0] = z_parts[1, 1, 1] = 1.0
    z_parts[2, 1, 0], z_parts[2, 0, 1] = 1.0, -1.0
    cy, sy = np.cos(yaw), np.sin(yaw)                          # (2,) per side
    Ry = np.zeros((2, 3, 3))
    Ry[:, 0, 0] = Ry[:, 2, 2] = cy
    Ry[:, 0, 2], Ry[:, 2, 0] = sy, -sy
    Ry[:, 1, 1] = 1.0
    mirror = np.array([[-1.0], [1.0], [1.0]])                  # row signs of R^T for a left hand
    out = np.zeros((n, 2, 5, 3, 12))
    for h in range(2):
        base = R_seat @ Ry[h]                                  # (N, 3, 3)
        for a in range(3):
            for b in range(3):
                R = base @ (x_parts[a] @ z_parts[b])
                Rt = R.swapaxes(-1, -2) * (mirror if h == 0 else 1.0)
                out[:, h, a, b, :9] = Rt.reshape(n, 9)
    out[:, :, 0, 0, 9:] = rest                                 # feature 1 x 1
    out[:, :, 3, 0, 9:] = lift                                 # r x 1
    out[:, :, 4, 0, 9:] = bob_axis                             # r bob x 1
    return out.reshape(n, 2, 15, 12)


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


def wrist_transforms(model: WristModel, raised: np.ndarray, t_s: float) -> np.ndarray:
    """The wrists as the step places hands: (N, 2, 4, 3) fresh [turn (3 rows); position] per hand,
    so that a wrist-frame point p of right-hand shape lands at (p, 1) @ transform, stage space
    (turn = R^T of wrist_frames' rotation, with a left hand's mirroring x -> -x folded in).
    One product per hand of the features (1, cos p, sin p, r, r bob) x (1, cos z, sin z) by
    ``model.frame_map``. raised: (N, 2) 0..1, t_s seconds."""
    n = raised.shape[0]
    feat = np.empty((n, 2, 8))                        # 1, cos p, sin p, r, r bob, 1, cos z, sin z
    feat[..., 0::5] = 1.0
    ang = raised[..., None] * model.turn_angles      # (N, 2, 2): pitch, z turn
    np.cos(ang, out=feat[..., 1::5])
    np.sin(ang, out=feat[..., 2::5])
    feat[..., 3] = raised
    bob = np.sin((2 * np.pi * t_s) * model.rate + model.offset)
    np.multiply(raised, bob, out=feat[..., 4])
    outer = feat[..., :5, None] * feat[..., None, 5:]                 # (N, 2, 5, 3)
    return (outer.reshape(n, 2, 1, 15) @ model.frame_map).reshape(n, 2, 4, 3)


def wrist_turns(model: WristModel, raised: np.ndarray, t_s: float):
    """wrist_frames as the step uses them: (positions (N, 2, 3), turns (N, 2, 3, 3)) with the
    turns ready to place wrist-frame points of right-hand shape: p_stage = p @ turn + position
    (R^T, with a left hand's mirroring x -> -x folded in): views of wrist_transforms."""
    m = wrist_transforms(model, raised, t_s)
    return m[:, :, 3], m[:, :, :3]

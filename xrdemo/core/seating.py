"""Sitting the wearer down: the one transform that carries a tracking space into their seat.

A runtime reports poses in its own tracking space (OpenXR STAGE: origin at the centre of the
guardian, or wherever the runtime likes). The meeting lives in *room* space (table centre at the
origin). ``seat_transform`` gives T_room_stage — yaw only, so up stays up — that puts the wearer's
eyes at their seat's eye point facing the table centre. A wearer whose eyes are higher than a
seated person's (standing) stands behind their chair at their real height instead, so the floor
stays the floor. Recompute it at session start, on a recenter and after a reseat; apply it to
every pose of a frame.
"""

from __future__ import annotations

import numpy as np

from . import pose as P

STANDING_EYE_M = 1.45
"""Eyes higher than this above the tracking floor (metres) are a standing wearer."""
BEHIND_CHAIR_M = 0.55
"""How far behind the seat's eye point a standing wearer is put (metres, along the seat's back)."""


def seat_transform(head_pos: np.ndarray, head_rot: np.ndarray, eye_point: np.ndarray,
                   seat_yaw: float, standing_eye_m: float = STANDING_EYE_M,
                   behind_m: float = BEHIND_CHAIR_M) -> tuple[np.ndarray, np.ndarray]:
    """T_room_stage (position (3,) m, quaternion (4,)) for a wearer whose head is at
    ``head_pos`` / ``head_rot`` in stage space, to sit at ``eye_point`` (room, metres) facing
    ``seat_yaw`` (radians, quat_from_yaw_pitch_roll's convention: the seat's -Z looks at the
    table). Only the head's yaw counts: where the wearer looks becomes where the seat faces.
    """
    head_pos = np.asarray(head_pos, float)
    head_yaw = float(P.yaw_of(np.asarray(head_rot, float)))
    q = P.quat_from_yaw_pitch_roll(float(seat_yaw) - head_yaw)
    target = np.asarray(eye_point, float).copy()
    if head_pos[1] > standing_eye_m:                   # standing: behind the chair, real height
        back = P.quat_rotate(P.quat_from_yaw_pitch_roll(float(seat_yaw)), np.array([0.0, 0.0, 1.0]))
        target = target + behind_m * back
        target[1] = head_pos[1]
    t = target - P.quat_rotate(q, head_pos)
    return t, q


def nearest_seat(head_room_pos: np.ndarray, seat_pos: np.ndarray, taken: np.ndarray | None = None) -> int:
    """The seat (index) whose eye point is horizontally nearest to a head in room space; seats
    marked in ``taken`` ((N,) bool) are skipped. -1 when none is free."""
    d = np.hypot(seat_pos[:, 0] - head_room_pos[0], seat_pos[:, 2] - head_room_pos[2])
    if taken is not None:
        d = np.where(np.asarray(taken, bool), np.inf, d)
    k = int(np.argmin(d))
    return k if np.isfinite(d[k]) else -1

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
                                         -side * np.radians(65.0) * raised)
    return pos, P.quat_mul(q_seat2, q_local)

"""Scripted hand poses for people who are not driven by a tracker.

A pure function of (seeded tables, time): each hand walks through a seeded sequence of segments;
each segment holds one named pose at one place (resting on the table, or raised and gesturing
while its owner speaks), and consecutive segments blend with a smoothstep. Because it carries no
state from frame to frame, any time can be rendered directly (a snapshot needs no warm-up), and
runs are deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import hands as H
from . import pose as P

SEGMENT_S = 2.6
"""Mean length of one hand-pose segment, seconds."""
BLEND_S = 0.45
"""Seconds spent blending from one segment into the next."""

# Poses a listener's hands take (mostly resting), and a speaker's (mostly gesturing).
_REST_POSES = ("flat", "relaxed", "relaxed", "flat", "pinch", "fist")
_TALK_POSES = ("beat", "open", "point", "beat", "relaxed", "thumbs_up", "pinch", "open")
_N_POSES = len(H.POSE_NAMES)


SEGMENT_TABLE = 2048
"""Precomputed segments per hand; the script repeats after SEGMENT_TABLE * SEGMENT_S seconds."""

_REST_IDX = np.array([H.pose_index(n) for n in _REST_POSES])
_TALK_IDX = np.array([H.pose_index(n) for n in _TALK_POSES])


@dataclass(frozen=True)
class ScriptTables:
    """Seeded random draws behind the script, made once per meeting (N people).

    rest_pose, talk_pose: (N, 2, SEGMENT_TABLE) pose indices per segment; raise_u: (N, 2,
    SEGMENT_TABLE) uniforms; phase: (N, 2) seconds; jitter: (N, 2) in -0.5..0.5; turns: (T,)
    uniforms choosing each conversational turn's speaker.
    """

    rest_pose: np.ndarray
    talk_pose: np.ndarray
    raise_u: np.ndarray
    phase: np.ndarray
    jitter: np.ndarray
    turns: np.ndarray

    @staticmethod
    def make(seed: int, n: int) -> "ScriptTables":
        rng = np.random.default_rng([seed, n, 0x5C1])
        shape = (n, 2, SEGMENT_TABLE)
        return ScriptTables(
            rest_pose=_REST_IDX[rng.integers(0, len(_REST_IDX), shape)],
            talk_pose=_TALK_IDX[rng.integers(0, len(_TALK_IDX), shape)],
            raise_u=rng.random(shape),
            phase=rng.random((n, 2)) * SEGMENT_S,
            jitter=rng.random((n, 2)) - 0.5,
            turns=rng.random(4096),
        )


def hand_pose_weights(tables: ScriptTables, t_s: float, speaking: np.ndarray):
    """Scripted pose weights and raise amounts for every hand.

    speaking: (N,) bool. Returns weights (N, 2, L) over hands.POSE_NAMES, and raised (N, 2) in
    0..1 (0 resting on the table, 1 raised to gesture). Segment boundaries are offset per hand so
    hands never change in lockstep. The non-dominant (left) hand of a speaker rests half the time.
    """
    n = speaking.shape[0]
    tt = t_s + tables.phase
    seg = np.floor(tt / SEGMENT_S).astype(np.int64)
    frac = tt / SEGMENT_S - seg
    seg = np.stack([seg - 1, seg], axis=-1) % SEGMENT_TABLE                 # (N, 2, 2): prev, cur
    rest = np.take_along_axis(tables.rest_pose, seg, axis=-1)
    talk = np.take_along_axis(tables.talk_pose, seg, axis=-1)
    u = np.take_along_axis(tables.raise_u, seg, axis=-1)
    is_right = np.array([False, True])[None, :, None]
    raised_seg = speaking[:, None, None] & (is_right | (u < 0.5))
    pose = np.where(raised_seg, talk, rest)
    x = np.clip(frac * (SEGMENT_S / BLEND_S), 0.0, 1.0)
    s = x * x * (3.0 - 2.0 * x)
    weights = np.zeros((n * 2, _N_POSES))
    rows = np.arange(n * 2)
    np.add.at(weights, (rows, pose[..., 0].reshape(-1)), (1.0 - s).reshape(-1))
    np.add.at(weights, (rows, pose[..., 1].reshape(-1)), s.reshape(-1))
    raised = (1.0 - s) * raised_seg[..., 0] + s * raised_seg[..., 1]
    return weights.reshape(n, 2, _N_POSES), raised


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


def speaker_at(tables: ScriptTables, n: int, t_s: float, turn_s: float = 5.0) -> int:
    """Who holds the floor at t_s in the foundation's simple script (turns of turn_s seconds)."""
    turn = int(np.floor(t_s / turn_s)) % len(tables.turns)
    return int(tables.turns[turn] * n) % n

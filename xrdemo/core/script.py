"""Scripted hand poses for people who are not driven by a tracker.

A pure function of (seed, person, hand, time): each hand walks through a seeded sequence of
segments; each segment holds one named pose at one place (resting on the table, or raised and
gesturing while its owner speaks), and consecutive segments blend with a smoothstep. Because it
is stateless, any time can be rendered directly (a snapshot needs no warm-up) and runs are
deterministic for a seed.
"""

from __future__ import annotations

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


def _hash_uniform(*keys: np.ndarray) -> np.ndarray:
    """Deterministic uniform numbers in [0, 1) from integer keys (vectorised, no RNG state)."""
    h = np.uint64(1469598103934665603)
    with np.errstate(over="ignore"):
        acc = np.full(np.broadcast_shapes(*[np.shape(k) for k in keys]), h, dtype=np.uint64)
        for k in keys:
            acc ^= np.asarray(k, dtype=np.int64).astype(np.uint64)
            acc *= np.uint64(1099511628211)
            acc ^= acc >> np.uint64(29)
            acc *= np.uint64(0xBF58476D1CE4E5B9)
            acc ^= acc >> np.uint64(32)
    return (acc >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _segment_pose(seed, person, hand, seg, speaking):
    """Pose index (...) and 'raised' flag for a segment."""
    u = _hash_uniform(seed, person, hand, seg, 7)
    rest_idx = np.array([H.pose_index(n) for n in _REST_POSES])
    talk_idx = np.array([H.pose_index(n) for n in _TALK_POSES])
    rest = rest_idx[(u * len(rest_idx)).astype(int) % len(rest_idx)]
    talk = talk_idx[(u * len(talk_idx)).astype(int) % len(talk_idx)]
    # The non-dominant (left) hand of a speaker rests half the time.
    raise_u = _hash_uniform(seed, person, hand, seg, 11)
    raised = speaking & ((hand == 1) | (raise_u < 0.5))
    return np.where(raised, talk, rest), raised


def hand_pose_weights(seed: int, t_s: float, speaking: np.ndarray):
    """Scripted pose weights and raise amounts for every hand.

    speaking: (N,) bool. Returns weights (N, 2, L) over hands.POSE_NAMES, and raised (N, 2) in
    0..1 (0 resting on the table, 1 raised to gesture). Segment boundaries are offset per hand so
    hands never change in lockstep.
    """
    n = speaking.shape[0]
    person = np.arange(n)[:, None]
    hand = np.arange(2)[None, :]
    phase = _hash_uniform(seed, person, hand, 3) * SEGMENT_S
    tt = t_s + phase
    seg = np.floor(tt / SEGMENT_S).astype(np.int64)
    frac = tt / SEGMENT_S - seg
    spk = np.broadcast_to(speaking[:, None], (n, 2))
    cur, cur_raised = _segment_pose(seed, person, hand, seg, spk)
    prev, prev_raised = _segment_pose(seed, person, hand, seg - 1, spk)
    x = np.clip(frac * SEGMENT_S / BLEND_S, 0.0, 1.0)
    s = x * x * (3.0 - 2.0 * x)
    weights = np.zeros((n, 2, _N_POSES))
    np.put_along_axis(weights, prev[..., None], (1.0 - s)[..., None], axis=-1)
    cur_w = np.take_along_axis(weights, cur[..., None], axis=-1) + s[..., None]
    np.put_along_axis(weights, cur[..., None], cur_w, axis=-1)
    raised = (1.0 - s) * prev_raised + s * cur_raised
    return weights, raised


def wrist_poses(seat_pos: np.ndarray, seat_yaw: np.ndarray, table_height: float,
                raised: np.ndarray, t_s: float, seed: int):
    """Stage poses of every scripted wrist.

    seat_pos: (N, 3) eye positions; seat_yaw: (N,) radians; raised: (N, 2) 0..1.
    Returns positions (N, 2, 3) and orientations (N, 2, 4). Resting hands lie palm-down on the
    table in front of their owner; raised hands lift, turn the palm inward and bob with speech.
    """
    n = seat_pos.shape[0]
    side = np.array([-1.0, 1.0])[None, :]                  # left hand on -X of the seat frame
    q_seat = P.quat_from_yaw_pitch_roll(seat_yaw)[:, None, :]
    person = np.arange(n)[:, None]
    jitter = _hash_uniform(seed, person, np.arange(2)[None, :], 5) - 0.5
    # Wrist in the seat frame (x right, y up, -z toward the table centre).
    bob = 0.025 * np.sin(2 * np.pi * (1.7 + 0.4 * jitter) * t_s + 6.0 * jitter) * raised
    local = np.stack([
        side * (0.20 + 0.04 * jitter) - side * 0.05 * raised,
        (table_height + 0.022 - seat_pos[:, 1:2]) + raised * (0.17 + 0.03 * jitter) + bob,
        np.full((n, 2), -(0.37 + 0.05 * jitter)) - 0.04 * raised,
    ], axis=-1)
    pos = seat_pos[:, None, :] + P.quat_rotate(q_seat, local)
    # Resting: palm down, fingers toward the table centre and slightly inward. Raised: roll the
    # palm toward the body's midline and tilt the fingers up a little.
    yaw_in = -side * np.radians(14.0)
    roll = -side * np.radians(65.0) * raised
    pitch = np.radians(18.0) * raised
    q_local = P.quat_from_yaw_pitch_roll(yaw_in, pitch, roll)
    return pos, P.quat_mul(q_seat, q_local)

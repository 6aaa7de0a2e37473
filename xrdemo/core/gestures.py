"""Hands as pose weights: scripted gestures, controller-synthesised finger curls, fading on tracking loss.

Scripted people (McNeill 1992's beat gestures): a speaker's dominant hand is lifted into gesture
space and strikes a "beat" on stressed syllables (the conversation's beat pulse already leads the
syllable by ~80 ms), the other hand mostly rests; listeners rest both hands flat/relaxed on the
table; at a change of speaker a listener sometimes points or reaches (open palm) toward the new
speaker, and a new speaker sometimes points at a listener. Output per hand: weights over
:data:`POSE_NAMES` (summing to 1), a lift 0..1 (0 = resting on the table, 1 = raised into gesture
space) and a world direction for pointing/reaching; ``hands.py`` turns these into joints.

Controllers without hand tracking: :func:`curls_from_controller` maps grip, trigger and thumb touch
to per-finger curls (K, 5) and spread (K,), for ``hands.hand_from_curls``.

Tracking loss: :func:`hand_fade_step` drops a lost hand's alpha to 0 within ``fade_out_s`` (0.25 s)
and brings it back on reacquire; a hand is drawn only while alpha > 0, so a stale pose never stays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

POSE_NAMES = ("open", "relaxed", "fist", "point", "pinch", "thumbs_up", "flat", "beat")
_P = {name: i for i, name in enumerate(POSE_NAMES)}


def _pose_vec(**w) -> np.ndarray:
    v = np.zeros(len(POSE_NAMES))
    for k, x in w.items():
        v[_P[k]] = x
    return v / v.sum()


REST = _pose_vec(relaxed=0.35, flat=0.65)
SPEAK_DOMINANT = _pose_vec(open=0.45, relaxed=0.55)
SPEAK_OTHER = _pose_vec(relaxed=0.7, flat=0.3)
POINT = _pose_vec(point=1.0)
REACH = _pose_vec(open=0.75, relaxed=0.25)
BEAT = _pose_vec(beat=1.0)


@dataclass
class GestureConfig:
    tau_s: float = 0.25               # pose weight smoothing
    lift_tau_s: float = 0.35
    right_handed: float = 0.85        # share of right-handed people
    listener_point_prob: float = 0.07  # at a speaker change, a listener points/reaches to them
    # (0.12 when turns were ~4 s; scaled with the ~1.7x more speaker changes of ~2 s turns so a
    # listener points as often per minute as before)
    speaker_point_prob: float = 0.15  # ... and the new speaker points at a listener
    point_delay_s: tuple = (0.3, 0.9)
    point_s: tuple = (0.8, 1.8)


@dataclass
class GestureState:
    weights: np.ndarray       # (N, 2, 8) smoothed pose weights (hand 0 = left, 1 = right)
    lift: np.ndarray          # (N, 2)
    dominant: np.ndarray      # (N, 2) bool: the dominant hand
    point_from: np.ndarray    # (N, 2) seconds
    point_until: np.ndarray   # (N, 2)
    point_target: np.ndarray  # (N, 2) int person
    reach: np.ndarray         # (N, 2) bool: open-palm reach instead of index point
    rng: np.random.Generator
    cfg: GestureConfig
    energy: np.ndarray        # (N,) smoothed speech energy
    last_t: float = math.nan
    by_hand: tuple | None = None  # (dominant, targets, lift base, lift gain, beat gain): see _by_hand
    points_over_s: float = -1e9   # every point/reach ends by then (the latest point_until set here)


def new_gestures(n: int, rng: np.random.Generator, cfg: GestureConfig | None = None) -> GestureState:
    cfg = cfg or GestureConfig()
    right = rng.random(n) < cfg.right_handed
    dominant = np.stack([~right, right], axis=1)
    return GestureState(
        weights=np.broadcast_to(REST, (n, 2, len(POSE_NAMES))).copy(), lift=np.zeros((n, 2)),
        dominant=dominant, point_from=np.full((n, 2), -1e9), point_until=np.full((n, 2), -1e9),
        point_target=np.zeros((n, 2), int), reach=np.zeros((n, 2), bool), rng=rng, cfg=cfg,
        energy=np.zeros(n),
    )


@dataclass
class GestureFrame:
    weights: np.ndarray     # (N, 2, 8) pose weights per hand, rows sum to 1 (POSE_NAMES order)
    lift: np.ndarray        # (N, 2) 0 resting on the table .. 1 raised
    point_dir: np.ndarray   # (N, 2, 3) unit world direction to point/reach along (forward otherwise)
    pointing: np.ndarray    # (N, 2) bool


def _on_floor_change(gs: GestureState, t: float, floor: int, n: int, scripted: np.ndarray) -> None:
    cfg, rng = gs.cfg, gs.rng
    for i in range(n):
        if not scripted[i]:
            continue
        if i == floor:
            p, target = cfg.speaker_point_prob, None
        elif floor >= 0:
            p, target = cfg.listener_point_prob, floor
        else:
            continue
        if rng.random() >= p or n < 2:
            continue
        if target is None:
            target = int(rng.choice([j for j in range(n) if j != i]))
        h = 1 if gs.dominant[i, 1] else 0
        start = t + rng.uniform(*cfg.point_delay_s)
        gs.point_from[i, h] = start
        gs.point_until[i, h] = start + rng.uniform(*cfg.point_s)
        gs.points_over_s = max(gs.points_over_s, float(gs.point_until[i, h]))
        gs.point_target[i, h] = target
        gs.reach[i, h] = rng.random() < 0.4


def gestures_step(gs: GestureState, t: float, speaking: np.ndarray, energy: np.ndarray, beat: np.ndarray,
                  floor: int, floor_changed: bool, head_pos: np.ndarray, forward: np.ndarray,
                  scripted: np.ndarray) -> GestureFrame:
    """Advance to ``t`` (s). head_pos (N, 3) m; forward (N, 3) unit base-head forward (world)."""
    cfg = gs.cfg
    n = speaking.shape[0]
    dt = 0.0 if math.isnan(gs.last_t) else max(t - gs.last_t, 0.0)
    gs.last_t = t
    if floor_changed:
        _on_floor_change(gs, t, floor, n, scripted)
    k = 1.0 - math.exp(-dt / cfg.tau_s) if dt > 0 else 1.0
    kl = 1.0 - math.exp(-dt / cfg.lift_tau_s) if dt > 0 else 1.0
    gs.energy += (energy - gs.energy) * k

    spk = speaking[:, None]                                     # (N, 1)
    if t < gs.points_over_s:
        pointing = (t >= gs.point_from) & (t < gs.point_until)  # (N, 2)
        any_pointing = bool(pointing.any())
    else:
        pointing = np.zeros((n, 2), bool)
        any_pointing = False
    speak_tgt, lift_base, lift_gain, beat_gain = _by_hand(gs)
    tgt = np.where(spk[..., None], speak_tgt, REST)
    lift_goal = np.where(spk, lift_base + lift_gain * gs.energy[:, None], 0.0)
    if any_pointing:
        tgt = np.where(pointing[..., None], np.where(gs.reach[..., None], REACH, POINT), tgt)
        lift_goal = np.where(pointing, 0.85, lift_goal)
    gs.weights += (tgt - gs.weights) * k
    gs.lift += (lift_goal - gs.lift) * kl

    # Beats strike on top of the smoothed pose (fast: they are the stroke itself).
    b = (beat[:, None] * beat_gain) * spk
    if any_pointing:
        b = b * (~pointing)
    weights = gs.weights * (1.0 - b)[..., None]
    weights[..., _P["beat"]] += b

    point_dir = forward[:, None, :].repeat(2, axis=1)
    if any_pointing:
        d = head_pos[gs.point_target] - head_pos[:, None, :]
        d /= np.maximum(np.sqrt((d * d).sum(axis=2, keepdims=True)), 1e-9)
        point_dir = np.where(pointing[..., None], d, point_dir)
    return GestureFrame(weights, gs.lift, point_dir, pointing)


def _by_hand(gs: GestureState):
    """Per-hand constants that follow from which hand is dominant (cached on the state):
    speaking pose targets (N, 2, 8), lift base and gain (N, 2), beat gain (N, 2)."""
    dom = gs.dominant
    if gs.by_hand is None or gs.by_hand[0] is not dom:
        gs.by_hand = (dom, np.where(dom[..., None], SPEAK_DOMINANT, SPEAK_OTHER), np.where(dom, 0.45, 0.1),
                      np.where(dom, 0.5, 0.2), np.where(dom, 0.9, 0.35))
    return gs.by_hand[1:]


def curls_from_controller(grip, trigger, thumb_touch, trigger_touch=None):
    """Finger curls and spread from controller inputs (K controllers).

    grip, trigger: (K,) 0..1 analogue values; thumb_touch: (K,) bool or 0..1 (thumb on a face
    button/thumbstick); trigger_touch: optional (K,) bool (index finger on the trigger; when it is
    not touching and the trigger is released, the index points straight).
    Returns curls (K, 5) in 0..1 for thumb, index, middle, ring, little (0 straight, 1 fully
    curled), non-decreasing in every input; spread (K,) 0..1 (1 fingers splayed), falling with grip.
    """
    g = np.clip(np.asarray(grip, float), 0.0, 1.0)
    tr = np.clip(np.asarray(trigger, float), 0.0, 1.0)
    th = np.clip(np.asarray(thumb_touch, float), 0.0, 1.0)
    g, tr, th = np.broadcast_arrays(g, tr, th)
    touch = 1.0 if trigger_touch is None else np.clip(np.asarray(trigger_touch, float), 0.0, 1.0)
    index = 0.05 + 0.2 * touch + 0.75 * tr   # straight when off the trigger, resting on it when touching
    thumb = 0.1 + 0.45 * th + 0.35 * g
    curls = np.stack([thumb, index, 0.1 + 0.9 * g, 0.12 + 0.88 * g, 0.15 + 0.85 * g], axis=-1)
    spread = 0.5 * (1.0 - g) * (1.0 - 0.5 * th)
    return np.clip(curls, 0.0, 1.0), spread


def hand_fade_step(alpha: np.ndarray, tracked: np.ndarray, dt_s: float,
                   fade_out_s: float = 0.25, fade_in_s: float = 0.15) -> np.ndarray:
    """Alpha per hand (K,): linear fade to 0 within ``fade_out_s`` of losing tracking, back to 1
    within ``fade_in_s`` once tracked. Draw the last valid pose only while alpha > 0."""
    step = np.where(tracked, dt_s / fade_in_s, -dt_s / fade_out_s)
    return np.minimum(np.maximum(alpha + step, 0.0), 1.0)

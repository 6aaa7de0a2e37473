"""Eyes, eyelids and head turns for everyone at the table: where people look, and how eyes move.

Gaze is modelled in each person's *base head frame* (the head orientation passed in: a seat-facing
pose for scripted people, the tracked head for real ones) as (yaw, pitch) radians, yaw > 0 to the
left, pitch > 0 up. A gaze target is a reference (another person's head, or straight ahead) plus an
angular offset (aversion, looking down at the table, micro-saccade jitter).

- Scripted people choose targets from the conversation. Listeners alternate ~3 s log-normal looks
  at the speaker with looks elsewhere (away, down at the table, now and then another listener):
  ~61 % of listening time on a face, nearly all of it the speaker's (Argyle & Cook 1976; Vertegaal
  et al. 2001). Speakers look away as a long turn starts, alternate short looks at their addressee
  with looks away, and look up 0.6–1.2 s before the turn ends — at the next speaker, when the
  conversation knows who that is (Kendon 1967; Lerner 2003).
- Saccades follow the main sequence, duration = 2.2·A + 21 ms (A in degrees; Lee, Badler & Badler
  2002), with a minimum-jerk profile. Within a fixation the eyes scan the face looked at (eyes,
  nose, mouth) or shift a little while looking away, after log-normal intervals (0.2 s + a
  log-normal of median 0.2 s): ~2 saccades/s with a long right tail, no maximum. After a saccade the
  eyes stay on the (possibly moving) target: world gaze is held while the head moves (VOR).
- Head–eye coordination: the eyes lead; for shifts beyond ~10° the head follows with a first-order
  lag (tau 0.15 s) and takes ~80 % of the excess; eye-in-head is limited to ±35° yaw, ±25° pitch.
- Blinks (Bentivoglio et al. 1997): log-normal intervals with a mean of 60/17 s at rest and 60/26 s
  while speaking; log-normal durations (median 0.2 s, redrawn outside 0.07–1 s), closing in 30 %,
  opening in 70 %. Each frame shows the most closed moment since the last frame, so every blink is
  seen fully closed at any frame rate.
- Head-driven people (the local user and tracked remote people) get eye contact from head pose: when
  the head points within a cone (enter 15°, leave 22°) around someone's head, their eyes meet that
  person's eyes, with small saccades and natural breaks (a 0.3–0.9 s look away after a log-normal
  1.5–6 s of contact). With an eye tracker the measured gaze is used as is.

Everything is vectorised over N people; target choices, blinks and small saccades are rare events
handled one person at a time. The parameters, state, saccade and blink primitives live in
``gaze_moves.py``, the scripted people's choices in ``gaze_policy.py``; this module steps them. Time is passed in (seconds); randomness comes from the state's
``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .gaze_moves import (DEG, GazeConfig, GazeState, _angles_to, _aversion, _blink_closure_1,  # noqa: F401
                         _blink_interval_units, _scan_interval, _scan_offset, _set_target,
                         _start_saccade, blink_closure, blink_duration_s, saccade_duration_s)
from .gaze_policy import _PLAN_END, _choose_scripted, _on_floor_change


def new_gaze(n: int, rng: np.random.Generator, head_driven=None, t0_s: float = 0.0,
             cfg: GazeConfig | None = None, record: bool = False) -> GazeState:
    cfg = cfg or GazeConfig()
    hd = np.zeros(n, bool) if head_driven is None else np.asarray(head_driven, bool).copy()
    gs = GazeState(
        n=n, rng=rng, cfg=cfg, head_driven=hd,
        anchor=np.full(n, -1), looking=np.zeros(n, bool),
        base_ang=np.zeros((n, 2)), jitter=np.zeros((n, 2)),
        fix_start=np.full(n, t0_s - 10.0), fix_until=t0_s + rng.uniform(0.0, 0.5, n),
        micro_next=t0_s + cfg.refractory_s + rng.lognormal(math.log(cfg.scan_median_s), cfg.scan_sigma, n),
        sacc_t0=np.full(n, t0_s - 10.0), sacc_dur=np.full(n, 0.03), sacc_from=np.zeros((n, 2)),
        eye=np.zeros((n, 2)), head=np.zeros((n, 2)), head_goal=np.zeros((n, 2)), head_vel=np.zeros((n, 2)),
        head_next=np.zeros((n, 2)), head_next_t=np.full(n, math.inf),
        blink_budget=rng.uniform(0.05, 1.0, n), blink_t0=np.full(n, t0_s - 10.0),
        blink_dur=np.full(n, 0.2), log=[] if record else None,
        plan=np.zeros(n, int), end_look_t=np.full(n, math.inf), addressee=np.full(n, -1),
    )
    gs.fix_until[hd] = math.inf  # head-driven people switch on their head, not on a timer
    _track_all(gs)
    gs.next_event = float(min(gs.fix_until.min(), gs.micro_next.min()))
    return gs


def _track_all(gs: GazeState) -> None:
    """Treat every person's last saccade and blink as possibly in flight (they drop out of
    ``saccading`` / ``blinking`` once over)."""
    gs.saccading = dict(enumerate(zip(gs.sacc_t0.tolist(), gs.sacc_dur.tolist())))
    gs.blinking = dict(enumerate(zip(gs.blink_t0.tolist(), gs.blink_dur.tolist())))


@dataclass
class GazeFrame:
    """Per-person gaze outputs."""

    eye_dir: np.ndarray      # (N, 3) unit, world: where the eyes point
    eye_in_head: np.ndarray  # (N, 2) yaw, pitch of the eyes in the (offset) head, rad
    head_offset: np.ndarray  # (N, 4) quaternion to apply after the base head: q_head = q_base * q_off
    eyelid: np.ndarray       # (N,) 0 open .. 1 closed
    target: np.ndarray       # (N,) int: person whose eyes are fixated, -1 none


def _ref_angles(gs: GazeState, head_pos: np.ndarray, R: np.ndarray, R_flip: np.ndarray | None = None):
    """Yaw/pitch of each person's anchor head in their base head frame; (0, 0) for anchor -1.

    R_flip: optional R * (-1, 1, -1) (columns x and z negated), when the caller has it.
    """
    a = gs.anchor
    has = a >= 0
    d = head_pos.take(np.where(has, a, _arange(gs.n)), axis=0)
    d -= head_pos
    if R_flip is None:
        R_flip = R * _FLIP_XZ
    loc = np.matmul(d[:, None, :], R_flip)[:, 0]          # (-x, y, -z) of d in the head frame
    den = np.empty((gs.n, 2))
    den[:, 0] = loc[:, 2]
    np.hypot(loc[:, 0], loc[:, 2], out=den[:, 1])
    ang = np.arctan2(loc[:, :2], den)                      # yaw = atan2(-x, -z), pitch = atan2(y, |xz|)
    return np.where(has[:, None], ang, 0.0)


_FLIP_XZ = np.array([-1.0, 1.0, -1.0])
_HEAD_Q_ORDER = np.array([1, 2, 3, 0])
_HEAD_Q_SIGN = np.array([1.0, 1.0, -1.0, 1.0])


def _head_driven_people(gs: GazeState) -> list:
    """Indices of the head-driven people (cached on the state with _head_constants)."""
    _head_constants(gs)
    return gs.head_cache[6]


_ONES: dict = {}
_ARANGES: dict = {}


def _arange(n: int) -> np.ndarray:
    """0..n-1, shared (read only)."""
    m = _ARANGES.get(n)
    if m is None:
        m = _ARANGES[n] = np.arange(n)
        m.flags.writeable = False
    return m


def _ones(n: int) -> np.ndarray:
    """A fresh (n, 1) array of ones."""
    m = _ONES.get(n)
    if m is None:
        m = _ONES[n] = np.ones((n, 1))
    return m.copy()


def _head_constants(gs: GazeState):
    """(N, 1) head share (0 for head-driven people), and the eye-in-head limits (2,) and their
    negatives, cached on the state while head_driven and the limits are the same objects."""
    c = gs.head_cache
    if c is None or c[0] is not gs.head_driven or c[1] is not gs.cfg.eye_range or c[2] != gs.cfg.head_share:
        lim = np.array(gs.cfg.eye_range)
        c = gs.head_cache = (gs.head_driven, gs.cfg.eye_range, gs.cfg.head_share,
                             np.where(gs.head_driven, 0.0, gs.cfg.head_share)[:, None], lim, -lim,
                             np.flatnonzero(gs.head_driven).tolist())
    return c[3:6]
_ONES3 = np.ones(3)


def _head_driven_contact(gs: GazeState, t: float, head_pos, R, idx, local_index, tracker_dir):
    """Eye contact from head pose (or the eye tracker for the local user) for head-driven people."""
    cfg, rng = gs.cfg, gs.rng
    n = gs.n
    for i in idx:
        # Nothing below changes while a saccade is refractory, or before the fixation may switch
        # and is not yet due (then the geometry is not needed).
        if t < gs.sacc_t0[i] + cfg.refractory_s or (t < gs.fix_start[i] + cfg.min_fixation_s
                                                     and t < gs.fix_until[i]):
            continue
        d = head_pos - head_pos[i]
        if i == local_index and tracker_dir is not None:
            fwd = np.asarray(tracker_dir, float)
            enter, leave = cfg.tracker_enter, cfg.tracker_exit
        else:
            fwd = -R[i][:, 2]
            enter, leave = cfg.contact_enter, cfg.contact_exit
        dist = np.sqrt(d * d @ _ONES3)
        dist[i] = 1.0
        cosang = (d @ fwd) / np.maximum(dist, 1e-9) / max(math.sqrt(fwd @ fwd), 1e-9)
        ang = np.arccos(np.minimum(np.maximum(cosang, -1.0), 1.0))
        ang[i] = math.pi
        cur = int(gs.anchor[i])
        if cur >= 0 and ang[cur] < leave:
            new = cur
        else:
            j = int(np.argmin(ang)) if n > 1 else -1
            new = j if (j >= 0 and ang[j] < enter) else -1
        if new != cur and t >= gs.fix_start[i] + cfg.min_fixation_s:
            if new >= 0:
                hold = rng.lognormal(math.log(cfg.contact_hold_median_s), 0.4)
                _set_target(gs, i, t, new, True, np.zeros(2), t + hold, head_pos, R, "target")
            else:
                _set_target(gs, i, t, -1, False, np.array([0.0, -4.0 * DEG]), math.inf,
                            head_pos, R, "target")
        elif new >= 0 and t >= gs.fix_until[i]:
            if gs.looking[i]:  # natural break: look away briefly, then back
                gs.looking[i] = False
                gs.base_ang[i] = _aversion(rng, 0.6) * 0.6
                gs.fix_until[i] = t + rng.uniform(*cfg.contact_break_s)
                gs.fix_start[i] = t
                _start_saccade(gs, i, t, _angles_to(head_pos, R, i, new) + gs.base_ang[i], "avert")
            else:
                hold = rng.lognormal(math.log(cfg.contact_hold_median_s), 0.4)
                _set_target(gs, i, t, new, True, np.zeros(2), t + hold, head_pos, R, "target")


def gaze_step(gs: GazeState, t: float, head_pos: np.ndarray, R_base: np.ndarray, speaking: np.ndarray,
              floor: int, floor_changed: bool, local_index: int = -1, tracker_dir=None,
              turn_end: np.ndarray | None = None, next_speaker: int = -1) -> GazeFrame:
    """Advance gaze to time ``t`` (seconds).

    head_pos: (N, 3) world eye-centre positions, metres. R_base: (N, 3, 3) rotation matrices of the
    base head orientations (columns = head x, y, z axes in world). speaking: (N,) bool; floor: the
    floor holder or -1. tracker_dir: optional (3,) world gaze direction of the local user's eye tracker.
    turn_end: optional (N,) seconds, when each person's current or last turn ends (the
    conversation's plan; read, not copied); next_speaker: who speaks next (-1: unknown). With them
    a speaker looks up before the turn ends, at the next speaker.
    """
    cfg = gs.cfg
    dt = 0.0 if math.isnan(gs.last_t) else max(t - gs.last_t, 0.0)
    if t < gs.last_t:
        _track_all(gs)              # time went back: any saccade or blink may be in flight again
    gs.last_t = t
    gs.last_dt = dt
    if turn_end is not None:
        gs.turn_end = turn_end
    gs.next_speaker = next_speaker
    if floor_changed:
        scripted_idx = np.flatnonzero(~gs.head_driven)
        if len(scripted_idx):
            _on_floor_change(gs, t, floor, scripted_idx)
            gs.next_event = min(gs.next_event, float(gs.fix_until.min()), float(gs.end_look_t.min()))
    hd_idx = _head_driven_people(gs)
    if hd_idx:
        _head_driven_contact(gs, t, head_pos, R_base, hd_idx, local_index, tracker_dir)
    if t >= gs.next_event:
        for i in np.nonzero(gs.end_look_t <= t)[0]:     # a speaker looks up before the turn ends
            gs.end_look_t[i] = math.inf
            if i == floor and not gs.head_driven[i]:
                gs.plan[i] = _PLAN_END
                gs.fix_until[i] = t
        for i in np.nonzero(gs.fix_until <= t)[0]:
            if not gs.head_driven[i]:
                if t < gs.sacc_t0[i] + cfg.refractory_s:
                    gs.fix_until[i] = gs.sacc_t0[i] + cfg.refractory_s
                    continue
                _choose_scripted(gs, int(i), t, speaking, floor, head_pos, R_base)
        for i in np.nonzero(gs.micro_next <= t)[0]:
            i = int(i)
            if t < gs.sacc_t0[i] + cfg.refractory_s:
                gs.micro_next[i] = gs.sacc_t0[i] + cfg.refractory_s
                continue
            a = int(gs.anchor[i])
            gs.jitter[i] = _scan_offset(gs, i, a, bool(gs.looking[i]), head_pos)
            ref = _angles_to(head_pos, R_base, i, a) if a >= 0 else np.zeros(2)
            _start_saccade(gs, i, t, ref + gs.base_ang[i] + gs.jitter[i], "micro")
        gs.next_event = float(min(gs.fix_until.min(), gs.micro_next.min(), gs.end_look_t.min()))
    # Blinks: spend the interval budget at the current rate; a blink when it runs out.
    if dt > 0.0:
        gs.blink_budget -= np.where(speaking, dt * cfg.blink_rate_talk / 60.0, dt * cfg.blink_rate_rest / 60.0)
        if gs.blink_budget.min() <= 0.0:
            for i in np.nonzero(gs.blink_budget <= 0.0)[0]:
                i = int(i)
                gs.blink_t0[i] = t
                gs.blink_dur[i] = blink_duration_s(gs)
                # The interval counts from the end of this blink.
                gs.blink_budget[i] = _blink_interval_units(gs) + gs.blink_dur[i] * cfg.blink_rate_rest / 60.0
                gs.blinking[i] = (t, float(gs.blink_dur[i]))

    # Eyes: minimum-jerk saccade from the onset angles to the (moving) target.
    R_flip = R_base * _FLIP_XZ
    to = _ref_angles(gs, head_pos, R_base, R_flip) + gs.base_ang + gs.jitter
    # A finished saccade has s = 1, so p = 1: only the few in flight need the profile.
    p = _ones(gs.n)
    for i, (t0, dur) in list(gs.saccading.items()):
        s = (t - t0) / dur
        if s >= 1.0:
            del gs.saccading[i]
            continue
        s = max(s, 0.0)
        p[i, 0] = s * s * s * (10.0 + s * (6.0 * s - 15.0))
    eye = gs.sacc_from + (to - gs.sacc_from) * p
    if tracker_dir is not None and local_index >= 0:
        loc = R_base[local_index].T @ np.asarray(tracker_dir, float)
        eye[local_index] = (math.atan2(-loc[0], -loc[2]), math.atan2(loc[1], math.hypot(loc[0], loc[2])))

    # Head: a critically damped turn toward the goal its last gaze shift set (scripted people
    # only): it starts from rest after the eyes, its speed rises and falls (bell-shaped), exact
    # for any frame interval: e(t) = (e0 + (v0 + w e0) t) exp(-w t).
    _, lim, neg_lim = _head_constants(gs)
    if np.count_nonzero(gs.head_next_t <= t):
        due = gs.head_next_t <= t
        gs.head_goal[due] = gs.head_next[due]
        gs.head_next_t[due] = math.inf
    if dt > 0:
        w = cfg.head_omega
        decay = math.exp(-w * dt)
        e0 = gs.head - gs.head_goal
        a = gs.head_vel + w * e0
        gs.head = gs.head_goal + (e0 + a * dt) * decay
        gs.head_vel = (gs.head_vel - w * a * dt) * decay
    ein = np.minimum(np.maximum(eye - gs.head, neg_lim), lim)
    eye = gs.head + ein
    gs.eye = eye

    c, sn = np.cos(eye), np.sin(eye)                       # (N, 2): yaw, pitch
    loc = np.empty((gs.n, 3, 1))                           # (sy*cp, sp, cy*cp); R_flip negates x, z
    np.multiply(sn[:, 0], c[:, 1], out=loc[:, 0, 0])
    loc[:, 1, 0] = sn[:, 1]
    np.multiply(c[:, 0], c[:, 1], out=loc[:, 2, 0])
    eye_dir = np.matmul(R_flip, loc)[:, :, 0]

    # Head offset q = q_yaw * q_pitch = (cy*sp, sy*cp, -sy*sp, cy*cp) of the half-angles.
    half = 0.5 * gs.head
    cs = np.empty((gs.n, 2, 2))                            # (person, yaw/pitch, cos/sin)
    np.cos(half, out=cs[:, :, 0])
    np.sin(half, out=cs[:, :, 1])
    outer = (cs[:, 0, :, None] * cs[:, 1, None, :]).reshape(gs.n, 4)  # cy*cp, cy*sp, sy*cp, sy*sp
    head_q = outer[:, _HEAD_Q_ORDER] * _HEAD_Q_SIGN

    # Lids: the blink, else lowered with a downward gaze. A frame shows the most closed moment of
    # the interval since the last frame, so every blink is seen fully closed at any frame rate.
    eyelid = np.minimum(np.maximum((-10.0 * DEG) - eye[:, 1], 0.0) * 0.8, 0.35)
    for i, (t0, dur) in list(gs.blinking.items()):      # outside a blink its term is 0
        u = (t - t0) / dur
        if u >= 1.0 and (t - dt - t0) / dur >= 1.0:
            del gs.blinking[i]
            continue
        eyelid[i] = max(_blink_closure_1((t - dt - t0) / dur, u), eyelid[i])
    target = np.where(gs.looking, gs.anchor, -1)
    return GazeFrame(eye_dir, ein, head_q, eyelid, target)


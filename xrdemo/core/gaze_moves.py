"""Gaze primitives shared by the gaze step (core/gaze.py) and the scripted gaze choices
(core/gaze_policy.py): parameters, per-person state, saccades onto a target (main sequence; the
head's share of the shift), where on a face the eyes land, and blinks. Pure numpy, time passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

DEG = math.pi / 180.0


@dataclass
class GazeConfig:
    """Gaze parameters (seconds, radians unless noted)."""

    # Listeners (Argyle & Cook 1976: ~3 s glances; Vertegaal et al. 2001: 88 % of a listener's
    # looks at faces are at the speaker): a look at the speaker, then something else, then back.
    listener_glance_median_s: float = 3.6  # look at the speaker, log-normal
    listener_glance_sigma: float = 0.55
    listener_return_prob: float = 0.5     # after looking elsewhere, back to the speaker
    listener_other_prob: float = 0.1      # looking elsewhere: at another listener's face ...
    listener_other_median_s: float = 0.9  # ... this long (log-normal, sigma 0.5)
    avert_median_s: float = 2.5           # ... else away / at the table, log-normal
    avert_sigma: float = 0.6
    # Speakers (Kendon 1967: > 70 % of long utterances start looking away, > 70 % end looking up).
    speaker_listener_prob: float = 0.6    # after looking away, look at a listener (else away again)
    speaker_addressee_prob: float = 0.75  # a speaker's look at a listener goes to the addressee
    speaker_look_median_s: float = 1.3    # speaker's look at a listener, log-normal (sigma 0.45)
    speaker_avert_median_s: float = 1.5   # speaker's look away, log-normal (sigma avert_sigma)
    long_turn_s: float = 2.5              # a turn planned at least this long is "long"
    turn_start_avert_long: float = 0.75   # a new speaker looks away as a long turn starts ...
    turn_start_avert_short: float = 0.4   # ... and as a short one starts
    turn_start_avert_median_s: float = 1.6  # that first look away, log-normal (sigma 0.35)
    turn_end_lead_s: tuple = (0.6, 1.2)   # the speaker looks up this long before the turn ends ...
    turn_end_next_prob: float = 0.8       # ... at the next speaker (gaze selects the next speaker)
    turn_end_other_prob: float = 0.12     # ... or at another listener (else not at all)
    follow_floor_prob: float = 0.7        # listeners turn to a new speaker ...
    follow_delay_s: tuple = (0.15, 0.6)   # ... after this reaction time
    min_fixation_s: float = 0.25          # no target switch sooner than this after the last one
    refractory_s: float = 0.2             # no saccade sooner than this after the previous onset
    # Saccades within a fixation (scanning a face between eyes, nose and mouth, or small shifts
    # while looking away): intervals refractory_s + log-normal (a long right tail, no maximum).
    scan_median_s: float = 0.2
    scan_sigma: float = 0.9
    scan_amp: tuple = (0.5 * DEG, 3.0 * DEG)  # small saccades while not on a face
    head_threshold: float = 10.0 * DEG    # shifts below this are eyes only
    head_share: float = 0.8               # share of the excess taken by the head
    head_tau_s: float = 0.15              # (kept for configs; the head now moves as below)
    head_omega: float = 9.0               # rad/s: critically damped head turn (bell-shaped speed,
                                          # peak ~ 200°/s for 60°, ~0.11 s after it starts)
    head_latency_s: float = 0.04          # the head starts this long after the eyes (eyes lead)
    eye_range: tuple = (35.0 * DEG, 25.0 * DEG)  # eye-in-head limits (yaw, pitch)
    blink_rate_rest: float = 17.0         # per minute
    blink_rate_talk: float = 26.0
    blink_sigma: float = 0.5              # log-normal sigma of blink intervals
    blink_dur_median_s: float = 0.2       # blink duration, log-normal (Stern et al. 1984: ~100 ms
    blink_dur_sigma: float = 0.32         # closing, ~100 ms reopening; Ousler et al. 2014: 0.2 %
    blink_dur_range: tuple = (0.07, 1.0)  # of blinks >= 0.5 s); redrawn (not clipped) outside this
    contact_enter: float = 15.0 * DEG     # head-pose eye contact cone (hysteresis)
    contact_exit: float = 22.0 * DEG
    contact_hold_median_s: float = 3.0    # eye contact before a natural break
    contact_break_s: tuple = (0.3, 0.9)
    tracker_enter: float = 5.0 * DEG      # with an eye tracker, "looking at" cone
    tracker_exit: float = 8.0 * DEG


@dataclass
class GazeState:
    """Per-person gaze state (arrays (N,) unless noted). Build with :func:`new_gaze`."""

    n: int
    rng: np.random.Generator
    cfg: GazeConfig
    head_driven: np.ndarray     # bool: gaze inferred from the tracked head, not the conversation
    anchor: np.ndarray          # int: reference person, -1 = straight ahead
    looking: np.ndarray         # bool: fixating the anchor's eyes (else averted from it)
    base_ang: np.ndarray        # (N, 2) angular offset from the reference (aversion), rad
    jitter: np.ndarray          # (N, 2) small-saccade offset, rad
    fix_start: np.ndarray       # time of the last target switch
    fix_until: np.ndarray       # next target choice
    micro_next: np.ndarray
    sacc_t0: np.ndarray
    sacc_dur: np.ndarray
    sacc_from: np.ndarray       # (N, 2) eye angles at saccade onset
    eye: np.ndarray             # (N, 2) eye angles (base frame), last frame
    head: np.ndarray            # (N, 2) head offset yaw/pitch
    blink_budget: np.ndarray    # remaining blink-interval "work": a blink when it reaches 0
    blink_t0: np.ndarray
    blink_dur: np.ndarray
    head_goal: np.ndarray | None = None   # (N, 2) where the head is turning to (set per gaze shift)
    head_vel: np.ndarray | None = None    # (N, 2) rad/s
    head_next: np.ndarray | None = None   # (N, 2) the goal of the latest shift, taken up at ...
    head_next_t: np.ndarray | None = None  # (N,) ... this time (inf: none pending)
    next_event: float = 0.0
    last_t: float = math.nan
    log: list | None = None     # when a list: (t, person, kind, amplitude_deg, duration_s) per saccade
    saccading: dict = field(default_factory=dict)  # person -> (sacc_t0, sacc_dur) of saccades not known to be over
    blinking: dict = field(default_factory=dict)   # person -> (blink_t0, blink_dur) of blinks not known to be over
    head_cache: tuple | None = None  # see _head_constants
    plan: np.ndarray | None = None   # (N,) int: what the next scripted choice is for (_PLAN_*)
    end_look_t: np.ndarray | None = None  # (N,) when a speaker looks up before the turn ends (inf: no)
    addressee: np.ndarray | None = None   # (N,) int: whom a speaker talks to (-1: nobody)
    prev_floor: int = -1         # who held the floor before the current holder
    turn_end: np.ndarray | None = None    # (N,) the conversation's turn ends (set by gaze_step)
    next_speaker: int = -1       # the next turn's speaker, when the conversation knows it
    last_dt: float = 0.0         # the last frame interval (lids show the most closed moment of it)


def saccade_duration_s(amplitude_rad):
    """Main sequence (Lee, Badler & Badler 2002): 2.2 ms per degree + 21 ms. Broadcasts."""
    return (2.2 * np.asarray(amplitude_rad) / DEG + 21.0) * 1e-3


def _angles_to(head_pos, R, i, j):
    d = head_pos[j] - head_pos[i]
    loc = R[i].T @ d
    return np.array([math.atan2(-loc[0], -loc[2]), math.atan2(loc[1], math.hypot(loc[0], loc[2]))])


def _amplitude(a, b):
    """Angular distance between two (yaw, pitch) gaze directions, rad (small-angle accurate)."""
    dy = (a[..., 0] - b[..., 0]) * np.cos(0.5 * (a[..., 1] + b[..., 1]))
    return np.sqrt(dy * dy + (a[..., 1] - b[..., 1]) ** 2)


def _start_saccade(gs: GazeState, i: int, t: float, to: np.ndarray, kind: str) -> None:
    amp = float(_amplitude(gs.eye[i], to))
    gs.sacc_from[i] = gs.eye[i]
    gs.sacc_t0[i] = t
    gs.sacc_dur[i] = float(saccade_duration_s(amp))
    gs.saccading[i] = (t, float(gs.sacc_dur[i]))
    gs.micro_next[i] = t + _scan_interval(gs)
    if not gs.head_driven[i]:
        # The head takes a share of what the eyes would have to turn beyond the eyes-only range,
        # measured from where the head points now: its part grows with the size of the shift.
        cfg = gs.cfg
        d = np.asarray(to, float) - gs.head[i]
        gs.head_next[i] = gs.head[i] + np.sign(d) * np.maximum(np.abs(d) - cfg.head_threshold, 0.0) * cfg.head_share
        gs.head_next_t[i] = t + cfg.head_latency_s
    if gs.log is not None:
        gs.log.append((t, i, kind, amp / DEG, gs.sacc_dur[i]))
    if amp > 30.0 * DEG and gs.blink_budget[i] < 0.3:
        gs.blink_budget[i] = 0.0  # large gaze shifts tend to carry a blink


def _aversion(rng, down_bias: float = 1.0) -> np.ndarray:
    """Angular offset for looking away: mostly sideways and down."""
    yaw = rng.uniform(5.0, 20.0) * DEG * rng.choice([-1.0, 1.0])
    pitch = -rng.uniform(8.0, 20.0) * DEG * down_bias
    return np.array([yaw, pitch])


_FACE_POINTS = np.array([[0.032, 0.0], [-0.032, 0.0], [0.0, -0.035], [0.0, -0.075]])
"""Where on a face the eyes land (metres right/up of the eye centre): either eye, nose, mouth."""
_FACE_P = np.array([0.3, 0.3, 0.15, 0.25])
_FACE_CUM = np.cumsum(_FACE_P).tolist()
_FACE_POINTS_L = _FACE_POINTS.tolist()


def _scan_interval(gs: GazeState) -> float:
    """Time to the next small saccade within a fixation: the refractory time plus a log-normal
    (fixation durations are right-skewed, with no upper bound)."""
    cfg = gs.cfg
    return cfg.refractory_s + float(gs.rng.lognormal(math.log(cfg.scan_median_s), cfg.scan_sigma))


def _lognormal(rng, median: float, sigma: float) -> float:
    return float(rng.lognormal(math.log(median), sigma))


def _scan_offset(gs: GazeState, i: int, anchor: int, looking: bool, head_pos) -> np.ndarray:
    """(yaw, pitch) offset of the next fixation point: a spot on the fixated face (eyes, nose,
    mouth; metres over the distance to it), or a small random shift while looking away."""
    rng = gs.rng
    if looking and anchor >= 0:
        p, q = head_pos[anchor], head_pos[i]
        d = math.sqrt((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 + (p[2] - q[2]) ** 2)
        u = rng.random()
        k = 0 if u < _FACE_CUM[0] else 1 if u < _FACE_CUM[1] else 2 if u < _FACE_CUM[2] else 3
        x, y = _FACE_POINTS_L[k]
        s = 1.0 / max(d, 0.3)
        return np.array([(x + rng.normal(0.0, 0.006)) * s, (y + rng.normal(0.0, 0.006)) * s])
    amp = rng.uniform(*gs.cfg.scan_amp)
    phi = rng.uniform(0.0, 2.0 * math.pi)
    return np.array([amp * math.cos(phi), amp * math.sin(phi)])


def _set_target(gs, i, t, anchor, looking, ang, until, head_pos, R, kind):
    gs.anchor[i] = anchor
    gs.looking[i] = looking
    gs.base_ang[i] = ang
    gs.jitter[i] = _scan_offset(gs, i, anchor, looking, head_pos) if looking else 0.0
    gs.fix_start[i] = t
    gs.fix_until[i] = until
    ref = _angles_to(head_pos, R, i, anchor) if anchor >= 0 else np.zeros(2)
    _start_saccade(gs, i, t, ref + ang + gs.jitter[i], kind)


def _blink_interval_units(gs: GazeState) -> float:
    """A log-normal blink interval in units of the mean interval (mean 1).

    The interval is spent at the current blink rate (rest or talking), so a person who starts
    talking mid-interval blinks sooner: each state keeps its own rate exactly.
    """
    sig = gs.cfg.blink_sigma
    return float(gs.rng.lognormal(-0.5 * sig * sig, sig))


BLINK_CLOSED_AT = 0.3
"""A blink's lids are fully closed at this fraction of its duration (fast close, slower open)."""


def blink_closure(u0, u1):
    """Most closed the lids get over the blink phases u0..u1 (fractions of the blink, u0 <= u1):
    closing linearly to 1 at BLINK_CLOSED_AT, then opening linearly to 0 at 1. Broadcasts."""
    u0, u1 = np.asarray(u0, float), np.asarray(u1, float)

    def at(u):
        return np.clip(np.minimum(u / BLINK_CLOSED_AT, (1.0 - u) / (1.0 - BLINK_CLOSED_AT)), 0.0, 1.0)

    out = np.where((u0 <= BLINK_CLOSED_AT) & (u1 >= BLINK_CLOSED_AT), 1.0, np.maximum(at(u0), at(u1)))
    return float(out) if out.ndim == 0 else out


def _blink_closure_1(u0: float, u1: float) -> float:
    """blink_closure for one person, in plain floats (the per-frame path)."""
    if u0 <= BLINK_CLOSED_AT <= u1:
        return 1.0
    u = u1 if u1 <= BLINK_CLOSED_AT else u0   # the phase nearer the peak (closing: later; opening: earlier)
    return min(max(min(u * (1.0 / BLINK_CLOSED_AT), (1.0 - u) * (1.0 / (1.0 - BLINK_CLOSED_AT))), 0.0), 1.0)


def blink_duration_s(gs: GazeState) -> float:
    """A blink's duration: log-normal, redrawn while outside blink_dur_range (no pile-up at a
    bound)."""
    cfg = gs.cfg
    lo, hi = cfg.blink_dur_range
    while True:
        d = _lognormal(gs.rng, cfg.blink_dur_median_s, cfg.blink_dur_sigma)
        if lo <= d <= hi:
            return d

"""Eyes, eyelids and head turns for everyone at the table: where people look, and how eyes move.

Gaze is modelled in each person's *base head frame* (the head orientation passed in: a seat-facing
pose for scripted people, the tracked head for real ones) as (yaw, pitch) radians, yaw > 0 to the
left, pitch > 0 up. A gaze target is a reference (another person's head, or straight ahead) plus an
angular offset (aversion, looking down at the table, micro-saccade jitter).

- Scripted people choose targets from the conversation (Argyle & Cook 1976): listeners look at the
  speaker in 1–7 s glances (~75 % of listening time), speakers look at listeners less than half the
  time and look away (gaze aversion, most of all at the start of a turn).
- Saccades follow the main sequence, duration = 2.2·A + 21 ms (A in degrees; Lee, Badler & Badler
  2002), with a minimum-jerk profile; small saccades (0.3–1.2°) jitter fixations. After a saccade the
  eyes stay on the (possibly moving) target: world gaze is held while the head moves (VOR).
- Head–eye coordination: the eyes lead; for shifts beyond ~10° the head follows with a first-order
  lag (tau 0.15 s) and takes ~80 % of the excess; eye-in-head is limited to ±35° yaw, ±25° pitch.
- Blinks (Bentivoglio et al. 1997): log-normal intervals with a mean of 60/17 s at rest and 60/26 s
  while speaking; 0.1–0.4 s each, closing fast and opening slower.
- Head-driven people (the local user and tracked remote people) get eye contact from head pose: when
  the head points within a cone (enter 15°, leave 22°) around someone's head, their eyes meet that
  person's eyes, with small saccades and natural breaks (a 0.3–0.9 s look away after a log-normal
  1.5–6 s of contact). With an eye tracker the measured gaze is used as is.

Everything is vectorised over N people; target choices, blinks and small saccades are rare events
handled one person at a time. Time is passed in (seconds); randomness comes from the state's
``numpy.random.Generator``.
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


def saccade_duration_s(amplitude_rad):
    """Main sequence (Lee, Badler & Badler 2002): 2.2 ms per degree + 21 ms. Broadcasts."""
    return (2.2 * np.asarray(amplitude_rad) / DEG + 21.0) * 1e-3


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


_PLAN_NONE, _PLAN_START, _PLAN_END, _PLAN_FOLLOW = 0, 1, 2, 3
"""What a scripted person's next gaze choice is for: the usual rhythm, the start of their own
turn, the end of their own turn (look up at the next speaker), turning to a new speaker."""

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


def _look_at(gs, i, t, j, until, head_pos, R):
    _set_target(gs, i, t, j, True, np.zeros(2), until, head_pos, R, "target")


def _look_away(gs, i, t, until, head_pos, R, table: bool = False):
    """Avert: sideways and down from someone (or down at the table in front, when table)."""
    rng = gs.rng
    if table or gs.n < 2:
        ang = np.array([rng.uniform(-15, 15) * DEG, -rng.uniform(15, 35) * DEG])
        _set_target(gs, i, t, -1, False, ang, until, head_pos, R, "avert")
        return
    j = int(rng.integers(gs.n - 1))
    j += j >= i
    _set_target(gs, i, t, j, False, _aversion(rng), until, head_pos, R, "avert")


def _other(gs: GazeState, i: int, exclude=()) -> int:
    """A random person other than i (and not in exclude when possible)."""
    pool = [j for j in range(gs.n) if j != i and j not in exclude] or [j for j in range(gs.n) if j != i]
    return int(gs.rng.choice(pool))


def _choose_scripted(gs: GazeState, i: int, t: float, speaking, floor: int, head_pos, R) -> None:
    """Pick person i's next gaze target from the conversation (a scripted person)."""
    cfg, rng, n = gs.cfg, gs.rng, gs.n
    plan = int(gs.plan[i])
    gs.plan[i] = _PLAN_NONE
    if n < 2:
        _look_away(gs, i, t, t + _lognormal(rng, cfg.speaker_avert_median_s, cfg.avert_sigma), head_pos, R)
        return
    if plan == _PLAN_END:
        # Look up as the turn ends, at the next speaker (gaze selects who talks next), and keep
        # looking while they take the floor.
        nxt = gs.next_speaker
        end = gs.turn_end[i] if gs.turn_end is not None else t
        until = max(end, t) + _lognormal(rng, 1.0, 0.4)
        u = rng.random()
        if 0 <= nxt < n and nxt != i and u < cfg.turn_end_next_prob:
            _look_at(gs, i, t, nxt, until, head_pos, R)
        elif u < cfg.turn_end_next_prob + cfg.turn_end_other_prob:
            _look_at(gs, i, t, _other(gs, i, (nxt,)), until, head_pos, R)
        else:
            _look_away(gs, i, t, until, head_pos, R)
        return
    if floor == i:
        if plan == _PLAN_START:
            left = (gs.turn_end[i] - t) if gs.turn_end is not None else math.inf
            p = cfg.turn_start_avert_long if left >= cfg.long_turn_s else cfg.turn_start_avert_short
            if rng.random() < p:
                _look_away(gs, i, t, t + _lognormal(rng, cfg.turn_start_avert_median_s, 0.35), head_pos, R)
                return
        elif gs.looking[i] or rng.random() >= cfg.speaker_listener_prob:
            _look_away(gs, i, t, t + _lognormal(rng, cfg.speaker_avert_median_s, cfg.avert_sigma), head_pos, R)
            return
        a = int(gs.addressee[i])
        j = a if (0 <= a < n and a != i and rng.random() < cfg.speaker_addressee_prob) else _other(gs, i)
        _look_at(gs, i, t, j, t + _lognormal(rng, cfg.speaker_look_median_s, 0.45), head_pos, R)
        return
    if floor >= 0:
        on_speaker = gs.looking[i] and gs.anchor[i] == floor
        if plan == _PLAN_FOLLOW or (not on_speaker and rng.random() < cfg.listener_return_prob):
            _look_at(gs, i, t, floor, t + _lognormal(rng, cfg.listener_glance_median_s,
                                                     cfg.listener_glance_sigma), head_pos, R)
            return
    if rng.random() < cfg.listener_other_prob or floor < 0 and rng.random() < 0.5:
        _look_at(gs, i, t, _other(gs, i, (floor,)), t + _lognormal(rng, cfg.listener_other_median_s, 0.5),
                 head_pos, R)
    else:
        _look_away(gs, i, t, t + _lognormal(rng, cfg.avert_median_s, cfg.avert_sigma), head_pos, R,
                   table=rng.random() < 0.5)


def _on_floor_change(gs: GazeState, t: float, floor: int, scripted_idx: np.ndarray) -> None:
    """A new speaker: listeners turn to them after a reaction time; the speaker looks away as a
    (long) turn starts and plans to look up before it ends."""
    cfg, rng = gs.cfg, gs.rng
    old = gs.prev_floor
    for i in scripted_idx:
        earliest = gs.fix_start[i] + cfg.min_fixation_s
        if i == floor:
            gs.plan[i] = _PLAN_START
            gs.fix_until[i] = max(t, earliest)
            gs.addressee[i] = old if (old >= 0 and old != i and rng.random() < 0.7) else -1
            end = gs.turn_end[i] if gs.turn_end is not None else math.inf
            if math.isfinite(end):
                gs.end_look_t[i] = max(end - rng.uniform(*cfg.turn_end_lead_s), t + 0.5 * (end - t))
        else:
            gs.end_look_t[i] = math.inf
            if floor >= 0 and rng.random() < cfg.follow_floor_prob:
                if not (gs.looking[i] and gs.anchor[i] == floor):
                    gs.plan[i] = _PLAN_FOLLOW
                    gs.fix_until[i] = max(t + rng.uniform(*cfg.follow_delay_s), earliest)
    if floor >= 0:
        gs.prev_floor = floor


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

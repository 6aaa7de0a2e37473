"""Side conversations: pairs of heads leaning in (Hall's intimate distance) become whisper pairs.

Head distances are low-passed (tau 0.15 s) against tracking noise; a pair enters when their heads
come within ``enter_m`` (0.45 m, Hall 1966) and leaves beyond ``exit_m`` (0.55 m); after any change
the pair keeps its state for at least ``min_dwell_s`` (0.8 s). The
hysteresis band and the dwell together mean noisy distances cannot make a pair flap. Outputs the
active pairs (for the audio engine's whisper mode) and a smooth per-person cue 0..1 (for a subtle
visual sign). Pure, vectorised over the N×N distance matrix; time in seconds passed in.

Scripted neighbours cannot lean in by themselves, so they are *invited*: when the local head comes
within ``InviteConfig.enter_m`` (0.80 m) of a scripted neighbour's seat (low-passed, left beyond
``exit_m`` = 0.95 m, at least ``min_dwell_s`` between changes) that neighbour becomes the local
person's whisper partner (``invite_step``). The invitation *is* the pair's whisper state: while a
local person and the scripted people are known (``InviteState.local``), their pairs follow the
invitation and not the distance rule, so the scene (the neighbour's lean), the sound (gains from
the pairs) and the network (the partner in the pose) all read one decision. The neighbour leans
in and out over ``lean_s`` (0.6 s, eased), never in one frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class WhisperConfig:
    enter_m: float = 0.45      # heads closer than this start whispering
    exit_m: float = 0.55       # ... and stop beyond this
    min_dwell_s: float = 0.8   # no state change sooner than this after the last one
    smooth_tau_s: float = 0.15  # low-pass on distances against tracking noise
    cue_tau_s: float = 0.2     # visual cue fade time constant


@dataclass
class InviteConfig:
    enter_m: float = 0.80      # local head this close to a scripted neighbour's seat: invite
    exit_m: float = 0.95       # ... and end the invitation beyond this
    min_dwell_s: float = 0.8   # no change sooner than this after the last one
    smooth_tau_s: float = 0.15  # low-pass on the distances
    lean_s: float = 0.6        # the neighbour's lean in (and out) takes this long


@dataclass
class InviteState:
    """The local person's whisper invitation (see the module docstring)."""

    cfg: InviteConfig = field(default_factory=InviteConfig)
    local: int = -1                 # the local person (-1: nobody invites)
    eligible: np.ndarray | None = None  # (N,) bool scripted, present neighbours
    partner: int = -1               # the invited neighbour, -1 none
    changed_at: float = -1e9        # s, last change of partner
    dist: np.ndarray | None = None  # (N,) smoothed distances local head -> seats, m
    leaner: int = -1                # who is leaning (in or out), -1 nobody
    lean: float = 0.0               # 0..1 linear progress of the lean
    last_t: float = math.nan


def invite_step(inv: InviteState, local: int, local_head, seat_pos: np.ndarray, eligible: np.ndarray,
                t: float):
    """Advance the invitation to ``t`` (s). local_head (3,) m or None (untracked: no invitation);
    seat_pos (N, 3) m where each neighbour's head rests; eligible (N,) bool who can be invited.
    -> (partner int, leaner int, lean 0..1 eased): lean the leaner's head that far toward you."""
    cfg = inv.cfg
    dt = 0.0 if math.isnan(inv.last_t) else min(max(t - inv.last_t, 0.0), 0.25)
    inv.last_t = t
    inv.local = local
    inv.eligible = eligible
    if local_head is None or not 0 <= local < len(seat_pos):
        inv.dist = None
        want = -1
        d = None
    else:
        d = seat_pos - np.asarray(local_head, float)
        d = np.sqrt((d * d).sum(axis=1))
        if inv.dist is None or inv.dist.shape != d.shape:
            inv.dist = d
        else:
            inv.dist += (d - inv.dist) * (1.0 - math.exp(-dt / cfg.smooth_tau_s))
        d = np.where(eligible, inv.dist, np.inf)
        d[local] = np.inf
        want = inv.partner
    can = t - inv.changed_at >= cfg.min_dwell_s
    if d is None or (inv.partner >= 0 and not eligible[inv.partner]):
        want = -1                                     # untracked or gone: no dwell to wait for
        can = can or inv.partner >= 0
    elif inv.partner >= 0:
        if d[inv.partner] > cfg.exit_m:
            want = -1
    else:
        j = int(np.argmin(d))
        if d[j] < cfg.enter_m:
            want = j
    if want != inv.partner and can:
        inv.partner = want
        inv.changed_at = t
    # The lean follows the decision at a limited rate: out of an old leaner first, then in.
    step = dt / cfg.lean_s
    if inv.partner >= 0 and inv.leaner in (-1, inv.partner):
        inv.leaner = inv.partner
        inv.lean = min(inv.lean + step, 1.0)
    else:
        inv.lean = max(inv.lean - step, 0.0)
        if inv.lean == 0.0:
            inv.leaner = -1
    x = inv.lean
    return inv.partner, inv.leaner, x * x * (3.0 - 2.0 * x)


@dataclass
class WhisperState:
    active: np.ndarray        # (N, N) bool, symmetric, False on the diagonal
    changed_at: np.ndarray    # (N, N) seconds of the last change
    cue: np.ndarray           # (N,) 0..1
    cfg: WhisperConfig
    dist: np.ndarray | None = None  # (N, N) smoothed head distances, m
    last_t: float = math.nan
    invite: InviteState = field(default_factory=InviteState)
    cue_zero: bool = False          # every cue is exactly 0 (nobody has whispered yet): nothing to fade


def new_whisper(n: int, cfg: WhisperConfig | None = None) -> WhisperState:
    return WhisperState(np.zeros((n, n), bool), np.full((n, n), -1e9), np.zeros(n), cfg or WhisperConfig(),
                        cue_zero=True)


_ONES3 = np.ones(3)
_NO_PAIRS = np.zeros((0, 2), int)
_NO_PAIRS.flags.writeable = False


def whisper_step(ws: WhisperState, head_pos: np.ndarray, t: float):
    """Advance to ``t`` (s) with head positions (N, 3) m. -> (pairs (P, 2) int, i < j; cue (N,))."""
    cfg = ws.cfg
    d = head_pos[:, None, :] - head_pos[None, :, :]
    d *= d
    dist = np.sqrt(d.reshape(-1, 3) @ _ONES3).reshape(d.shape[:2])
    dt = 0.0 if math.isnan(ws.last_t) else max(t - ws.last_t, 0.0)
    ws.last_t = t
    if ws.dist is None or ws.dist.shape != dist.shape:
        ws.dist = dist
    else:
        ws.dist += (dist - ws.dist) * (1.0 - math.exp(-dt / cfg.smooth_tau_s))
    k = 1.0 - math.exp(-dt / cfg.cue_tau_s) if dt > 0 else 1.0
    n = dist.shape[0]
    inv = ws.invite
    governed = inv.local >= 0 and inv.eligible is not None and len(inv.eligible) == n
    # Usually nobody whispers and no two heads are close: then nothing can flip.
    # (A head's smoothed distance to itself stays exactly 0: only n entries are close then.)
    if (not np.count_nonzero(ws.active) and np.count_nonzero(ws.dist < cfg.enter_m) <= n
            and not (governed and inv.partner >= 0)):
        if not ws.cue_zero:
            ws.cue -= ws.cue * k
        return _NO_PAIRS, ws.cue
    can = (t - ws.changed_at) >= cfg.min_dwell_s
    enter = (ws.dist < cfg.enter_m) & ~ws.active & can
    leave = (ws.dist > cfg.exit_m) & ws.active & can
    np.fill_diagonal(enter, False)
    if governed:
        # The local person's pairs with scripted neighbours follow the invitation alone.
        me, e = inv.local, inv.eligible
        want = np.zeros(n, bool)
        if inv.partner >= 0:
            want[inv.partner] = True
        for m in (enter, leave):
            m[me, e] = False
            m[e, me] = False
        row = e & (want != ws.active[me])
        enter[me, row & want] = True
        enter[row & want, me] = True
        leave[me, row & ~want] = True
        leave[row & ~want, me] = True
    flip = enter | leave
    if flip.any():
        ws.active ^= flip
        ws.changed_at[flip] = t
    on = ws.active.any(axis=1)
    ws.cue += (on - ws.cue) * k
    ws.cue_zero = False
    if on.any():
        i, j = np.nonzero(np.triu(ws.active, 1))
        pairs = np.stack([i, j], axis=1)
    else:
        pairs = np.zeros((0, 2), int)
    return pairs, ws.cue

"""Where scripted people look, from the conversation (see core/gaze.py for the whole model).

Listeners alternate log-normal looks at the speaker with looks elsewhere; speakers look away as a
(long) turn starts, alternate looks at their addressee with looks away, and look up before the turn
ends at the next speaker. Each choice is a rare, per-person event (a few a second in a meeting).
"""

from __future__ import annotations

import math

import numpy as np

from .gaze_moves import DEG, GazeState, _aversion, _lognormal, _set_target

_PLAN_NONE, _PLAN_START, _PLAN_END, _PLAN_FOLLOW = 0, 1, 2, 3
"""What a scripted person's next gaze choice is for: the usual rhythm, the start of their own
turn, the end of their own turn (look up at the next speaker), turning to a new speaker."""


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

"""Gaze around quick turn exchanges (turns of ~2 s, listener backchannels and nods), on the gaze
model's own targets and saccade log in a seeded 10-minute conversation of 6 scripted people:

- Holler & Kendrick 2015 (eye-tracked three-party talk): unaddressed listeners often move their
  gaze from the current to the next speaker before the current turn ends.
- A nod is a listener's response to the speaker: the listener does not turn away in the middle of it.
- Small saccades (scanning a face, small shifts while looking away) start only once the last gaze
  shift is over: they stay small, and never re-aim the head.
"""

import numpy as np
import pytest

from xrdemo.core.conversation import conversation_step, new_conversation
from xrdemo.core.gaze import gaze_step, new_gaze

from presence_sim import seats

FPS = 60


@pytest.fixture(scope="module")
def talk():
    n = 6
    pos, q, R = seats(n)
    rng = np.random.default_rng(21)
    cs = new_conversation(n, rng)
    gs = new_gaze(n, rng, record=True)
    floors, targets, nods, heads = [], [], [], []
    for k in range(int(600 * FPS)):
        t = k / FPS
        c = conversation_step(cs, t)
        g = gaze_step(gs, t, pos, R, c.speaking, c.floor, c.floor_changed, turn_end=cs.turn_end,
                      next_speaker=cs.queue[0].speaker if cs.queue else -1, nod=c.nod)
        floors.append(c.floor)
        targets.append(g.target.copy())
        nods.append(np.zeros(n) if c.nod is None else c.nod.copy())
        heads.append(gs.head_goal.copy())
    return dict(n=n, log=gs.log, floor=np.array(floors), target=np.array(targets), nod=np.array(nods),
                head_goal=np.array(heads))


def test_listeners_watching_the_speaker_turn_to_the_next_one_as_the_turn_ends(talk):
    floor, target, n = talk["floor"], talk["target"], talk["n"]
    changes = [k for k in range(1, len(floor)) if floor[k] >= 0 and floor[k] != floor[k - 1]]
    early = seen = 0
    prev = -1
    for k in changes:
        j = floor[k]
        # the last holder before this one, and a turn of theirs that ran at least 1 s
        back = floor[max(k - FPS, 0):k]
        held = back[back >= 0]
        if prev >= 0 and prev != j and len(held) and (held == prev).mean() > 0.8:
            for lis in range(n):
                if lis in (prev, j):
                    continue
                if target[k - FPS, lis] == prev:          # watching the outgoing speaker
                    seen += 1
                    early += int(target[k, lis] == j)     # already on the next one as they start
        prev = j
    assert seen >= 200, seen
    # Without anticipation a listener is on the incoming speaker at the turn's first frame only
    # when they happened to look there (~5 %); listeners who do, turn 0.0-0.5 s before the end.
    assert 0.25 <= early / seen <= 0.8, (early, seen)


def test_a_nodding_listener_does_not_turn_away_mid_nod(talk):
    nod, log = talk["nod"], talk["log"]
    nodding = nod < 0.0
    assert nodding.any(axis=0).sum() >= 3                 # several listeners nodded
    shifts = [(t, i) for t, i, kind, amp, dur in log if kind in ("target", "avert")]
    mid = [(t, i) for t, i in shifts if nodding[min(int(round(t * FPS)), len(nod) - 1), i]]
    # A gaze shift may only coincide with a nod's first frame (a shift due in the same frame).
    started = [(t, i) for t, i in mid if not nodding[max(int(round(t * FPS)) - 1, 0), i]]
    assert len(mid) - len(started) == 0, mid[:5]


def test_small_saccades_wait_for_the_gaze_shift_and_leave_the_head_alone(talk):
    log, goal = talk["log"], talk["head_goal"]
    micro = np.array([amp for t, i, kind, amp, dur in log if kind == "micro"])
    assert len(micro) > 1000
    # Face scans and small shifts away are a few degrees; a "small" saccade that had to cover the
    # rest of a large shift (eyes still waiting at their range for the head) would be 10-30°.
    assert micro.max() < 8.0, np.sort(micro)[-5:]
    # The head's goal changes only with gaze shifts beyond the eyes-only range (a few frames
    # after their onset), never with a small saccade.
    moves = np.flatnonzero(np.abs(np.diff(goal, axis=0)).max(axis=(1, 2)) > 1e-12) + 1
    big = np.array([t for t, i, kind, amp, dur in log if kind != "micro" and amp >= 10.0])
    for k in moves:
        t = k / FPS
        assert np.any((big <= t) & (big >= t - 0.1)), t


def test_a_large_gaze_shift_brings_a_blink_forward_but_never_restarts_one_mid_blink():
    from xrdemo.core.gaze_moves import DEG, _start_saccade
    n = 3
    pos, q, R = seats(n)
    gs = new_gaze(n, np.random.default_rng(4))
    gs.blink_budget[:] = 0.2
    _start_saccade(gs, 0, 10.0, np.array([50.0 * DEG, 0.0]), "target")
    assert gs.blink_budget[0] == 0.0                       # the shift carries a blink
    gs.blink_t0[1], gs.blink_dur[1] = 9.9, 0.25            # person 1 is mid-blink at t = 10
    _start_saccade(gs, 1, 10.0, np.array([50.0 * DEG, 0.0]), "target")
    assert gs.blink_budget[1] == 0.2                       # (a restart would cut it half closed)

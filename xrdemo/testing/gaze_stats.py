"""Measurements of gaze and blinks from a taped meeting (xrdemo/testing/meeting_tape.py): what the
frames draw, not what the behaviour model decided. Shared by test_gaze_turns.py,
test_eye_rhythm.py and test_gaze.py; ``python -m xrdemo.testing.behaviour_report`` prints them.

Turns are read from the speech level that lights the name tags: runs of speech with within-turn
pauses shorter than ``BRIDGE_S`` bridged; runs shorter than ``MIN_TURN_S`` (backchannels, "mm-hm")
are not turns. Gaze targets come from ``looked_at`` (whose face each drawn eye ray hits), saccades
from the angular speed of the drawn eye direction, blinks from the drawn lid closure.
"""

from __future__ import annotations

import numpy as np

from xrdemo.testing.meeting_tape import MeetingTape, looked_at, runs

BRIDGE_S = 0.7        # within-turn pauses shorter than this are bridged
MIN_TURN_S = 1.0      # shorter runs of speech are backchannels, not turns
LONG_TURN_S = 3.0     # "long utterances" (Kendon 1967)
EDGE_S = 1.0          # the first / last second of a turn
SACCADE_DEG_S = 20.0  # drawn eye speed above this (world, deg/s) is a saccade
BLINK_CLOSED = 0.5    # lid closure above this is a blink
GAP_FRAMES = 3        # a look at a face survives this many frames off it


def turns(tape: MeetingTape) -> list:
    """[(person, start_frame, end_frame_exclusive)] of every turn, by start."""
    fps = tape.fps
    out = []
    for i in range(tape.n):
        s, e = runs(np.asarray(tape.speaking[:, i], np.float32) > 0.01)
        if not len(s):
            continue
        keep = np.concatenate([[True], (s[1:] - e[:-1]) >= BRIDGE_S * fps])   # a new turn starts
        starts = s[keep]
        ends = np.concatenate([e[np.flatnonzero(keep)[1:] - 1], e[-1:]])
        for a, b in zip(starts, ends):
            if b - a >= MIN_TURN_S * fps:
                out.append((i, int(a), int(b)))
    out.sort(key=lambda r: r[1])
    return out


def turn_gaze(tape: MeetingTape, look=None) -> dict:
    """Speakers' gaze around their turns (Kendon 1967), measured on the drawn eye rays.

    away_start: share of long turns whose speaker's eyes are off every face for most of the
    turn's first second; up_end: share of long turns whose speaker looks at a listener's face for
    most of the last second; at_next: share of turn ends (a different person's turn starting
    within 2 s) where the outgoing speaker's eyes are on the next speaker's face in the turn's last
    frame; chance: what looking at a random listener would give.
    """
    look = looked_at(tape) if look is None else look
    fps, n = tape.fps, tape.n
    w = int(EDGE_S * fps)
    tr = turns(tape)
    away, up, nxt = [], [], []
    for k, (i, a, b) in enumerate(tr):
        if b - a >= LONG_TURN_S * fps:
            away.append((look[a:a + w, i] < 0).mean() > 0.5)
            up.append((look[b - w:b, i] >= 0).mean() > 0.5)
        later = [r for r in tr[k + 1:] if r[1] >= b - fps and r[1] < b + 2 * fps and r[0] != i]
        if later:
            nxt.append(look[b - 1, i] == later[0][0])
    return dict(turns=len(tr), long_turns=len(away), away_start=float(np.mean(away)),
                up_end=float(np.mean(up)), ends=len(nxt), at_next=float(np.mean(nxt)),
                chance=1.0 / (n - 1))


def listener_gaze(tape: MeetingTape, look=None) -> dict:
    """Listeners' gaze while one person holds a turn: share of listening time on any face, share
    of their face-time on the speaker's face (Vertegaal et al. 2001), and the mean length of a
    listener's look at the speaker (a run of frames on the speaker's face, s)."""
    look = looked_at(tape) if look is None else look
    T, n = look.shape
    floor = np.full(T, -1)
    for i, a, b in turns(tape):
        floor[a:b] = i          # a later-starting turn overrides (it holds the floor)
    on_face = tot = on_speaker = 0
    glances = []
    for j in range(n):
        lis = (floor >= 0) & (floor != j)
        tot += lis.sum()
        on_face += (lis & (look[:, j] >= 0)).sum()
        on_speaker += (lis & (look[:, j] == floor)).sum()
        # A look: a run of frames on one face (gaps of a few frames bridged), whole (not cut by the
        # tape's ends), that starts while that face's owner holds the floor and j listens.
        for k in range(n):
            if k == j:
                continue
            s, e = runs(look[:, j] == k)
            if not len(s):
                continue
            keep = np.concatenate([[True], (s[1:] - e[:-1]) > GAP_FRAMES])
            s, e = s[keep], np.concatenate([e[np.flatnonzero(keep)[1:] - 1], e[-1:]])
            ok = (s > 0) & (e < T) & (floor[s] == k)
            glances.extend(((e - s)[ok] / tape.fps).tolist())
    return dict(face_share=on_face / tot, speaker_of_face=on_speaker / max(on_face, 1),
                glance_mean_s=float(np.mean(glances)), glance_median_s=float(np.median(glances)),
                glances=len(glances))


def saccade_onsets(tape: MeetingTape, person: int) -> np.ndarray:
    """Frame indices where the drawn eye direction starts moving faster than SACCADE_DEG_S."""
    g = tape.gaze[:, person].astype(np.float64)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    speed = np.degrees(np.arccos(np.clip((g[1:] * g[:-1]).sum(1), -1.0, 1.0))) * tape.fps
    s, _ = runs(speed > SACCADE_DEG_S)
    return s + 1


def saccade_rhythm(tape: MeetingTape) -> dict:
    """Saccades per minute and the intervals between saccade onsets (s), pooled over people."""
    iv, count = [], 0
    for i in range(tape.n):
        on = saccade_onsets(tape, i)
        count += len(on)
        iv.extend((np.diff(on) / tape.fps).tolist())
    iv = np.array(iv)
    minutes = len(tape.t) / tape.fps / 60.0 * tape.n
    top = iv.max()
    return dict(per_min=count / minutes, median_s=float(np.median(iv)), mean_s=float(iv.mean()),
                p95_over_median=float(np.percentile(iv, 95) / np.median(iv)),
                max_s=float(top), at_max=float(np.mean(iv >= top - 1.5 / tape.fps)), intervals=iv)


def blinks(tape: MeetingTape) -> dict:
    """Blinks from the drawn lids: runs of closure above BLINK_CLOSED (left lid; the right one
    moves with it). Durations above half closure (s), each blink's peak closure in a frame, and
    blinks per minute while speaking (in a turn) and while not."""
    lid = tape.expression("lid_close_left")
    fps = tape.fps
    talking = np.zeros(lid.shape, bool)
    for i, a, b in turns(tape):
        talking[a:b, i] = True
    dur, peak = [], []
    n_talk = n_rest = 0
    for i in range(tape.n):
        s, e = runs(lid[:, i] > BLINK_CLOSED)
        for a, b in zip(s, e):
            if b >= len(lid):
                continue                    # cut off by the tape's end: neither its length nor peak is known
            dur.append((b - a) / fps)
            peak.append(float(lid[a:b, i].max()))
            if talking[a, i]:
                n_talk += 1
            else:
                n_rest += 1
    talk_min = talking.sum() / fps / 60.0
    rest_min = (~talking).sum() / fps / 60.0
    dur = np.array(dur)
    return dict(count=len(dur), rate_talk=n_talk / talk_min, rate_rest=n_rest / rest_min,
                durations=dur, peaks=np.array(peak))


def measure_all(tape: MeetingTape) -> dict:
    look = looked_at(tape)
    out = {}
    out.update(turn_gaze(tape, look))
    out.update(listener_gaze(tape, look))
    sr = saccade_rhythm(tape)
    iv = sr.pop("intervals")
    out.update({"sacc_" + k: v for k, v in sr.items()})
    b = blinks(tape)
    d, p = b.pop("durations"), b.pop("peaks")
    out.update({"blink_" + k: v for k, v in b.items()})
    out.update(blink_median_s=float(np.median(d)), blink_p95_s=float(np.percentile(d, 95)),
               blink_max_s=float(d.max()), blink_at_max=float(np.mean(d >= d.max() - 1.5 / tape.fps)),
               blink_full_share=float(np.mean(p >= 0.95)))
    return out

"""Conversation statistics measured from a taped meeting (xrdemo/testing/meeting_tape.py), as drawn.

Everything here reads only what the renderer was handed — each person's speech level (the name
tag's light), head orientation and expression weights — never the conversation model's own plan:

- *Utterances* are a person's voiced runs (speech level > 0). Runs shorter than ``BC_MAX_S`` are
  *backchannels* (the model's phrases are at least 0.65 s long; its "mm-hm"s at most 0.6 s).
- *Turns* are a person's longer runs merged across pauses shorter than ``TURN_PAUSE_S`` during
  which nobody else starts a longer run (backchannels do not end a turn).
- *Silences* are runs of frames in which nobody's speech level is on.
- *Nods* are V-shaped dips of a head's pitch: lower than both 0.25 s before and 0.25 s after by
  more than ``NOD_MIN_DEG``.
- *Laughs* are runs of a smile above ``LAUGH_SMILE`` (resting smiles stay below 0.3).

``python -m xrdemo.testing.behaviour_report`` tapes a meeting and prints these with the gaze numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xrdemo.core.expressions import INDEX

from .meeting_tape import MeetingTape, runs

BC_MAX_S = 0.62
TURN_PAUSE_S = 1.0
NOD_MIN_DEG = 2.0
NOD_HALF_S = 0.25
LAUGH_SMILE = 0.45
_BROW = INDEX["brow_inner_up"]


@dataclass
class Utterance:
    person: int
    start: float   # seconds
    end: float

    @property
    def dur(self) -> float:
        return self.end - self.start


def utterances(tape: MeetingTape) -> list[Utterance]:
    """Every voiced run of every person, in start order."""
    out = []
    dt = 1.0 / tape.fps
    for i in range(tape.n):
        s, e = runs(tape.speaking[:, i] > 0)
        out += [Utterance(i, a * dt, b * dt) for a, b in zip(s.tolist(), e.tolist())]
    return sorted(out, key=lambda u: u.start)


def split(utts: list[Utterance]):
    """-> (backchannels, longer utterances)."""
    return [u for u in utts if u.dur < BC_MAX_S], [u for u in utts if u.dur >= BC_MAX_S]


def turns(utts: list[Utterance]) -> list[tuple[int, float, float, int]]:
    """(person, start, end, utterances in it) of each turn, in start order."""
    _, long_ = split(utts)
    out = []
    cur = None                      # [person, start, end, count]
    for u in long_:                 # in start order
        if cur is not None and u.person == cur[0] and u.start - cur[2] < TURN_PAUSE_S:
            cur[2] = max(cur[2], u.end)
            cur[3] += 1
            continue
        if cur is not None:
            out.append(tuple(cur))
        cur = [u.person, u.start, u.end, 1]
    if cur is not None:
        out.append(tuple(cur))
    return out


def backchannel_in_pause(utts: list[Utterance]) -> np.ndarray:
    """(B,) bool per backchannel: it starts in a within-turn pause of someone else's turn (that
    turn's speaker was silent at its start, having spoken in the second before and speaking again
    in the second after, with nobody else's longer run in between)."""
    bcs, long_ = split(utts)
    ends = np.array([u.end for u in long_])
    starts = np.array([u.start for u in long_])
    who = np.array([u.person for u in long_])
    out = np.zeros(len(bcs), bool)
    for k, b in enumerate(bcs):
        voiced = (starts <= b.start) & (ends > b.start)
        if voiced.any():
            continue
        before = np.flatnonzero(ends <= b.start)
        after = np.flatnonzero(starts > b.start)
        if not len(before) or not len(after):
            continue
        p = before[np.argmax(ends[before])]
        q = after[np.argmin(starts[after])]
        out[k] = (who[p] == who[q] != b.person and b.start - ends[p] < TURN_PAUSE_S
                  and starts[q] - b.start < TURN_PAUSE_S)
    return out


def silences(tape: MeetingTape) -> np.ndarray:
    """(S,) seconds of each run of frames in which nobody's speech level is on."""
    s, e = runs((tape.speaking > 0).sum(axis=1) == 0)
    keep = (s > 0) & (e < len(tape.t))          # not the start or the end of the tape
    return (e - s)[keep] / tape.fps


def head_pitch_deg(tape: MeetingTape) -> np.ndarray:
    """(T, N) degrees: pitch of each drawn head's forward (-Z) direction, > 0 up."""
    q = tape.head_rot.astype(np.float64)
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    fy = -(2.0 * (y * z - w * x))              # -Z axis' y component of the rotation matrix
    return np.degrees(np.arcsin(np.clip(fy, -1.0, 1.0)))


def nods(tape: MeetingTape) -> list[tuple[int, float, float]]:
    """(person, time s, depth deg) of each V-shaped pitch dip."""
    p = head_pitch_deg(tape)
    h = int(round(NOD_HALF_S * tape.fps))
    dip = np.minimum(p[:-2 * h], p[2 * h:]) - p[h:-h]        # (T - 2h, N)
    out = []
    for i in range(tape.n):
        s, e = runs(dip[:, i] > NOD_MIN_DEG)
        for a, b in zip(s.tolist(), e.tolist()):
            k = a + int(np.argmax(dip[a:b, i]))
            out.append((i, (k + h) / tape.fps, float(dip[k, i])))
    return out


def laughs(tape: MeetingTape) -> list[tuple[int, float, float]]:
    """(person, start s, end s) of each run of a broad smile (> LAUGH_SMILE for >= 0.3 s)."""
    sm = 0.5 * (tape.expression("smile_left") + tape.expression("smile_right"))
    out = []
    for i in range(tape.n):
        s, e = runs(sm[:, i] > LAUGH_SMILE)
        out += [(i, a / tape.fps, b / tape.fps) for a, b in zip(s.tolist(), e.tolist())
                if (b - a) >= 0.3 * tape.fps]
    return sorted(out, key=lambda r: r[1])


def brow_after(tape: MeetingTape, person: int, t_s: float, lo: float = 0.15, hi: float = 0.35) -> float:
    """Mean inner-brow raise of ``person`` from t_s + lo to t_s + hi seconds."""
    a = int(round((t_s + lo) * tape.fps))
    b = max(int(round((t_s + hi) * tape.fps)), a + 1)
    return float(tape.expressions[a:b, person, _BROW].astype(np.float32).mean())


def summary(tape: MeetingTape) -> dict:
    """The numbers docs/presence.md quotes, measured from the tape."""
    utts = utterances(tape)
    bcs, long_ = split(utts)
    tr = turns(utts)
    durs = np.array([e - s for _, s, e, _ in tr])
    sil = silences(tape)
    nd = nods(tape)
    lg = laughs(tape)
    T = len(tape.t) / tape.fps
    ends = [(i, e) for i, s, e, c in tr if e + 0.5 < T]
    brows = np.array([brow_after(tape, i, e) for i, e in ends])
    return {
        "minutes": T / 60.0,
        "turns": len(tr),
        "turn_mean_s": float(durs.mean()),
        "turn_median_s": float(np.median(durs)),
        "turn_p95_s": float(np.percentile(durs, 95)),
        "turn_max_s": float(durs.max()),
        "backchannel_share": len(bcs) / max(len(utts), 1),
        "backchannel_in_pause": float(backchannel_in_pause(utts).mean()) if bcs else math.nan,
        "silence_median_s": float(np.median(sil)),
        "silences_over_3s": int((sil > 3.0).sum()),
        "silence_max_s": float(sil.max()),
        "nods": len(nd),
        "laughs": len(lg),
        "question_ends": float((brows > 0.2).mean()),
    }

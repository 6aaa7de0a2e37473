"""Long seeded meetings recorded as the frames draw them, for the behaviour statistics tests.

``record_tape(n, seed, minutes, fps)`` runs ``core.scene.step`` for a meeting of ``n`` scripted
people (nobody local, nobody real) and keeps, every frame, what the renderer is handed in
``People``: head position and orientation, the drawn eye direction, the expression weights of the
faces, the speech level that lights the name tag, and the mouth opening. The statistics are then
measured from those arrays (where each drawn eye ray points, when a mouth moves, when the lids are
shut), not from the behaviour model's internal decisions.

Cost: ~0.4 ms a frame, so a 20-minute meeting at 60 Hz takes ~30 s; the tests share one tape per
meeting size for the whole session (tests/core/conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xrdemo.core import expressions as E
from xrdemo.core import scene as S

FACE_RADIUS_M = 0.12
"""A face's half-width for "is this eye ray on that face" (metres; a head is ~0.16 m wide, ~0.24 m
tall with the neck and hair left out)."""


@dataclass
class MeetingTape:
    """Per-frame arrays of one recorded meeting: T frames, N people.

    t (T,) seconds; head_pos (T, N, 3) metres, head_rot (T, N, 4) quaternions (x, y, z, w),
    gaze (T, N, 3) unit eye direction (stage space), expressions (T, N, EXPRESSION_COUNT) float16
    0..1, speaking (T, N) float16 0..1 speech level (the name tag's light), mouth_open (T, N)
    float16 0..1.
    """

    fps: int
    t: np.ndarray
    head_pos: np.ndarray
    head_rot: np.ndarray
    gaze: np.ndarray
    expressions: np.ndarray
    speaking: np.ndarray
    mouth_open: np.ndarray

    @property
    def n(self) -> int:
        return int(self.head_pos.shape[1])

    def expression(self, name: str) -> np.ndarray:
        """(T, N) float32 weight of one expression (core/expressions.py's names)."""
        return self.expressions[:, :, E.INDEX[name]].astype(np.float32)


def record_tape(n: int, seed: int, minutes: float = 20.0, fps: int = 60, table: str = "round",
                progress=None) -> MeetingTape:
    """Run a seeded meeting of ``n`` scripted people for ``minutes`` at ``fps`` and tape it.

    ``table``: "round" or "rect". ``progress``: optional callable(frame, total).
    """
    from xrdemo.core.room import Table

    frames = int(round(minutes * 60.0 * fps))
    st = S.make_meeting(n, table=Table(shape=table), local=-1, seed=seed)
    ne = E.EXPRESSION_COUNT
    t = np.arange(frames) / float(fps)
    head_pos = np.empty((frames, n, 3), np.float32)
    head_rot = np.empty((frames, n, 4), np.float32)
    gaze = np.empty((frames, n, 3), np.float32)
    expr = np.empty((frames, n, ne), np.float16)
    speaking = np.empty((frames, n), np.float16)
    mouth = np.empty((frames, n), np.float16)
    for k in range(frames):
        st, _ = S.step(st, None, int(round(k * 1e9 / fps)))
        p = st.people
        head_pos[k] = p.head_pos
        head_rot[k] = p.head_rot
        gaze[k] = p.gaze
        expr[k] = p.expressions if p.expressions is not None else 0.0
        speaking[k] = p.speaking
        mouth[k] = p.mouth_open
        if progress is not None and k % 3600 == 0:
            progress(k, frames)
    return MeetingTape(fps, t, head_pos, head_rot, gaze, expr, speaking, mouth)


def looked_at(tape: MeetingTape, radius_m: float = FACE_RADIUS_M) -> np.ndarray:
    """(T, N) int: whose face each person's drawn eye ray passes through (-1: nobody's).

    A ray from person i's head position along their gaze "hits" person j's face when it passes
    within ``radius_m`` of j's head position in front of i; the nearest such face wins.
    """
    T, n = tape.head_pos.shape[:2]
    out = np.full((T, n), -1, np.int32)
    best = np.full((T, n), np.inf, np.float32)
    for j in range(n):
        d = tape.head_pos[:, j:j + 1, :] - tape.head_pos                  # (T, N, 3) i -> j
        along = (d * tape.gaze).sum(-1)                                    # (T, N) metres
        miss = np.sqrt(np.maximum((d * d).sum(-1) - along * along, 0.0))  # closest approach
        hit = (along > 0.2) & (miss < radius_m) & (along < best)
        hit[:, j] = False
        out[hit] = j
        best[hit] = along[hit]
    return out


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) frame indices of the True runs of a 1-D bool array."""
    m = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(np.diff(m.astype(np.int8)))
    return edges[0::2], edges[1::2]

"""The recorded person's head in headless recordings and headless participants: a scripted viewer
that looks around the table and once leans in to whisper (``ScriptedViewer.pose(t_s)``)."""

from __future__ import annotations

import numpy as np

from .core import pose as P
from .core import scene as S

LEAN_STOP_M = 0.55
"""Metres from the neighbour's seat where the recorded person's lean-in stops (within
scene.WHISPER_INVITE_M, so the neighbour leans in too and the pair whispers)."""


class ScriptedViewer:
    """The recorded person's head: looks at whoever speaks (smoothly, with a glance around now and
    then), and once leans in toward the right-hand neighbour to whisper.

    ``pose(t_s) -> (position (3,), orientation (4,))``; stateless in t, so any time can be asked.
    """

    def __init__(self, state: S.MeetingState, seconds: float):
        self.state = state
        k = state.local
        self.seat = state.seat_pos[k].copy()
        n = len(state.people)
        self.neighbour = (k + 1) % n if n > 1 else -1
        self.lean_start = 0.55 * seconds
        self.lean_end = min(self.lean_start + 3.5, 0.9 * seconds)
        self.present = None
        """(N,) bool taken seats, when some are empty (a networked room): only people are looked at."""

    def _look_target(self, t_s: float) -> np.ndarray:
        """Seats in turn, each for a few seconds: the recorded person looks around the table."""
        others = [j for j in range(len(self.state.people)) if j != self.state.local
                  and (self.present is None or self.present[j])]
        if not others:
            return np.array([0.0, self.state.table.height + 0.2, 0.0])
        j = others[int(np.floor(t_s / 3.2 + 0.5 * np.sin(0.37 * t_s))) % len(others)]
        return self.state.seat_pos[j]

    def pose(self, t_s: float):
        # Ease between the targets of the last 0.6 s so head turns take time, like a person's.
        samples = np.array([self._look_target(t_s - d) for d in (0.0, 0.15, 0.3, 0.45, 0.6)])
        target = samples.mean(axis=0)
        pos = self.seat.copy()
        pos[1] += 0.008 * np.sin(1.3 * t_s)
        lean = 0.0
        if self.neighbour >= 0 and self.lean_start <= t_s <= self.lean_end:
            x = min(t_s - self.lean_start, self.lean_end - t_s) / 0.6
            lean = float(np.clip(x, 0.0, 1.0))
            lean = lean * lean * (3 - 2 * lean)
        if lean > 0:
            neighbour = self.state.seat_pos[self.neighbour]
            gap = np.linalg.norm(neighbour - pos)
            pos = pos + lean * max(gap - LEAN_STOP_M, 0.0) / gap * (neighbour - pos)
            target = (1 - lean) * target + lean * neighbour
        yaw, pitch = P.yaw_pitch_toward(target - pos)
        yaw = yaw + 0.12 * np.sin(0.23 * t_s) * (1 - lean)          # an occasional look around
        return pos, P.quat_from_yaw_pitch_roll(yaw, pitch - 0.05)

"""The recorded person's head in headless recordings and headless participants: a scripted viewer
that looks around the table and once leans in to whisper (``ScriptedViewer.pose(t_s)``).

The head moves like a calm person's: it rests on one face for a few seconds, then turns to the
next seat along the table (back and forth, never across the whole table in one turn) with a
minimum-jerk profile whose duration grows with the angle (about 40°/s on average, so the peak is
~75°/s: under 3° between frames at 30 fps). Stateless in t: any time can be asked.
"""

from __future__ import annotations

import math

import numpy as np

from .core import pose as P
from .core import scene as S

LEAN_STOP_M = 0.55
"""Metres from the neighbour's seat where the recorded person's lean-in stops (within
scene.WHISPER_INVITE_M, so the neighbour leans in too and the pair whispers)."""
TURN_DEG_PER_S = 40.0
"""Mean angular speed of a turn between two faces (the minimum-jerk peak is 1.875x this)."""
TURN_S = (0.5, 2.0)
"""Shortest and longest turn, seconds (the longest is within the shortest segment, 2.01 s)."""
LOOK_RAMP_S = 3.5
"""Seconds the gaze takes to come round to the neighbour before leaning in (and back after)."""
LEAN_SPEED_M_S = 0.4
"""Mean speed of the lean itself, in and out (the ramp takes gap / this, at least 0.8 s)."""
MAX_LEAN_M = 1.5
"""No leaning toward a neighbour whose seat would take more than this to reach (at a table of
two or three the "neighbour" sits across it)."""


def _min_jerk(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * x * (10.0 + x * (-15.0 + 6.0 * x))


def _wrap(a: float) -> float:
    return (a + math.pi) % (2.0 * math.pi) - math.pi


class ScriptedViewer:
    """The recorded person's head: looks at each face around the table in turn (smooth, eased
    turns), and once leans in toward the right-hand neighbour to whisper.

    ``pose(t_s) -> (position (3,), orientation (4,))``; stateless in t, so any time can be asked.
    """

    def __init__(self, state: S.MeetingState, seconds: float):
        self.state = state
        k = state.local
        self.seat = state.seat_pos[k].copy()
        n = len(state.people)
        self.neighbour = (k + 1) % n if n > 1 else -1
        reach = 0.0
        if self.neighbour >= 0:
            reach = float(np.linalg.norm(state.seat_pos[self.neighbour] - self.seat)) - LEAN_STOP_M
            if reach > MAX_LEAN_M:
                self.neighbour = -1
        self.lean_start = 0.55 * seconds
        # A short recording still shows the whole lean (in, a moment close, out), faster.
        room = 0.9 * seconds - self.lean_start
        self.lean_ramp = min(max(0.8, reach / LEAN_SPEED_M_S), max(0.5, (room - 1.0) / 2.0))
        self.look_start = 0.55 * seconds - 2.0
        self.lean_end = min(self.lean_start + 2.0 * self.lean_ramp + 1.5, 0.9 * seconds)
        self.look_end = self.lean_end + 2.0
        self.present = None
        """(N,) bool taken seats, when some are empty (a networked room): only people are looked at."""

    # -- where the head points, as (yaw, pitch) ---------------------------------------------------
    @staticmethod
    def _phase(t: float) -> float:
        """Monotonic phase: one unit per rest-and-turn (2.1–7.7 s each, d/dt > 0.13 /s)."""
        return t / 3.2 + 0.5 * math.sin(0.37 * t)

    @staticmethod
    def _phase_rate(t: float) -> float:
        return 1.0 / 3.2 + 0.185 * math.cos(0.37 * t)

    def _others(self) -> list[int]:
        return [j for j in range(len(self.state.people)) if j != self.state.local
                and (self.present is None or self.present[j])]

    def _angles_to(self, point) -> tuple[float, float]:
        d = np.asarray(point, float) - self.seat
        yaw, pitch = P.yaw_pitch_toward(d)
        return float(yaw), float(pitch)

    def _face(self, others: list[int], segment: int) -> tuple[float, float]:
        """The (yaw, pitch) of the face looked at during a segment: seats in order, back and forth."""
        m = len(others)
        if m == 1:
            i = 0
        else:
            i = segment % (2 * m - 2)
            i = i if i < m else 2 * m - 2 - i
        return self._angles_to(self.state.seat_pos[others[i]])

    def _look(self, t: float) -> tuple[float, float]:
        others = self._others()
        if not others:
            return self._angles_to([0.0, self.state.table.height + 0.2, 0.0])
        u = self._phase(t)
        s = math.floor(u)
        # When did this segment start? Newton on the monotonic phase.
        t0 = t - (u - s) / self._phase_rate(t)
        for _ in range(4):
            t0 -= (self._phase(t0) - s) / self._phase_rate(t0)
        y0, p0 = self._face(others, s - 1)
        y1, p1 = self._face(others, s)
        dy, dp = _wrap(y1 - y0), p1 - p0
        turn = min(max(math.degrees(math.hypot(dy, dp)) / TURN_DEG_PER_S, TURN_S[0]), TURN_S[1])
        f = _min_jerk((t - t0) / turn)
        return y0 + f * dy, p0 + f * dp

    def pose(self, t_s: float):
        yaw, pitch = self._look(t_s)
        pos = self.seat.copy()
        pos[1] += 0.008 * math.sin(1.3 * t_s)
        look = lean = 0.0
        if self.neighbour >= 0:
            look = _min_jerk(min(t_s - self.look_start, self.look_end - t_s) / LOOK_RAMP_S)
            lean = _min_jerk(min(t_s - self.lean_start, self.lean_end - t_s) / self.lean_ramp)
        neighbour = self.state.seat_pos[self.neighbour] if self.neighbour >= 0 else None
        if lean > 0:
            gap = np.linalg.norm(neighbour - pos)
            pos = pos + lean * max(gap - LEAN_STOP_M, 0.0) / gap * (neighbour - pos)
        if look > 0:
            ny, np_ = self._angles_to(neighbour)
            yaw = yaw + look * _wrap(ny - yaw)
            pitch = pitch + look * (np_ - pitch)
        yaw = yaw + 0.12 * math.sin(0.23 * t_s) * (1 - look)          # an occasional look around
        return pos, P.quat_from_yaw_pitch_roll(yaw, pitch - 0.05)

"""Scripted input for the simulated runtime: head path, hands, controllers and runtime events.

A Timeline is data plus pure functions of ``t_ns`` (int nanoseconds): the simulated platform and
the fake OpenXR runtime both sample it, so a test scripts a run once and replays it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from xrdemo.core import pose as P
from xrdemo.platform.base import HAND_JOINT_COUNT

NS = 1_000_000_000

# Finger layout of a right hand, palm down, fingers along -Z, wrist at the origin (metres).
# Per finger: x offset of its base at the wrist, then bone lengths from the metacarpal base to
# the tip. The thumb has 3 bones (4 joints), the others 4 bones (5 joints).
_FINGERS = (
    (-0.022, (0.040, 0.034, 0.028)),               # thumb
    (-0.018, (0.068, 0.042, 0.025, 0.021)),        # index
    (0.000, (0.066, 0.046, 0.028, 0.022)),         # middle
    (0.017, (0.062, 0.043, 0.026, 0.021)),         # ring
    (0.032, (0.058, 0.034, 0.020, 0.019)),         # little
)
_THUMB_SPLAY = np.deg2rad(35.0)


def rest_hand_joints(curl: float, right: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One hand in its wrist frame: positions (26, 3), orientations (26, 4), radii (26,).

    curl: 0 (flat) .. ~1.2 rad bend per finger joint toward the palm. Joint order is
    XR_EXT_hand_tracking's; each joint's -Z points along its bone, +Y out of the back of the hand.
    """
    pos = np.zeros((HAND_JOINT_COUNT, 3))
    rot = np.zeros((HAND_JOINT_COUNT, 4))
    rad = np.full(HAND_JOINT_COUNT, 0.010)
    identity = np.array([0.0, 0.0, 0.0, 1.0])
    pos[0] = (0.0, 0.0, -0.045)                    # palm: middle of the metacarpals
    rot[0] = identity
    pos[1] = (0.0, 0.0, 0.0)                       # wrist
    rot[1] = identity
    j = 2
    for finger, (x0, bones) in enumerate(_FINGERS):
        q = identity if finger else P.quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), _THUMB_SPLAY)
        p = np.array([x0, -0.01 if finger == 0 else 0.0, -0.015 if finger == 0 else 0.0])
        for b, length in enumerate(bones + (0.0,)):
            pos[j], rot[j] = p, q
            rad[j] = 0.008 if b == len(bones) else 0.011 - 0.001 * b
            if b < len(bones):
                p = p + P.quat_rotate(q, np.array([0.0, 0.0, -length]))
                if b + 1 < len(bones):   # metacarpals stay straight; each later joint bends
                    bend = -curl * (0.6 if finger == 0 else 1.0)
                    q = P.quat_mul(q, P.quat_from_axis_angle(np.array([1.0, 0.0, 0.0]), bend))
            j += 1
    if not right:
        pos[:, 0] *= -1.0
        rot[:, 1:3] *= -1.0
    return pos, rot, rad


def default_head(t_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """A seated person looking around slowly: T_stage_head (position (3,), quaternion (4,))."""
    t = t_ns / NS
    position = np.array([0.02 * np.sin(0.7 * t), 1.20 + 0.01 * np.sin(1.3 * t), 0.0])
    yaw = np.deg2rad(20.0) * np.sin(2 * np.pi * 0.1 * t)
    pitch = np.deg2rad(-5.0) + np.deg2rad(4.0) * np.sin(2 * np.pi * 0.07 * t)
    return position, P.quat_from_yaw_pitch_roll(yaw, pitch)


def default_hands(t_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two hands resting over a table and gesturing: (2, 26, 3), (2, 26, 4), (2, 26) in stage."""
    t = t_ns / NS
    positions = np.zeros((2, HAND_JOINT_COUNT, 3))
    orientations = np.zeros((2, HAND_JOINT_COUNT, 4))
    radii = np.zeros((2, HAND_JOINT_COUNT))
    for hand in (0, 1):
        side = -1.0 if hand == 0 else 1.0
        phase = hand * 1.3
        curl = 0.6 + 0.5 * np.sin(2 * np.pi * 0.3 * t + phase)
        local_p, local_q, radii[hand] = rest_hand_joints(curl, right=bool(hand))
        wrist_p = np.array([side * 0.16 + 0.03 * np.sin(2 * np.pi * 0.5 * t + phase),
                            0.85 + 0.03 * np.sin(2 * np.pi * 0.4 * t + phase),
                            -0.25])
        wrist_q = P.quat_from_yaw_pitch_roll(-side * np.deg2rad(15.0), 0.0, 0.0)
        positions[hand] = P.transform_points(wrist_p, wrist_q, local_p)
        orientations[hand] = P.quat_mul(np.broadcast_to(wrist_q, local_q.shape), local_q)
    return positions, orientations, radii


@dataclass
class RecordedHands:
    """Recorded joints replayed by time (linear between samples, held at the ends).

    times_ns: (N,) int64 increasing; positions (N, 2, 26, 3); orientations (N, 2, 26, 4);
    radii (N, 2, 26); valid (N, 2, 26) bool.
    """

    times_ns: np.ndarray
    positions: np.ndarray
    orientations: np.ndarray
    radii: np.ndarray
    valid: np.ndarray

    def __call__(self, t_ns: int):
        i = int(np.clip(np.searchsorted(self.times_ns, t_ns, side="right") - 1, 0, len(self.times_ns) - 1))
        k = min(i + 1, len(self.times_ns) - 1)
        span = self.times_ns[k] - self.times_ns[i]
        a = 0.0 if span <= 0 else float(np.clip((t_ns - self.times_ns[i]) / span, 0.0, 1.0))
        pos = (1 - a) * self.positions[i] + a * self.positions[k]
        q0, q1 = self.orientations[i], self.orientations[k]
        q1 = np.where((np.sum(q0 * q1, axis=-1) < 0)[..., None], -q1, q1)
        rot = P.normalize((1 - a) * q0 + a * q1)
        rad = (1 - a) * self.radii[i] + a * self.radii[k]
        return pos, rot, rad, self.valid[i] & self.valid[k]


@dataclass
class ControllerSample:
    """Scripted controller state at one time; arrays indexed by hand (0 left, 1 right)."""

    grip_position: np.ndarray            # (2, 3) metres
    grip_orientation: np.ndarray         # (2, 4)
    aim_position: np.ndarray             # (2, 3)
    aim_orientation: np.ndarray          # (2, 4)
    trigger: np.ndarray                  # (2,) 0..1
    squeeze: np.ndarray                  # (2,) 0..1
    thumbstick: np.ndarray               # (2, 2) -1..1
    thumbstick_touch: np.ndarray         # (2,) bool
    buttons: dict = field(default_factory=dict)  # "primary"/"secondary"/"menu"/"thumbstick_click" -> (2,) bool


def default_controllers(t_ns: int) -> ControllerSample:
    """Controllers held where the default hands are, the trigger pulsing at 0.5 Hz."""
    positions, orientations, _ = default_hands(t_ns)
    t = t_ns / NS
    pulse = 0.5 + 0.5 * np.sin(2 * np.pi * 0.5 * t)
    return ControllerSample(
        grip_position=positions[:, 1].copy(), grip_orientation=orientations[:, 1].copy(),
        aim_position=positions[:, 1] + np.array([0.0, 0.0, -0.05]),
        aim_orientation=orientations[:, 1].copy(),
        trigger=np.array([pulse, 1.0 - pulse]), squeeze=np.array([0.0, 0.2]),
        thumbstick=np.array([[0.0, 0.0], [np.sin(t), np.cos(t)]]),
        thumbstick_touch=np.array([False, True]),
        buttons={"primary": np.array([False, pulse > 0.9])},
    )


# Event kinds a timeline can script, with the value each takes.
EVENT_KINDS = {
    "focus_lost": None,        # the system menu opens: VISIBLE, input is not ours
    "focus_gained": None,      # back to FOCUSED
    "loss_pending": None,      # the device goes away: LOSS_PENDING, the session must end
    "exit": None,              # the runtime asks the app to quit: STOPPING -> IDLE -> EXITING
    "refresh_rate": float,     # the display switches to value Hz
    "hand_lost": int,          # hand value (0 left, 1 right) stops being tracked
    "hand_found": int,         # hand value is tracked again
    "controllers_off": None,   # controllers put down (inactive)
    "controllers_on": None,
    "action": str,             # a menu action asked for by a key (value: a core.menu.MenuAction name)
}


@dataclass(frozen=True)
class ScriptEvent:
    t_ns: int
    kind: str
    value: float | int | str | None = None

    def __post_init__(self):
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown timeline event {self.kind!r}; known: {', '.join(EVENT_KINDS)}")


HeadFn = Callable[[int], tuple[np.ndarray, np.ndarray]]


@dataclass
class Timeline:
    """A scripted session. Every field is a function of t_ns or a list of timed events.

    head: t_ns -> T_stage_head. hands: t_ns -> (positions (2,26,3), orientations (2,26,4),
    radii (2,26)) or a RecordedHands (which also gives validity), None for no hand tracking.
    controllers: t_ns -> ControllerSample, or None for none. gaze: t_ns -> T_stage_gaze or None.
    events: ScriptEvents in any order. refresh_hz: the starting display rate. ipd_m: eye distance.
    """

    head: HeadFn = default_head
    hands: Callable | None = default_hands
    controllers: Callable[[int], ControllerSample] | None = None
    gaze: HeadFn | None = None
    events: list[ScriptEvent] = field(default_factory=list)
    refresh_hz: float = 72.0
    refresh_rates: tuple[float, ...] = (72.0, 90.0, 120.0)
    ipd_m: float = 0.063

    def events_in(self, t0_ns: int, t1_ns: int) -> list[ScriptEvent]:
        """Events with t0_ns < t_ns <= t1_ns, in time order."""
        return sorted((e for e in self.events if t0_ns < e.t_ns <= t1_ns), key=lambda e: e.t_ns)

    def hand_tracked(self, t_ns: int) -> np.ndarray:
        """(2,) bool: each hand's tracking at t_ns after the scripted losses and recoveries."""
        tracked = np.array([self.hands is not None] * 2)
        for e in sorted(self.events, key=lambda e: e.t_ns):
            if e.t_ns > t_ns:
                break
            if e.kind in ("hand_lost", "hand_found"):
                tracked[int(e.value)] = e.kind == "hand_found" and self.hands is not None
        return tracked

    def controllers_on(self, t_ns: int) -> bool:
        on = self.controllers is not None
        for e in sorted(self.events, key=lambda e: e.t_ns):
            if e.t_ns > t_ns:
                break
            if e.kind in ("controllers_on", "controllers_off"):
                on = e.kind == "controllers_on" and self.controllers is not None
        return on

    def sample_hands(self, t_ns: int):
        """(positions (2,26,3), orientations (2,26,4), radii (2,26), valid (2,26)) at t_ns."""
        if self.hands is None:
            q = np.zeros((2, HAND_JOINT_COUNT, 4))
            q[..., 3] = 1
            return (np.zeros((2, HAND_JOINT_COUNT, 3)), q, np.full((2, HAND_JOINT_COUNT), 0.01),
                    np.zeros((2, HAND_JOINT_COUNT), bool))
        out = self.hands(t_ns)
        if len(out) == 4:
            pos, rot, rad, valid = out
        else:
            pos, rot, rad = out
            valid = np.ones((2, HAND_JOINT_COUNT), bool)
        valid = valid & self.hand_tracked(t_ns)[:, None]
        return pos, rot, rad, valid

    def eye_poses(self, t_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """T_stage_eye for both eyes: positions (2, 3), orientations (2, 4) (left, right)."""
        p, q = self.head(t_ns)
        offsets = np.array([[-self.ipd_m / 2, 0.0, 0.0], [self.ipd_m / 2, 0.0, 0.0]])
        return P.transform_points(p, q, offsets), np.stack([q, q])

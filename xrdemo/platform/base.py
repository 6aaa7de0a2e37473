"""The one contract every platform (OpenXR, desktop window, simulated) offers the app.

A frame is ``begin_frame() -> FrameInput``, then ``end_frame(frame, draw)``. Everything in a
FrameInput is numpy data in stage space (metres, +Y up, -Z forward, quaternions x, y, z, w) for the
frame's predicted display time; no ``xr`` name leaks out of ``xrdemo/platform``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from xrdemo.core.frame import View

HAND_JOINT_COUNT = 26
"""Joints per hand, in XR_EXT_hand_tracking order (0 palm, 1 wrist, 2-5 thumb, 6-10 index,
11-15 middle, 16-20 ring, 21-25 little)."""

LEFT, RIGHT = 0, 1
"""Index of each hand / controller in every (2, ...) array."""


class SessionState(enum.IntEnum):
    """OpenXR's session states (same numbers as XrSessionState)."""

    UNKNOWN = 0
    IDLE = 1
    READY = 2
    SYNCHRONIZED = 3
    VISIBLE = 4
    FOCUSED = 5
    STOPPING = 6
    LOSS_PENDING = 7
    EXITING = 8


class EventKind(enum.Enum):
    """What happened since the previous frame (FrameInput.events)."""

    SESSION_STATE = "session_state"        # detail: {"state": SessionState}
    FOCUS_GAINED = "focus_gained"          # input reaches the app again
    FOCUS_LOST = "focus_lost"              # e.g. the system menu is open: input is not ours
    EXITING = "exiting"                    # the runtime or user ended the session
    SESSION_LOST = "session_lost"          # LOSS_PENDING or instance lost: the device went away
    REFRESH_RATE_CHANGED = "refresh_rate"  # detail: {"from_hz": float, "to_hz": float}
    INTERACTION_PROFILE = "interaction_profile"  # detail: {"left": str, "right": str}
    HAND_TRACKING_LOST = "hand_lost"       # detail: {"hand": 0|1}
    HAND_TRACKING_FOUND = "hand_found"     # detail: {"hand": 0|1}
    TALK = "talk"                          # the push-to-talk key went down or up: detail {"held": bool}
    RECENTER = "recenter"                  # the wearer recentred (the runtime moved LOCAL and/or
    #   the app's space): re-seat the wearer from their current head pose. detail {"space":
    #   "stage"|"local_floor"|"local" (the space that moved), "app_space_moved": bool (poses
    #   from now on are in a moved space), "change_time_ns": int, "pose_valid": bool,
    #   "position": (3,), "orientation": (4,)} = T_previous_new of the app's space (identity
    #   when not pose_valid or when only LOCAL moved).
    ACTION = "action"                      # detail: {"action": core.menu.MenuAction name, e.g. "MUTE"}


@dataclass(frozen=True)
class PlatformEvent:
    kind: EventKind
    detail: dict = field(default_factory=dict)
    message: str = ""


def state_change_events(previous: SessionState, state: SessionState) -> list[PlatformEvent]:
    """The events a session-state change produces: the new state, and focus gained or lost."""
    events = [PlatformEvent(EventKind.SESSION_STATE, {"state": state}, f"session {state.name}")]
    if state == SessionState.FOCUSED:
        events.append(PlatformEvent(EventKind.FOCUS_GAINED))
    elif previous == SessionState.FOCUSED:
        events.append(PlatformEvent(EventKind.FOCUS_LOST, message="input focus lost"))
    return events


@dataclass
class Pose:
    """position: (3,) float64 metres; orientation: (4,) quaternion x, y, z, w; valid: tracked now."""

    position: np.ndarray = field(default_factory=lambda: np.zeros(3))
    orientation: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 0.0, 1.0]))
    valid: bool = False


@dataclass
class HandsInput:
    """Articulated hands, index 0 = left, 1 = right, joints in XR_EXT_hand_tracking order.

    positions: (2, 26, 3) float32 metres; orientations: (2, 26, 4) float32 x, y, z, w;
    radii: (2, 26) float32 metres; valid: (2, 26) bool (position and orientation both valid now);
    active: (2,) bool, the tracker sees that hand. Joints that are not valid keep their last
    values, which must not be drawn as if tracked (the core fades them).
    """

    positions: np.ndarray
    orientations: np.ndarray
    radii: np.ndarray
    valid: np.ndarray
    active: np.ndarray

    @staticmethod
    def untracked() -> "HandsInput":
        q = np.zeros((2, HAND_JOINT_COUNT, 4), np.float32)
        q[..., 3] = 1.0
        return HandsInput(
            positions=np.zeros((2, HAND_JOINT_COUNT, 3), np.float32),
            orientations=q,
            radii=np.full((2, HAND_JOINT_COUNT), 0.01, np.float32),
            valid=np.zeros((2, HAND_JOINT_COUNT), bool),
            active=np.zeros(2, bool),
        )


@dataclass
class ControllersInput:
    """Two motion controllers, index 0 = left, 1 = right.

    grip_position / aim_position: (2, 3) float64 metres; grip_orientation / aim_orientation: (2, 4);
    grip_valid / aim_valid: (2,) bool. trigger, squeeze: (2,) float32 in 0..1. thumbstick: (2, 2)
    float32 x right, y up in -1..1; thumbstick_touch, thumbstick_click, primary (A/X),
    secondary (B/Y), menu: (2,) bool. active: (2,) bool, the controller is on and bound.
    profile: interaction profile path per hand ("" when none).
    """

    grip_position: np.ndarray
    grip_orientation: np.ndarray
    grip_valid: np.ndarray
    aim_position: np.ndarray
    aim_orientation: np.ndarray
    aim_valid: np.ndarray
    trigger: np.ndarray
    squeeze: np.ndarray
    thumbstick: np.ndarray
    thumbstick_touch: np.ndarray
    thumbstick_click: np.ndarray
    primary: np.ndarray
    secondary: np.ndarray
    menu: np.ndarray
    active: np.ndarray
    profile: tuple[str, str] = ("", "")

    @staticmethod
    def idle() -> "ControllersInput":
        q = np.zeros((2, 4))
        q[:, 3] = 1.0
        no = np.zeros(2, bool)
        return ControllersInput(
            grip_position=np.zeros((2, 3)), grip_orientation=q.copy(), grip_valid=no.copy(),
            aim_position=np.zeros((2, 3)), aim_orientation=q.copy(), aim_valid=no.copy(),
            trigger=np.zeros(2, np.float32), squeeze=np.zeros(2, np.float32),
            thumbstick=np.zeros((2, 2), np.float32), thumbstick_touch=no.copy(),
            thumbstick_click=no.copy(), primary=no.copy(), secondary=no.copy(), menu=no.copy(),
            active=no.copy(),
        )


@dataclass
class FaceInput:
    """A face tracker's reading mapped onto core/expressions.py (platform/openxr_face.py).

    weights: (EXPRESSION_COUNT,) float32 0..1, NaN in columns this tracker cannot see (e.g. brows
    on HTC); valid: the tracker saw the face this frame (weights are meaningless otherwise);
    source: the extension it came from.
    """

    weights: np.ndarray
    valid: bool = False
    source: str = ""


@dataclass
class FrameInput:
    """Everything the app needs for one frame, predicted for ``predicted_display_time_ns``.

    predicted_display_time_ns: int, the runtime's clock (OpenXR XrTime) in nanoseconds; every pose
    below is located at this time. predicted_display_period_ns: int, time between frames.
    views: one View per eye (2 on a headset, 1 in a window), stage space.
    head: T_stage_head. hands: articulated hands (untracked when the runtime has none).
    controllers: motion controllers. gaze: T_stage_gaze (origin between the eyes, -Z along the
    gaze) or None where there is no eye tracking. session_state: the runtime's session state.
    should_render: False when the runtime will not show this frame (draw nothing, still end it);
    also False when the views are not valid this frame (views_valid False). views_valid: the
    runtime reported both position and orientation valid for the views and every number is
    finite (False on a headset's first frames and on tracking loss: no projection layer is
    submitted that frame; the views then hold the last valid values, or identity).
    events: what changed since the previous frame. exit_requested: the session is over (EXITING,
    lost, or the user asked to quit); stop the loop and call shutdown(). frame_index: counts frames
    from 0. face: the face tracker's weights (None: no face tracking on this platform).
    gaze_vergence_deg: the angle between the two eyes' lines of sight when a per-eye tracker gives
    it (XR_FB_eye_tracking_social), else None.
    """

    predicted_display_time_ns: int
    predicted_display_period_ns: int
    views: list[View]
    head: Pose
    hands: HandsInput
    controllers: ControllersInput
    gaze: Pose | None
    session_state: SessionState
    should_render: bool
    events: list[PlatformEvent] = field(default_factory=list)
    exit_requested: bool = False
    frame_index: int = 0
    views_valid: bool = True
    face: FaceInput | None = None
    gaze_vergence_deg: float | None = None


DrawView = Callable[[int, View, int, tuple[int, int]], None]
"""draw(view_index, view, framebuffer, (width, height)): render one view into the bound GL
framebuffer object ``framebuffer`` of that size. The platform calls it once per view."""


@dataclass
class Capabilities:
    """What this platform offers. ``missing`` maps an unavailable feature to the reason."""

    name: str                                   # "openxr", "desktop" or "headless"
    runtime: str = ""                           # e.g. "Monado 25.0.0" or "Oculus 1.109"
    system: str = ""                            # e.g. "Meta Quest 3" or "Remote HMD"
    view_count: int = 1
    view_size: tuple[int, int] = (0, 0)         # per-view recommended pixels (width, height)
    hand_tracking: bool = False
    controllers: bool = False
    haptics: bool = False
    eye_gaze: bool = False
    face_tracking: bool = False                 # XR_FB_face_tracking2 or XR_HTC_facial_tracking
    passthrough: bool = False
    refresh_rates: tuple[float, ...] = ()       # choosable rates in Hz; empty when fixed
    blend_modes: tuple[str, ...] = ("opaque",)  # "opaque", "additive", "alpha_blend"
    reference_space: str = "stage"              # where poses are: "room" (already in the meeting
    #   room: desktop window, headless recordings) or a headset's "stage", "local_floor", "local"
    #   (the app carries the wearer to a seat)
    passthrough_mode: str = ""                  # "fb_layer" (XR_FB_passthrough), "alpha_blend"
    #   (environment blend mode), "simulated" (synthetic camera) or "" (none)
    swapchain_format: str = ""                  # e.g. "GL_SRGB8_ALPHA8"
    missing: dict[str, str] = field(default_factory=dict)


class PlatformUnavailable(RuntimeError):
    """This platform cannot run here; the message says why in one line (used by the fallback)."""


class SessionEnded(RuntimeError):
    """The session ended (exited or lost); the message says why."""


@runtime_checkable
class Platform(Protocol):
    """One XR or desktop backend. Calls come from the render thread only.

    Loop::

        frame = platform.begin_frame()
        try:
            scene = step(...)                    # may raise
            draw = lambda i, view, fbo, size: renderer.draw(scene, view, fbo, size)
        finally:
            platform.end_frame(frame, draw)      # always; draw=None submits an empty frame
        if frame.exit_requested: platform.shutdown()
    """

    capabilities: Capabilities

    def begin_frame(self) -> FrameInput:
        """Wait for the next frame (runtime pacing) and return its input."""

    def end_frame(self, frame: FrameInput, draw: DrawView | None = None) -> None:
        """Render the views through ``draw`` (if should_render) and submit the frame.

        ``frame`` is the FrameInput begin_frame returned or any copy of it (dataclasses.replace,
        e.g. with views moved into the room): platforms match it by frame_index and always end
        the frame they began. What is submitted to the runtime uses the platform's own views;
        ``draw`` receives the platform's view too (the app may draw with its own). Always
        submits, also when ``draw`` raises (then re-raises)."""

    def haptic_pulse(self, hand: int, amplitude: float = 0.5, duration_s: float = 0.05,
                     frequency_hz: float | None = None) -> bool:
        """Vibrate a controller (hand 0 left, 1 right); returns False where there is no haptics."""

    def set_passthrough(self, enabled: bool) -> bool:
        """Show the real room behind the scene; returns whether passthrough is now on."""

    def set_refresh_rate(self, hz: float) -> bool:
        """Ask for a display refresh rate; returns False where it cannot be chosen."""

    def set_seat(self, seat) -> None:
        """Where the local person sits (``desktop_input.SeatFrame``: eye point, yaw, table height,
        neighbours). A platform that tracks in the room itself (``capabilities.reference_space ==
        "room"``: the desktop window) puts its camera there; a headset ignores it (the app's
        seat transform carries its stage poses into the seat, see ``loop.seating``)."""

    def set_status(self, text: str) -> None:
        """One line of status (fps, people, audio) where the platform can show it (a window's
        title or status bar); ignored elsewhere."""

    def shutdown(self) -> None:
        """End the session and free everything; safe to call twice."""


class PlatformBase:
    """Defaults for the optional parts of the Platform contract: every platform subclasses it, so
    the app calls every method on every platform and never probes for one."""

    def haptic_pulse(self, hand: int, amplitude: float = 0.5, duration_s: float = 0.05,
                     frequency_hz: float | None = None) -> bool:
        return False

    def set_passthrough(self, enabled: bool) -> bool:
        return False

    def set_refresh_rate(self, hz: float) -> bool:
        return False

    def set_seat(self, seat) -> None:
        return None

    def set_status(self, text: str) -> None:
        return None

    def set_title(self, text: str) -> None:
        """The window's title, where there is a window (who and where: "xrdemo — Ada in team")."""
        return None

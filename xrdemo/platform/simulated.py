"""The simulated runtime: a deterministic platform scripted by a Timeline, on a clock the caller owns.

Frames are ``1 / refresh_hz`` apart in simulated time and nothing sleeps, so a test (or a headless
recording) runs as fast as the CPU allows and replays exactly. It goes through the same session
states as OpenXR (IDLE, READY, SYNCHRONIZED, VISIBLE, FOCUSED, STOPPING, LOSS_PENDING, EXITING).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from xrdemo.core.frame import View
from xrdemo.core import pose as P
from xrdemo.platform.base import (
    PlatformBase,
    Capabilities, ControllersInput, DrawView, EventKind, FrameInput, HandsInput, PlatformEvent, Pose,
    SessionState, state_change_events,
)
from xrdemo.platform.timeline import NS, Timeline

FramebufferFor = Callable[[int, tuple[int, int]], int]
"""framebuffer_for(view_index, (width, height)) -> GL framebuffer object to draw that view into."""


class SimulatedPlatform(PlatformBase):
    """A Platform with no device: views, hands and controllers come from a Timeline.

    timeline: the script. start_ns: the first predicted display time. view_count: 2 (stereo, like a
    headset) or 1 (a single camera, for recordings). view_size: pixels per view. fov_deg:
    horizontal field of view per view. framebuffer_for: where ``draw`` renders each view (None: draw
    is not called, frames are only counted). The caller advances time by calling begin_frame.
    """

    def __init__(self, timeline: Timeline | None = None, *, start_ns: int = NS, view_count: int = 2,
                 view_size: tuple[int, int] = (320, 240), fov_deg: float = 90.0,
                 framebuffer_for: FramebufferFor | None = None):
        if view_count not in (1, 2):
            raise ValueError(f"view_count must be 1 or 2, not {view_count}")
        self.timeline = timeline or Timeline()
        self.framebuffer_for = framebuffer_for
        self._t_ns = int(start_ns)
        self._refresh_hz = float(self.timeline.refresh_hz)
        self._fov = P.symmetric_fov(fov_deg, view_size[0] / view_size[1])
        self._state = SessionState.IDLE
        self._frame_index = 0
        self._in_frame = False
        self._ended = False
        self._passthrough = False
        self._hand_was_tracked = np.array([self.timeline.hands is not None] * 2)
        self.haptic_log: list[tuple[int, int, float, float]] = []   # (t_ns, hand, amplitude, seconds)
        self.frames_submitted = 0
        self.frames_drawn = 0
        self.capabilities = Capabilities(
            name="headless", runtime="xrdemo simulated runtime", system="scripted timeline",
            view_count=view_count, view_size=tuple(view_size),
            hand_tracking=self.timeline.hands is not None,
            controllers=self.timeline.controllers is not None,
            haptics=self.timeline.controllers is not None,
            eye_gaze=self.timeline.gaze is not None, passthrough=False,
            refresh_rates=tuple(self.timeline.refresh_rates), blend_modes=("opaque",),
            reference_space="room", swapchain_format="none (simulated)",
            missing={"passthrough": "the simulated runtime has no camera"},
        )

    # -- time -------------------------------------------------------------------------------
    @property
    def period_ns(self) -> int:
        return int(round(NS / self._refresh_hz))

    @property
    def session_state(self) -> SessionState:
        return self._state

    def _set_state(self, state: SessionState, events: list[PlatformEvent]) -> None:
        previous, self._state = self._state, state
        events.extend(state_change_events(previous, state))

    # -- frame ------------------------------------------------------------------------------
    def begin_frame(self) -> FrameInput:
        if self._in_frame:
            raise RuntimeError("begin_frame called twice without end_frame")
        events: list[PlatformEvent] = []
        t_prev = self._t_ns
        if self._frame_index > 0 and not self._ended:
            self._t_ns += self.period_ns
        t = self._t_ns
        if self._state == SessionState.IDLE and not self._ended:
            for s in (SessionState.READY, SessionState.SYNCHRONIZED, SessionState.VISIBLE,
                      SessionState.FOCUSED):
                self._set_state(s, events)
        for e in self.timeline.events_in(t_prev, t) if self._frame_index > 0 else self.timeline.events_in(-1, t):
            self._apply(e, events)
        running = self._state in (SessionState.SYNCHRONIZED, SessionState.VISIBLE, SessionState.FOCUSED)
        focused = self._state == SessionState.FOCUSED
        frame = FrameInput(
            predicted_display_time_ns=t, predicted_display_period_ns=self.period_ns,
            views=self._views(t), head=self._head(t),
            hands=self._hands(t, focused, events), controllers=self._controllers(t, focused),
            gaze=self._gaze(t, focused), session_state=self._state,
            should_render=running and self._state != SessionState.SYNCHRONIZED,
            events=events, exit_requested=self._ended, frame_index=self._frame_index,
        )
        self._frame_index += 1
        self._in_frame = running
        return frame

    def end_frame(self, frame: FrameInput, draw: DrawView | None = None) -> None:
        if not self._in_frame:
            return   # nothing began (session not running): nothing to submit
        try:
            if frame.should_render and draw is not None and self.framebuffer_for is not None:
                for i, view in enumerate(frame.views):
                    size = self.capabilities.view_size
                    draw(i, view, self.framebuffer_for(i, size), size)
                self.frames_drawn += 1
        finally:
            self._in_frame = False
            self.frames_submitted += 1

    def _apply(self, e, events: list[PlatformEvent]) -> None:
        if self._ended:
            return
        if e.kind == "focus_lost" and self._state == SessionState.FOCUSED:
            self._set_state(SessionState.VISIBLE, events)
        elif e.kind == "focus_gained" and self._state == SessionState.VISIBLE:
            self._set_state(SessionState.FOCUSED, events)
        elif e.kind == "refresh_rate":
            old, self._refresh_hz = self._refresh_hz, float(e.value)
            events.append(PlatformEvent(EventKind.REFRESH_RATE_CHANGED,
                                        {"from_hz": old, "to_hz": self._refresh_hz},
                                        f"display refresh rate {old:g} -> {self._refresh_hz:g} Hz"))
        elif e.kind == "loss_pending":
            self._set_state(SessionState.LOSS_PENDING, events)
            events.append(PlatformEvent(EventKind.SESSION_LOST,
                                        message="the XR session was lost (device disconnected)"))
            self._ended = True
        elif e.kind == "action":
            events.append(PlatformEvent(EventKind.ACTION, {"action": str(e.value)}))
        elif e.kind == "exit":
            for s in (SessionState.STOPPING, SessionState.IDLE, SessionState.EXITING):
                self._set_state(s, events)
            events.append(PlatformEvent(EventKind.EXITING, message="the runtime ended the session"))
            self._ended = True

    def _views(self, t: int) -> list[View]:
        p, q = self.timeline.eye_poses(t)
        if self.capabilities.view_count == 1:
            hp, hq = self.timeline.head(t)
            return [View(np.asarray(hp, float), np.asarray(hq, float), self._fov)]
        return [View(p[i], q[i], self._fov) for i in range(2)]

    def _head(self, t: int) -> Pose:
        p, q = self.timeline.head(t)
        return Pose(np.asarray(p, float), np.asarray(q, float), True)

    def _hands(self, t: int, focused: bool, events: list[PlatformEvent]) -> HandsInput:
        pos, rot, rad, valid = self.timeline.sample_hands(t)
        if not focused:
            valid = np.zeros_like(valid)
        active = valid.any(axis=1)
        for hand in (0, 1):
            if active[hand] != self._hand_was_tracked[hand]:
                kind = EventKind.HAND_TRACKING_FOUND if active[hand] else EventKind.HAND_TRACKING_LOST
                events.append(PlatformEvent(kind, {"hand": hand}))
        self._hand_was_tracked = active.copy()
        return HandsInput(pos.astype(np.float32), rot.astype(np.float32), rad.astype(np.float32),
                          valid.astype(bool), active)

    def _controllers(self, t: int, focused: bool) -> ControllersInput:
        c = ControllersInput.idle()
        if not focused or not self.timeline.controllers_on(t):
            return c
        s = self.timeline.controllers(t)
        yes = np.ones(2, bool)
        c.grip_position, c.grip_orientation, c.grip_valid = s.grip_position, s.grip_orientation, yes
        c.aim_position, c.aim_orientation, c.aim_valid = s.aim_position, s.aim_orientation, yes.copy()
        c.trigger = np.asarray(s.trigger, np.float32)
        c.squeeze = np.asarray(s.squeeze, np.float32)
        c.thumbstick = np.asarray(s.thumbstick, np.float32)
        c.thumbstick_touch = np.asarray(s.thumbstick_touch, bool)
        for name in ("primary", "secondary", "menu", "thumbstick_click"):
            if name in s.buttons:
                setattr(c, name, np.asarray(s.buttons[name], bool))
        c.active = yes.copy()
        c.profile = ("/interaction_profiles/oculus/touch_controller",) * 2
        return c

    def _gaze(self, t: int, focused: bool) -> Pose | None:
        if self.timeline.gaze is None:
            return None
        p, q = self.timeline.gaze(t)
        return Pose(np.asarray(p, float), np.asarray(q, float), focused)

    # -- output -----------------------------------------------------------------------------
    def haptic_pulse(self, hand: int, amplitude: float = 0.5, duration_s: float = 0.05,
                     frequency_hz: float | None = None) -> bool:
        if not self.capabilities.haptics or self._state != SessionState.FOCUSED:
            return False
        self.haptic_log.append((self._t_ns, int(hand), float(amplitude), float(duration_s)))
        return True

    def set_passthrough(self, enabled: bool) -> bool:
        return False

    def set_refresh_rate(self, hz: float) -> bool:
        if float(hz) not in self.capabilities.refresh_rates:
            return False
        self._refresh_hz = float(hz)
        return True

    def shutdown(self) -> None:
        self._ended = True
        self._in_frame = False

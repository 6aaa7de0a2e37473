"""Following the OpenXR runtime's events for the platform: session states, profile changes,
recentres, refresh-rate changes, loss.

A mixin of OpenXRPlatform (openxr.py), which owns the state.
"""

from __future__ import annotations

import ctypes

import numpy as np

from xrdemo.platform.base import EventKind, PlatformEvent, SessionState, state_change_events
from xrdemo.platform.openxr_input import pose_arrays
from xrdemo.platform.openxr_setup import SPACE_NAMES


class SessionEvents:
    """OpenXRPlatform's event handling: ``_poll_events`` drains the queue into PlatformEvents."""

    @property
    def session_state(self) -> SessionState:
        return self._state

    def _poll_events(self, events: list[PlatformEvent]) -> None:
        """Drain the runtime's event queue into ``events`` (may raise _RuntimeGone)."""
        xr = self.xr
        events.extend(self._pending_events)
        self._pending_events = []
        with self._guard():
            while True:
                try:
                    buf = xr.poll_event(self.instance)
                except xr.EventUnavailable:
                    break
                self._on_event(buf, events)

    def _on_event(self, buf, events: list[PlatformEvent]) -> None:
        xr = self.xr
        kind = xr.StructureType(buf.type)

        def cast(struct):
            return ctypes.cast(ctypes.byref(buf), ctypes.POINTER(struct)).contents

        if kind == xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
            self._on_state(SessionState(int(cast(xr.EventDataSessionStateChanged).state)), events)
        elif kind == xr.StructureType.EVENT_DATA_INSTANCE_LOSS_PENDING:
            self._lost("the OpenXR runtime is going away (instance loss pending)", events)
        elif kind == xr.StructureType.EVENT_DATA_INTERACTION_PROFILE_CHANGED:
            left, right = self.input.refresh_profiles()
            events.append(PlatformEvent(EventKind.INTERACTION_PROFILE, {"left": left, "right": right},
                                        f"input profiles: left {left or 'none'}, right {right or 'none'}"))
        elif kind == xr.StructureType.EVENT_DATA_REFERENCE_SPACE_CHANGE_PENDING:
            self._on_space_change(cast(xr.EventDataReferenceSpaceChangePending), events)
        elif kind == xr.StructureType.EVENT_DATA_DISPLAY_REFRESH_RATE_CHANGED_FB:
            ev = cast(xr.EventDataDisplayRefreshRateChangedFB)
            a, b = float(ev.from_display_refresh_rate), float(ev.to_display_refresh_rate)
            events.append(PlatformEvent(EventKind.REFRESH_RATE_CHANGED, {"from_hz": a, "to_hz": b},
                                        f"display refresh rate {a:g} -> {b:g} Hz"))
        elif kind == xr.StructureType.EVENT_DATA_EVENTS_LOST:
            self.log("openxr: the runtime dropped some events")

    def _on_space_change(self, ev, events: list[PlatformEvent]) -> None:
        """A user's recentre moves LOCAL (and on some runtimes STAGE): one RECENTER event per
        recentre, carrying T_previous_new of the app's own space when that is what moved."""
        xr = self.xr
        space_type = int(ev.reference_space_type)
        local = int(xr.ReferenceSpaceType.LOCAL)
        if space_type not in (self._app_space_type, local):
            return
        own = space_type == self._app_space_type
        p, q = pose_arrays(ev.pose_in_previous_space)
        valid = own and bool(ev.pose_valid) and bool(np.isfinite(p).all() and np.isfinite(q).all())
        if not valid:
            p, q = np.zeros(3), np.array([0.0, 0.0, 0.0, 1.0])
        name = SPACE_NAMES.get(xr.ReferenceSpaceType(space_type).name, "local")
        event = PlatformEvent(EventKind.RECENTER, {
            "space": name, "app_space_moved": own, "change_time_ns": int(ev.change_time),
            "pose_valid": valid, "position": p, "orientation": q}, "the wearer recentred")
        for i, e in enumerate(events):
            if e.kind == EventKind.RECENTER and e.detail["change_time_ns"] == int(ev.change_time):
                if own:
                    events[i] = event     # the same recentre: keep the app space's version
                return
        events.append(event)

    def _on_state(self, state: SessionState, events: list[PlatformEvent]) -> None:
        xr = self.xr
        previous, self._state = self._state, state
        events.extend(state_change_events(previous, state))
        if state == SessionState.READY:
            xr.begin_session(self.session, xr.SessionBeginInfo(primary_view_configuration_type=self.view_config))
            self._running = True
            self._after_begin()
        elif state == SessionState.STOPPING:
            self._running = False
            xr.end_session(self.session)
        elif state == SessionState.EXITING:
            self._exit = True
            self._exit_reason = self._exit_reason or "the runtime ended the session"
            events.append(PlatformEvent(EventKind.EXITING, message=self._exit_reason))
        elif state == SessionState.LOSS_PENDING:
            self._lost("the XR session was lost (headset disconnected?)", events)

    def _lost(self, why: str, events: list[PlatformEvent]) -> None:
        if not self._exit:
            self._exit, self._exit_reason = True, why
            events.append(PlatformEvent(EventKind.SESSION_LOST, message=why))
            self.log(f"openxr: {why}")
        self._running = False

    def _after_begin(self) -> None:
        """Things that need a running session: refresh rates."""
        xr = self.xr
        if "XR_FB_display_refresh_rate" in self.enabled_extensions:
            rates = tuple(float(r) for r in xr.enumerate_display_refresh_rates_fb(self.session))
            self.capabilities.refresh_rates = rates
            if self._wanted_refresh:
                self.set_refresh_rate(self._wanted_refresh)


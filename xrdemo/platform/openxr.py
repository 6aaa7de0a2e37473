"""The OpenXR platform: a headset through any OpenXR runtime (Meta/Quest Link, Monado, WiVRn, SteamVR).

Everything ``xr.`` stays here and in openxr_input / openxr_gl / openxr_passthrough. The session
life cycle is driven by runtime events (IDLE, READY -> xrBeginSession, SYNCHRONIZED, VISIBLE,
FOCUSED, STOPPING -> xrEndSession, LOSS_PENDING, EXITING); frames are paced by xrWaitFrame; every
pose is located at the frame's predicted display time; xrEndFrame always follows xrBeginFrame, also
when drawing raised or the runtime went away in between.

Losing the runtime (Quest Link's cable, a crash) is handled in one place, ``_guard``: any call
reporting XR_SESSION_LOSS_PENDING, XR_ERROR_SESSION_LOST, XR_ERROR_INSTANCE_LOST or
XR_TIMEOUT_EXPIRED ends the session the same way: a SESSION_LOST event and exit_requested on the
next FrameInput, the begun frame ended with no layers, never a traceback.
The ``xr`` module is a constructor argument so tests can run this very code against a fake runtime.
"""

from __future__ import annotations

import contextlib
import ctypes
import time
import traceback
from dataclasses import dataclass

import numpy as np

from xrdemo.core.expressions import EXPRESSION_COUNT
from xrdemo.core.frame import View
from xrdemo.platform.base import (
    ControllersInput, DrawView, EventKind, FaceInput, FrameInput, HandsInput, PlatformBase, PlatformEvent,
    PlatformUnavailable, Pose, SessionState,
)
from xrdemo.platform.openxr_events import SessionEvents
from xrdemo.platform.openxr_face import FaceTracking
from xrdemo.platform.openxr_gl import SwapchainFramebuffers
from xrdemo.platform.openxr_input import XrInput, location_valid, pose_arrays, sanitize_frame_input
from xrdemo.platform.openxr_passthrough import Passthrough
from xrdemo.platform.openxr_runtime import (  # noqa: F401  (probe_*, extension tables re-exported)
    OPTIONAL_EXTENSIONS, REQUIRED_EXTENSION, DebugMessenger, probe_extensions, probe_runtime,
)
from xrdemo.platform.openxr_setup import BLEND_NAMES, SPACE_NAMES, SessionSetup, _Swapchain  # noqa: F401

IDLE_POLL_S = 0.05
"""How long begin_frame waits between event polls while the session is not running."""
SWAPCHAIN_WAIT_S = 3.0
"""xrWaitSwapchainImage timeout: an image not ready after this long means the runtime is stuck
(a Link hiccup); the session ends cleanly instead of hanging forever."""
SHUTDOWN_FRAMES = 200
"""At most this many empty frames are submitted while shutdown waits for STOPPING (the runtime
paces them: ~3 s at 72 Hz, 10 s on Monado's 20 Hz null compositor)."""


class _RuntimeGone(Exception):
    """An OpenXR call reported session loss, instance loss or a timeout (see _guard)."""

    def __init__(self, call: str, exc: Exception):
        super().__init__(f"{call}: {type(exc).__name__}")
        self.call, self.error = call, exc


@dataclass
class _OpenFrame:
    """The frame between xrBeginFrame and xrEndFrame: what the platform itself located."""

    index: int
    time_ns: int
    should_render: bool
    views_valid: bool
    views: list          # core View per eye (stage space), the platform's own
    xr_views: list       # xr.View per eye, for the projection layer


class OpenXRPlatform(SessionSetup, SessionEvents, PlatformBase):
    """A headset through OpenXR. ``gl_context`` must be current on this thread and stay so.

    xr: the pyopenxr module (or a fake of it). gl_context: an EGL, GLX or WGL context object
    (openxr_gl.binding_kind); if it has ``pump_events()`` (the hidden Windows window), that runs
    every frame. framebuffers: the GL helper that wraps swapchain textures in FBOs. sleep: how to
    wait while the session is not running. log: one-line messages for the user. debug_messages:
    a callable that receives every XR_EXT_debug_utils message (the validation layer's) as one
    line naming the call; the extension must be offered (it is when a layer is enabled).
    Raises PlatformUnavailable (one line, why) when no usable runtime or headset is there.
    """

    def __init__(self, xr, gl_context, *, framebuffers=None, app_name: str = "xrdemo",
                 refresh_hz: float | None = None, sleep=time.sleep, log=print, debug_messages=None):
        self.xr = xr
        self.gl_context = gl_context
        self._pump = getattr(gl_context, "pump_events", None)
        self.fbos = framebuffers or SwapchainFramebuffers()
        self.sleep = sleep
        self.log = log
        self.instance = self.session = self.app_space = self.view_space = None
        self.input: XrInput | None = None
        self.face: FaceTracking | None = None
        self.swapchains: list[_Swapchain] = []
        self.passthrough: Passthrough | None = None
        self._messenger = DebugMessenger(xr, debug_messages) if debug_messages else None
        self._state = SessionState.UNKNOWN
        self._running = False
        self._exit = False
        self._exit_reason = ""
        self._frame_index = 0
        self._open: _OpenFrame | None = None
        self._last_views: list[View] = []
        self._wanted_refresh = refresh_hz
        self._last_time = 0
        self._last_period = 0
        self._pending_events: list[PlatformEvent] = []
        self._gone_kinds = (xr.SessionLossPending, xr.SessionLostError, xr.InstanceLostError, xr.TimeoutExpired)
        try:
            self._create(app_name)
        except PlatformUnavailable:
            self.shutdown()
            raise
        except xr.XrException as exc:
            self.shutdown()
            raise PlatformUnavailable(f"OpenXR setup failed: {type(exc).__name__} {exc}".strip()) from exc

    # -- losing the runtime: the one place -----------------------------------------------------
    @contextlib.contextmanager
    def _guard(self):
        """Turn session loss, instance loss and timeouts from any xr call into _RuntimeGone."""
        try:
            yield
        except self._gone_kinds as exc:
            raise _RuntimeGone(_failing_call(exc), exc) from None

    def _gone(self, gone: _RuntimeGone, events: list[PlatformEvent]) -> None:
        """The same outcome whatever call reported it: the session is over, cleanly."""
        err = gone.error
        if isinstance(err, self.xr.TimeoutExpired):
            why = f"the OpenXR runtime stopped responding ({gone.call} timed out)"
        elif isinstance(err, self.xr.InstanceLostError):
            why = f"the OpenXR runtime went away ({gone.call}: instance lost)"
        else:
            why = f"the XR session was lost, headset disconnected? ({gone.call}: {type(err).__name__})"
        self._lost(why, events)

    # -- frame -------------------------------------------------------------------------------
    def begin_frame(self) -> FrameInput:
        xr = self.xr
        if self._open is not None:
            raise RuntimeError("begin_frame called twice without end_frame")
        if self._pump is not None:
            self._pump()                  # the hidden window's messages (Windows)
        events: list[PlatformEvent] = []
        try:
            self._poll_events(events)
        except _RuntimeGone as gone:
            self._gone(gone, events)
        if not self._running or self._exit:
            if not self._exit:
                self.sleep(IDLE_POLL_S)   # no xrWaitFrame pacing until the session runs
            return self._idle_frame(events)
        began = False
        try:
            with self._guard():
                state = xr.wait_frame(self.session, xr.FrameWaitInfo())
                t = int(state.predicted_display_time)
                self._last_time, self._last_period = t, int(state.predicted_display_period)
                try:
                    xr.begin_frame(self.session, xr.FrameBeginInfo())
                except xr.FrameDiscarded:
                    pass                  # the previous frame was dropped; this one still goes
                except xr.SessionLossPending:
                    began = True          # a qualified success: the frame did begin
                    raise
                began = True
                frame = self._locate_frame(t, bool(state.should_render), events)
        except _RuntimeGone as gone:
            self._gone(gone, events)
            if began:
                self._end_empty(self._last_time)
            return self._idle_frame(events)
        return frame

    def _idle_frame(self, events: list[PlatformEvent]) -> FrameInput:
        frame = FrameInput(
            predicted_display_time_ns=self._last_time, predicted_display_period_ns=self._last_period,
            views=[], head=Pose(), hands=HandsInput.untracked(), controllers=ControllersInput.idle(),
            gaze=None, session_state=self._state, should_render=False, events=events,
            exit_requested=self._exit, frame_index=self._frame_index, views_valid=False)
        self._frame_index += 1
        return frame

    def _locate_frame(self, t: int, should_render: bool, events: list[PlatformEvent]) -> FrameInput:
        xr = self.xr
        view_state, xr_views = xr.locate_views(self.session, xr.ViewLocateInfo(
            view_configuration_type=self.view_config, display_time=t, space=self.app_space))
        views = []
        for v in xr_views:
            p, q = pose_arrays(v.pose)
            fov = v.fov
            views.append(View(p, q, (fov.angle_left, fov.angle_right, fov.angle_up, fov.angle_down)))
        views_valid = _views_valid(xr, view_state, views)
        if views_valid:
            self._last_views = views
        else:   # never hand out NaN or stale-garbage views: the last valid ones, or identity
            views = self._last_views or [View(np.zeros(3), np.array([0.0, 0.0, 0.0, 1.0]), v.fov) for v in views]
        head_loc = xr.locate_space(self.view_space, self.app_space, t)
        hp, hq = pose_arrays(head_loc.pose)
        head = Pose(hp, hq, location_valid(xr, head_loc.location_flags))
        focused = self._state == SessionState.FOCUSED
        synced = self.input.sync(focused)
        was_active = self.input.hands.active.copy()
        hands = self.input.hand_joints(self.app_space, t, synced)
        for hand in (0, 1):
            if hands.active[hand] != was_active[hand]:
                kind = EventKind.HAND_TRACKING_FOUND if hands.active[hand] else EventKind.HAND_TRACKING_LOST
                events.append(PlatformEvent(kind, {"hand": hand}))
        gaze = self.input.gaze(self.app_space, t, synced)
        eyes = self.face.read_eyes(self.app_space, t) if focused else None
        if eyes is not None:                       # per-eye tracking: gaze from both eyes, and vergence
            gaze = eyes[0]
        face = None
        if self.face.face:
            weights = self.face.read_face(t) if focused else None
            face = FaceInput(weights if weights is not None else np.full(EXPRESSION_COUNT, np.nan, np.float32),
                             weights is not None, self.face.source)
        frame = FrameInput(
            predicted_display_time_ns=t, predicted_display_period_ns=self._last_period, views=views,
            head=head, hands=_copy_hands(hands), controllers=self.input.controllers(self.app_space, t, synced),
            gaze=gaze, session_state=self._state,
            should_render=should_render and views_valid, events=events, exit_requested=self._exit,
            frame_index=self._frame_index, views_valid=views_valid, face=face,
            gaze_vergence_deg=None if eyes is None else eyes[1])
        sanitize_frame_input(frame)
        self._open = _OpenFrame(self._frame_index, t, frame.should_render, views_valid, list(views), list(xr_views))
        self._frame_index += 1
        return frame

    def end_frame(self, frame: FrameInput, draw: DrawView | None = None) -> None:
        """Draw each eye into its swapchain image and submit; xrEndFrame runs whatever happens.

        ``frame`` may be the FrameInput begin_frame returned or any copy of it (matched by
        frame_index). The projection layer is built from the platform's own located views, and
        ``draw`` gets those views too. A frame_index that is not the open frame's ends the open
        frame with no layers and raises ValueError (a caller bug, said loudly)."""
        xr = self.xr
        opened, self._open = self._open, None
        if opened is None:
            return   # an idle frame (session not running): xrBeginFrame was not called
        matches = frame.frame_index == opened.index
        layers = []
        acquired = waited = None
        events: list[PlatformEvent] = []
        try:
            if matches and opened.should_render and draw is not None:
                try:
                    with self._guard():
                        projection_views = []
                        for i, (chain, view) in enumerate(zip(self.swapchains, opened.views)):
                            acquired, waited = chain, False   # LOSS_PENDING from acquire still acquires
                            index = xr.acquire_swapchain_image(chain.handle, xr.SwapchainImageAcquireInfo())
                            xr.wait_swapchain_image(chain.handle, xr.SwapchainImageWaitInfo(
                                timeout=int(SWAPCHAIN_WAIT_S * 1e9)))
                            waited = True
                            fbo = self.fbos.framebuffer(chain.textures[index], chain.size)
                            self.fbos.bind(fbo, chain.size)
                            draw(i, view, fbo, chain.size)
                            acquired = None
                            xr.release_swapchain_image(chain.handle, xr.SwapchainImageReleaseInfo())
                            projection_views.append(self._projection_view(opened.xr_views[i], chain))
                        layers = self._layers(projection_views)
                except _RuntimeGone as gone:
                    self._gone(gone, events)
                    layers = []
        finally:
            if acquired is not None:      # drawing raised, or the runtime went, with an image held
                self._give_back(acquired, waited)
                layers = []
            self._submit(opened.time_ns, layers, events)
            self._pending_events.extend(events)
        if not matches:
            raise ValueError(f"end_frame got frame {frame.frame_index}, but frame {opened.index} is open "
                             "(pass the frame begin_frame returned, or a copy of it)")

    def _give_back(self, chain: _Swapchain, waited: bool) -> None:
        """Release a held swapchain image (a release must follow a successful wait), quietly."""
        xr = self.xr
        wait = xr.SwapchainImageWaitInfo(timeout=int(SWAPCHAIN_WAIT_S * 1e9))
        if waited or _succeeded(xr, xr.wait_swapchain_image, chain.handle, wait):
            _succeeded(xr, xr.release_swapchain_image, chain.handle, xr.SwapchainImageReleaseInfo())

    def _projection_view(self, xr_view, chain: _Swapchain):
        pv = self.xr.CompositionLayerProjectionView(pose=xr_view.pose, fov=xr_view.fov)
        pv.sub_image.swapchain = chain.handle
        pv.sub_image.image_rect.offset.x = 0
        pv.sub_image.image_rect.offset.y = 0
        pv.sub_image.image_rect.extent.width = chain.size[0]
        pv.sub_image.image_rect.extent.height = chain.size[1]
        return pv

    def _layers(self, projection_views) -> list:
        """Layer pointers for xrEndFrame: passthrough under, then the projection layer."""
        self._projection = self.xr.CompositionLayerProjection(space=self.app_space, views=projection_views)
        self._projection.layer_flags = self.passthrough.projection_flags()
        return self.passthrough.layers_under() + [ctypes.byref(self._projection)]

    def _submit(self, t: int, layers: list, events: list[PlatformEvent]) -> None:
        """xrEndFrame for the begun frame (guarded), then the GL clean-up some runtimes need."""
        xr = self.xr
        try:
            with self._guard():
                xr.end_frame(self.session, xr.FrameEndInfo(
                    display_time=t, environment_blend_mode=self.passthrough.blend_mode(), layers=layers))
        except _RuntimeGone as gone:
            self._gone(gone, events)
        except xr.XrException as exc:
            if not self._exit:
                raise
            self.log(f"openxr: xrEndFrame after the session ended: {type(exc).__name__}")
        self.fbos.after_submit()

    def _end_empty(self, t: int) -> None:
        """End a begun frame with no layers after the runtime went away mid-frame."""
        events: list[PlatformEvent] = []
        self._submit(t, [], events)
        self._pending_events.extend(e for e in events if e.kind != EventKind.SESSION_LOST)

    # -- output ------------------------------------------------------------------------------
    def haptic_pulse(self, hand: int, amplitude: float = 0.5, duration_s: float = 0.05,
                     frequency_hz: float | None = None) -> bool:
        if not self._running or self._state != SessionState.FOCUSED:
            return False
        try:
            with self._guard():
                self.input.haptic(int(hand), amplitude, duration_s, frequency_hz)
        except _RuntimeGone as gone:
            self._gone(gone, self._pending_events)
            return False
        return True

    def set_passthrough(self, enabled: bool) -> bool:
        """Show the real room (XR_FB_passthrough layer or ALPHA_BLEND); toggles while running."""
        xr = self.xr
        if not self.capabilities.passthrough or self.session is None or self._exit:
            return False
        try:
            with self._guard():
                return self.passthrough.set(self.session, enabled)
        except _RuntimeGone as gone:
            self._gone(gone, self._pending_events)
            return False
        except xr.XrException as exc:
            self.passthrough.destroy()
            self.capabilities.passthrough = False
            self.capabilities.missing["passthrough"] = (
                f"passthrough failed to start ({type(exc).__name__}); on Quest Link enable it in "
                "Developer Runtime Features")
            return False

    def set_refresh_rate(self, hz: float) -> bool:
        xr = self.xr
        rates = self.capabilities.refresh_rates
        if not rates or not self._running:
            self._wanted_refresh = hz
            return False
        best = min(rates, key=lambda r: abs(r - hz))
        if abs(best - hz) > 0.5:
            return False
        try:
            with self._guard():
                xr.request_display_refresh_rate_fb(self.session, best)
        except _RuntimeGone as gone:
            self._gone(gone, self._pending_events)
            return False
        except xr.DisplayRefreshRateUnsupportedFBError:
            return False
        return True

    def shutdown(self) -> None:
        """End the session (if it runs), destroy everything; safe to call twice.

        A running session is asked to exit, and empty frames keep flowing (the runtime expects
        them) until STOPPING arrives and xrEndSession is legal."""
        xr = self.xr
        if self._open is not None:
            opened, self._open = self._open, None
            self._submit(opened.time_ns, [], [])
        if self.session is not None and self._running:
            self._stop_session()
        if self.input is not None:
            _quietly(xr, self.input.destroy)
            self.input = None
        if self.face is not None:
            self.face.destroy()
            self.face = None
        if self.passthrough is not None:
            self.passthrough.destroy()
        for chain in self.swapchains:
            _quietly(xr, xr.destroy_swapchain, chain.handle)
        self.swapchains = []
        try:
            self.fbos.destroy()
        except Exception:   # the GL context may already be gone at exit
            pass
        for space in (self.view_space, self.app_space):
            if space is not None:
                _quietly(xr, xr.destroy_space, space)
        self.view_space = self.app_space = None
        if self.session is not None:
            _quietly(xr, xr.destroy_session, self.session)
            self.session = None
        if self._messenger is not None:
            self._messenger.destroy()
        if self.instance is not None:
            _quietly(xr, xr.destroy_instance, self.instance)
            self.instance = None
        self._exit = True

    def _stop_session(self) -> None:
        xr = self.xr
        events: list[PlatformEvent] = []
        try:
            with self._guard():
                xr.request_exit_session(self.session)
            for _ in range(SHUTDOWN_FRAMES):
                self._poll_events(events)
                if not self._running:
                    break
                with self._guard():       # an empty frame: the runtime paces us to STOPPING
                    state = xr.wait_frame(self.session, xr.FrameWaitInfo())
                    try:
                        xr.begin_frame(self.session, xr.FrameBeginInfo())
                    except xr.FrameDiscarded:
                        pass
                    xr.end_frame(self.session, xr.FrameEndInfo(
                        display_time=int(state.predicted_display_time),
                        environment_blend_mode=self.passthrough.blend_mode(), layers=[]))
        except _RuntimeGone as gone:
            self._gone(gone, events)
        except xr.XrException as exc:
            self.log(f"openxr: ending the session: {type(exc).__name__}")
        if self._running:
            _quietly(xr, xr.end_session, self.session)
            self._running = False


def _views_valid(xr, view_state, views: list[View]) -> bool:
    """Both view-state valid bits set and every number finite."""
    F = xr.ViewStateFlags
    bits = int(F.POSITION_VALID_BIT) | int(F.ORIENTATION_VALID_BIT)
    if (int(view_state.view_state_flags) & bits) != bits:
        return False
    return all(np.isfinite(v.position).all() and np.isfinite(v.orientation).all()
               and np.isfinite(v.fov).all() for v in views)


def _failing_call(exc: BaseException) -> str:
    """The name of the innermost xr function the exception came out of (for the message)."""
    names = [f.name for f in traceback.extract_tb(exc.__traceback__)]
    for name in reversed(names):
        if not name.startswith("_") and name != "check":
            return name
    return names[-1] if names else "?"


def _succeeded(xr, fn, *args) -> bool:
    """Call fn; True when it did its work (SUCCESS or the qualified XR_SESSION_LOSS_PENDING)."""
    try:
        fn(*args)
    except xr.SessionLossPending:
        return True
    except xr.XrException:
        return False
    return True


def _quietly(xr, fn, *args) -> None:
    try:
        fn(*args)
    except xr.XrException:
        pass


def _copy_hands(h: HandsInput) -> HandsInput:
    return HandsInput(h.positions.copy(), h.orientations.copy(), h.radii.copy(), h.valid.copy(), h.active.copy())

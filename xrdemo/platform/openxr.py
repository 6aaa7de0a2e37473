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

from xrdemo.core.frame import View
from xrdemo.core.expressions import EXPRESSION_COUNT
from xrdemo.platform.base import (
    PlatformBase,
    Capabilities, ControllersInput, DrawView, EventKind, FaceInput, FrameInput, HandsInput, PlatformEvent,
    PlatformUnavailable, Pose, SessionState, state_change_events,
)
from xrdemo.platform.openxr_gl import (
    GL_FORMAT_NAMES, PREFERRED_COLOR_FORMATS, SwapchainFramebuffers, binding_kind, make_graphics_binding,
    required_extension,
)
from xrdemo.platform.openxr_face import EXTENSIONS as FACE_EXTENSIONS
from xrdemo.platform.openxr_face import FaceTracking
from xrdemo.platform.openxr_input import XrInput, check, location_valid, pose_arrays, sanitize_frame_input
from xrdemo.platform.openxr_passthrough import NOT_OFFERED, Passthrough
from xrdemo.platform.openxr_runtime import (  # noqa: F401  (probe_* re-exported for callers)
    DEBUG_UTILS, OPTIONAL_EXTENSIONS, REQUIRED_EXTENSION, DebugMessenger, probe_extensions, probe_runtime,
    text as _text,
)

BLEND_NAMES = {1: "opaque", 2: "additive", 3: "alpha_blend"}
IDLE_POLL_S = 0.05
"""How long begin_frame waits between event polls while the session is not running."""
SWAPCHAIN_WAIT_S = 3.0
"""xrWaitSwapchainImage timeout: an image not ready after this long means the runtime is stuck
(a Link hiccup); the session ends cleanly instead of hanging forever."""
SHUTDOWN_FRAMES = 200
"""At most this many empty frames are submitted while shutdown waits for STOPPING (the runtime
paces them: ~3 s at 72 Hz, 10 s on Monado's 20 Hz null compositor)."""
SPACE_NAMES = {"STAGE": "stage", "LOCAL_FLOOR_EXT": "local_floor", "LOCAL_FLOOR": "local_floor", "LOCAL": "local"}


class _RuntimeGone(Exception):
    """An OpenXR call reported session loss, instance loss or a timeout (see _guard)."""

    def __init__(self, call: str, exc: Exception):
        super().__init__(f"{call}: {type(exc).__name__}")
        self.call, self.error = call, exc


@dataclass
class _Swapchain:
    handle: object
    size: tuple[int, int]
    textures: list[int]


@dataclass
class _OpenFrame:
    """The frame between xrBeginFrame and xrEndFrame: what the platform itself located."""

    index: int
    time_ns: int
    should_render: bool
    views_valid: bool
    views: list          # core View per eye (stage space), the platform's own
    xr_views: list       # xr.View per eye, for the projection layer


class OpenXRPlatform(PlatformBase):
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

    # -- creation ----------------------------------------------------------------------------
    def _create(self, app_name: str) -> None:
        xr = self.xr
        available = probe_extensions(xr)
        missing: dict[str, str] = {}
        if REQUIRED_EXTENSION not in available:
            raise PlatformUnavailable(f"the OpenXR runtime lacks {REQUIRED_EXTENSION} (OpenGL rendering)")
        kind = binding_kind(self.gl_context)
        need = required_extension(kind)
        if need and need not in available:
            raise PlatformUnavailable(f"the OpenXR runtime lacks {need}, needed for {kind} rendering")
        enabled = [REQUIRED_EXTENSION] + [e for e in {**OPTIONAL_EXTENSIONS, **FACE_EXTENSIONS} if e in available]
        for ext, feature in OPTIONAL_EXTENSIONS.items():
            if ext not in available:
                missing[feature.split(" (")[0]] = f"the runtime does not offer {ext}"
        chain = None
        if self._messenger is not None:
            if DEBUG_UTILS not in available:
                raise PlatformUnavailable(f"debug messages asked for, but the runtime lacks {DEBUG_UTILS}")
            enabled.append(DEBUG_UTILS)
            chain = self._messenger.create_info_pointer()
        self.enabled_extensions = set(enabled)
        self.instance = xr.create_instance(xr.InstanceCreateInfo(
            next=chain,
            application_info=xr.ApplicationInfo(application_name=app_name, application_version=1,
                                                engine_name="xrdemo", engine_version=1),
            enabled_extension_names=enabled))
        if self._messenger is not None:
            self._messenger.attach(self.instance)
        props = xr.get_instance_properties(self.instance)
        runtime = f"{_text(props.runtime_name)} {props.runtime_version}"
        try:
            self.system_id = xr.get_system(self.instance, xr.SystemGetInfo(
                form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY))
        except xr.FormFactorUnavailableError as exc:
            raise PlatformUnavailable(f"{runtime}: no headset connected (is Quest Link on?)") from exc
        system_name, hands_ok, gaze_ok = self._system_properties()
        if "XR_EXT_hand_tracking" in enabled and not hands_ok:
            missing["hand tracking"] = "the headset does not track hands (Quest Link: enable it in Developer Runtime Features)"
        if "XR_EXT_eye_gaze_interaction" in enabled and not gaze_ok:
            missing["eye gaze"] = "the headset has no eye tracking"
        self.view_config = xr.ViewConfigurationType.PRIMARY_STEREO
        config_views = xr.enumerate_view_configuration_views(self.instance, self.system_id, self.view_config)
        blend = [int(b) for b in xr.enumerate_environment_blend_modes(self.instance, self.system_id, self.view_config)]
        self.passthrough = Passthrough(xr, self.enabled_extensions, blend)
        if self.passthrough.mode:
            missing.pop("passthrough", None)
        else:
            missing["passthrough"] = NOT_OFFERED
        # Must precede xrCreateSession (else XR_ERROR_GRAPHICS_REQUIREMENTS_CALL_MISSING).
        xr.get_opengl_graphics_requirements_khr(self.instance, self.system_id)
        binding = make_graphics_binding(xr, self.gl_context)
        self.session = xr.create_session(self.instance, xr.SessionCreateInfo(
            system_id=self.system_id, next=ctypes.cast(ctypes.pointer(binding), ctypes.c_void_p)))
        self._binding = binding
        self.reference_space = self._create_app_space()
        self.view_space = xr.create_reference_space(self.session, xr.ReferenceSpaceCreateInfo(
            reference_space_type=xr.ReferenceSpaceType.VIEW))
        color_format = self._create_swapchains(config_views)
        self.input = XrInput(xr, self.instance, self.session,
                             hand_tracking="XR_EXT_hand_tracking" in enabled and hands_ok,
                             eye_gaze="XR_EXT_eye_gaze_interaction" in enabled and gaze_ok)
        self.face = FaceTracking(xr, self.instance, self.session, self.enabled_extensions)
        missing.update(self.face.missing)
        self.capabilities = Capabilities(
            name="openxr", runtime=runtime, system=system_name, view_count=len(self.swapchains),
            view_size=self.swapchains[0].size, hand_tracking=bool(self.input.hand_trackers),
            controllers=True, haptics=True,
            eye_gaze=self.input.gaze_space is not None or self.face.fb_eyes is not None,
            face_tracking=self.face.face,
            passthrough=bool(self.passthrough.mode), passthrough_mode=self.passthrough.mode,
            refresh_rates=(), blend_modes=tuple(BLEND_NAMES.get(b, str(b)) for b in blend),
            reference_space=self.reference_space,
            swapchain_format=GL_FORMAT_NAMES.get(color_format, hex(color_format)), missing=missing)

    def _system_properties(self) -> tuple[str, bool, bool]:
        """System name and hand/eye support, through the raw call so the `next` chain works."""
        xr = self.xr
        hands = xr.SystemHandTrackingPropertiesEXT()
        gaze = xr.SystemEyeGazeInteractionPropertiesEXT()
        chain = None
        if "XR_EXT_eye_gaze_interaction" in self.enabled_extensions:
            chain = ctypes.cast(ctypes.pointer(gaze), ctypes.c_void_p)
        if "XR_EXT_hand_tracking" in self.enabled_extensions:
            hands.next = chain
            chain = ctypes.cast(ctypes.pointer(hands), ctypes.c_void_p)
        props = xr.SystemProperties(next=chain)
        check(xr, xr.raw_functions.xrGetSystemProperties(self.instance, self.system_id, ctypes.byref(props)))
        return (_text(props.system_name), bool(hands.supports_hand_tracking),
                bool(gaze.supports_eye_gaze_interaction))

    def _create_app_space(self) -> str:
        """Stage if offered, else local-floor, else local shifted down to a guessed floor."""
        xr = self.xr
        offered = set(int(s) for s in xr.enumerate_reference_spaces(self.session))
        choice, pose = xr.ReferenceSpaceType.LOCAL, xr.Posef()
        if int(xr.ReferenceSpaceType.STAGE) in offered:
            choice = xr.ReferenceSpaceType.STAGE
        elif (int(xr.ReferenceSpaceType.LOCAL_FLOOR_EXT) in offered
              and "XR_EXT_local_floor" in self.enabled_extensions):
            choice = xr.ReferenceSpaceType.LOCAL_FLOOR_EXT
        else:
            pose.position = xr.Vector3f(0.0, -1.2, 0.0)   # eyes of a seated person ~1.2 m up
        self.app_space = xr.create_reference_space(self.session, xr.ReferenceSpaceCreateInfo(
            reference_space_type=choice, pose_in_reference_space=pose))
        self._app_space_type = int(choice)
        return SPACE_NAMES[xr.ReferenceSpaceType(choice).name]

    def _create_swapchains(self, config_views) -> int:
        xr = self.xr
        offered = list(xr.enumerate_swapchain_formats(self.session))
        fmt = next((f for f in PREFERRED_COLOR_FORMATS if f in offered), None)
        if fmt is None:
            raise PlatformUnavailable(f"the runtime offers no colour swapchain format we draw to ({offered})")
        for v in config_views:
            size = (int(v.recommended_image_rect_width), int(v.recommended_image_rect_height))
            handle = xr.create_swapchain(self.session, xr.SwapchainCreateInfo(
                usage_flags=xr.SwapchainUsageFlags.COLOR_ATTACHMENT_BIT | xr.SwapchainUsageFlags.SAMPLED_BIT,
                format=fmt, sample_count=1, width=size[0], height=size[1], face_count=1,
                array_size=1, mip_count=1))
            images = xr.enumerate_swapchain_images(handle, xr.SwapchainImageOpenGLKHR)
            self.swapchains.append(_Swapchain(handle, size, [int(i.image) for i in images]))
        return fmt

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

    # -- events and life cycle ---------------------------------------------------------------
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

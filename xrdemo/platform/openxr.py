"""The OpenXR platform: a headset through any OpenXR runtime (Meta/Quest Link, Monado, WiVRn, SteamVR).

Everything ``xr.`` stays here and in openxr_input / openxr_gl. The session life cycle is driven by
runtime events (IDLE, READY -> xrBeginSession, SYNCHRONIZED, VISIBLE, FOCUSED, STOPPING ->
xrEndSession, LOSS_PENDING, EXITING); frames are paced by xrWaitFrame; every pose is located at the
frame's predicted display time; xrEndFrame always follows xrBeginFrame, also when drawing raised.
The ``xr`` module is a constructor argument so tests can run this very code against a fake runtime.
"""

from __future__ import annotations

import ctypes
import time
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
from xrdemo.platform.openxr_input import XrInput, check, location_valid, pose_arrays

REQUIRED_EXTENSION = "XR_KHR_opengl_enable"

OPTIONAL_EXTENSIONS = {
    "XR_EXT_hand_tracking": "hand tracking (26 joints per hand)",
    "XR_FB_passthrough": "passthrough (see the real room)",
    "XR_EXT_eye_gaze_interaction": "eye gaze (eye contact for your avatar)",
    "XR_FB_display_refresh_rate": "choosing the refresh rate (72/90/120 Hz)",
    "XR_EXT_local_floor": "a floor-level space when the runtime has no stage",
    "XR_MNDX_egl_enable": "headless EGL rendering (Monado on Linux)",
    "XR_KHR_convert_timespec_time": "mapping runtime time to the system clock",
}
"""Extensions we enable when present, and the feature each unlocks (doctor prints these)."""

BLEND_NAMES = {1: "opaque", 2: "additive", 3: "alpha_blend"}
IDLE_POLL_S = 0.05
"""How long begin_frame waits between event polls while the session is not running."""


def probe_runtime(xr) -> dict:
    """What the installed OpenXR runtime offers, without creating a session.

    Returns {"extensions": {name: version}, "runtime": str, "system": str or "", "error": str or ""}.
    Raises PlatformUnavailable when there is no runtime at all.
    """
    extensions = probe_extensions(xr)
    info = {"extensions": extensions, "runtime": "", "system": "", "error": ""}
    try:
        instance = xr.create_instance(xr.InstanceCreateInfo(
            application_info=xr.ApplicationInfo(application_name="xrdemo doctor", engine_name="xrdemo"),
            enabled_extension_names=[]))
    except xr.XrException as exc:
        info["error"] = f"xrCreateInstance failed ({type(exc).__name__})"
        return info
    try:
        props = xr.get_instance_properties(instance)
        info["runtime"] = f"{_text(props.runtime_name)} {props.runtime_version}"
        try:
            system_id = xr.get_system(instance, xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY))
            info["system"] = _text(xr.get_system_properties(instance, system_id).system_name)
        except xr.FormFactorUnavailableError:
            info["error"] = "no headset connected (the runtime reports the HMD form factor unavailable)"
    finally:
        xr.destroy_instance(instance)
    return info


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class _Swapchain:
    handle: object
    size: tuple[int, int]
    textures: list[int]


class OpenXRPlatform(PlatformBase):
    """A headset through OpenXR. ``gl_context`` must be current on this thread and stay so.

    xr: the pyopenxr module (or a fake of it). gl_context: an EGL, GLX or WGL context object
    (openxr_gl.binding_kind). framebuffers: the GL helper that wraps swapchain textures in FBOs.
    sleep: how to wait while the session is not running. log: one-line messages for the user.
    Raises PlatformUnavailable (one line, why) when no usable runtime or headset is there.
    """

    def __init__(self, xr, gl_context, *, framebuffers=None, app_name: str = "xrdemo",
                 refresh_hz: float | None = None, sleep=time.sleep, log=print):
        self.xr = xr
        self.gl_context = gl_context
        self.fbos = framebuffers or SwapchainFramebuffers()
        self.sleep = sleep
        self.log = log
        self.instance = self.session = self.app_space = self.view_space = None
        self.input: XrInput | None = None
        self.face: FaceTracking | None = None
        self.swapchains: list[_Swapchain] = []
        self._passthrough = self._passthrough_layer = None
        self._passthrough_on = False
        self._state = SessionState.UNKNOWN
        self._running = False
        self._exit = False
        self._exit_reason = ""
        self._frame_index = 0
        self._in_frame: FrameInput | None = None
        self._wanted_refresh = refresh_hz
        self._last_time = 0
        self._last_period = 0
        self._pending_events: list[PlatformEvent] = []
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
        self.enabled_extensions = set(enabled)
        self.instance = xr.create_instance(xr.InstanceCreateInfo(
            application_info=xr.ApplicationInfo(application_name=app_name, application_version=1,
                                                engine_name="xrdemo", engine_version=1),
            enabled_extension_names=enabled))
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
        self.blend_mode = xr.EnvironmentBlendMode(blend[0])
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
        passthrough = "XR_FB_passthrough" in enabled
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
            passthrough=passthrough, refresh_rates=(),
            blend_modes=tuple(BLEND_NAMES.get(b, str(b)) for b in blend),
            reference_space=self.reference_space, swapchain_format=GL_FORMAT_NAMES.get(color_format, hex(color_format)),
            missing=missing)

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
        choice, name, pose = xr.ReferenceSpaceType.LOCAL, "local", xr.Posef()
        if int(xr.ReferenceSpaceType.STAGE) in offered:
            choice, name = xr.ReferenceSpaceType.STAGE, "stage"
        elif (int(xr.ReferenceSpaceType.LOCAL_FLOOR_EXT) in offered
              and "XR_EXT_local_floor" in self.enabled_extensions):
            choice, name = xr.ReferenceSpaceType.LOCAL_FLOOR_EXT, "local_floor"
        else:
            pose.position = xr.Vector3f(0.0, -1.2, 0.0)   # eyes of a seated person ~1.2 m up
        self.app_space = xr.create_reference_space(self.session, xr.ReferenceSpaceCreateInfo(
            reference_space_type=choice, pose_in_reference_space=pose))
        return name

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

    # -- events and life cycle ---------------------------------------------------------------
    @property
    def session_state(self) -> SessionState:
        return self._state

    def _poll_events(self) -> list[PlatformEvent]:
        xr = self.xr
        events, self._pending_events = self._pending_events, []
        while True:
            try:
                buf = xr.poll_event(self.instance)
            except xr.EventUnavailable:
                break
            kind = xr.StructureType(buf.type)
            if kind == xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
                ev = ctypes.cast(ctypes.byref(buf), ctypes.POINTER(xr.EventDataSessionStateChanged)).contents
                self._on_state(SessionState(int(ev.state)), events)
            elif kind == xr.StructureType.EVENT_DATA_INSTANCE_LOSS_PENDING:
                self._lost("the OpenXR runtime is going away (instance loss pending)", events)
            elif kind == xr.StructureType.EVENT_DATA_INTERACTION_PROFILE_CHANGED:
                left, right = self.input.refresh_profiles()
                events.append(PlatformEvent(EventKind.INTERACTION_PROFILE, {"left": left, "right": right}))
            elif kind == xr.StructureType.EVENT_DATA_DISPLAY_REFRESH_RATE_CHANGED_FB:
                ev = ctypes.cast(ctypes.byref(buf), ctypes.POINTER(xr.EventDataDisplayRefreshRateChangedFB)).contents
                a, b = float(ev.from_display_refresh_rate), float(ev.to_display_refresh_rate)
                events.append(PlatformEvent(EventKind.REFRESH_RATE_CHANGED, {"from_hz": a, "to_hz": b},
                                            f"display refresh rate {a:g} -> {b:g} Hz"))
            elif kind == xr.StructureType.EVENT_DATA_EVENTS_LOST:
                self.log("openxr: the runtime dropped some events")
        return events

    def _on_state(self, state: SessionState, events: list[PlatformEvent]) -> None:
        xr = self.xr
        previous, self._state = self._state, state
        events.extend(state_change_events(previous, state))
        if state == SessionState.READY:
            xr.begin_session(self.session, xr.SessionBeginInfo(primary_view_configuration_type=self.view_config))
            self._running = True
            self._after_begin(events)
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

    def _after_begin(self, events: list[PlatformEvent]) -> None:
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
        if self._in_frame is not None:
            raise RuntimeError("begin_frame called twice without end_frame")
        try:
            events = self._poll_events()
        except (xr.InstanceLostError, xr.SessionLostError) as exc:
            events = []
            self._lost(f"the OpenXR runtime was lost ({type(exc).__name__})", events)
        if not self._running or self._exit:
            if not self._exit:
                self.sleep(IDLE_POLL_S)   # no xrWaitFrame pacing until the session runs
            return self._idle_frame(events)
        try:
            state = xr.wait_frame(self.session, xr.FrameWaitInfo())
        except xr.SessionLossPending:
            self._lost("the XR session was lost (headset disconnected?)", events)
            return self._idle_frame(events)
        except (xr.SessionLostError, xr.InstanceLostError) as exc:
            self._lost(f"the XR session was lost ({type(exc).__name__})", events)
            return self._idle_frame(events)
        try:
            xr.begin_frame(self.session, xr.FrameBeginInfo())
        except xr.FrameDiscarded:
            pass   # the previous frame was dropped; this one still goes
        except (xr.SessionLostError, xr.InstanceLostError) as exc:
            self._lost(f"the XR session was lost ({type(exc).__name__})", events)
            return self._idle_frame(events)
        t = int(state.predicted_display_time)
        self._last_time, self._last_period = t, int(state.predicted_display_period)
        frame = self._locate_frame(t, bool(state.should_render), events)
        self._in_frame = frame
        return frame

    def _idle_frame(self, events: list[PlatformEvent]) -> FrameInput:
        frame = FrameInput(
            predicted_display_time_ns=self._last_time, predicted_display_period_ns=self._last_period,
            views=[], head=Pose(), hands=HandsInput.untracked(), controllers=ControllersInput.idle(),
            gaze=None, session_state=self._state, should_render=False, events=events,
            exit_requested=self._exit, frame_index=self._frame_index)
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
        self._xr_views = xr_views
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
            should_render=should_render, events=events, exit_requested=self._exit,
            frame_index=self._frame_index, face=face,
            gaze_vergence_deg=None if eyes is None else eyes[1])
        self._frame_index += 1
        return frame

    def end_frame(self, frame: FrameInput, draw: DrawView | None = None) -> None:
        """Draw each eye into its swapchain image and submit; xrEndFrame runs whatever happens."""
        xr = self.xr
        if self._in_frame is None or frame is not self._in_frame:
            return   # an idle frame (session not running): xrBeginFrame was not called
        layers = []
        acquired = None
        try:
            if frame.should_render and draw is not None:
                projection_views = []
                for i, (chain, view) in enumerate(zip(self.swapchains, frame.views)):
                    index = xr.acquire_swapchain_image(chain.handle, xr.SwapchainImageAcquireInfo())
                    acquired = chain
                    xr.wait_swapchain_image(chain.handle, xr.SwapchainImageWaitInfo(timeout=xr.INFINITE_DURATION))
                    fbo = self.fbos.framebuffer(chain.textures[index], chain.size)
                    self.fbos.bind(fbo, chain.size)
                    draw(i, view, fbo, chain.size)
                    xr.release_swapchain_image(chain.handle, xr.SwapchainImageReleaseInfo())
                    acquired = None
                    pv = xr.CompositionLayerProjectionView(pose=self._xr_views[i].pose, fov=self._xr_views[i].fov)
                    pv.sub_image.swapchain = chain.handle
                    pv.sub_image.image_rect.offset.x = 0
                    pv.sub_image.image_rect.offset.y = 0
                    pv.sub_image.image_rect.extent.width = chain.size[0]
                    pv.sub_image.image_rect.extent.height = chain.size[1]
                    projection_views.append(pv)
                self._projection = xr.CompositionLayerProjection(space=self.app_space, views=projection_views)
                if self._passthrough_on and self._passthrough_layer is not None:
                    self._passthrough_struct = xr.CompositionLayerPassthroughFB(layer_handle=self._passthrough_layer)
                    layers.append(ctypes.byref(self._passthrough_struct))
                    self._projection.layer_flags = xr.CompositionLayerFlags.BLEND_TEXTURE_SOURCE_ALPHA_BIT
                layers.append(ctypes.byref(self._projection))
        finally:
            self._in_frame = None
            if acquired is not None:      # drawing raised with an image held: give it back
                try:
                    xr.release_swapchain_image(acquired.handle, xr.SwapchainImageReleaseInfo())
                except xr.XrException:
                    pass
                layers = []
            try:
                xr.end_frame(self.session, xr.FrameEndInfo(
                    display_time=frame.predicted_display_time_ns, environment_blend_mode=self.blend_mode,
                    layers=layers))
            except (xr.SessionLostError, xr.InstanceLostError, xr.SessionLossPending) as exc:
                self._lost(f"the XR session was lost ({type(exc).__name__})", self._pending_events)
            self.fbos.after_submit()

    # -- output ------------------------------------------------------------------------------
    def haptic_pulse(self, hand: int, amplitude: float = 0.5, duration_s: float = 0.05,
                     frequency_hz: float | None = None) -> bool:
        if not self._running or self._state != SessionState.FOCUSED:
            return False
        self.input.haptic(int(hand), amplitude, duration_s, frequency_hz)
        return True

    def set_passthrough(self, enabled: bool) -> bool:
        xr = self.xr
        if not self.capabilities.passthrough:
            return False
        if enabled and self._passthrough is None:
            try:
                self._passthrough = xr.create_passthrough_fb(self.session, xr.PassthroughCreateInfoFB(
                    flags=xr.PassthroughFlagsFB.IS_RUNNING_AT_CREATION_BIT))
                self._passthrough_layer = xr.create_passthrough_layer_fb(self.session, xr.PassthroughLayerCreateInfoFB(
                    passthrough=self._passthrough, flags=xr.PassthroughFlagsFB.IS_RUNNING_AT_CREATION_BIT,
                    purpose=xr.PassthroughLayerPurposeFB.RECONSTRUCTION))
            except xr.XrException as exc:
                self.capabilities.passthrough = False
                self.capabilities.missing["passthrough"] = (
                    f"passthrough failed to start ({type(exc).__name__}); on Quest Link enable it in "
                    "Developer Runtime Features")
                self._passthrough = self._passthrough_layer = None
                return False
        elif enabled:
            xr.passthrough_start_fb(self._passthrough)
            xr.passthrough_layer_resume_fb(self._passthrough_layer)
        elif self._passthrough is not None:
            xr.passthrough_layer_pause_fb(self._passthrough_layer)
            xr.passthrough_pause_fb(self._passthrough)
        self._passthrough_on = bool(enabled)
        return self._passthrough_on

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
            xr.request_display_refresh_rate_fb(self.session, best)
        except xr.DisplayRefreshRateUnsupportedFBError:
            return False
        return True

    def shutdown(self) -> None:
        """End the session (if it runs), destroy everything; safe to call twice."""
        xr = self.xr
        if self._in_frame is not None:
            self.end_frame(self._in_frame)
        if self.session is not None and self._running:
            try:
                xr.request_exit_session(self.session)
                for _ in range(50):          # let STOPPING arrive so xrEndSession is legal
                    self._poll_events()
                    if not self._running:
                        break
                    self.sleep(0.01)
            except xr.XrException:
                pass
            if self._running:
                try:
                    xr.end_session(self.session)
                except xr.XrException:
                    pass
                self._running = False
        if self.input is not None:
            _quietly(xr, self.input.destroy)
            self.input = None
        if self.face is not None:
            self.face.destroy()
            self.face = None
        for handle, destroy in ((self._passthrough_layer, "destroy_passthrough_layer_fb"),
                                (self._passthrough, "destroy_passthrough_fb")):
            if handle is not None:
                _quietly(xr, getattr(xr, destroy), handle)
        self._passthrough = self._passthrough_layer = None
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
        if self.instance is not None:
            _quietly(xr, xr.destroy_instance, self.instance)
            self.instance = None
        self._exit = True


def probe_extensions(xr) -> dict[str, int]:
    """{extension name: version} of the active runtime; PlatformUnavailable when there is none."""
    try:
        return {_text(e.extension_name): int(e.extension_version)
                for e in xr.enumerate_instance_extension_properties()}
    except xr.RuntimeUnavailableError as exc:
        raise PlatformUnavailable("no OpenXR runtime installed (the loader found no active runtime)") from exc
    except xr.XrException as exc:
        raise PlatformUnavailable(f"the OpenXR runtime failed to answer ({type(exc).__name__})") from exc


def _quietly(xr, fn, *args) -> None:
    try:
        fn(*args)
    except xr.XrException:
        pass


def _copy_hands(h: HandsInput) -> HandsInput:
    return HandsInput(h.positions.copy(), h.orientations.copy(), h.radii.copy(), h.valid.copy(), h.active.copy())

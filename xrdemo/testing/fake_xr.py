"""A fake of the pyopenxr calls xrdemo uses, backed by a Timeline: the simulated runtime as OpenXR.

``FakeXr(timeline, ...)`` looks like the ``xr`` module to ``OpenXRPlatform``: structs, enums,
constants and typed exceptions are pyopenxr's own (looked up on the real module); the functions
are reimplemented here. It enforces OpenXR's session state machine and call order and raises
pyopenxr's typed errors on misuse (xrBeginFrame without xrWaitFrame, xrEndFrame without
xrBeginFrame, a swapchain image not released before xrEndFrame, a pose located at a time that is
not the predicted display time, sync without attached action sets ...), so the code that runs on a
headset is the code under test. Time advances by one display period per xrWaitFrame; nothing sleeps.
It is as unkind as real runtimes where asked (FakeConfig): loss from any call (FAULT_CALLS x
FAULT_KINDS), invalid or NaN views, late frames; the Timeline scripts recentres, tracking loss and
hands/controllers swapping.

Why one long module: it is one object standing in for one API (pyopenxr's functions), and every
call shares the fake runtime's state machine (session state, frame, swapchains, faults); split,
that state would be scattered across files that each need all of it.
"""

from __future__ import annotations

import ctypes
import types
from dataclasses import dataclass, field

import numpy as np

from xrdemo.core import pose as P
from xrdemo.platform.timeline import NS, Timeline, recentred_origin
from xrdemo.platform.xr_import import import_xr

GL_SRGB8_ALPHA8, GL_RGBA8 = 0x8C43, 0x8058

ALL_EXTENSIONS = (
    "XR_KHR_opengl_enable", "XR_MNDX_egl_enable", "XR_EXT_hand_tracking", "XR_FB_passthrough",
    "XR_EXT_eye_gaze_interaction", "XR_FB_display_refresh_rate", "XR_EXT_local_floor",
    "XR_KHR_convert_timespec_time",
)
FACE_EXTENSIONS = ("XR_FB_face_tracking2", "XR_HTC_facial_tracking", "XR_FB_eye_tracking_social")
"""Offered only when a test asks (extensions=ALL_EXTENSIONS + FACE_EXTENSIONS), with FakeConfig's
face_fb2 / face_htc and the timeline's gaze saying what the trackers see."""
KNOWN_PROFILES = (
    "/interaction_profiles/khr/simple_controller", "/interaction_profiles/oculus/touch_controller",
    "/interaction_profiles/ext/eye_gaze_interaction",
)


@dataclass
class FakeConfig:
    """What the fake runtime offers. Each field turns one fault or capability on or off."""

    runtime_installed: bool = True
    extensions: tuple[str, ...] = ALL_EXTENSIONS
    headset_connected: bool = True
    supports_hands: bool = True
    supports_eye_gaze: bool = True
    reference_spaces: tuple[str, ...] = ("VIEW", "LOCAL", "STAGE", "LOCAL_FLOOR_EXT")
    swapchain_formats: tuple[int, ...] = (GL_SRGB8_ALPHA8, GL_RGBA8)
    blend_modes: tuple[int, ...] = (1, 3)          # opaque, alpha blend (passthrough headsets)
    view_size: tuple[int, int] = (64, 48)
    swapchain_length: int = 3
    start_ns: int = 10 * NS
    local_origin_y: float = 1.2                    # LOCAL space origin above the stage floor
    system_name: str = "Fake HMD"
    instance_lost_at_ns: int | None = None         # poll_event raises InstanceLostError from then
    fault: tuple[str, str, int] | None = None      # (call, kind, at_ns): the first ``call`` (a name
    #   in FAULT_CALLS) made at or after at_ns fails with kind (a key of FAULT_KINDS)
    invalid_view_frames: int = 0                   # the first N xrLocateViews report no valid bits
    nan_view_frames: tuple[int, ...] = ()          # xrLocateViews call numbers (from 0) whose poses are
    #   NaN while the flags claim valid (a buggy runtime)
    late_frames: tuple[int, ...] = ()              # xrWaitFrame call numbers (from 0) where the app
    #   was late and the runtime skips a display period
    recenter_moves_stage: bool = True              # a recentre moves STAGE too (else LOCAL only,
    #   as on runtimes whose stage is the guardian)

    face_fb2: object = None        # t_ns -> (70,) XR_FB_face_tracking2 weights; None: no face tracker
    face_htc: object = None        # t_ns -> (eye (14,), lip (37,)) XR_HTC_facial_tracking weights, or None
    fixation_m: float = 0.6        # XR_FB_eye_tracking_social: both eyes fixate this far along the gaze

FAULT_KINDS = {
    "loss_pending": "XR_SESSION_LOSS_PENDING: this call and every later session call succeed "
                    "but return the qualified success; LOSS_PENDING is queued",
    "session_lost": "XR_ERROR_SESSION_LOST from this call on",
    "instance_lost": "XR_ERROR_INSTANCE_LOST from this call on (destroy calls still work)",
    "timeout": "XR_TIMEOUT_EXPIRED (only xrWaitSwapchainImage can time out)",
}
FAULT_CALLS = (
    "poll_event", "wait_frame", "begin_frame", "locate_views", "locate_space", "sync_actions",
    "get_action_state_pose", "get_action_state_float", "get_action_state_vector2f",
    "get_action_state_boolean", "locate_hand_joints", "acquire_swapchain_image",
    "wait_swapchain_image", "release_swapchain_image", "end_frame", "get_current_interaction_profile",
    "apply_haptic_feedback", "request_display_refresh_rate_fb", "create_passthrough_fb",
    "create_passthrough_layer_fb", "passthrough_start_fb", "passthrough_pause_fb",
    "passthrough_layer_resume_fb", "passthrough_layer_pause_fb", "request_exit_session", "end_session",
)
"""Every call the OpenXR platform makes while a session exists, each of which a real runtime
may answer with session loss or instance loss."""
_NOT_SESSION_CALLS = ("poll_event",)   # instance-level: never returns XR_SESSION_LOSS_PENDING


@dataclass
class _Obj:
    kind: str
    data: dict = field(default_factory=dict)
    alive: bool = True


class FakeXr(types.SimpleNamespace):
    """The fake ``xr`` module. Inspect ``calls``, ``located_times``, ``submitted`` and ``haptics``."""

    def __init__(self, timeline: Timeline | None = None, config: FakeConfig | None = None):
        super().__init__()
        object.__setattr__(self, "_real", import_xr())
        self.timeline = timeline or Timeline()
        self.config = config or FakeConfig()
        self.calls: list[str] = []
        self.located_times: list[int] = []
        self.submitted: list[dict] = []         # one record per xrEndFrame
        self.haptics: list[tuple[str, float, int]] = []
        self.objects: dict[int, _Obj] = {}
        self._next_handle = 0x1000
        self._paths: dict[str, int] = {}
        self._events: list = []
        self._t = self.config.start_ns
        self._refresh = float(self.timeline.refresh_hz)
        self._state = 0
        self._session = None
        self._graphics_requirements_called = False
        self._predicted: set[int] = set()
        self._waited: int | None = None
        self._in_frame = False
        self._frames_ended = 0
        self._attached = False
        self._processed_until = -1
        self._lost = False
        self._callbacks = []
        self.raw_functions = types.SimpleNamespace(xrGetSystemProperties=self._raw_get_system_properties)
        self._loss_pending = False
        self._instance_gone = False
        self.fault_fired: str | None = None      # "call kind" once the scripted fault happened
        self.frame_open = False                  # xrBeginFrame succeeded and xrEndFrame was not tried
        self.stopping_delay_frames = 0           # xrRequestExitSession: STOPPING after this many frames
        self._stop_after: int | None = None
        self._view_calls = 0
        self._wait_calls = 0
        self._stage_origin = (np.zeros(3), np.array([0.0, 0.0, 0.0, 1.0]))   # T_tracking_stage
        for name in FAULT_CALLS:
            if name != "locate_hand_joints":
                object.__setattr__(self, name, self._faulty(name, getattr(self, name)))

    # -- fault injection ---------------------------------------------------------------------
    def _faulty(self, name: str, call):
        R = self._real

        def wrapped(*args, **kwargs):
            if name == "end_frame":
                self.frame_open = False          # xrEndFrame was attempted for the begun frame
            self._before(name)
            out = call(*args, **kwargs)
            if name == "begin_frame":
                self.frame_open = True
            if (self._loss_pending and name not in _NOT_SESSION_CALLS
                    and R.exception.raise_on_qualified_success):   # pyopenxr's switch, honoured
                raise R.SessionLossPending()
            return out
        # name the wrapper's code after the call, so a traceback (and the platform's message)
        # says "wait_frame", as it does with pyopenxr
        wrapped.__code__ = wrapped.__code__.replace(co_name=name, co_qualname=name)
        wrapped.__name__ = name
        return wrapped

    def _before(self, name: str) -> None:
        """Raise what the scripted fault says for this call, or InstanceLost once it is gone."""
        R = self._real
        if self._instance_gone:
            raise R.InstanceLostError()
        fault = self.config.fault
        if fault is None or self.fault_fired or fault[0] != name or self._t < fault[2]:
            return
        kind = fault[1]
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        self.fault_fired = f"{name} {kind}"
        if kind == "loss_pending":
            self._loss_pending = True
            self._queue_state("LOSS_PENDING")
        elif kind == "session_lost":
            self._lost = True
            raise R.SessionLostError()
        elif kind == "instance_lost":
            self._instance_gone = True
            raise R.InstanceLostError()
        elif kind == "timeout":
            if name != "wait_swapchain_image":
                raise ValueError("only wait_swapchain_image can time out")
            raise R.TimeoutExpired()

    # -- the module facade ------------------------------------------------------------------
    def __getattr__(self, name):
        value = getattr(object.__getattribute__(self, "_real"), name)
        if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)):
            raise AttributeError(f"FakeXr does not implement xr.{name}; add it to the fake")
        return value

    def check_result(self, result, message=None):
        return self._real.check_result(result, message)

    def _log(self, name: str) -> None:
        self.calls.append(name)

    def _handle(self, kind: str, type_, **data):
        self._next_handle += 1
        self.objects[self._next_handle] = _Obj(kind, data)
        return ctypes.cast(ctypes.c_void_p(self._next_handle), type_)

    def _obj(self, handle, kind: str) -> _Obj:
        key = ctypes.cast(handle, ctypes.c_void_p).value if handle is not None else None
        obj = self.objects.get(key)
        if obj is None or not obj.alive or obj.kind != kind:
            raise self._real.HandleInvalidError(f"not a live {kind} handle")
        return obj

    def _destroy(self, handle, kind: str) -> None:
        self._obj(handle, kind).alive = False

    def live_handles(self) -> list[str]:
        return [o.kind for o in self.objects.values() if o.alive]

    # -- instance ---------------------------------------------------------------------------
    def enumerate_instance_extension_properties(self, layer_name=None):
        self._log("enumerate_instance_extension_properties")
        if not self.config.runtime_installed:
            raise self._real.RuntimeUnavailableError()
        return [self._real.ExtensionProperties(extension_name=e, extension_version=1) for e in self.config.extensions]

    def create_instance(self, create_info=None):
        self._log("create_instance")
        if not self.config.runtime_installed:
            raise self._real.RuntimeUnavailableError()
        names = [create_info.enabled_extension_names[i].decode() for i in range(create_info.enabled_extension_count)]
        for n in names:
            if n not in self.config.extensions:
                raise self._real.ExtensionNotPresentError(n)
        self.enabled = set(names)
        return self._handle("instance", self._real.Instance)

    def get_instance_properties(self, instance):
        self._obj(instance, "instance")
        return self._real.InstanceProperties(runtime_version=self._real.Version(1, 0, 0),
                                             runtime_name="xrdemo fake runtime")

    def get_system(self, instance, get_info=None):
        self._log("get_system")
        self._obj(instance, "instance")
        if not self.config.headset_connected:
            raise self._real.FormFactorUnavailableError()
        return 7

    def get_system_properties(self, instance, system_id):
        self._obj(instance, "instance")
        return self._real.SystemProperties(system_id=system_id, system_name=self.config.system_name)

    def _raw_get_system_properties(self, instance, system_id, props_ref):
        self._log("xrGetSystemProperties")
        self._obj(instance, "instance")
        props = props_ref._obj
        props.system_name = self.config.system_name.encode()
        ptr = props.next
        while ptr:
            base = ctypes.cast(ptr, ctypes.POINTER(self._real.BaseOutStructure)).contents
            stype = int(base.type)
            if stype == int(self._real.StructureType.SYSTEM_HAND_TRACKING_PROPERTIES_EXT):
                s = ctypes.cast(ptr, ctypes.POINTER(self._real.SystemHandTrackingPropertiesEXT)).contents
                self._need_ext("XR_EXT_hand_tracking")
                s.supports_hand_tracking = int(self.config.supports_hands)
                ptr = s.next
            elif stype == int(self._real.StructureType.SYSTEM_EYE_GAZE_INTERACTION_PROPERTIES_EXT):
                s = ctypes.cast(ptr, ctypes.POINTER(self._real.SystemEyeGazeInteractionPropertiesEXT)).contents
                self._need_ext("XR_EXT_eye_gaze_interaction")
                s.supports_eye_gaze_interaction = int(self.config.supports_eye_gaze)
                ptr = s.next
            else:
                return self._real.Result.ERROR_VALIDATION_FAILURE
        return self._real.Result.SUCCESS

    def _need_ext(self, name: str) -> None:
        if name not in self.enabled:
            raise self._real.FunctionUnsupportedError(f"{name} not enabled")

    def enumerate_view_configuration_views(self, instance, system_id, view_configuration_type):
        w, h = self.config.view_size
        return [self._real.ViewConfigurationView(recommended_image_rect_width=w, recommended_image_rect_height=h,
                                                 max_image_rect_width=w * 2, max_image_rect_height=h * 2,
                                                 recommended_swapchain_sample_count=1,
                                                 max_swapchain_sample_count=1) for _ in range(2)]

    def enumerate_environment_blend_modes(self, instance, system_id, view_configuration_type):
        return [self._real.EnvironmentBlendMode(b) for b in self.config.blend_modes]

    def get_opengl_graphics_requirements_khr(self, instance, system_id):
        self._log("get_opengl_graphics_requirements_khr")
        self._obj(instance, "instance")
        self._graphics_requirements_called = True
        return None

    def get_instance_proc_addr(self, instance, name):
        self._obj(instance, "instance")
        raw = {"xrGetFaceExpressionWeights2FB": ("XR_FB_face_tracking2", self._get_face_weights2),
               "xrGetFacialExpressionsHTC": ("XR_HTC_facial_tracking", self._get_facial_expressions_htc)}
        if name in raw:
            ext, fn = raw[name]
            self._need_ext(ext)
            callback = getattr(self._real, "PFN_" + name)(fn)
            self._callbacks.append(callback)
            return callback
        if name != "xrLocateHandJointsEXT":
            raise self._real.FunctionUnsupportedError(name)
        self._need_ext("XR_EXT_hand_tracking")
        callback = self._real.PFN_xrLocateHandJointsEXT(self._locate_hand_joints)
        self._callbacks.append(callback)   # keep the ctypes thunk alive
        return callback

    def string_to_path(self, instance, path_string):
        if not path_string.startswith("/") or path_string.endswith("/") or "//" in path_string:
            raise self._real.PathFormatInvalidError(path_string)
        return self._paths.setdefault(path_string, len(self._paths) + 1)

    def path_to_string(self, instance, path):
        for k, v in self._paths.items():
            if v == int(path):
                return k
        raise self._real.PathInvalidError()

    def poll_event(self, instance):
        self._obj(instance, "instance")
        lost_at = self.config.instance_lost_at_ns
        if lost_at is not None and self._t >= lost_at:
            raise self._real.InstanceLostError()
        if not self._events:
            raise self._real.EventUnavailable()
        event = self._events.pop(0)
        if isinstance(event, self._real.EventDataSessionStateChanged):
            self._state = int(event.state)
        buf = self._real.EventDataBuffer()
        ctypes.memmove(ctypes.byref(buf), ctypes.byref(event), ctypes.sizeof(event))
        return buf

    def _queue_state(self, state: str) -> None:
        s = self._real.SessionState[state]
        self._events.append(self._real.EventDataSessionStateChanged(session=self._session, state=s, time=self._t))

    def _queued_state(self) -> int:
        """The state the app will be in once it has polled everything queued."""
        state = self._state
        for e in self._events:
            if isinstance(e, self._real.EventDataSessionStateChanged):
                state = int(e.state)
        return state

    def destroy_instance(self, instance):
        self._log("destroy_instance")
        self._destroy(instance, "instance")

    # -- session ----------------------------------------------------------------------------
    def create_session(self, instance, create_info=None):
        self._log("create_session")
        self._obj(instance, "instance")
        if not self._graphics_requirements_called:
            raise self._real.GraphicsRequirementsCallMissingError()
        if not create_info.next:
            raise self._real.GraphicsDeviceInvalidError("no graphics binding chained")
        self._session = self._handle("session", self._real.Session)
        self._queue_state("IDLE")
        self._queue_state("READY")
        return self._session

    def _require_session(self, session) -> None:
        self._obj(session, "session")
        if self._lost:
            raise self._real.SessionLostError()

    def begin_session(self, session, begin_info):
        self._log("begin_session")
        self._require_session(session)
        if self._running():
            raise self._real.SessionRunningError()
        if self._state != int(self._real.SessionState.READY):
            raise self._real.SessionNotReadyError()
        self._is_running = True

    def _running(self) -> bool:
        return getattr(self, "_is_running", False)

    def request_exit_session(self, session):
        self._log("request_exit_session")
        self._require_session(session)
        if not self._running():
            raise self._real.SessionNotRunningError()
        if self.stopping_delay_frames:          # like a compositor: STOPPING after a few more frames
            self._stop_after = self._frames_ended + self.stopping_delay_frames
        else:
            self._queue_state("STOPPING")

    def end_session(self, session):
        self._log("end_session")
        self._obj(session, "session")
        if self._state != int(self._real.SessionState.STOPPING):
            raise self._real.SessionNotStoppingError()
        self._is_running = False
        self._queue_state("IDLE")
        self._queue_state("EXITING")

    def destroy_session(self, session):
        self._log("destroy_session")
        self._destroy(session, "session")

    def enumerate_reference_spaces(self, session):
        self._obj(session, "session")
        return [self._real.ReferenceSpaceType[s] for s in self.config.reference_spaces]

    def create_reference_space(self, session, create_info=None):
        self._obj(session, "session")
        wanted = int(create_info.reference_space_type)
        offered = {int(self._real.ReferenceSpaceType[s]): s for s in self.config.reference_spaces}
        if wanted not in offered:
            raise self._real.ReferenceSpaceUnsupportedError(str(wanted))
        kind = offered[wanted]
        if kind == "LOCAL_FLOOR_EXT":
            self._need_ext("XR_EXT_local_floor")
        p = create_info.pose_in_reference_space
        return self._handle("space", self._real.Space, ref=kind,
                            offset=(np.array([p.position.x, p.position.y, p.position.z]),
                                    np.array([p.orientation.x, p.orientation.y, p.orientation.z, p.orientation.w])))

    def destroy_space(self, space):
        self._destroy(space, "space")

    # -- swapchains -------------------------------------------------------------------------
    def enumerate_swapchain_formats(self, session):
        self._obj(session, "session")
        return list(self.config.swapchain_formats)

    def create_swapchain(self, session, create_info=None):
        self._obj(session, "session")
        if create_info.format not in self.config.swapchain_formats:
            raise self._real.SwapchainFormatUnsupportedError()
        if create_info.width <= 0 or create_info.height <= 0:
            raise self._real.ValidationFailureError("zero-sized swapchain")
        base = 100 + 10 * len([o for o in self.objects.values() if o.kind == "swapchain"])
        return self._handle("swapchain", self._real.Swapchain, size=(create_info.width, create_info.height),
                            textures=[base + i for i in range(self.config.swapchain_length)],
                            next=0, acquired=None, waited=False, released_this_frame=False)

    def enumerate_swapchain_images(self, swapchain, element_type):
        sc = self._obj(swapchain, "swapchain")
        return [element_type(image=t) for t in sc.data["textures"]]

    def acquire_swapchain_image(self, swapchain, acquire_info=None):
        sc = self._obj(swapchain, "swapchain")
        if sc.data["acquired"] is not None:
            raise self._real.CallOrderInvalidError("image acquired twice without release")
        index = sc.data["next"]
        sc.data["acquired"], sc.data["waited"] = index, False
        sc.data["next"] = (index + 1) % len(sc.data["textures"])
        return index

    def wait_swapchain_image(self, swapchain, wait_info):
        sc = self._obj(swapchain, "swapchain")
        if sc.data["acquired"] is None:
            raise self._real.CallOrderInvalidError("wait without acquire")
        sc.data["waited"] = True

    def release_swapchain_image(self, swapchain, release_info=None):
        sc = self._obj(swapchain, "swapchain")
        if sc.data["acquired"] is None or not sc.data["waited"]:
            raise self._real.CallOrderInvalidError("release without acquire and wait")
        sc.data["acquired"], sc.data["released_this_frame"] = None, True

    def destroy_swapchain(self, swapchain):
        self._destroy(swapchain, "swapchain")

    # -- frames -----------------------------------------------------------------------------
    @property
    def period_ns(self) -> int:
        return int(round(NS / self._refresh))

    def _advance_script(self) -> None:
        """Apply timeline events up to the current time (once each)."""
        for e in self.timeline.events_in(self._processed_until, self._t):
            state = self._queued_state()
            S = self._real.SessionState
            if e.kind == "focus_lost" and state == int(S.FOCUSED):
                self._queue_state("VISIBLE")
            elif e.kind == "focus_gained" and state == int(S.VISIBLE):
                self._queue_state("FOCUSED")
            elif e.kind == "loss_pending":
                self._queue_state("LOSS_PENDING")
                self._lost = True
            elif e.kind == "exit" and self._running():
                self._queue_state("STOPPING")
            elif e.kind == "recenter":
                self._recenter(e.t_ns)
            elif e.kind in ("controllers_on", "controllers_off") and self._attached:
                self._events.append(self._real.EventDataInteractionProfileChanged(session=self._session))
            elif e.kind == "refresh_rate":
                old, self._refresh = self._refresh, float(e.value)
                self._events.append(self._real.EventDataDisplayRefreshRateChangedFB(
                    from_display_refresh_rate=old, to_display_refresh_rate=self._refresh))
        self._processed_until = self._t

    def _recenter(self, t_ns: int) -> None:
        """The runtime recentres: STAGE (and LOCAL, LOCAL_FLOOR) move under the head, yaw only;
        a REFERENCE_SPACE_CHANGE_PENDING event per space type says where the new origin is."""
        old = self._stage_origin
        head_p, head_q = self.timeline.head(t_ns)
        new = recentred_origin(head_p, head_q)
        if not self.config.recenter_moves_stage:
            self._local_origin = new        # LOCAL only: STAGE stays where the guardian is
            self._events.append(self._real.EventDataReferenceSpaceChangePending(
                session=self._session, reference_space_type=self._real.ReferenceSpaceType.LOCAL,
                change_time=t_ns, pose_valid=0, pose_in_previous_space=self._posef(np.zeros(3), [0, 0, 0, 1])))
            return
        self._stage_origin = new
        inv = P.pose_invert(*old)
        rel_p, rel_q = P.pose_compose(inv[0], inv[1], new[0], new[1])
        for name in self.config.reference_spaces:
            if name == "VIEW":
                continue
            self._events.append(self._real.EventDataReferenceSpaceChangePending(
                session=self._session, reference_space_type=self._real.ReferenceSpaceType[name],
                change_time=t_ns, pose_valid=1, pose_in_previous_space=self._posef(rel_p, rel_q)))

    def wait_frame(self, session, frame_wait_info=None):
        self._log("wait_frame")
        self._require_session(session)
        if not self._running():
            raise self._real.SessionNotRunningError()
        if self._waited is not None:
            raise self._real.CallOrderInvalidError("xrWaitFrame twice without xrBeginFrame")
        late = self._wait_calls in self.config.late_frames
        self._wait_calls += 1
        self._t += self.period_ns * (2 if late else 1)
        self._advance_script()
        if self._lost:
            raise self._real.SessionLossPending()
        self._waited = self._t
        self._predicted.add(self._t)
        state = self._state
        S = self._real.SessionState
        should_render = state in (int(S.VISIBLE), int(S.FOCUSED))
        return self._real.FrameState(predicted_display_time=self._t, predicted_display_period=self.period_ns,
                                     should_render=int(should_render))

    def begin_frame(self, session, frame_begin_info=None):
        self._log("begin_frame")
        self._require_session(session)
        if self._waited is None:
            raise self._real.CallOrderInvalidError("xrBeginFrame without a preceding xrWaitFrame")
        self._waited = None
        discarded = self._in_frame
        self._in_frame = True
        for o in self.objects.values():
            if o.kind == "swapchain":
                o.data["released_this_frame"] = False
        if discarded:
            raise self._real.FrameDiscarded()

    def end_frame(self, session, frame_end_info):
        self._log("end_frame")
        self._require_session(session)
        if not self._in_frame:
            raise self._real.CallOrderInvalidError("xrEndFrame without xrBeginFrame")
        t = int(frame_end_info.display_time)
        if t not in self._predicted:
            raise self._real.TimeInvalidError(f"display time {t} was never predicted")
        if int(frame_end_info.environment_blend_mode) not in self.config.blend_modes:
            raise self._real.EnvironmentBlendModeUnsupportedError()
        layers = []
        for i in range(frame_end_info.layer_count):
            ptr = frame_end_info.layers[i]
            ltype = int(ptr.contents.type)
            if ltype == int(self._real.StructureType.COMPOSITION_LAYER_PROJECTION):
                layer = ctypes.cast(ptr, ctypes.POINTER(self._real.CompositionLayerProjection)).contents
                self._obj(layer.space, "space")
                if layer.view_count != 2:
                    raise self._real.ValidationFailureError("projection layer needs 2 views")
                for v in range(layer.view_count):
                    sc = self._obj(layer.views[v].sub_image.swapchain, "swapchain")
                    if sc.data["acquired"] is not None or not sc.data["released_this_frame"]:
                        raise self._real.LayerInvalidError("swapchain image not released this frame")
                    ext = layer.views[v].sub_image.image_rect.extent
                    if (ext.width, ext.height) != tuple(sc.data["size"]):
                        raise self._real.SwapchainRectInvalidError()
                layers.append(("projection", int(layer.layer_flags)))
            elif ltype == int(self._real.StructureType.COMPOSITION_LAYER_PASSTHROUGH_FB):
                self._need_ext("XR_FB_passthrough")
                layers.append(("passthrough", 0))
            else:
                raise self._real.LayerInvalidError(f"unknown layer type {ltype}")
        for o in self.objects.values():
            if o.kind == "swapchain" and o.data["acquired"] is not None:
                raise self._real.CallOrderInvalidError("xrEndFrame with a swapchain image still acquired")
        self._in_frame = False
        self._frames_ended += 1
        self.submitted.append({"time": t, "layers": layers,
                               "blend": int(frame_end_info.environment_blend_mode)})
        if self._stop_after is not None and self._frames_ended >= self._stop_after:
            self._stop_after = None
            self._queue_state("STOPPING")
        S = self._real.SessionState
        if self._frames_ended == 1 and self._queued_state() == int(S.READY):
            for s in ("SYNCHRONIZED", "VISIBLE", "FOCUSED"):
                self._queue_state(s)

    # -- locating ---------------------------------------------------------------------------
    def _check_time(self, t: int) -> int:
        t = int(t)
        if t <= 0:
            raise self._real.TimeInvalidError()
        self.located_times.append(t)
        return t

    def _T_stage(self, space, t: int):
        """T_stage_space at t, or None when that space is not tracked now."""
        obj = self._obj(space, "space")
        d = obj.data
        if "ref" in d:
            ref = d["ref"]
            origin = self._stage_origin   # T_tracking_stage (moves on a recentre)
            if ref == "VIEW":
                base = self.timeline.head(t)
            elif ref == "LOCAL":
                local = getattr(self, "_local_origin", None) or origin
                base = P.pose_compose(local[0], local[1], np.array([0.0, self.config.local_origin_y, 0.0]),
                                      np.array([0.0, 0.0, 0.0, 1.0]))
            else:   # STAGE, LOCAL_FLOOR_EXT
                base = origin
            return P.pose_compose(base[0], base[1], *d["offset"])
        action, hand = d["action"], d["hand"]
        if action == "gaze_pose":
            return self.timeline.gaze(t) if self.timeline.gaze is not None else None
        if not self.timeline.controllers_on(t):
            return None
        c = self.timeline.controllers(t)
        if action == "grip_pose":
            return c.grip_position[hand], c.grip_orientation[hand]
        return c.aim_position[hand], c.aim_orientation[hand]

    def _relative(self, space, base, t):
        a, b = self._T_stage(space, t), self._T_stage(base, t)
        if a is None or b is None:
            return None
        inv = P.pose_invert(*b)
        return P.pose_compose(inv[0], inv[1], a[0], a[1])

    def _posef(self, p, q):
        return self._real.Posef(orientation=self._real.Quaternionf(*[float(v) for v in q]),
                                position=self._real.Vector3f(*[float(v) for v in p]))

    def locate_space(self, space, base_space, time):
        t = self._check_time(time)
        rel = self._relative(space, base_space, t)
        F = self._real.SpaceLocationFlags
        if rel is None:
            return self._real.SpaceLocation(location_flags=F.NONE)
        flags = F.POSITION_VALID_BIT | F.ORIENTATION_VALID_BIT | F.POSITION_TRACKED_BIT | F.ORIENTATION_TRACKED_BIT
        if self._obj(space, "space").data.get("ref") == "VIEW" and not self.timeline.head_tracked(t):
            flags = F.ORIENTATION_VALID_BIT | F.ORIENTATION_TRACKED_BIT
        return self._real.SpaceLocation(location_flags=flags, pose=self._posef(*rel))

    def locate_views(self, session, view_locate_info):
        self._require_session(session)
        t = self._check_time(view_locate_info.display_time)
        base = self._T_stage(view_locate_info.space, t)
        inv = P.pose_invert(*base)
        eye_p, eye_q = self.timeline.eye_poses(t)
        fov = P.symmetric_fov(90.0, self.config.view_size[0] / self.config.view_size[1])
        views = []
        for i in range(2):
            p, q = P.pose_compose(inv[0], inv[1], eye_p[i], eye_q[i])
            views.append(self._real.View(pose=self._posef(p, q), fov=self._real.Fovf(*fov)))
        F = self._real.ViewStateFlags
        call, self._view_calls = self._view_calls, self._view_calls + 1
        flags = F.POSITION_VALID_BIT | F.ORIENTATION_VALID_BIT | F.POSITION_TRACKED_BIT | F.ORIENTATION_TRACKED_BIT
        if call < self.config.invalid_view_frames:
            flags = F.NONE                  # a headset waking up: nothing known yet
            views = [self._real.View(pose=self._posef(np.zeros(3), [0, 0, 0, 1]), fov=v.fov) for v in views]
        elif not self.timeline.head_tracked(t):
            flags = F.ORIENTATION_VALID_BIT | F.ORIENTATION_TRACKED_BIT   # 3DoF: position lost
        elif call in self.config.nan_view_frames:
            nan = float("nan")
            views = [self._real.View(pose=self._posef([nan] * 3, [nan] * 4), fov=v.fov) for v in views]
        return self._real.ViewState(view_state_flags=flags), views

    # -- actions ----------------------------------------------------------------------------
    def create_action_set(self, instance, create_info=None):
        self._obj(instance, "instance")
        if self._attached:
            raise self._real.ActionsetsAlreadyAttachedError()
        return self._handle("action_set", self._real.ActionSet, name=create_info.action_set_name)

    def create_action(self, action_set, create_info=None):
        self._obj(action_set, "action_set")
        subpaths = [create_info.subaction_paths[i] for i in range(create_info.count_subaction_paths)]
        set_key = ctypes.cast(action_set, ctypes.c_void_p).value
        return self._handle("action", self._real.Action, action_set=set_key, name=create_info.action_name.decode()
                            if isinstance(create_info.action_name, bytes) else create_info.action_name,
                            type=int(create_info.action_type), subpaths=subpaths)

    def suggest_interaction_profile_bindings(self, instance, suggested_bindings):
        self._obj(instance, "instance")
        if self._attached:
            raise self._real.ActionsetsAlreadyAttachedError()
        profile = self.path_to_string(instance, suggested_bindings.interaction_profile)
        if profile not in KNOWN_PROFILES:
            raise self._real.PathUnsupportedError(profile)
        if profile.endswith("eye_gaze_interaction"):
            self._need_ext("XR_EXT_eye_gaze_interaction")
        for i in range(suggested_bindings.count_suggested_bindings):
            b = suggested_bindings.suggested_bindings[i]
            self._obj(b.action, "action")
            path = self.path_to_string(instance, b.binding)
            if not path.startswith(("/user/hand/left/", "/user/hand/right/", "/user/eyes_ext/")):
                raise self._real.PathUnsupportedError(path)

    def attach_session_action_sets(self, session, attach_info):
        self._obj(session, "session")
        if self._attached:
            raise self._real.ActionsetsAlreadyAttachedError()
        self._attached = True

    def create_action_space(self, session, create_info=None):
        self._obj(session, "session")
        action = self._obj(create_info.action, "action")
        if action.data["type"] != int(self._real.ActionType.POSE_INPUT):
            raise self._real.ActionTypeMismatchError()
        hand = {self._paths.get("/user/hand/left"): 0, self._paths.get("/user/hand/right"): 1}.get(
            int(create_info.subaction_path), 0)
        return self._handle("space", self._real.Space, action=action.data["name"], hand=hand)

    def sync_actions(self, session, sync_info):
        self._require_session(session)
        if not self._attached:
            raise self._real.ActionsetNotAttachedError()
        if not self._running():
            raise self._real.SessionNotRunningError()
        if self._state != int(self._real.SessionState.FOCUSED):
            raise self._real.SessionNotFocused()
        self._synced_t = self._t

    def _action_state(self, get_info, want_type):
        action = self._obj(get_info.action, "action")
        if not self._attached:
            raise self._real.ActionsetNotAttachedError()
        if action.data["type"] != int(want_type):
            raise self._real.ActionTypeMismatchError()
        name = action.data["name"]
        hand = {self._paths.get("/user/hand/left"): 0, self._paths.get("/user/hand/right"): 1}.get(
            int(get_info.subaction_path))
        t = getattr(self, "_synced_t", None)
        focused = self._state == int(self._real.SessionState.FOCUSED)
        if name == "gaze_pose":
            return name, None, focused and self.timeline.gaze is not None, None
        active = focused and t is not None and hand is not None and self.timeline.controllers_on(t)
        return name, hand, active, (self._controllers_at(t) if active else None)

    def _controllers_at(self, t: int):
        """The scripted controller sample at t, computed once per synced time (every action
        state of a frame reads the same sample, as a runtime's xrSyncActions snapshot does)."""
        cached = getattr(self, "_controller_sample", None)
        if cached is None or cached[0] != t:
            cached = self._controller_sample = (t, self.timeline.controllers(t))
        return cached[1]

    def get_action_state_pose(self, session, get_info):
        name, hand, active, _ = self._action_state(get_info, self._real.ActionType.POSE_INPUT)
        return self._real.ActionStatePose(is_active=int(active))

    def get_action_state_float(self, session, get_info):
        name, hand, active, c = self._action_state(get_info, self._real.ActionType.FLOAT_INPUT)
        value = float(getattr(c, name)[hand]) if active else 0.0
        return self._real.ActionStateFloat(current_state=value, is_active=int(active))

    def get_action_state_vector2f(self, session, get_info):
        name, hand, active, c = self._action_state(get_info, self._real.ActionType.VECTOR2F_INPUT)
        x, y = (float(v) for v in c.thumbstick[hand]) if active else (0.0, 0.0)
        return self._real.ActionStateVector2f(current_state=self._real.Vector2f(x, y), is_active=int(active))

    def get_action_state_boolean(self, session, get_info):
        name, hand, active, c = self._action_state(get_info, self._real.ActionType.BOOLEAN_INPUT)
        value = False
        if active:
            value = bool(c.thumbstick_touch[hand]) if name == "thumbstick_touch" else \
                bool(c.buttons.get(name, np.zeros(2, bool))[hand])
        return self._real.ActionStateBoolean(current_state=int(value), is_active=int(active))

    def get_current_interaction_profile(self, session, top_level_user_path):
        self._obj(session, "session")
        on = self.timeline.controllers_on(self._t)
        path = self.string_to_path(None, "/interaction_profiles/oculus/touch_controller") if on else 0
        return self._real.InteractionProfileState(interaction_profile=path)

    def apply_haptic_feedback(self, session, haptic_action_info, haptic_feedback):
        self._require_session(session)
        action = self._obj(haptic_action_info.action, "action")
        if action.data["type"] != int(self._real.ActionType.VIBRATION_OUTPUT):
            raise self._real.ActionTypeMismatchError()
        if not self._running():
            raise self._real.SessionNotRunningError()
        hand = self.path_to_string(None, haptic_action_info.subaction_path)
        self.haptics.append((hand, float(haptic_feedback.amplitude), int(haptic_feedback.duration)))

    def destroy_action_set(self, action_set):
        """Destroys the set's actions too, as xrDestroyActionSet does."""
        self._destroy(action_set, "action_set")
        key = ctypes.cast(action_set, ctypes.c_void_p).value
        for o in self.objects.values():
            if o.kind == "action" and o.data.get("action_set") == key:
                o.alive = False

    # -- hands ------------------------------------------------------------------------------
    def create_hand_tracker_ext(self, session, create_info=None):
        self._obj(session, "session")
        self._need_ext("XR_EXT_hand_tracking")
        if not self.config.supports_hands:
            raise self._real.FeatureUnsupportedError()
        return self._handle("hand_tracker", self._real.HandTrackerEXT, hand=int(create_info.hand) - 1)

    def destroy_hand_tracker_ext(self, hand_tracker):
        self._destroy(hand_tracker, "hand_tracker")

    def _locate_hand_joints(self, tracker, info_ptr, locations_ptr):
        """xrLocateHandJointsEXT through its function pointer: answers with a result code."""
        R = self._real.Result
        try:
            self._before("locate_hand_joints")
        except self._real.XrException as exc:
            return int(exc.get_result_enum())
        result = self._locate_hand_joints_now(tracker, info_ptr, locations_ptr)
        if self._loss_pending and result == int(R.SUCCESS):
            return int(R.SESSION_LOSS_PENDING)
        return result

    def _locate_hand_joints_now(self, tracker, info_ptr, locations_ptr):
        R = self._real.Result
        try:
            hand = self._obj(tracker, "hand_tracker").data["hand"]
            info, locs = info_ptr.contents, locations_ptr.contents
            if locs.joint_count != 26 or not locs.joint_locations:
                return int(R.ERROR_VALIDATION_FAILURE)    # pyopenxr's own wrapper hits this
            t = self._check_time(info.time)
            base = self._T_stage(info.base_space, t)
            pos, rot, rad, valid = self.timeline.sample_hands(t)
            focused = self._state == int(self._real.SessionState.FOCUSED)
            active = bool(valid[hand].any()) and focused
            locs.is_active = int(active)
            inv = P.pose_invert(*base)
            p, q = P.pose_compose(inv[0], inv[1], pos[hand], rot[hand])
            F = self._real.SpaceLocationFlags
            ok = int(F.POSITION_VALID_BIT | F.ORIENTATION_VALID_BIT | F.POSITION_TRACKED_BIT | F.ORIENTATION_TRACKED_BIT)
            for j in range(26):
                jl = locs.joint_locations[j]
                jl.location_flags = ok if (active and valid[hand, j]) else 0
                jl.pose = self._posef(p[j], q[j]) if active else self._posef(np.zeros(3), [0, 0, 0, 1])
                jl.radius = float(rad[hand, j])
            return int(R.SUCCESS)
        except self._real.XrException as exc:
            code = getattr(exc, "get_result_enum", lambda: None)()
            return int(code) if code is not None else int(R.ERROR_RUNTIME_FAILURE)

    # -- face and per-eye gaze (issue 14) ---------------------------------------------------
    def _face_tracker(self, session, ext: str, source, kind: str, type_, **data):
        self._obj(session, "session")
        self._need_ext(ext)
        if source is None:
            raise self._real.FeatureUnsupportedError()
        return self._handle(kind, type_, **data)

    def create_face_tracker2_fb(self, session, create_info=None):
        if create_info is None or create_info.requested_data_source_count < 1:
            raise self._real.ValidationFailureError("no requested data source")
        return self._face_tracker(session, "XR_FB_face_tracking2", self.config.face_fb2, "face_tracker2",
                                  self._real.FaceTracker2FB)

    def destroy_face_tracker2_fb(self, face_tracker):
        self._destroy(face_tracker, "face_tracker2")

    def _get_face_weights2(self, tracker, info_ptr, out_ptr):
        R = self._real.Result
        try:
            self._obj(tracker, "face_tracker2")
            out = out_ptr.contents
            if out.weight_count != 70 or not out._weights or out.confidence_count != 2 or not out._confidences:
                return int(R.ERROR_VALIDATION_FAILURE)     # pyopenxr's own wrapper hits this
            t = self._check_time(info_ptr.contents.time)
            focused = self._state == int(self._real.SessionState.FOCUSED)
            w = np.asarray(self.config.face_fb2(t), np.float32)
            out.is_valid = int(focused)
            out.time = t
            for i in range(70):
                out._weights[i] = float(w[i]) if focused else 0.0
            out._confidences[0] = out._confidences[1] = 1.0
            return int(R.SUCCESS)
        except self._real.XrException as exc:
            code = getattr(exc, "get_result_enum", lambda: None)()
            return int(code) if code is not None else int(R.ERROR_RUNTIME_FAILURE)

    def create_facial_tracker_htc(self, session, create_info=None):
        kind = int(create_info.facial_tracking_type)
        return self._face_tracker(session, "XR_HTC_facial_tracking", self.config.face_htc, "facial_tracker_htc",
                                  self._real.FacialTrackerHTC, lip=kind == 2)

    def destroy_facial_tracker_htc(self, facial_tracker):
        self._destroy(facial_tracker, "facial_tracker_htc")

    def _get_facial_expressions_htc(self, tracker, out_ptr):
        R = self._real.Result
        try:
            lip = self._obj(tracker, "facial_tracker_htc").data["lip"]
            out = out_ptr.contents
            count = 37 if lip else 14
            if out.expression_count != count or not out._expression_weightings:
                return int(R.ERROR_VALIDATION_FAILURE)
            focused = self._state == int(self._real.SessionState.FOCUSED)
            w = np.asarray(self.config.face_htc(self._t)[1 if lip else 0], np.float32)
            out.is_active = int(focused)
            out.sample_time = self._t
            for i in range(count):
                out._expression_weightings[i] = float(w[i])
            return int(R.SUCCESS)
        except self._real.XrException as exc:
            code = getattr(exc, "get_result_enum", lambda: None)()
            return int(code) if code is not None else int(R.ERROR_RUNTIME_FAILURE)

    def create_eye_tracker_fb(self, session, create_info=None):
        return self._face_tracker(session, "XR_FB_eye_tracking_social", self.timeline.gaze, "eye_tracker_fb",
                                  self._real.EyeTrackerFB)

    def destroy_eye_tracker_fb(self, eye_tracker):
        self._destroy(eye_tracker, "eye_tracker_fb")

    def get_eye_gazes_fb(self, eye_tracker, gaze_info):
        """Both eyes (timeline.eye_poses) look at the point fixation_m along the timeline's gaze."""
        self._obj(eye_tracker, "eye_tracker_fb")
        t = self._check_time(gaze_info.time)
        out = self._real.EyeGazesFB(time=t)
        focused = self._state == int(self._real.SessionState.FOCUSED)
        base = self._T_stage(gaze_info.base_space, t)
        if not focused or base is None:
            return out
        gp, gq = self.timeline.gaze(t)
        target = gp + P.quat_rotate(gq, np.array([0.0, 0.0, -self.config.fixation_m]))
        eye_p, _ = self.timeline.eye_poses(t)
        inv = P.pose_invert(*base)
        for i in range(2):
            d = P.normalize(target - eye_p[i])
            axis = np.cross([0.0, 0.0, -1.0], d)
            q = P.normalize(np.array([axis[0], axis[1], axis[2], 1.0 - d[2]]))   # -Z onto d
            p_b, q_b = P.pose_compose(inv[0], inv[1], eye_p[i], q)
            out.gaze[i].is_valid = 1
            out.gaze[i].gaze_pose = self._posef(p_b, q_b)
            out.gaze[i].gaze_confidence = 1.0
        return out

    # -- refresh rate, passthrough ----------------------------------------------------------
    def enumerate_display_refresh_rates_fb(self, session):
        self._require_session(session)
        self._need_ext("XR_FB_display_refresh_rate")
        return list(self.timeline.refresh_rates)

    def get_display_refresh_rate_fb(self, session):
        self._need_ext("XR_FB_display_refresh_rate")
        return self._refresh

    def request_display_refresh_rate_fb(self, session, display_refresh_rate):
        self._require_session(session)
        self._need_ext("XR_FB_display_refresh_rate")
        if float(display_refresh_rate) not in self.timeline.refresh_rates:
            raise self._real.DisplayRefreshRateUnsupportedFBError()
        old, self._refresh = self._refresh, float(display_refresh_rate)
        self._events.append(self._real.EventDataDisplayRefreshRateChangedFB(
            from_display_refresh_rate=old, to_display_refresh_rate=self._refresh))

    def create_passthrough_fb(self, session, create_info=None):
        self._require_session(session)
        self._need_ext("XR_FB_passthrough")
        return self._handle("passthrough", self._real.PassthroughFB, running=True)

    def create_passthrough_layer_fb(self, session, create_info=None):
        self._require_session(session)
        self._obj(create_info.passthrough, "passthrough")
        return self._handle("passthrough_layer", self._real.PassthroughLayerFB, running=True)

    def passthrough_start_fb(self, passthrough):
        self._obj(passthrough, "passthrough").data["running"] = True

    def passthrough_pause_fb(self, passthrough):
        self._obj(passthrough, "passthrough").data["running"] = False

    def passthrough_layer_resume_fb(self, layer):
        self._obj(layer, "passthrough_layer").data["running"] = True

    def passthrough_layer_pause_fb(self, layer):
        self._obj(layer, "passthrough_layer").data["running"] = False

    def destroy_passthrough_fb(self, passthrough):
        self._destroy(passthrough, "passthrough")

    def destroy_passthrough_layer_fb(self, layer):
        self._destroy(layer, "passthrough_layer")


class FakeEglContext:
    """The EGL context handles the platform passes through to the runtime (none needed here)."""
    display = config = context = None


def fake_headset(fx: "FakeXr", context=None, log=None):
    """An OpenXRPlatform on the fake runtime ``fx`` with no GL behind it (NullFramebuffers), no
    sleeping between frames, and ``log`` (default: silent) for its messages."""
    from xrdemo.platform.openxr import OpenXRPlatform
    from xrdemo.platform.openxr_gl import NullFramebuffers

    return OpenXRPlatform(fx, context if context is not None else FakeEglContext(),
                          framebuffers=NullFramebuffers(), sleep=lambda s: None,
                          log=log if log is not None else (lambda m: None))


def run_frames(platform, n: int, draw=None) -> list:
    """Begin and end ``n`` frames on any platform (``draw(i, view, fbo, size)`` per eye, or None);
    returns the FrameInputs."""
    frames = []
    for _ in range(n):
        f = platform.begin_frame()
        platform.end_frame(f, draw)
        frames.append(f)
    return frames

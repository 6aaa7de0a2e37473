"""Setting up an OpenXR session for the platform: instance, system, session, spaces, swapchains.

A mixin of OpenXRPlatform (openxr.py), which owns the state; split out so each file does one job:
this one builds (once), openxr_events.py follows the runtime's events, openxr.py runs frames.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

from xrdemo.platform.base import Capabilities, PlatformUnavailable
from xrdemo.platform.openxr_face import EXTENSIONS as FACE_EXTENSIONS
from xrdemo.platform.openxr_face import FaceTracking
from xrdemo.platform.openxr_gl import (
    GL_FORMAT_NAMES, PREFERRED_COLOR_FORMATS, binding_kind, make_graphics_binding, required_extension,
)
from xrdemo.platform.openxr_input import XrInput, check
from xrdemo.platform.openxr_passthrough import NOT_OFFERED, Passthrough
from xrdemo.platform.openxr_runtime import (
    DEBUG_UTILS, OPTIONAL_EXTENSIONS, REQUIRED_EXTENSION, probe_extensions, text as _text,
)

BLEND_NAMES = {1: "opaque", 2: "additive", 3: "alpha_blend"}
SPACE_NAMES = {"STAGE": "stage", "LOCAL_FLOOR_EXT": "local_floor", "LOCAL_FLOOR": "local_floor", "LOCAL": "local"}


@dataclass
class _Swapchain:
    handle: object
    size: tuple[int, int]
    textures: list[int]



class SessionSetup:
    """OpenXRPlatform's set-up steps (called once from its constructor)."""

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


"""Asking an OpenXR runtime what it offers, and hearing what the validation layer says.

``probe_extensions`` / ``probe_runtime`` answer without creating a session (doctor, the factory).
``DebugMessenger`` routes XR_EXT_debug_utils messages (the Khronos core validation layer's among
them) to a Python callable, each naming the OpenXR call it is about.
"""

from __future__ import annotations

import ctypes
from typing import Callable

from xrdemo.platform.base import PlatformUnavailable

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

DEBUG_UTILS = "XR_EXT_debug_utils"


def text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def probe_extensions(xr) -> dict[str, int]:
    """{extension name: version} of the active runtime; PlatformUnavailable when there is none."""
    try:
        return {text(e.extension_name): int(e.extension_version)
                for e in xr.enumerate_instance_extension_properties()}
    except xr.RuntimeUnavailableError as exc:
        raise PlatformUnavailable("no OpenXR runtime installed (the loader found no active runtime)") from exc
    except xr.XrException as exc:
        raise PlatformUnavailable(f"the OpenXR runtime failed to answer ({type(exc).__name__})") from exc


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
        info["runtime"] = f"{text(props.runtime_name)} {props.runtime_version}"
        try:
            system_id = xr.get_system(instance, xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY))
            info["system"] = text(xr.get_system_properties(instance, system_id).system_name)
        except xr.FormFactorUnavailableError:
            info["error"] = "no headset connected (the runtime reports the HMD form factor unavailable)"
    finally:
        xr.destroy_instance(instance)
    return info


class DebugMessenger:
    """XR_EXT_debug_utils messages to ``sink(line)``: "SEVERITY TYPE function: message [id]", e.g.
    "WARNING VALIDATION xrCreateReferenceSpace: ... [VUID-...]"; ``is_problem(line)`` says whether
    a line is more than the loader's own VERBOSE/INFO chatter.

    ``create_info()`` is chained into XrInstanceCreateInfo (messages from xrCreateInstance and
    xrDestroyInstance); ``attach(instance)`` creates the messenger for everything in between.
    Every severity and type is routed; the sink decides what matters.
    """

    def __init__(self, xr, sink: Callable[[str], None]):
        self.xr = xr
        self.sink = sink
        self.handle = None
        self._callback = xr.PFN_xrDebugUtilsMessengerCallbackEXT(self._on_message)   # kept alive
        self._chained = self._make_info()

    def _make_info(self):
        xr = self.xr
        return xr.DebugUtilsMessengerCreateInfoEXT(
            message_severities=xr.DebugUtilsMessageSeverityFlagsEXT.ALL,
            message_types=xr.DebugUtilsMessageTypeFlagsEXT.ALL,
            user_callback=self._callback)

    def create_info_pointer(self):
        return ctypes.cast(ctypes.pointer(self._chained), ctypes.c_void_p)

    def _on_message(self, severity, types, data_ptr, user_data):
        try:
            data = data_ptr.contents
            severity_name = _flag_names(self.xr.DebugUtilsMessageSeverityFlagsEXT, int(severity))
            type_name = _flag_names(self.xr.DebugUtilsMessageTypeFlagsEXT, int(types))
            function = text(data.function_name or b"?")
            message = text(data.message or b"")
            ident = text(data.message_id or b"")
            self.sink(f"{severity_name} {type_name} {function}: {message} [{ident}]")
        except Exception as exc:     # never let Python raise into the loader
            self.sink(f"ERROR (unreadable debug message: {exc})")
        return 0   # XR_FALSE: do not abort the call

    def attach(self, instance) -> None:
        self.handle = self.xr.create_debug_utils_messenger_ext(instance, self._make_info())

    def destroy(self) -> None:
        if self.handle is not None:
            try:
                self.xr.destroy_debug_utils_messenger_ext(self.handle)
            except self.xr.XrException:
                pass
            self.handle = None


def _flag_names(flags, value: int) -> str:
    names = [name[:-4] for name, member in flags.__members__.items()
             if name.endswith("_BIT") and value & int(member)]
    return "|".join(names) or str(value)


def is_problem(line: str) -> bool:
    """A debug message that matters: a warning or error, or any validation/conformance report."""
    severity, kinds = line.split(" ", 2)[:2]
    return any(s in severity for s in ("WARNING", "ERROR")) or any(k in kinds for k in ("VALIDATION", "CONFORMANCE"))

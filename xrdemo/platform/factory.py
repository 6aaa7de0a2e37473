"""Pick a platform: ``create_platform("openxr" | "desktop" | "headless" | "auto") -> (platform, reason)``.

``auto`` tries OpenXR, then the desktop window, then the headless simulated runtime, and says which
it picked and why the others could not run ("no OpenXR runtime installed", "no display" ...).
"""

from __future__ import annotations

import os
import sys
from typing import Callable

from xrdemo.platform.base import Platform, PlatformUnavailable

PLATFORM_NAMES = ("openxr", "desktop", "headless", "auto")
AUTO_ORDER = ("openxr", "desktop", "headless")


def _openxr_gl_context():
    """A current GL context the runtime can bind to: EGL surfaceless on Linux, else a hidden
    GLFW window (WGL on Windows, GLX on Linux with a display)."""
    if sys.platform.startswith("linux"):
        from xrdemo.render.context import create_headless_context

        return create_headless_context()
    from xrdemo.platform.openxr_window import hidden_window_context

    return hidden_window_context()


def create_openxr(**options) -> Platform:
    from xrdemo.platform.xr_import import import_xr
    from xrdemo.platform.openxr import OpenXRPlatform, probe_extensions

    if sys.platform.startswith("linux"):
        # pyopenxr imports OpenGL; choose EGL first so PyOpenGL binds to it (see xr_import).
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    try:
        xr = options.pop("xr", None) or import_xr()
    except ImportError as exc:
        raise PlatformUnavailable(str(exc)) from exc
    probe_extensions(xr)   # fails fast, before any GL work, when no runtime is installed
    gl_context = options.pop("gl_context", None)
    owned = gl_context is None
    if owned:
        try:
            gl_context = _openxr_gl_context()
        except Exception as exc:
            raise PlatformUnavailable(f"no OpenGL context for OpenXR ({exc})") from exc
    try:
        return OpenXRPlatform(xr, gl_context, **options)
    except PlatformUnavailable:
        release = getattr(gl_context, "release", None)
        if owned and release:
            release()
        raise


def create_desktop(**options) -> Platform:
    try:
        from xrdemo.platform.desktop import DesktopPlatform
    except ImportError as exc:
        raise PlatformUnavailable(f"the desktop simulator is not available ({exc})") from exc
    try:
        return DesktopPlatform(**options)
    except PlatformUnavailable:
        raise
    except Exception as exc:
        raise PlatformUnavailable(f"no desktop window ({type(exc).__name__}: {exc})") from exc


def create_headless(**options) -> Platform:
    from xrdemo.platform.simulated import SimulatedPlatform

    return SimulatedPlatform(**options)


CREATORS: dict[str, Callable[..., Platform]] = {
    "openxr": create_openxr, "desktop": create_desktop, "headless": create_headless,
}


def create_platform(name: str = "auto", *, log: Callable[[str], None] | None = print,
                    options: dict[str, dict] | None = None,
                    build_headless: bool = True) -> tuple[Platform | None, str]:
    """Create the named platform, or under ``auto`` the first that works.

    options: per-platform keyword arguments, e.g. {"headless": {"timeline": t}}.
    build_headless: False returns (None, reason) where the headless platform would be chosen —
    for a caller that makes its own headless set-up (the headless recording) instead.
    Returns (platform, reason): reason says in one line why this one was picked. Raises
    PlatformUnavailable naming the cause when the named platform (not auto) cannot run.
    """
    if name not in PLATFORM_NAMES:
        raise ValueError(f"unknown platform {name!r}; choose one of {', '.join(PLATFORM_NAMES)}")
    options = options or {}
    if name != "auto":
        if name == "headless" and not build_headless:
            return None, f"{name}: requested"
        platform = CREATORS[name](**dict(options.get(name, {})))
        return platform, f"{name}: requested"
    reasons = []
    for candidate in AUTO_ORDER:
        if candidate == "desktop" and os.environ.get("XRDEMO_NO_WINDOW"):
            reasons.append("desktop: XRDEMO_NO_WINDOW is set")
            continue
        if candidate == "headless" and not build_headless:
            return None, "platform headless" + (f" ({'; '.join(reasons)})" if reasons else "")
        try:
            platform = CREATORS[candidate](**dict(options.get(candidate, {})))
        except PlatformUnavailable as exc:
            reasons.append(f"{candidate}: {exc}")
            continue
        reason = f"platform {candidate}" + (f" ({'; '.join(reasons)})" if reasons else "")
        if log:
            log(f"xrdemo: using {reason}")
        return platform, reason
    raise PlatformUnavailable("no platform can run: " + "; ".join(reasons))   # headless never fails

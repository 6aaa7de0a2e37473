"""``xrdemo doctor``: what can run here, and why not.

Prints the OpenXR runtime (name, version, headset), the extensions that matter and the feature
each unlocks, the GL renderer, the audio devices, and which platform ``auto`` would pick.
"""

from __future__ import annotations

import argparse
import os
import sys

HELP = "check the OpenXR runtime, headset, GL and audio, and say what would run"
DESCRIPTION = """\
Check this machine for xrdemo: is an OpenXR runtime installed (Quest Link's Meta runtime, Monado,
WiVRn, SteamVR), which headset it reports, which of the extensions xrdemo uses it offers and what
each one unlocks, the OpenGL renderer, the audio devices, and which platform `xrdemo --platform auto`
would pick. Exits 1 when nothing but the headless recorder could run and --strict is given.
"""


def register(sub) -> None:
    p = sub.add_parser("doctor", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--strict", action="store_true",
                   help="exit 1 unless a headset or a desktop window can run")
    p.set_defaults(func=run)


def _openxr_report(out) -> tuple[bool, str]:
    from xrdemo.platform.base import PlatformUnavailable
    from xrdemo.platform.openxr import OPTIONAL_EXTENSIONS, REQUIRED_EXTENSION, probe_runtime

    try:
        from xrdemo.platform.xr_import import import_xr

        xr = import_xr()
    except ImportError as exc:
        out(f"OpenXR:      not available ({exc})")
        return False, str(exc)
    try:
        info = probe_runtime(xr)
    except PlatformUnavailable as exc:
        out(f"OpenXR:      {exc}")
        if os.environ.get("XR_RUNTIME_JSON"):
            out(f"             (XR_RUNTIME_JSON={os.environ['XR_RUNTIME_JSON']})")
        out("             install one: docs/headset.md (Quest Link on Windows, Monado or WiVRn on Linux)")
        return False, str(exc)
    out(f"OpenXR:      runtime {info['runtime'] or '(unnamed)'}")
    out(f"Headset:     {info['system'] or info['error'] or 'unknown'}")
    exts = info["extensions"]
    mark = lambda name: "yes" if name in exts else "NO "
    out(f"  {mark(REQUIRED_EXTENSION)} {REQUIRED_EXTENSION:32s} OpenGL rendering (required)")
    for name, feature in OPTIONAL_EXTENSIONS.items():
        out(f"  {mark(name)} {name:32s} {feature}")
    if REQUIRED_EXTENSION not in exts:
        return False, f"the runtime lacks {REQUIRED_EXTENSION}"
    if not info["system"]:
        return False, info["error"] or "no headset"
    if sys.platform.startswith("linux") and "XR_MNDX_egl_enable" not in exts:
        return False, "the runtime lacks XR_MNDX_egl_enable (xrdemo renders through EGL on Linux)"
    return True, ""


def _gl_report(out) -> None:
    """The GL renderer xrdemo would use: headless EGL on Linux, the hidden window's WGL context on
    Windows (with a warning when it is the integrated GPU of a laptop)."""
    if sys.platform.startswith("win"):
        try:
            from xrdemo.platform.openxr_window import hidden_window_context, log_gl_renderer

            ctx = hidden_window_context("xrdemo doctor")
            try:
                log_gl_renderer(lambda line: out(line.replace("xrdemo: ", "OpenGL:      ", 1)))
            finally:
                ctx.release()
        except Exception as exc:
            out(f"OpenGL:      no window context ({type(exc).__name__}: {exc})")
        return
    try:
        from xrdemo.render.context import create_headless_context, gl_info

        ctx = create_headless_context()
        try:
            info = gl_info()
            out(f"OpenGL:      {info['renderer']} ({info['version']}), headless EGL")
        finally:
            ctx.release()
    except Exception as exc:
        out(f"OpenGL:      no headless context ({exc})")


def _audio_report(out) -> None:
    try:
        import sounddevice as sd

        devices = sd.query_devices()
        outputs = [d for d in devices if d["max_output_channels"] > 0]
        if not outputs:
            out("Audio:       no output devices (voices go to the WAV/null sink)")
        for d in outputs[:6]:
            out(f"Audio:       {d['name']} ({d['max_output_channels']} out, {d['default_samplerate']:.0f} Hz)")
    except Exception as exc:   # PortAudio missing, or no devices
        out(f"Audio:       unavailable ({type(exc).__name__}: {exc})")


def _desktop_report(out) -> tuple[bool, str]:
    try:
        import xrdemo.platform.desktop  # noqa: F401
    except ImportError as exc:
        return False, f"the desktop simulator is not available ({exc})"
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False, "no display (DISPLAY/WAYLAND_DISPLAY unset)"
    from xrdemo.platform.base import PlatformUnavailable
    from xrdemo.platform.desktop import probe_window_system

    try:
        probe_window_system()
    except PlatformUnavailable as exc:
        return False, str(exc)
    return True, ""


def run(args) -> int:
    out = print
    _gl_report(out)          # first: it picks PyOpenGL's EGL platform before pyopenxr imports OpenGL
    xr_ok, xr_why = _openxr_report(out)
    _audio_report(out)
    desk_ok, desk_why = _desktop_report(out)
    if xr_ok:
        pick = "openxr (headset)"
    elif desk_ok:
        pick = f"desktop (openxr: {xr_why})"
    else:
        pick = f"headless (openxr: {xr_why}; desktop: {desk_why})"
    out(f"auto picks:  {pick}")
    if args.strict and not (xr_ok or desk_ok):
        raise RuntimeError("nothing interactive can run here: " + f"openxr: {xr_why}; desktop: {desk_why}")
    return 0

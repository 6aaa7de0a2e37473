"""A hidden GLFW window whose OpenGL context an OpenXR runtime on Windows binds to (WGL).

Quest Link (Meta's runtime) takes XrGraphicsBindingOpenGLWin32KHR: the window's device context
(HDC) and GL context (HGLRC). The window is never shown; the headset is the display, but Windows
still sends it messages: ``pump_events()`` (called by the OpenXR platform every frame) answers
them, so Windows never marks the app "not responding".

Laptops with two GPUs often start Python on the integrated one, which Link cannot use well:
``gpu_advice`` recognises that from GL_RENDERER and says what to change.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass
class WglContext:
    window: object      # the GLFW window that owns the context
    hdc: int            # Win32 device context of the window
    hglrc: int          # the WGL context

    def make_current(self) -> None:
        import glfw

        glfw.make_context_current(self.window)

    def pump_events(self) -> None:
        """Answer the hidden window's messages (once per frame)."""
        import glfw

        glfw.poll_events()

    def release(self) -> None:
        import glfw

        glfw.destroy_window(self.window)


_SOFTWARE = ("gdi generic", "microsoft basic render", "llvmpipe", "softpipe", "swiftshader")
_INTEGRATED = ("intel(r) uhd", "intel(r) hd", "intel(r) iris", "iris(r) xe", "uhd graphics",
               "hd graphics", "radeon(tm) graphics", "radeon graphics", "radeon(tm) vega")


def gpu_advice(renderer: str) -> str | None:
    """A one-line warning when GL_RENDERER looks like a GPU Quest Link cannot drive, else None."""
    r = renderer.lower()
    if any(name in r for name in _SOFTWARE):
        return (f"OpenGL runs in software ({renderer}): install your graphics card's driver "
                "(NVIDIA, AMD or Intel) and restart")
    if any(name in r for name in _INTEGRATED) and "arc" not in r:
        return (f"OpenGL runs on {renderer}, which looks like the integrated GPU; Quest Link needs the "
                "discrete one. Windows Settings > System > Display > Graphics: add this Python "
                f"({sys.executable}) and choose High performance (or NVIDIA Control Panel > Manage 3D "
                "settings > Program Settings), then start xrdemo again")
    return None


def log_gl_renderer(log) -> str:
    """Log the current context's GL_RENDERER, and the GPU advice when there is some; returns it."""
    from OpenGL import GL

    raw = GL.glGetString(GL.GL_RENDERER) or b"unknown"
    renderer = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    log(f"xrdemo: OpenGL renderer {renderer}")
    advice = gpu_advice(renderer)
    if advice:
        log(f"xrdemo: warning: {advice}")
    return renderer


def hidden_window_context(title: str = "xrdemo (OpenXR)") -> WglContext:
    """Create and make current a hidden 4.1 core GL window; Windows only (WGL binding)."""
    if not sys.platform.startswith("win"):
        raise RuntimeError("the hidden-window GL binding is for Windows; on Linux xrdemo uses EGL")
    import ctypes

    import glfw

    if not glfw.init():
        raise RuntimeError("GLFW could not initialise")
    glfw.window_hint(glfw.VISIBLE, glfw.FALSE)
    glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 4)
    glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 1)
    glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
    glfw.window_hint(glfw.DOUBLEBUFFER, glfw.FALSE)
    window = glfw.create_window(64, 64, title, None, None)
    if not window:
        raise RuntimeError("GLFW could not create an OpenGL 4.1 window")
    glfw.make_context_current(window)
    glfw.swap_interval(0)   # xrWaitFrame paces us, not the desktop's vsync
    hwnd = glfw.get_win32_window(window)
    hdc = ctypes.windll.user32.GetDC(hwnd)
    return WglContext(window, hdc, glfw.get_wgl_context(window))

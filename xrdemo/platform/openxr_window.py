"""A hidden GLFW window whose OpenGL context an OpenXR runtime on Windows binds to (WGL).

Quest Link (Meta's runtime) takes XrGraphicsBindingOpenGLWin32KHR: the window's device context
(HDC) and GL context (HGLRC). The window is never shown; the headset is the display.
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

"""OpenGL contexts: an EGL surfaceless context for headless use and a GLFW window context.

PyOpenGL binds to one windowing platform the first time ``OpenGL`` is imported, so the platform
must be chosen before any GL module is imported: ``create_headless_context()`` selects EGL, the
window path keeps the default (GLX/WGL/CGL). ``import xr`` (pyopenxr) forces GLX; import it only
through ``xrdemo.platform.xr_import``, which restores the platform afterwards.
"""

from __future__ import annotations

import ctypes
import os
import sys

EGL_PLATFORM_SURFACELESS_MESA = 0x31DD


class GLContextError(RuntimeError):
    """No OpenGL context could be made; the message says what is missing and how to get it."""


def _select_platform(name: str) -> None:
    """Make PyOpenGL use ``name`` ("egl") for windowing-system calls.

    Before any OpenGL import this is just PYOPENGL_PLATFORM. If something already bound PyOpenGL
    to another platform (``import xr`` binds GLX; so does a failed OpenXR attempt under
    ``--platform auto``), switch its PLATFORM object: with libglvnd the GL entry points dispatch
    to whichever context is current, so GL calls made afterwards reach the EGL context.
    """
    if "OpenGL.platform" not in sys.modules:
        os.environ["PYOPENGL_PLATFORM"] = name
        return
    import OpenGL.platform as glp

    if name == "egl" and "egl" not in type(glp.PLATFORM).__name__.lower():
        try:
            from OpenGL.platform.egl import EGLPlatform

            glp.PLATFORM = EGLPlatform()
            glp.PLATFORM.install(vars(glp))   # re-export GetCurrentContext & co. for the new platform
        except Exception as exc:  # pragma: no cover - depends on system libraries
            raise GLContextError(f"PyOpenGL is bound to {type(glp.PLATFORM).__name__} and cannot "
                                 f"switch to EGL ({exc}); set PYOPENGL_PLATFORM=egl") from exc


class EglContext:
    """A current OpenGL 3.3+ core context on Mesa's surfaceless EGL platform (no display, no GPU).

    Attributes ``display``, ``config`` and ``context`` are the raw EGL handles (for
    XR_MNDX_egl_enable). Render into framebuffer objects; there is no default framebuffer.
    """

    def __init__(self, major: int = 4, minor: int = 5):
        _select_platform("egl")
        try:
            from OpenGL import EGL
        except Exception as exc:  # pragma: no cover - depends on system libraries
            raise GLContextError(f"cannot load EGL ({exc}); install libegl1 and libegl-mesa0") from exc
        self._egl = EGL
        dpy = EGL.eglGetPlatformDisplay(EGL_PLATFORM_SURFACELESS_MESA, EGL.EGL_DEFAULT_DISPLAY, None)
        if not dpy:
            raise GLContextError("EGL has no surfaceless platform; install Mesa (libegl-mesa0)")
        maj, mnr = EGL.EGLint(), EGL.EGLint()
        if not EGL.eglInitialize(dpy, ctypes.pointer(maj), ctypes.pointer(mnr)):
            raise GLContextError("eglInitialize failed on the surfaceless platform")
        if not EGL.eglBindAPI(EGL.EGL_OPENGL_API):
            raise GLContextError("this EGL cannot bind desktop OpenGL")
        attribs = (EGL.EGLint * 7)(EGL.EGL_RENDERABLE_TYPE, EGL.EGL_OPENGL_BIT,
                                   EGL.EGL_SURFACE_TYPE, EGL.EGL_PBUFFER_BIT, EGL.EGL_NONE, 0, 0)
        config = EGL.EGLConfig()
        count = EGL.EGLint()
        if not EGL.eglChooseConfig(dpy, attribs, ctypes.pointer(config), 1, ctypes.pointer(count)) \
                or count.value < 1:
            raise GLContextError("EGL offers no OpenGL config")
        ctx = EGL.EGL_NO_CONTEXT
        for want in ((major, minor), (3, 3)):
            ctx_attribs = (EGL.EGLint * 7)(EGL.EGL_CONTEXT_MAJOR_VERSION, want[0],
                                           EGL.EGL_CONTEXT_MINOR_VERSION, want[1],
                                           EGL.EGL_CONTEXT_OPENGL_PROFILE_MASK,
                                           EGL.EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT, EGL.EGL_NONE)
            ctx = EGL.eglCreateContext(dpy, config, EGL.EGL_NO_CONTEXT, ctx_attribs)
            if ctx:
                break
        if not ctx:
            raise GLContextError("EGL could not create an OpenGL 3.3 core context")
        self.display, self.config, self.context = dpy, config, ctx
        self.make_current()

    def make_current(self) -> None:
        EGL = self._egl
        if not EGL.eglMakeCurrent(self.display, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, self.context):
            raise GLContextError("eglMakeCurrent failed (surfaceless contexts need Mesa >= 17)")

    def release(self) -> None:
        EGL = self._egl
        if self.context:
            EGL.eglMakeCurrent(self.display, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, EGL.EGL_NO_CONTEXT)
            EGL.eglDestroyContext(self.display, self.context)
            self.context = None
            # No eglTerminate: the surfaceless display is shared by every context in the process
            # (an OpenXR session's, the renderer's), and terminating it would pull theirs away.

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def create_headless_context() -> EglContext:
    """A current headless OpenGL context (EGL surfaceless on Mesa)."""
    return EglContext()


def gl_info() -> dict:
    """Vendor, renderer and version strings of the current context."""
    from OpenGL import GL

    def s(name):
        v = GL.glGetString(name)
        return v.decode() if v else "?"

    return {"vendor": s(GL.GL_VENDOR), "renderer": s(GL.GL_RENDERER), "version": s(GL.GL_VERSION)}

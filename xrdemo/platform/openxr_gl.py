"""OpenGL glue for the OpenXR platform: graphics bindings and framebuffers around swapchain images.

Three bindings, chosen from the GL context object the platform is given:
- EGL (``display``, ``config``, ``context`` attributes; Linux headless, Monado) through
  XR_MNDX_egl_enable;
- Xlib/GLX (``x_display``, ``glx_fbconfig``, ``glx_drawable``, ``glx_context``, ``visualid``);
- WGL on Windows (``hdc``, ``hglrc``), e.g. from a hidden GLFW window (Quest Link).
"""

from __future__ import annotations

import ctypes
import sys

GL_SRGB8_ALPHA8 = 0x8C43
GL_RGBA8 = 0x8058
GL_RGBA16F = 0x881A
GL_FORMAT_NAMES = {GL_SRGB8_ALPHA8: "GL_SRGB8_ALPHA8", GL_RGBA8: "GL_RGBA8", GL_RGBA16F: "GL_RGBA16F"}
PREFERRED_COLOR_FORMATS = (GL_SRGB8_ALPHA8, GL_RGBA8)
"""Swapchain formats we accept, best first: sRGB so the runtime gets linear blending right."""


def binding_kind(gl_context) -> str:
    """'egl', 'xlib' or 'win32' for a GL context object (see the module docstring)."""
    if all(hasattr(gl_context, a) for a in ("display", "config", "context")):
        return "egl"
    if hasattr(gl_context, "glx_context"):
        return "xlib"
    if hasattr(gl_context, "hglrc"):
        return "win32"
    raise ValueError(f"cannot tell which GL binding {type(gl_context).__name__} needs")


def required_extension(kind: str) -> str | None:
    """The OpenXR extension a binding needs besides XR_KHR_opengl_enable."""
    return "XR_MNDX_egl_enable" if kind == "egl" else None


def _egl_get_proc_address(xr):
    if sys.platform.startswith("win"):
        raise RuntimeError("EGL binding is for Linux")
    lib = ctypes.CDLL("libEGL.so.1")
    address = ctypes.cast(lib.eglGetProcAddress, ctypes.c_void_p).value
    return xr.PFN_xrEglGetProcAddressMNDX(address)


def make_graphics_binding(xr, gl_context):
    """The xr.GraphicsBinding* struct for ``gl_context`` (which must be current)."""
    kind = binding_kind(gl_context)
    if kind == "egl":
        return xr.GraphicsBindingEGLMNDX(
            get_proc_address=_egl_get_proc_address(xr), display=gl_context.display,
            config=gl_context.config, context=gl_context.context)
    if kind == "xlib":
        return xr.GraphicsBindingOpenGLXlibKHR(
            x_display=gl_context.x_display, visualid=gl_context.visualid,
            glx_fbconfig=gl_context.glx_fbconfig, glx_drawable=gl_context.glx_drawable,
            glx_context=gl_context.glx_context)
    return xr.GraphicsBindingOpenGLWin32KHR(h_dc=gl_context.hdc, h_glrc=gl_context.hglrc)


class SwapchainFramebuffers:
    """One GL framebuffer object per swapchain texture, with a shared depth buffer per size.

    ``framebuffer(texture, (w, h))`` returns an FBO whose colour attachment is that texture
    (created on first use and cached). Needs the platform's GL context to be current.
    """

    def __init__(self):
        self._fbos: dict[int, int] = {}
        self._depth: dict[tuple[int, int], int] = {}

    def framebuffer(self, texture: int, size: tuple[int, int]) -> int:
        fbo = self._fbos.get(texture)
        if fbo is not None:
            return fbo
        from OpenGL import GL

        depth = self._depth.get(size)
        if depth is None:
            depth = int(GL.glGenRenderbuffers(1))
            GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, depth)
            GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_DEPTH_COMPONENT24, size[0], size[1])
            self._depth[size] = depth
        fbo = int(GL.glGenFramebuffers(1))
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
        GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, texture, 0)
        GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, GL.GL_DEPTH_ATTACHMENT, GL.GL_RENDERBUFFER, depth)
        status = GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        if status != GL.GL_FRAMEBUFFER_COMPLETE:
            raise RuntimeError(f"swapchain framebuffer incomplete (status 0x{int(status):x})")
        self._fbos[texture] = fbo
        return fbo

    def bind(self, fbo: int, size: tuple[int, int]) -> None:
        from OpenGL import GL

        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
        GL.glViewport(0, 0, size[0], size[1])

    def after_submit(self) -> None:
        """Unbind and clear a stale GL error some runtimes leave after xrEndFrame (SteamVR Linux)."""
        from OpenGL import GL

        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        GL.glGetError()

    def destroy(self) -> None:
        if not self._fbos and not self._depth:
            return
        from OpenGL import GL

        if self._fbos:
            GL.glDeleteFramebuffers(len(self._fbos), list(self._fbos.values()))
        if self._depth:
            GL.glDeleteRenderbuffers(len(self._depth), list(self._depth.values()))
        self._fbos.clear()
        self._depth.clear()


class NullFramebuffers:
    """Framebuffer bookkeeping without GL, for tests against the fake runtime: texture ids pass
    through as framebuffer ids and nothing is drawn."""

    def __init__(self):
        self.bound: list[tuple[int, tuple[int, int]]] = []

    def framebuffer(self, texture: int, size: tuple[int, int]) -> int:
        return int(texture)

    def bind(self, fbo: int, size: tuple[int, int]) -> None:
        self.bound.append((fbo, size))

    def after_submit(self) -> None:
        pass

    def destroy(self) -> None:
        pass

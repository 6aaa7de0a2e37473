"""The simulated runtime's passthrough: a synthetic camera image composited UNDER what the app drew.

A compositor with passthrough (XR_FB_passthrough, or ALPHA_BLEND) shows the real room wherever the
app's layer is transparent: out = room * (1 - a) + drawn, with premultiplied alpha, as xrdemo
submits it (the renderer clears to (0, 0, 0, 0) and blends with coverage alpha). Here the "room" is a checkerboard of CAMERA_COLORS, CAMERA_CELL_PX pixels per
square, fixed to the view's pixels, so a test can tell it from anything the app draws.
"""

from __future__ import annotations

import numpy as np

from xrdemo.resources import read_shader

CAMERA_COLORS = ((1.0, 0.0, 1.0), (0.0, 1.0, 0.0))
"""The two squares of the synthetic room, linear RGB: magenta and green, found nowhere in xrdemo."""
CAMERA_CELL_PX = 8


def camera_image(width: int, height: int) -> np.ndarray:
    """The synthetic room as an (height, width, 3) float32 array, row 0 at the bottom (GL order)."""
    y, x = np.mgrid[0:height, 0:width]
    pick = ((x // CAMERA_CELL_PX) + (y // CAMERA_CELL_PX)) % 2
    colors = np.array(CAMERA_COLORS, np.float32)
    return colors[pick]


class CameraCompositor:
    """Draws the synthetic room under the bound framebuffer's contents. Needs a current GL 3.3+
    context; created on first use, so a simulated platform without GL never touches OpenGL."""

    def __init__(self):
        from OpenGL import GL

        self.GL = GL
        self.program = _compile(GL, read_shader("passthrough_camera.vert"), read_shader("passthrough_camera.frag"))
        self.vao = int(GL.glGenVertexArrays(1))
        self._uniforms = {n: GL.glGetUniformLocation(self.program, n) for n in ("u_color_a", "u_color_b", "u_cell")}

    def composite(self, fbo: int, size: tuple[int, int]) -> None:
        """Put the camera image under framebuffer ``fbo`` ((width, height) pixels), by its alpha."""
        GL = self.GL
        saved = _save_state(GL)
        try:
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
            GL.glViewport(0, 0, size[0], size[1])
            GL.glDisable(GL.GL_DEPTH_TEST)
            GL.glDisable(GL.GL_SCISSOR_TEST)
            GL.glEnable(GL.GL_BLEND)
            GL.glBlendEquation(GL.GL_FUNC_ADD)
            # colour: camera * (1 - dst.a) + drawn (premultiplied); alpha: 1 (the room is opaque)
            GL.glBlendFuncSeparate(GL.GL_ONE_MINUS_DST_ALPHA, GL.GL_ONE, GL.GL_ONE, GL.GL_ZERO)
            GL.glUseProgram(self.program)
            GL.glUniform3f(self._uniforms["u_color_a"], *CAMERA_COLORS[0])
            GL.glUniform3f(self._uniforms["u_color_b"], *CAMERA_COLORS[1])
            GL.glUniform1f(self._uniforms["u_cell"], float(CAMERA_CELL_PX))
            GL.glBindVertexArray(self.vao)
            GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)
        finally:
            _restore_state(GL, saved)

    def destroy(self) -> None:
        GL = self.GL
        GL.glDeleteVertexArrays(1, [self.vao])
        GL.glDeleteProgram(self.program)


def _compile(GL, vert: str, frag: str) -> int:
    program = GL.glCreateProgram()
    for kind, source in ((GL.GL_VERTEX_SHADER, vert), (GL.GL_FRAGMENT_SHADER, frag)):
        shader = GL.glCreateShader(kind)
        GL.glShaderSource(shader, source)
        GL.glCompileShader(shader)
        if not GL.glGetShaderiv(shader, GL.GL_COMPILE_STATUS):
            raise RuntimeError(f"passthrough camera shader: {GL.glGetShaderInfoLog(shader).decode(errors='replace')}")
        GL.glAttachShader(program, shader)
        GL.glDeleteShader(shader)
    GL.glLinkProgram(program)
    if not GL.glGetProgramiv(program, GL.GL_LINK_STATUS):
        raise RuntimeError(f"passthrough camera program: {GL.glGetProgramInfoLog(program).decode(errors='replace')}")
    return int(program)


def _save_state(GL) -> dict:
    return {
        "blend": GL.glIsEnabled(GL.GL_BLEND), "depth": GL.glIsEnabled(GL.GL_DEPTH_TEST),
        "scissor": GL.glIsEnabled(GL.GL_SCISSOR_TEST),
        "funcs": [int(GL.glGetIntegerv(n)) for n in (GL.GL_BLEND_SRC_RGB, GL.GL_BLEND_DST_RGB,
                                                       GL.GL_BLEND_SRC_ALPHA, GL.GL_BLEND_DST_ALPHA)],
        "program": int(GL.glGetIntegerv(GL.GL_CURRENT_PROGRAM)),
        "vao": int(GL.glGetIntegerv(GL.GL_VERTEX_ARRAY_BINDING)),
        "fbo": int(GL.glGetIntegerv(GL.GL_DRAW_FRAMEBUFFER_BINDING)),
        "viewport": [int(v) for v in GL.glGetIntegerv(GL.GL_VIEWPORT)],
    }


def _restore_state(GL, s: dict) -> None:
    for cap, on in ((GL.GL_BLEND, s["blend"]), (GL.GL_DEPTH_TEST, s["depth"]), (GL.GL_SCISSOR_TEST, s["scissor"])):
        (GL.glEnable if on else GL.glDisable)(cap)
    GL.glBlendFuncSeparate(*s["funcs"])
    GL.glUseProgram(s["program"])
    GL.glBindVertexArray(s["vao"])
    GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, s["fbo"])
    GL.glViewport(*s["viewport"])

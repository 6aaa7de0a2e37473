"""Name tags: every label's text rasterised once into one atlas texture (Pillow), all tags drawn
with one instanced call (shaders/label.vert, label.frag) facing the view.

The atlas is rebuilt only when the set of texts changes (people join or are renamed).
"""

from __future__ import annotations

import ctypes

import numpy as np
from OpenGL import GL

from ..core.frame import Labels, View
from ..core import pose as P

FONT_PX = 28
MIN_TAG_PX = 17.0
"""Smallest on-screen height of a name tag, pixels: a far tag grows (in the world) so its name
stays readable at 640x360 (its text is then ~10 px tall); near tags keep their metric size."""


# Marks drawn as strokes (the built-in font has no such glyphs): polylines in a unit box, y down.
MARK_STROKES = {
    "\u2713": [[(0.05, 0.55), (0.38, 0.88), (0.95, 0.12)]],                  # ✓ verified
    "\u2717": [[(0.12, 0.15), (0.88, 0.85)], [(0.88, 0.15), (0.12, 0.85)]],   # ✗ flagged
}


def _split_mark(text: str) -> tuple[str, str]:
    """('✓', 'Ada') for '✓ Ada'; ('', text) when the text starts with no drawn mark."""
    if text[:1] in MARK_STROKES:
        return text[0], text[1:].lstrip(" ")
    return "", text


def rasterise_texts(texts: tuple, font_px: int = FONT_PX):
    """Pack texts into one atlas: (H, W) uint8 glyph coverage, and per text its uv rect (u0, v0,
    u1, v1; v from the top) and aspect (width / height) of its tag. A leading ✓ or ✗ (the
    verified / flagged marks of core.scene.tag_text) is drawn as strokes before the name."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=font_px)
    except TypeError:  # pragma: no cover - Pillow < 10.1
        font = ImageFont.load_default()
    ascent, descent = font.getmetrics()
    row_h = ascent + descent + 8
    pad = row_h // 2
    mark_w = int(round(0.8 * ascent))
    gap = int(np.ceil(font.getlength(" ")))
    parts = [_split_mark(t) for t in texts]
    widths = [int(np.ceil(font.getlength(rest))) + 2 * pad + ((mark_w + gap) if mark else 0)
              for mark, rest in parts]
    w = max(widths + [1])
    h = max(row_h * len(texts), 1)
    img = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(img)
    rects, aspects = [], []
    for i, (mark, t) in enumerate(parts):
        x = pad
        if mark:
            y0 = i * row_h + 4 + 0.15 * ascent
            for line in MARK_STROKES[mark]:
                draw.line([(x + u * mark_w, y0 + v * mark_w) for u, v in line], fill=255,
                          width=max(2, font_px // 9), joint="curve")
            x += mark_w + gap
        draw.text((x, i * row_h + 4), t, font=font, fill=255)
        rects.append((0.0, i * row_h / h, widths[i] / w, (i + 1) * row_h / h))
        aspects.append(widths[i] / row_h)
    return np.asarray(img, np.uint8), np.array(rects, np.float32), np.array(aspects, np.float32)


class LabelRenderer:
    """Draws a FrameScene's Labels; needs a current GL context (made by the Renderer)."""

    def __init__(self, compile_program):
        self.program = compile_program("label.vert", "label.frag")
        self.vao = GL.glGenVertexArrays(1)
        self.ibo = GL.glGenBuffers(1)
        GL.glBindVertexArray(self.vao)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self.ibo)
        stride = 13 * 4
        for loc, size, offset in ((0, 4, 0), (1, 4, 16), (2, 4, 32), (3, 1, 48)):
            GL.glEnableVertexAttribArray(loc)
            GL.glVertexAttribPointer(loc, size, GL.GL_FLOAT, False, stride, ctypes.c_void_p(offset))
            GL.glVertexAttribDivisor(loc, 1)
        GL.glBindVertexArray(0)
        self.texture = GL.glGenTextures(1)
        self._texts: tuple | None = None
        self._rects = np.zeros((0, 4), np.float32)
        self._aspects = np.zeros(0, np.float32)
        self.count = 0

    def upload(self, labels: Labels) -> None:
        if labels.texts != self._texts:
            unique = tuple(dict.fromkeys(labels.texts))
            atlas, rects, aspects = rasterise_texts(unique)
            GL.glBindTexture(GL.GL_TEXTURE_2D, self.texture)
            GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
            h, w = atlas.shape
            GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_R8, w, h, 0, GL.GL_RED, GL.GL_UNSIGNED_BYTE, atlas)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE)
            # The atlas is single-channel: read it as alpha in the shader.
            for param, value in ((GL.GL_TEXTURE_SWIZZLE_R, GL.GL_ONE), (GL.GL_TEXTURE_SWIZZLE_G, GL.GL_ONE),
                                 (GL.GL_TEXTURE_SWIZZLE_B, GL.GL_ONE), (GL.GL_TEXTURE_SWIZZLE_A, GL.GL_RED)):
                GL.glTexParameteri(GL.GL_TEXTURE_2D, param, value)
            index = {t: i for i, t in enumerate(unique)}
            order = np.array([index[t] for t in labels.texts], int)
            self._rects, self._aspects = rects[order], aspects[order]
            self._texts = labels.texts
        m = len(labels)
        data = np.zeros((m, 13), np.float32)
        if m:
            data[:, :3] = labels.positions
            data[:, 3] = labels.height
            data[:, 4:8] = self._rects
            data[:, 8:12] = labels.colors
            data[:, 12] = self._aspects
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self.ibo)
        GL.glBufferData(GL.GL_ARRAY_BUFFER, max(data.nbytes, 4), data if m else None, GL.GL_STREAM_DRAW)
        self.count = m

    def draw(self, view: View, view_proj: np.ndarray, size=None) -> int:
        """One instanced draw of every tag (0 calls when there are none). size: (w, h) pixels of
        the target, for the tags' minimum on-screen height (None: metric size only)."""
        if self.count == 0:
            return 0
        R = P.quat_to_matrix(np.asarray(view.orientation, float))
        GL.glUseProgram(self.program)
        GL.glUniformMatrix4fv(GL.glGetUniformLocation(self.program, "u_view_proj"), 1, GL.GL_TRUE,
                              view_proj.astype(np.float32))
        GL.glUniform3fv(GL.glGetUniformLocation(self.program, "u_right"), 1, R[:, 0].astype(np.float32))
        GL.glUniform3fv(GL.glGetUniformLocation(self.program, "u_up"), 1, R[:, 1].astype(np.float32))
        GL.glUniform1f(GL.glGetUniformLocation(self.program, "u_min_h_per_w"), min_height_per_w(view, size))
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.texture)
        GL.glUniform1i(GL.glGetUniformLocation(self.program, "u_atlas"), 0)
        GL.glDisable(GL.GL_CULL_FACE)
        GL.glBindVertexArray(self.vao)
        GL.glDrawArraysInstanced(GL.GL_TRIANGLE_STRIP, 0, 4, self.count)
        GL.glEnable(GL.GL_CULL_FACE)
        return 1


def min_height_per_w(view: View, size, min_px: float = MIN_TAG_PX) -> float:
    """Metres of tag height per unit of clip w that make min_px pixels on a target of size (w, h):
    a tag at clip depth w shows min_px tall when its height is this times w. 0 with no size."""
    if size is None:
        return 0.0
    _, _, up, down = view.fov
    span = float(np.tan(up) - np.tan(down))          # height of the image plane at distance 1
    return float(min_px) / float(size[1]) * span


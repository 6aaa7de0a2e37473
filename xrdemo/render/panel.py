"""Draws the in-headset menu (a core.menu.PanelScene) in the views of a frame.

One instanced draw per view for the whole panel: the back plate, the title, every button with its
label, and the controller rays (shaders/panel.vert, panel.frag). Labels come from one atlas
texture (Pillow, mipmapped so small text stays smooth), rebuilt only when the set of label texts
changes (a toggle or the volume changed). Needs a current OpenGL 3.3 core context; the Renderer
makes one PanelRenderer and calls it after the scene (renderer.upload_panel).
"""

from __future__ import annotations

import ctypes

import numpy as np
from OpenGL import GL

from ..core.frame import View
from ..core.menu_panel import RAY_COLOR, RAY_WIDTH_M

ATLAS_FONT_PX = 44
TEXT_HEIGHT = {"button": 0.54, "title": 0.75}
"""Label glyph-row height as a fraction of its quad's height."""
TEXT_MAX_WIDTH = 0.92
"""A label never takes more than this fraction of its quad's width (long ones shrink)."""
INSTANCE_FLOATS = 36
_RAY_KIND = 1.0


def rasterise_labels(texts: tuple, font_px: int = ATLAS_FONT_PX):
    """Pack texts into one atlas, one per row: (H, W) uint8 glyph coverage, (T, 4) float32 uv
    rects (u0, v0, u1, v1, v from the top) and (T,) float32 aspect (width / height) of each rect."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=font_px)
    except TypeError:  # pragma: no cover - Pillow < 10.1 has only the small bitmap font
        font = ImageFont.load_default()
    ascent, descent = font.getmetrics()
    pad = max(4, font_px // 6)                       # keeps mip levels from bleeding across rows
    row_h = ascent + descent + 2 * pad
    widths = [max(int(np.ceil(font.getlength(t))), 1) + 2 * pad for t in texts]
    w = max(widths + [1])
    h = max(row_h * len(texts), 1)
    img = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(img)
    rects, aspects = [], []
    for i, t in enumerate(texts):
        draw.text((pad, i * row_h + pad), t, font=font, fill=255)
        rects.append((0.0, i * row_h / h, widths[i] / w, (i + 1) * row_h / h))
        aspects.append(widths[i] / row_h)
    return np.asarray(img, np.uint8), np.array(rects, np.float32).reshape(-1, 4), np.array(aspects, np.float32)


def text_boxes(quad_aspect: np.ndarray, text_aspect: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Where each label sits on its quad: (Q, 4) x0, y0, x1, y1 in 0..1 quad units (y up), centred,
    ``height`` (Q,) of the quad tall, narrowed to keep the text's aspect, shrunk to fit
    TEXT_MAX_WIDTH. quad_aspect, text_aspect: (Q,) width / height."""
    h = np.asarray(height, float).copy()
    w = h * text_aspect / np.maximum(quad_aspect, 1e-9)
    too_wide = w > TEXT_MAX_WIDTH
    h[too_wide] *= TEXT_MAX_WIDTH / w[too_wide]
    w = np.minimum(w, TEXT_MAX_WIDTH)
    return np.stack([0.5 - w / 2, 0.5 - h / 2, 0.5 + w / 2, 0.5 + h / 2], axis=1).astype(np.float32)


class PanelRenderer:
    """Uploads a PanelScene once per frame and draws it in each view with one call."""

    def __init__(self, compile_program):
        self.program = compile_program("panel.vert", "panel.frag")
        self._u_view_proj = GL.glGetUniformLocation(self.program, "u_view_proj")
        self._u_camera = GL.glGetUniformLocation(self.program, "u_camera_pos")
        self._u_atlas = GL.glGetUniformLocation(self.program, "u_atlas")
        self.vao = GL.glGenVertexArrays(1)
        self.ibo = GL.glGenBuffers(1)
        GL.glBindVertexArray(self.vao)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self.ibo)
        stride = INSTANCE_FLOATS * 4
        for loc in range(9):
            GL.glEnableVertexAttribArray(loc)
            GL.glVertexAttribPointer(loc, 4, GL.GL_FLOAT, False, stride, ctypes.c_void_p(16 * loc))
            GL.glVertexAttribDivisor(loc, 1)
        GL.glBindVertexArray(0)
        self.texture = GL.glGenTextures(1)
        self._atlas_texts: tuple | None = None
        self._index: dict[str, int] = {}
        self._rects = np.zeros((0, 4), np.float32)
        self._aspects = np.zeros(0, np.float32)
        self.count = 0

    def _ensure_atlas(self, labels: tuple) -> None:
        unique = tuple(sorted({t for t in labels if t}))
        if unique == self._atlas_texts:
            return
        atlas, self._rects, self._aspects = rasterise_labels(unique or (" ",))
        self._index = {t: i for i, t in enumerate(unique)}
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.texture)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        h, w = atlas.shape
        GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_R8, w, h, 0, GL.GL_RED, GL.GL_UNSIGNED_BYTE, atlas)
        GL.glGenerateMipmap(GL.GL_TEXTURE_2D)
        for param, value in ((GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR_MIPMAP_LINEAR),
                             (GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR),
                             (GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE),
                             (GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE),
                             # one channel, read as alpha (glyph coverage)
                             (GL.GL_TEXTURE_SWIZZLE_R, GL.GL_ONE), (GL.GL_TEXTURE_SWIZZLE_G, GL.GL_ONE),
                             (GL.GL_TEXTURE_SWIZZLE_B, GL.GL_ONE), (GL.GL_TEXTURE_SWIZZLE_A, GL.GL_RED)):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, param, value)
        self._atlas_texts = unique

    def instances(self, panel) -> np.ndarray:
        """(Q + visible rays, 36) float32 instance rows for a PanelScene (quads first, then rays)."""
        q = len(panel)
        quads = np.zeros((q, INSTANCE_FLOATS), np.float32)
        if q:
            m = np.asarray(panel.transforms, np.float32)
            quads[:, :16] = np.transpose(m, (0, 2, 1)).reshape(q, 16)      # GL: column-major
            quads[:, 16:20] = panel.colors
            quads[:, 20:24] = panel.text_colors
            has = np.array([bool(t) for t in panel.labels])
            idx = np.array([self._index.get(t, 0) for t in panel.labels], int)
            quads[:, 24:28] = self._rects[idx]
            w = np.linalg.norm(m[:, :3, 0], axis=1)
            h = np.linalg.norm(m[:, :3, 1], axis=1)
            is_button = np.array([a is not None for a in panel.actions])
            height = np.where(is_button, TEXT_HEIGHT["button"], TEXT_HEIGHT["title"])
            quads[:, 28:32] = text_boxes(w / np.maximum(h, 1e-9), self._aspects[idx], height)
            quads[:, 33] = has
        vis = np.nonzero(np.asarray(panel.ray_visible, bool))[0]
        rays = np.zeros((len(vis), INSTANCE_FLOATS), np.float32)
        if len(vis):
            rays[:, 0:3] = panel.ray_start[vis]
            rays[:, 4:7] = panel.ray_end[vis]
            rays[:, 8] = RAY_WIDTH_M
            rays[:, 16:20] = RAY_COLOR
            rays[:, 32] = _RAY_KIND
        return np.concatenate([quads, rays])

    def upload(self, panel) -> None:
        """This frame's PanelScene (None or an empty one: nothing is drawn)."""
        if panel is None or (len(panel) == 0 and not np.any(panel.ray_visible)):
            self.count = 0
            return
        self._ensure_atlas(tuple(panel.labels))
        data = np.ascontiguousarray(self.instances(panel))
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self.ibo)
        GL.glBufferData(GL.GL_ARRAY_BUFFER, data.nbytes, data, GL.GL_STREAM_DRAW)
        self.count = int(data.shape[0])

    def draw(self, view: View, view_proj: np.ndarray) -> int:
        """Draw the uploaded panel into the bound framebuffer; returns draw calls (0 or 1)."""
        if self.count == 0:
            return 0
        GL.glUseProgram(self.program)
        GL.glUniformMatrix4fv(self._u_view_proj, 1, GL.GL_TRUE, np.asarray(view_proj, np.float32))
        GL.glUniform3fv(self._u_camera, 1, np.asarray(view.position, np.float32))
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.texture)
        GL.glUniform1i(self._u_atlas, 0)
        GL.glDisable(GL.GL_CULL_FACE)
        GL.glBindVertexArray(self.vao)
        GL.glDrawArraysInstanced(GL.GL_TRIANGLE_STRIP, 0, 4, self.count)
        GL.glBindVertexArray(0)
        GL.glEnable(GL.GL_CULL_FACE)
        return 1

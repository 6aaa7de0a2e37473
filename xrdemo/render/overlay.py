"""Screen-space text panels (help, status line) over a window: Pillow rasterises, GL draws a quad.

``render_text_panel`` is pure (Pillow + numpy) and returns an RGBA image; ``Overlay`` keeps one
texture per named panel, re-rasterising only when its text changes, and draws each panel as a
single textured quad (shaders/overlay.vert, overlay.frag) with alpha blending. Text uses Pillow's
bundled default font, so nothing is installed for it on any OS.
"""

from __future__ import annotations

import numpy as np
from OpenGL import GL

from .renderer import _compile, check_gl

TEXT_COLOR = (236, 238, 240, 255)
TITLE_COLOR = (255, 214, 120, 255)
PANEL_COLOR = (12, 14, 18, 200)


def _font(px: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=px)      # Pillow >= 10.1: the bundled scalable font
    except TypeError:                               # older Pillow: the fixed bitmap font
        return ImageFont.load_default()


def render_text_panel(lines: list[str], font_px: int = 14, padding: int = 8,
                      title: bool = False) -> np.ndarray:
    """Rasterise lines of text on a translucent dark panel.

    A tab in a line starts the next column; columns line up across lines. Returns (H, W, 4) uint8
    RGBA, top row first, straight alpha, sRGB-encoded colours. With ``title`` the first line is
    drawn in the accent colour. An empty list gives a (1, 1) clear image.
    """
    from PIL import Image, ImageDraw

    if not lines:
        return np.zeros((1, 1, 4), np.uint8)
    font = _font(font_px)
    ascent, descent = font.getmetrics()
    line_h = ascent + descent + max(2, font_px // 5)
    cells = [line.split("\t") for line in lines]
    gap = font_px
    col_w = {}
    for row in cells:
        for c, cell in enumerate(row[:-1]):
            col_w[c] = max(col_w.get(c, 0), int(np.ceil(font.getlength(cell))) + gap)
    col_x = np.concatenate([[0], np.cumsum([col_w[c] for c in sorted(col_w)])]).astype(int)
    width = max(col_x[len(row) - 1] + int(np.ceil(font.getlength(row[-1]))) for row in cells)
    w = max(width, 1) + 2 * padding
    h = line_h * len(lines) + 2 * padding - max(2, font_px // 5)
    img = Image.new("RGBA", (w, h), PANEL_COLOR)
    draw = ImageDraw.Draw(img)
    for i, row in enumerate(cells):
        color = TITLE_COLOR if (title and i == 0) else TEXT_COLOR
        for c, cell in enumerate(row):
            draw.text((padding + int(col_x[c]), padding + i * line_h), cell, font=font, fill=color)
    return np.asarray(img, dtype=np.uint8).copy()


class _Panel:
    def __init__(self):
        self.texture = GL.glGenTextures(1)
        self.key = None
        self.size = (0, 0)

    def upload(self, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.texture)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA8, w, h, 0, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE,
                        np.ascontiguousarray(image))
        for p, v in ((GL.GL_TEXTURE_MIN_FILTER, GL.GL_NEAREST), (GL.GL_TEXTURE_MAG_FILTER, GL.GL_NEAREST),
                     (GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE), (GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE)):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, p, v)
        self.size = (w, h)


class Overlay:
    """Named text panels drawn in window pixels. Create with the window's GL context current."""

    def __init__(self, font_px: int = 14):
        self.font_px = int(font_px)
        self.program = _compile("overlay.vert", "overlay.frag")
        self._rect = GL.glGetUniformLocation(self.program, "u_rect")
        self._tex = GL.glGetUniformLocation(self.program, "u_texture")
        self.vao = GL.glGenVertexArrays(1)       # core profile needs a VAO, even with no attributes
        self.panels: dict[str, _Panel] = {}
        check_gl("overlay set-up")

    def set_text(self, name: str, lines: list[str], title: bool = False) -> tuple[int, int]:
        """Set a panel's text (re-rasterised only if it changed). Returns its (width, height) pixels."""
        key = (tuple(lines), title, self.font_px)
        panel = self.panels.get(name)
        if panel is None:
            panel = self.panels[name] = _Panel()
        if panel.key != key:
            panel.upload(render_text_panel(list(lines), self.font_px, padding=max(4, self.font_px // 2),
                                           title=title))
            panel.key = key
        return panel.size

    def panel_size(self, name: str) -> tuple[int, int]:
        return self.panels[name].size

    def draw(self, name: str, x: int, y: int, window_size: tuple[int, int]) -> None:
        """Draw panel ``name`` with its top-left corner at (x, y) window pixels (from the top left)
        into the bound framebuffer, whose size is ``window_size``."""
        panel = self.panels[name]
        ww, wh = window_size
        pw, ph = panel.size
        if ww < 1 or wh < 1 or pw < 2:
            return
        x0, x1 = 2.0 * x / ww - 1.0, 2.0 * (x + pw) / ww - 1.0
        y0, y1 = 1.0 - 2.0 * (y + ph) / wh, 1.0 - 2.0 * y / wh
        GL.glViewport(0, 0, ww, wh)
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glDisable(GL.GL_CULL_FACE)
        GL.glDisable(GL.GL_FRAMEBUFFER_SRGB)     # panel colours are already display values
        GL.glEnable(GL.GL_BLEND)
        GL.glBlendFunc(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA)
        GL.glUseProgram(self.program)
        GL.glUniform4f(self._rect, x0, y0, x1, y1)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, panel.texture)
        GL.glUniform1i(self._tex, 0)
        GL.glBindVertexArray(self.vao)
        GL.glDrawArrays(GL.GL_TRIANGLE_STRIP, 0, 4)
        GL.glBindVertexArray(0)
        check_gl(f"drawing the {name} overlay")

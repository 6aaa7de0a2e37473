"""Per-view offscreen targets for a window, and the blit that shows them (one view, or two side by side).

The renderer draws each view into its own multisampled sRGB framebuffer (as it would into a
headset's swapchain image); ``ViewTargets.present`` resolves them and copies them into the
window's default framebuffer, left eye on the left. Needs a current GL 3.3 core context.
"""

from __future__ import annotations

from OpenGL import GL

from .renderer import Framebuffer, check_gl


def _delete_framebuffer(fbo: int) -> None:
    """Delete a framebuffer object and the renderbuffers attached to it."""
    GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
    for attachment in (GL.GL_COLOR_ATTACHMENT0, GL.GL_DEPTH_ATTACHMENT):
        name = GL.glGetFramebufferAttachmentParameteriv(
            GL.GL_FRAMEBUFFER, attachment, GL.GL_FRAMEBUFFER_ATTACHMENT_OBJECT_NAME)
        if name:
            GL.glDeleteRenderbuffers(1, [int(name)])
    GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
    GL.glDeleteFramebuffers(1, [int(fbo)])


class ViewTargets:
    """Offscreen targets, one per view, all of one size (width, height) pixels."""

    def __init__(self, samples: int = 4):
        self.samples = int(samples)
        self.targets: list[Framebuffer] = []
        self.size = (0, 0)

    def ensure(self, count: int, size: tuple[int, int]) -> list[Framebuffer]:
        """Targets for ``count`` views of ``size``; recreated when either changes."""
        size = (int(size[0]), int(size[1]))
        if len(self.targets) != count or self.size != size:
            self.release()
            self.targets = [Framebuffer(size, self.samples) for _ in range(count)]
            self.size = size
        return self.targets

    def present(self, window_fbo: int = 0) -> None:
        """Resolve every target and copy it into the window framebuffer, side by side from x = 0.

        The copy is raw (GL_FRAMEBUFFER_SRGB off): the window shows the sRGB-encoded bytes.
        """
        w, h = self.size
        GL.glDisable(GL.GL_FRAMEBUFFER_SRGB)
        for i, t in enumerate(self.targets):
            if t.draw_fbo != t.resolve_fbo:
                GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, t.draw_fbo)
                GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, t.resolve_fbo)
                GL.glBlitFramebuffer(0, 0, w, h, 0, 0, w, h, GL.GL_COLOR_BUFFER_BIT, GL.GL_NEAREST)
            GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, t.resolve_fbo)
            GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, window_fbo)
            GL.glBlitFramebuffer(0, 0, w, h, i * w, 0, (i + 1) * w, h, GL.GL_COLOR_BUFFER_BIT,
                                 GL.GL_NEAREST)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, window_fbo)
        check_gl("presenting views")

    def release(self) -> None:
        for t in self.targets:
            fbos = {t.draw_fbo, t.resolve_fbo}
            for fbo in fbos:
                _delete_framebuffer(fbo)
        self.targets = []
        self.size = (0, 0)

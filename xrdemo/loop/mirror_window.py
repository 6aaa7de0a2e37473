"""The mirror window (``xrdemo run --mirror``): what the wearer sees, in a desktop window.

A process of its own (``python -m xrdemo.loop.mirror_window WIDTH HEIGHT``), so its GL context and
window system never meet the headset's (EGL on Linux, the runtime's own on Windows): it reads
frames from stdin — each WIDTH x HEIGHT x 3 bytes of RGB, top row first — and shows the newest in
a resizable window titled "xrdemo mirror". Closing the window (or Esc in it) ends it; the meeting
goes on. It
prints "mirror: ready" once the window is open and "mirror: showed N frames" when it ends.

``MirrorWindow`` is the app side: it starts the process and hands it frames from a thread, keeping
only the newest (a slow window drops frames, never slows the headset).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np

TITLE = "xrdemo mirror"


class MirrorWindow:
    """Starts the window process; ``show(image (h, w, 3) uint8)`` per frame; ``close()``.
    ``alive`` is False once the window was closed (or could not open)."""

    def __init__(self, size, log=print):
        self.size = (int(size[0]), int(size[1]))
        self.log = log
        env = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}
        self.proc = subprocess.Popen([sys.executable, "-m", "xrdemo.loop.mirror_window", str(self.size[0]),
                                      str(self.size[1])], stdin=subprocess.PIPE, env=env)
        self._frame = None
        self._cv = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._feed, name="xrdemo-mirror-window", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def show(self, image: np.ndarray) -> None:
        with self._cv:
            self._frame = np.ascontiguousarray(image[..., :3], np.uint8).tobytes()
            self._cv.notify()

    def _feed(self) -> None:
        while True:
            with self._cv:
                while self._frame is None and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                frame, self._frame = self._frame, None
            try:
                self.proc.stdin.write(frame)
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                return                              # the window was closed

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify()
        self._thread.join(timeout=2.0)
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _serve(width: int, height: int) -> int:
    """The window process: show frames from stdin until the window is closed or stdin ends."""
    import glfw

    if sys.platform.startswith("linux") and hasattr(glfw, "PLATFORM_X11"):
        glfw.init_hint(glfw.PLATFORM, glfw.PLATFORM_X11)
    if not glfw.init():
        print("mirror: no window (GLFW cannot start)", flush=True)
        return 1
    glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
    glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
    glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
    window = glfw.create_window(width, height, TITLE, None, None)
    if not window:
        print("mirror: no window (cannot create it)", flush=True)
        glfw.terminate()
        return 1
    glfw.make_context_current(window)
    glfw.set_key_callback(window, lambda w, key, sc, action, mods: glfw.set_window_should_close(w, True)
                          if key == glfw.KEY_ESCAPE and action == glfw.PRESS else None)
    from OpenGL import GL

    tex = GL.glGenTextures(1)
    GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
    GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR)
    GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR)
    GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGB8, width, height, 0, GL.GL_RGB, GL.GL_UNSIGNED_BYTE, None)
    fbo = GL.glGenFramebuffers(1)
    GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, fbo)
    GL.glFramebufferTexture2D(GL.GL_READ_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, tex, 0)
    GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
    print("mirror: ready", flush=True)
    frame_bytes = width * height * 3
    shown = 0
    reader = _FrameReader(sys.stdin.buffer, frame_bytes)
    while not glfw.window_should_close(window) and not reader.ended:
        glfw.poll_events()
        data = reader.newest()
        if data is not None:
            GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
            GL.glTexSubImage2D(GL.GL_TEXTURE_2D, 0, 0, 0, width, height, GL.GL_RGB, GL.GL_UNSIGNED_BYTE, data)
            fw, fh = glfw.get_framebuffer_size(window)
            GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, 0)
            GL.glClear(GL.GL_COLOR_BUFFER_BIT)
            # top row first in the data: flip while copying to the window
            GL.glBlitFramebuffer(0, 0, width, height, 0, fh, fw, 0, GL.GL_COLOR_BUFFER_BIT, GL.GL_LINEAR)
            glfw.swap_buffers(window)
            shown += 1
        else:
            glfw.wait_events_timeout(0.01)
    print(f"mirror: showed {shown} frames", flush=True)
    glfw.destroy_window(window)
    glfw.terminate()
    return 0


class _FrameReader:
    """Reads whole frames from a pipe on a thread; ``newest()`` gives the latest unseen one."""

    def __init__(self, stream, frame_bytes: int):
        self.stream, self.frame_bytes = stream, frame_bytes
        self.ended = False
        self._latest = None
        self._lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            data = self.stream.read(self.frame_bytes)
            if not data or len(data) < self.frame_bytes:
                self.ended = True
                return
            with self._lock:
                self._latest = data

    def newest(self):
        with self._lock:
            data, self._latest = self._latest, None
        return data


if __name__ == "__main__":
    sys.exit(_serve(int(sys.argv[1]), int(sys.argv[2])))

"""The desktop simulator: a GLFW window standing in for a headset, with keyboard-and-mouse hands.

``DesktopPlatform`` opens a resizable, vsynced window with an OpenGL 3.3 core context, turns keys
and mouse (desktop_input.py) into a seated person's head and 26-joint hands, renders one view (or
two side by side, V) through offscreen targets, and draws a help panel (H) and a status line
(set_status). Input can also be scripted (``input_script``), and goes through the same handlers as
the window's callbacks. On Linux it needs an X display (GLX); PyOpenGL must not be bound to EGL.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from typing import Callable

import numpy as np

from xrdemo.core.views import eye_views
from xrdemo.platform.base import (
    PlatformBase,
    Capabilities, ControllersInput, DrawView, EventKind, FrameInput, HandsInput, PlatformEvent,
    PlatformUnavailable, Pose, SessionState, state_change_events,
)
from xrdemo.platform.desktop_input import (
    GESTURES, KEYMAP, DesktopControls, InputEvent, SeatFrame, parse_input_script,
)

NS = 1_000_000_000
DEFAULT_REFRESH_HZ = 60.0
STATUS_REFRESH_S = 0.5          # the fps figure in the status line updates this often


def check_display() -> None:
    """Raise PlatformUnavailable (one line) when this process cannot open a GLX window."""
    if sys.platform.startswith(("win", "darwin")):
        return
    if not os.environ.get("DISPLAY"):
        extra = " (Wayland without XWayland is not supported)" if os.environ.get("WAYLAND_DISPLAY") else ""
        raise PlatformUnavailable(f"no display for a desktop window: DISPLAY is not set{extra}")
    _bind_pyopengl_to_glx()


def _bind_pyopengl_to_glx() -> None:
    """Make PyOpenGL use GLX, the window's context API on Linux.

    Before any OpenGL import this is just PYOPENGL_PLATFORM. If PyOpenGL is already bound to EGL
    (a failed OpenXR attempt under ``auto`` chooses EGL first; the headless tests set it), switch
    its PLATFORM object, as render/context.py does the other way: with libglvnd the GL entry points
    dispatch to whichever context is current.
    """
    if "OpenGL.platform" not in sys.modules:
        if os.environ.get("PYOPENGL_PLATFORM", "glx").lower() != "glx":
            os.environ["PYOPENGL_PLATFORM"] = "glx"
        return
    import OpenGL.platform as glp

    bound = type(glp.PLATFORM).__name__
    if "GLX" in bound:
        return
    try:
        from OpenGL.platform.glx import GLXPlatform

        glp.PLATFORM = GLXPlatform()
        glp.PLATFORM.install(vars(glp))     # re-export GetCurrentContext & co. for the new platform
    except Exception as exc:  # pragma: no cover - depends on system libraries
        raise PlatformUnavailable(
            f"PyOpenGL is bound to {bound} and cannot switch to GLX for the window ({exc}); "
            "start a new process without PYOPENGL_PLATFORM=egl") from exc


def _glfw_key_names(glfw) -> dict[int, str]:
    names = {}
    for attr in dir(glfw):
        if attr.startswith("KEY_") and attr not in ("KEY_LAST", "KEY_UNKNOWN"):
            names.setdefault(getattr(glfw, attr), attr[4:].lower())
    return names


def probe_window_system() -> None:
    """Raise PlatformUnavailable (with the reason) unless GLFW can start on this display.

    Cheap: no window and no GL context; used by ``xrdemo doctor``.
    """
    check_display()
    try:
        import glfw
    except ImportError as exc:
        raise PlatformUnavailable(f"the glfw package is not installed ({exc}); pip install glfw") from exc
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if sys.platform.startswith("linux") and hasattr(glfw, "PLATFORM_X11"):
            glfw.init_hint(glfw.PLATFORM, glfw.PLATFORM_X11)
        ok = glfw.init()
        problem = _glfw_problem(caught)
    if not ok:
        raise PlatformUnavailable(f"GLFW cannot start: {problem}")
    glfw.terminate()


def _glfw_problem(caught) -> str:
    msgs = [str(w.message).strip() for w in caught]
    return msgs[-1] if msgs else "no reason given"


class DesktopPlatform(PlatformBase):
    """A Platform in a desktop window. Creating it makes the window's GL context current.

    size: window (width, height) in screen units. stereo: start in side-by-side stereo. vsync:
    swap interval 1. seat: where you sit (set_seat changes it later). input_script: InputEvents
    (or JSON-like dicts, see desktop_input.parse_input_script) applied at given frame numbers.
    clock: () -> int nanoseconds, monotonic (default time.monotonic_ns); tests pass a stepped
    clock. fov_deg: horizontal field of view per view. samples: MSAA samples of the view targets.
    show_help: start with the help panel shown. visible: show the window.
    """

    def __init__(self, *, size: tuple[int, int] = (1280, 720), title: str = "xrdemo (desktop simulator)",
                 stereo: bool = False, vsync: bool = True, seat: SeatFrame | None = None,
                 input_script=None, clock: Callable[[], int] | None = None, fov_deg: float = 80.0,
                 samples: int = 4, show_help: bool = True, visible: bool = True):
        check_display()
        try:
            import glfw
        except ImportError as exc:
            raise PlatformUnavailable(f"the glfw package is not installed ({exc}); pip install glfw") from exc
        self._glfw = glfw
        self._window = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if sys.platform.startswith("linux") and hasattr(glfw, "PLATFORM_X11"):
                glfw.init_hint(glfw.PLATFORM, glfw.PLATFORM_X11)
            if not glfw.init():
                raise PlatformUnavailable(f"GLFW cannot start: {_glfw_problem(caught)}")
            glfw.default_window_hints()
            for hint, value in ((glfw.CONTEXT_VERSION_MAJOR, 3), (glfw.CONTEXT_VERSION_MINOR, 3),
                                (glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE),
                                (glfw.OPENGL_FORWARD_COMPAT, True), (glfw.RESIZABLE, True),
                                (glfw.VISIBLE, bool(visible)), (glfw.SRGB_CAPABLE, False),
                                (glfw.SAMPLES, 0), (glfw.DOUBLEBUFFER, True)):
                glfw.window_hint(hint, value)
            window = glfw.create_window(int(size[0]), int(size[1]), title, None, None)
            if not window:
                problem = _glfw_problem(caught)
                glfw.terminate()
                raise PlatformUnavailable(f"no OpenGL 3.3 core window: {problem}")
        self._window = window
        glfw.make_context_current(window)
        glfw.swap_interval(1 if vsync else 0)

        from OpenGL import GL

        from xrdemo.render.context import gl_info
        from xrdemo.render.overlay import Overlay
        from xrdemo.render.present import ViewTargets

        self._GL = GL
        self.gl_info = gl_info()
        scale = glfw.get_window_content_scale(window)[0] or 1.0
        self._overlay = Overlay(font_px=int(round(14 * scale)))
        self._targets = ViewTargets(samples)
        self._key_names = _glfw_key_names(glfw)
        self.controls = DesktopControls(seat)
        self.stereo = bool(stereo)
        self.show_help = bool(show_help)
        self.status_text = ""
        self.fov_deg = float(fov_deg)
        self._clock = clock or time.monotonic_ns
        self._script = parse_input_script(input_script) if input_script and not isinstance(
            input_script[0], InputEvent) else sorted(input_script or [], key=lambda e: e.frame)
        self._script_pos = 0
        self._releases: list[InputEvent] = []
        self._frame_index = 0
        self._in_frame = False
        self._ended = False
        self._state = SessionState.IDLE
        self._focused = bool(glfw.get_window_attrib(window, glfw.FOCUSED)) or not visible
        self._focus_changes: list[bool] = []
        self._prev_t: int | None = None
        self._fps = 0.0
        self._fps_shown = 0.0
        self._fps_shown_at = -1e9
        self._view_size = (0, 0)
        self._screenshot_requested = False
        self.last_screenshot: np.ndarray | None = None
        monitor = glfw.get_primary_monitor()
        mode = glfw.get_video_mode(monitor) if monitor else None
        self.refresh_hz = float(mode.refresh_rate) if mode and mode.refresh_rate else DEFAULT_REFRESH_HZ
        self.capabilities = Capabilities(
            name="desktop", runtime=f"GLFW {glfw.get_version_string().decode().split()[0]}",
            system=f"window, {self.gl_info['renderer'].split(' (')[0]}",
            view_count=2 if self.stereo else 1, view_size=(0, 0), hand_tracking=True,
            controllers=False, haptics=False, eye_gaze=False, passthrough=False, refresh_rates=(),
            blend_modes=("opaque",), reference_space="room",
            swapchain_format="GL_SRGB8_ALPHA8 offscreen views, copied into the window",
            missing={"controllers": "keyboard and mouse only (hands are simulated from keys)",
                     "haptics": "no motion controllers to vibrate",
                     "passthrough": "a desktop window has no camera view of the room",
                     "eye_gaze": "no eye tracker; gaze follows the head"},
        )
        self._install_callbacks()

    # -- public extras (beyond the Platform protocol) -----------------------------------------
    def set_status(self, text: str) -> None:
        """Text for the status line (fps, people, audio device, microphone level, whisper state),
        and after a newline the roster, a line per person. The platform adds the view mode and the
        help hint after the first line; with no text it shows its own frame rate."""
        self.status_text = str(text)

    def set_title(self, text: str) -> None:
        self._glfw.set_window_title(self._window, str(text))

    def set_seat(self, seat: SeatFrame) -> None:
        """Sit somewhere else (e.g. the meeting's seat for this person, see desktop_input.seat_of)."""
        self.controls.seat = seat

    def request_screenshot(self) -> None:
        """Read the next presented frame back (glReadPixels of the window, overlays included)
        into ``last_screenshot``: (H, W, 3) uint8, top row first."""
        self._screenshot_requested = True

    @property
    def fps(self) -> float:
        """Frames per second, smoothed over about a second."""
        return self._fps

    @property
    def window(self):
        """The GLFW window handle (for xdotool-style tests and window titles)."""
        return self._window

    # -- input --------------------------------------------------------------------------------
    def _install_callbacks(self) -> None:
        glfw, w = self._glfw, self._window

        def on_key(_w, key, _scancode, action, _mods):
            if action == glfw.REPEAT:
                return
            name = self._key_names.get(key)
            if name:
                self.handle_key(name, action == glfw.PRESS)

        def on_button(_w, button, action, _mods):
            name = {glfw.MOUSE_BUTTON_LEFT: "left", glfw.MOUSE_BUTTON_RIGHT: "right",
                    glfw.MOUSE_BUTTON_MIDDLE: "middle"}.get(button)
            if name:
                self.handle_button(name, action == glfw.PRESS)

        self._callbacks = (on_key, on_button)       # keep references alive
        glfw.set_key_callback(w, on_key)
        glfw.set_mouse_button_callback(w, on_button)
        glfw.set_cursor_pos_callback(w, lambda _w, x, y: self.controls.cursor(x, y))
        glfw.set_scroll_callback(w, lambda _w, _dx, dy: self.controls.scroll(dy))
        glfw.set_window_focus_callback(w, lambda _w, focused: self._focus_changes.append(bool(focused)))

    def handle_key(self, name: str, pressed: bool) -> None:
        """A key went down or up (GLFW callback and scripted input both land here)."""
        if pressed and name == "escape":
            self._glfw.set_window_should_close(self._window, True)
        elif pressed and name == "h":
            self.show_help = not self.show_help
        elif pressed and name == "v":
            self.stereo = not self.stereo
        elif pressed and name == "c":
            self._set_capture(not self.controls.captured)
        else:
            self.controls.key(name, pressed)

    def handle_button(self, name: str, pressed: bool) -> None:
        """A mouse button ("left", "right", "middle") went down or up."""
        self.controls.mouse_button(name, pressed)

    def _set_capture(self, on: bool) -> None:
        glfw = self._glfw
        glfw.set_input_mode(self._window, glfw.CURSOR, glfw.CURSOR_DISABLED if on else glfw.CURSOR_NORMAL)
        if on and glfw.raw_mouse_motion_supported():
            glfw.set_input_mode(self._window, glfw.RAW_MOUSE_MOTION, True)
        self.controls.captured = on
        self.controls.forget_cursor()

    def _apply_script(self, frame: int) -> None:
        for ev in self._releases:
            self._apply_event(ev, "release")
        self._releases = []
        while self._script_pos < len(self._script) and self._script[self._script_pos].frame <= frame:
            ev = self._script[self._script_pos]
            self._script_pos += 1
            if ev.kind in ("key", "button"):
                self._apply_event(ev, "press" if ev.action == "tap" else ev.action)
                if ev.action == "tap":
                    self._releases.append(ev)
            else:
                self._apply_event(ev, "")

    def _apply_event(self, ev: InputEvent, action: str) -> None:
        if ev.kind == "key":
            self.handle_key(ev.name, action == "press")
        elif ev.kind == "button":
            self.handle_button(ev.name, action == "press")
        elif ev.kind == "cursor":
            self.controls.cursor(ev.x, ev.y)
        elif ev.kind == "scroll":
            self.controls.scroll(ev.y)

    # -- frame --------------------------------------------------------------------------------
    def _set_state(self, state: SessionState, events: list[PlatformEvent]) -> None:
        previous, self._state = self._state, state
        events.extend(state_change_events(previous, state))

    def begin_frame(self) -> FrameInput:
        if self._in_frame:
            raise RuntimeError("begin_frame called twice without end_frame")
        glfw = self._glfw
        events: list[PlatformEvent] = []
        if not self._ended:
            if glfw.get_window_attrib(self._window, glfw.ICONIFIED):
                glfw.wait_events_timeout(0.05)       # nothing is shown: don't spin
            glfw.poll_events()
            self._apply_script(self._frame_index)
        period = int(round(NS / self.refresh_hz))
        t = int(self._clock()) + period
        dt = 0.0 if self._prev_t is None else (t - self._prev_t) / NS
        if dt > 0:
            self._fps = 1.0 / dt if self._fps == 0 else 0.9 * self._fps + 0.1 / dt
        self._prev_t = t
        if self._state == SessionState.IDLE and not self._ended:
            for s in (SessionState.READY, SessionState.SYNCHRONIZED, SessionState.VISIBLE):
                self._set_state(s, events)
            if self._focused:
                self._set_state(SessionState.FOCUSED, events)
        for focused in self._focus_changes:
            if self._ended:
                break
            self._focused = focused
            if not focused:
                self.controls.release_all()
            if focused and self._state == SessionState.VISIBLE:
                self._set_state(SessionState.FOCUSED, events)
            elif not focused and self._state == SessionState.FOCUSED:
                self._set_state(SessionState.VISIBLE, events)
        self._focus_changes = []
        if not self._ended and glfw.window_should_close(self._window):
            for s in (SessionState.STOPPING, SessionState.IDLE, SessionState.EXITING):
                self._set_state(s, events)
            events.append(PlatformEvent(EventKind.EXITING, message="the window was closed"))
            self._ended = True
        actions = self.controls.take_actions()
        talk = self.controls.take_talk_changes()
        if not self._ended:
            events.extend(PlatformEvent(EventKind.ACTION, {"action": a.name}, f"key: {a.value}")
                          for a in actions)
            events.extend(PlatformEvent(EventKind.TALK, {"held": held}) for held in talk)
        self.controls.advance(dt)
        views = self._views()
        head_p, head_q = self.controls.head_pose()
        pos, rot, radii = self.controls.hands()
        hands = HandsInput(pos.astype(np.float32), rot.astype(np.float32), radii.astype(np.float32),
                           np.ones((2, pos.shape[1]), bool), np.ones(2, bool))
        running = not self._ended
        frame = FrameInput(
            predicted_display_time_ns=t, predicted_display_period_ns=period, views=views,
            head=Pose(head_p, head_q, True), hands=hands, controllers=ControllersInput.idle(),
            gaze=None, session_state=self._state,
            should_render=running and self._view_size[0] > 0 and self._view_size[1] > 0,
            events=events, exit_requested=self._ended, frame_index=self._frame_index,
        )
        self._frame_index += 1
        self._in_frame = running
        return frame

    def _views(self):
        fw, fh = self._glfw.get_framebuffer_size(self._window)
        count = 2 if self.stereo else 1
        self._view_size = (fw // count, fh)
        self.capabilities.view_count = count
        self.capabilities.view_size = self._view_size
        head_p, head_q = self.controls.head_pose()
        size = (max(self._view_size[0], 1), max(self._view_size[1], 1))
        return eye_views(head_p, head_q, size, stereo=self.stereo, horizontal_fov_deg=self.fov_deg)

    def end_frame(self, frame: FrameInput, draw: DrawView | None = None) -> None:
        if not self._in_frame:
            return
        try:
            if frame.should_render and draw is not None:
                targets = self._targets.ensure(len(frame.views), self._view_size)
                for i, view in enumerate(frame.views):
                    draw(i, view, targets[i].draw_fbo, self._view_size)
        finally:
            self._in_frame = False
            self._present(frame, drew=frame.should_render and draw is not None)

    def _present(self, frame: FrameInput, drew: bool) -> None:
        GL, glfw = self._GL, self._glfw
        fw, fh = glfw.get_framebuffer_size(self._window)
        if fw < 1 or fh < 1:
            return
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        GL.glDisable(GL.GL_FRAMEBUFFER_SRGB)
        GL.glViewport(0, 0, fw, fh)
        GL.glClearColor(0.0, 0.0, 0.0, 1.0)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
        if drew:
            self._targets.present(0)
        self._draw_overlays((fw, fh))
        if self._screenshot_requested:
            self._screenshot_requested = False
            GL.glReadBuffer(GL.GL_BACK)
            GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
            data = GL.glReadPixels(0, 0, fw, fh, GL.GL_RGB, GL.GL_UNSIGNED_BYTE)
            self.last_screenshot = np.frombuffer(data, np.uint8).reshape(fh, fw, 3)[::-1].copy()
        glfw.swap_buffers(self._window)

    def status_line(self) -> str:
        """The status line as shown: the app's text (or, with none, the frame rate), the view mode."""
        now = self._prev_t or 0
        if (now - self._fps_shown_at) / NS >= STATUS_REFRESH_S:
            self._fps_shown, self._fps_shown_at = self._fps, now
        mode = "stereo" if self.stereo else "single view"
        text = self.status_text.split("\n")[0] or f"{self._fps_shown:.0f} fps"   # the app's text has its fps
        return " | ".join([text, mode, "H: help"])

    def _draw_overlays(self, size: tuple[int, int]) -> None:
        # Top left, away from your hands (they live in the lower half of the view).
        margin = max(6, self._overlay.font_px // 2)
        _, sh = self._overlay.set_text("status", [self.status_line(), *self.status_text.split("\n")[1:]])
        self._overlay.draw("status", margin, margin, size)
        if self.show_help:
            self._overlay.set_text("help", help_lines(self.controls), title=True)
            self._overlay.draw("help", margin, 2 * margin + sh, size)

    # -- the rest of the Platform protocol (no haptics, passthrough or refresh choice: PlatformBase)
    def shutdown(self) -> None:
        """Close the window and end GLFW; safe to call twice."""
        self._ended = True
        self._in_frame = False
        if self._window is not None:
            self._targets = None
            self._glfw.destroy_window(self._window)
            self._window = None
            self._glfw.terminate()


def help_lines(controls: DesktopControls | None = None) -> list[str]:
    """The help panel: a title, one line per KEYMAP entry, and the hands' current gestures."""
    def label(keys):
        names = {"right_mouse": "right drag", "left_mouse": "left drag", "wheel": "wheel",
                 "left_shift": "Shift", "left_control": "Ctrl", "escape": "Esc", "space": "Space",
                 "left": "arrows", "equal": "+", "minus": "-"}
        keys = [k for k in keys if k not in ("right", "up", "down")]
        return " ".join(names.get(k, k.upper()) for k in keys)

    lines = ["xrdemo desktop simulator  (H hides this)"]
    lines += [f"{label(keys)}\t{text}" for keys, _action, text in KEYMAP]
    if controls is not None:
        left, right = controls.gestures
        lines.append(f"hands now: left {left.replace('_', '-')}, right {right.replace('_', '-')}")
    return lines


__all__ = ["DesktopPlatform", "SeatFrame", "InputEvent", "GESTURES", "KEYMAP", "help_lines",
           "check_display"]

"""The frame loop, once: ``FrameLoop(platform, driver, parts).run()``.

One turn of the loop is a *tick*::

    frame = platform.begin_frame()             # the platform's frame, in its tracking space
    part.on_frame(tick)                        # seat / align the frame into the room, collect touches
    tick.inputs = driver.inputs(tick)          # the local person's tracking (None for a replay)
    part.on_inputs(tick)                       # remote people, voice levels, the microphone
    tick.scene = driver.step(tick)             # core.step (or the replayed frame)
    part.on_step(tick)                         # send the pose, record, render the frame's sound
    platform.end_frame(frame, draw)            # always, also when something above raised
    part.after_frame(tick)                     # read the picture back, publish audio, haptics, status

A part that changes the meeting (the room reseats us, a table calibration moves the table) calls
``loop.rebuild(state)``; every part hears ``on_meeting(loop, state)`` — also once at the start, so
set-up and rebuild are one path. A part stops the loop by setting ``tick.stop`` (a reason) and,
for an exit status, ``tick.status``. ``close(error)`` runs for every part, in order, however the
loop ended (``error`` is the exception that ended it, or None).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

SESSION_LOST = 3
"""Exit status when the runtime lost the session (device unplugged, runtime gone)."""


@dataclass
class Tick:
    """One turn of the loop.

    frame: the FrameInput begin_frame returned (the platform's tracking space); room: the same
    frame carried into the meeting room (seat transform, table alignment) — what the people, the
    views and the menu use; t_ns: the meeting time given to the driver; index: counts ticks from 0.
    inputs: the core's LocalInput (None when a replay drives the people); scene: the FrameScene to
    draw (None: draw nothing); samples: (M, 2) float32 sound of this frame for outputs that write
    it; timings: milliseconds per phase ("core", "submit", ...); stop: why the loop ends after this
    tick (None: go on); status: the exit status that goes with it. state: the meeting state
    (before the step, then after it).
    """

    frame: Any
    room: Any
    t_ns: int
    index: int
    state: Any = None
    inputs: Any = None
    scene: Any = None
    samples: Any = None
    timings: dict = field(default_factory=dict)
    stop: str | None = None
    status: int = 0


class FramePart:
    """Something that plugs into the loop. Every hook is optional (these defaults do nothing)."""

    def on_meeting(self, loop: "FrameLoop", state) -> None:
        """The meeting was (re)built: at the start, and after every ``loop.rebuild``."""

    def on_frame(self, tick: Tick) -> None:
        """A new frame: carry it (``tick.room``), watch its events."""

    def on_inputs(self, tick: Tick) -> None:
        """``tick.inputs`` exists: add to it (remote people, levels)."""

    def on_step(self, tick: Tick) -> None:
        """``tick.scene`` and the new state exist (``loop.driver.state``)."""

    def after_frame(self, tick: Tick) -> None:
        """The frame was submitted."""

    def close(self, error: BaseException | None) -> None:
        """The loop is over (error: what ended it, or None). Free what the part holds."""


class Driver:
    """What drives the people: ``inputs(tick)`` then ``step(tick) -> FrameScene | None``.
    ``state`` is the meeting state (core.scene.MeetingState)."""

    state: Any = None

    def inputs(self, tick: Tick):
        return None

    def step(self, tick: Tick):
        raise NotImplementedError


@dataclass
class LoopResult:
    frames: int
    status: int
    reason: str


class FrameLoop:
    """The loop (see the module docstring). clock(frame) -> t_ns for the driver (default: the
    frame's predicted display time). The renderer is made on first use (a GL context is current
    by then); ``renderer`` may be given."""

    def __init__(self, platform, driver: Driver, parts: list[FramePart], *, renderer=None, clock=None):
        self.platform = platform
        self.driver = driver
        self.parts = list(parts)
        self.renderer = renderer
        self.clock = clock or (lambda frame: frame.predicted_display_time_ns)
        self.frames = 0

    def rebuild(self, state) -> None:
        """Use a new meeting state from now on; every part hears of it."""
        self.driver.state = state
        for part in self.parts:
            part.on_meeting(self, state)

    def _renderer(self):
        if self.renderer is None:
            from ..render.renderer import Renderer

            self.renderer = Renderer()
        return self.renderer

    def run(self, max_frames: int | None = None) -> LoopResult:
        """Run until a part or the platform stops it (or ``max_frames``); close every part."""
        error: BaseException | None = None
        reason, status = "", 0
        try:
            renderer = self._renderer()
            self.rebuild(self.driver.state)
            while True:
                tick = self._tick(renderer)
                self.frames += 1
                if tick.stop or tick.frame.exit_requested:
                    reason, status = tick.stop or "the session ended", tick.status
                    break
                if max_frames is not None and self.frames >= max_frames:
                    reason = f"{max_frames} frames"
                    break
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._close(error)
        return LoopResult(self.frames, status, reason)

    def _tick(self, renderer) -> Tick:
        platform = self.platform
        frame = platform.begin_frame()
        tick = Tick(frame=frame, room=frame, t_ns=0, index=self.frames, state=self.driver.state)
        draw = t1 = None
        try:
            tick.t_ns = self.clock(frame)
            for part in self.parts:
                part.on_frame(tick)
            t0 = time.perf_counter()
            tick.inputs = self.driver.inputs(tick)
            for part in self.parts:
                part.on_inputs(tick)
            tick.scene = self.driver.step(tick)
            tick.state = self.driver.state
            tick.timings["core"] = (time.perf_counter() - t0) * 1e3
            for part in self.parts:
                part.on_step(tick)
            t1 = time.perf_counter()
            if tick.room.should_render and tick.scene is not None:
                renderer.upload(tick.scene)
                views = tick.room.views

                def draw(i, _platform_view, fbo, size):
                    renderer.draw_view(views[i], fbo, size)
        finally:
            t1 = t1 or time.perf_counter()
            platform.end_frame(frame, draw)
            tick.timings["submit"] = (time.perf_counter() - t1) * 1e3
        for part in self.parts:
            part.after_frame(tick)
        return tick

    def _close(self, error: BaseException | None) -> None:
        first = None
        for part in self.parts:
            try:
                part.close(error)
            except Exception as exc:          # one part failing to close must not leak the others
                first = first or exc
        if first is not None and error is None:
            raise first

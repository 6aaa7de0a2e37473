"""Small loop parts every mode may use: when to stop, pacing to real time, haptics on table
contact, the status line, passthrough, and the meeting recording (``xrdemo replay`` files)."""

from __future__ import annotations

import time

from ..platform.base import EventKind
from .frame_loop import SESSION_LOST, FramePart

NS = 1_000_000_000


class StopAfter(FramePart):
    """Stops the loop after ``seconds`` of meeting time and/or ``frames`` ticks."""

    def __init__(self, seconds: float | None = None, frames: int | None = None):
        self.seconds, self.frames = seconds, frames
        self.t0 = None

    def after_frame(self, tick) -> None:
        self.t0 = tick.t_ns if self.t0 is None else self.t0
        if self.seconds is not None and (tick.t_ns - self.t0) / NS >= self.seconds:
            tick.stop = tick.stop or f"{self.seconds:g} s"
        if self.frames is not None and tick.index + 1 >= self.frames:
            tick.stop = tick.stop or f"{self.frames} frames"


class SessionWatch(FramePart):
    """Ends the loop (exit status SESSION_LOST) when the runtime loses the session."""

    def __init__(self, log=print):
        self.log = log

    def after_frame(self, tick) -> None:
        for event in tick.frame.events:
            if event.kind == EventKind.SESSION_LOST:
                self.log(f"xrdemo: {event.message or 'the session was lost'}; stopping")
                tick.stop, tick.status = "the session was lost", SESSION_LOST


class RealTimePacer(FramePart):
    """Holds each tick until its display time on the monotonic clock (a simulated platform in a
    networked meeting, which runs on real time). A tick that comes more than ``skip_behind``
    frame periods late is not drawn (``tick.room.should_render`` False: a video output repeats
    its last picture; the first tick is always drawn), so a machine that renders slower than the
    frame rate keeps real time; ``skipped`` counts those, ``behind_s`` is the most it fell behind."""

    def __init__(self, skip_behind: float = 2.0):
        self.behind_s = 0.0
        self.skip_behind = skip_behind
        self.skipped = 0
        self.ticks = 0

    def on_frame(self, tick) -> None:
        from dataclasses import replace

        display = tick.frame.predicted_display_time_ns
        left = display - time.monotonic_ns()
        if left > 0:
            time.sleep(left / 1e9)
        late = time.monotonic_ns() - display
        self.behind_s = max(self.behind_s, late / NS)
        self.ticks += 1
        if (self.skip_behind and self.ticks > 1      # the first picture is always drawn (one to repeat)
                and late > self.skip_behind * tick.frame.predicted_display_period_ns):
            tick.room = replace(tick.room, should_render=False)
            self.skipped += 1


class Haptics(FramePart):
    """A short pulse on the controller whose hand just met the table."""

    def __init__(self, platform):
        self.platform = platform

    def after_frame(self, tick) -> None:
        state = tick.state
        pf = state.frame
        if pf is None or not 0 <= state.local or not len(pf.contact_down):
            return
        for person, hand, _joint in pf.contact_down:
            if person == state.local:
                self.platform.haptic_pulse(int(hand), amplitude=0.35, duration_s=0.03)


class StatusLine(FramePart):
    """The window's status line, redrawn after every frame (``xrdemo.status.status_line``): fps,
    the room, the people present, the audio device, the microphone (muted, "YOU ARE MUTED", or a
    level), the whisper state; under it, one line per person present (roster: a MeetingStatus
    part, or None). audio / mic: the LiveAudio and Microphone parts (or None)."""

    def __init__(self, platform, audio=None, mic=None, room: str | None = None, roster=None, volume=None,
                 link=None):
        self.platform, self.audio, self.mic, self.room, self.roster = platform, audio, mic, room, roster
        self.volume, self.link = volume, link
        self.fps, self._t0, self._frames = 0.0, time.perf_counter(), 0

    def after_frame(self, tick) -> None:
        from ..status import status_line

        self._frames += 1
        now = time.perf_counter()
        if now - self._t0 >= 1.0:
            self.fps, self._t0, self._frames = self._frames / (now - self._t0), now, 0
        mic = self.mic.mic if self.mic is not None else None
        gate = self.mic.gate if self.mic is not None and mic is not None else None
        line = status_line(self.fps, tick.state, self.audio and self.audio.audio, tick.state.partner, mic,
                           gate=gate, room=self.room)
        if self.link is not None:             # the room part: connected / reconnecting, round trip
            line += f" | {self.link.connection_text()}"
        if self.volume is not None and self.volume.shown:
            line += f" | {self.volume.shown}"
        roster = self.roster.lines if self.roster is not None else []
        self.platform.set_status("\n".join([line, *roster]))


class Passthrough(FramePart):
    """Your real room instead of the virtual one (where the platform has passthrough): the
    renderer clears to alpha 0 and leaves the room shell out; ``toggle()`` switches it."""

    def __init__(self, platform, wanted: bool, log=print):
        self.platform, self.log = platform, log
        self.on = False
        self.loop = None
        self._wanted = wanted

    def on_meeting(self, loop, state) -> None:
        self.loop = loop
        if self._wanted is not None:
            self.set(self._wanted)
            self._wanted = None

    def set(self, enabled: bool) -> bool:
        on = bool(self.platform.set_passthrough(bool(enabled)))
        if enabled and not on:
            self.log("passthrough: not available on this platform")
        self.on = on
        if self.loop is not None:
            self.loop._renderer().passthrough = on
        return on

    def toggle(self) -> bool:
        return self.set(not self.on)


class MeetingRecording(FramePart):
    """Writes the meeting as it goes (``xrdemo replay`` plays it): the state at every (re)build,
    the inputs of every step, and which frames were not drawn (a part before it, such as
    RealTimePacer, said so in ``on_frame``; a replay of this seat holds the picture there too). net: the room (None for a local meeting). clock_ns(tick): the
    recording's clock (default: the monotonic clock)."""

    def __init__(self, recorder, cfg_of, net=None, clock_ns=None, log=print, level_from=None):
        self.recorder, self.cfg_of, self.net, self.log = recorder, cfg_of, net, log
        self.clock_ns = clock_ns
        self.level_from = level_from

    def on_meeting(self, loop, state) -> None:
        t = None if self.clock_ns is None else self.clock_ns(None)
        self.recorder.state(state, self.cfg_of(), self.net, t_ns=t)

    def on_step(self, tick) -> None:
        remote = tick.inputs.remote if tick.inputs is not None else None
        level = remote.level if (remote is not None and self.level_from is not None
                                 and self.level_from()) else None
        t = None if self.clock_ns is None else self.clock_ns(tick)
        drawn = bool(tick.room.should_render and tick.scene is not None)     # as the loop will decide
        self.recorder.frame(tick.t_ns, tick.inputs, remote_level=level, t_ns=t, drawn=drawn)

    def close(self, error) -> None:
        self.log(f"xrdemo: {self.recorder.close()}")

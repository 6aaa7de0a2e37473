"""Playing a recording on a platform: headless to an MP4 (or PNG frames), or live on a headset or
in a desktop window.

Headless: video frame k shows the newest replayed frame whose display time is at most
``T0 + k / fps`` (T0: the first frame at or after ``--start``), drawn from the chosen seat's eyes
with the renderer and the simulated runtime the live headless participant uses (from the
recording seat, a frame the participant did not draw repeats the previous picture, as the
participant's video did); the sound is the room's voices (the recorded Opus frames through the
same jitter buffers) rendered binaurally for that seat's head, block by block on the recording's
clock.

Live: the replay runs on the wall clock from the start point; the platform's own head (headset
or mouse look) looks around from the chosen seat, whose recorded head is hidden.

Both run the one frame loop (``loop.frame_loop``) with a ``ReplayDriver``: the people move as
recorded, the newest replayed frame at each tick's time.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..core import pose as P
from ..core import scene as S
from ..loop.frame_loop import Driver, FrameLoop, FramePart
from ..loop.headless import HEADLESS_FOV_DEG as REPLAY_FOV_DEG
from .fileformat import RecordingReader
from .player import NS, Replayer, scene_for_seat, view_pose


def open_recording(path, start_s: float = 0.0) -> RecordingReader:
    """Open and check a recording, and that ``start_s`` lies inside its intact part."""
    reader = RecordingReader(path)
    if not reader.chunks:
        what = f" ({reader.damage.what}, at byte {reader.damage.offset})" if reader.damage else ""
        reader.close()
        raise ValueError(f"{path}: nothing to play: the recording holds no intact records{what}")
    if reader.meta.get("ciphertext_only"):       # a private room's server recording
        reader.close()
        raise ValueError(f"{path}: cannot show the people: this server recording of a private room "
                         "holds ciphertext only (no keys to open it)")
    if start_s < 0 or start_s > reader.duration_s:
        dur = reader.duration_s
        reader.close()
        raise ValueError(f"--start {start_s:g} is outside {path} (0 to {dur:.1f} s)")
    return reader


def _check_seat(seat: int | None, replayer: Replayer, path) -> int:
    state = replayer.state
    n = len(state.people)
    if seat is None:
        if 0 <= state.local:
            return state.local
        names = replayer.room.names() if replayer.room is not None else ()
        taken = [i for i, name in enumerate(names) if name]
        return taken[0] if taken else 0
    if not 0 <= seat < n:
        raise ValueError(f"--seat {seat} does not exist in {path} (seats 0..{n - 1})")
    return seat


class ReplayDriver(Driver):
    """The people as recorded: at each tick, the newest replayed frame whose time (``key``:
    ``step_t_ns`` headless, ``t_ns`` live) is at most the tick's; the loop stops after the last
    one is shown. on_frame(f) hears every frame as it is read (its voice goes to the sound)."""

    def __init__(self, frames, first, seat: int, key: str = "step_t_ns", on_frame=None):
        self.frames, self.seat, self.key = frames, seat, key
        self.on_frame = on_frame or (lambda f: None)
        self.current = first
        self.state = first.state
        self.next = self._read()

    def _read(self):
        f = next(self.frames, None)
        if f is not None:
            self.on_frame(f)
        return f

    def advance(self, t_ns: int):
        """Move to the newest frame at or before t_ns; returns it."""
        while self.next is not None and getattr(self.next, self.key) <= t_ns:
            self.current, self.next = self.next, None
            self.next = self._read()
        self.state = self.current.state
        return self.current

    def step(self, tick):
        f = self.advance(tick.t_ns)
        if self.next is None:
            tick.stop = "the end of the recording"
        return scene_for_seat(f, self.seat)


class HoldUndrawn(FramePart):
    """From the recording seat, a frame the participant did not draw is not drawn here either:
    the video repeats the previous picture, as the participant's own video did (a headless
    participant that fell behind real time, ``loop.parts.RealTimePacer``). The first picture
    is always drawn; other seats draw every frame."""

    def __init__(self, driver: ReplayDriver):
        self.driver = driver
        self.held = 0

    def on_frame(self, tick) -> None:
        from dataclasses import replace

        f = self.driver.advance(tick.t_ns)              # the frame this tick shows
        if tick.index > 0 and not f.drawn and self.driver.seat == f.state.local:
            tick.room = replace(tick.room, should_render=False)
            self.held += 1


class _ReplaySound(FramePart):
    """The recorded room's sound for one seat, frame by frame (headless replays)."""

    def __init__(self, sound, driver: ReplayDriver, fps: int):
        self.sound, self.driver, self.fps = sound, driver, fps

    def after_frame(self, tick) -> None:
        f, k, rate = self.driver.current, tick.index, self.sound.rate
        tick.samples = self.sound.render_until(f.state, (k + 1) * rate // self.fps, view_pose(f, self.driver.seat),
                                               frame_start=k * rate // self.fps, frame_t_ns=f.t_ns)


def replay_headless(path, out: Path | None, *, seat: int | None = None, start_s: float = 0.0,
                    frames_dir: Path | None = None, audio: bool = True, size=None, fps: int | None = None,
                    progress: bool = True, log=print) -> dict:
    """Render a recording from ``seat``'s eyes and ears to an MP4 (and/or PNG frames).

    Returns a summary: frames written, seconds, seat, damage (the problem that ended the intact
    part, or None), frames fast-forwarded before ``start_s``, and frames held (the participant
    did not draw them; the previous picture repeats).
    """
    from ..loop.frame_sound import NetSound, ScriptedSound
    from ..loop.headless import HeadlessView, VideoOutput

    if out is None and frames_dir is None:
        raise ValueError("nothing to write: give an output file or --frames-dir")
    if out is not None and not Path(out).parent.exists():
        raise FileNotFoundError(f"folder {Path(out).parent} does not exist (for {out})")
    reader = open_recording(path, start_s)
    replayer = Replayer(reader, start_s=start_s, tick_hz=fps or 30)
    frames = replayer.frames()
    view = sound = None
    written = skipped = held = 0
    early: list = []                           # voice from just before the start (primes the buffers)
    voice_from = replayer.start_ns - NS // 2
    ahead = _FastForwardProgress(reader, start_s, enabled=progress)
    try:
        first = None
        for f in frames:                                 # fast-forward to the start point
            if not f.before_start:
                first = f
                break
            early.extend(d for d in f.voice if d.t_ns >= voice_from)
            skipped += 1
            ahead.update(f)
        ahead.done(arrived=first is not None)
        if first is not None:
            cfg = replayer.cfg
            seat = _check_seat(seat, replayer, path)
            fps = fps or cfg.display.fps
            size = tuple(size or (cfg.display.width, cfg.display.height))
            if audio and cfg.audio.enabled:
                sound = (NetSound if replayer.room is not None else ScriptedSound)(cfg, first.state, seat)
                for d in early + list(first.voice):
                    sound.push(d)
            driver = ReplayDriver(frames, first, seat,
                                  on_frame=(lambda f: [sound.push(d) for d in f.voice]) if sound else None)
            T0, period = first.step_t_ns, int(round(NS / fps))
            view = HeadlessView(size, fps, head=lambda t_ns: view_pose(driver.advance(T0 + t_ns), seat),
                                fov_deg=REPLAY_FOV_DEG)
            hold = HoldUndrawn(driver)
            parts = [hold]
            if sound is not None:
                parts.append(_ReplaySound(sound, driver, fps))
            total = max(1, int((reader.duration_s - start_s) * fps))
            video = VideoOutput(view, out, fps, cfg.audio.sample_rate if sound else None, frames_dir,
                                total, reader.duration_s - start_s, progress=progress, log=log)
            parts.append(video)
            FrameLoop(view.platform, driver, parts, renderer=view.renderer,
                      clock=lambda frame: T0 + (frame.predicted_display_time_ns - view.start_ns)).run()
            written, held = video.written, hold.held
    finally:
        ahead.done(arrived=written > 0)
        if view is not None:
            view.release()
        problems = list(reader.problems)
        reader.close()
    if written == 0 and not problems:
        raise ValueError(f"{path}: no frames at or after --start {start_s:g}")
    return dict(frames=written, fps=fps, seat=seat, seconds=written / fps if fps else 0.0,
                fast_forwarded=skipped, damage=problems[0] if problems else None, problems=problems,
                kind=replayer.kind, recorded_seat=replayer.seat, held=held)


class _FastForwardProgress:
    """Progress of the fast-forward to ``start_s`` (see docs/replay.md, Seeking): a bar on a
    terminal, a line every 10 % in a log; nothing when there is nothing to skip."""

    def __init__(self, reader, start_s: float, enabled: bool = True):
        from ..media import ProgressBar

        self.t0_ns = reader.t0_ns
        self.total_ms = max(1, int(start_s * 1000))
        self.bar = ProgressBar(self.total_ms, start_s, enabled=enabled and start_s > 0,
                             label=f"fast-forwarding to {start_s:g} s")

    def fraction(self, f) -> float:
        return min(max((f.t_ns - self.t0_ns) / 1e6 / self.total_ms, 0.0), 1.0)

    def update(self, f) -> None:
        self.bar.update(int(self.fraction(f) * self.total_ms))

    def done(self, arrived: bool = True) -> None:
        """End the bar: filled when the jump arrived, left where it was when it was stopped."""
        if arrived and self.bar.last_drawn >= 0:
            self.bar.update(self.total_ms)
        self.bar.done()
        self.bar.last_drawn = -1.0              # (a second call adds nothing)


FAST_FORWARD_FRAME_S = 0.1  # a live platform gets an (empty) frame at least this often meanwhile


class _LiveReplay(FramePart):
    """A live replay's sound (the viewer's own head in the chosen seat) and status line."""

    def __init__(self, platform, driver: ReplayDriver, reader, sound, seat: int):
        self.platform, self.driver, self.reader, self.sound, self.seat = platform, driver, reader, sound, seat

    def after_frame(self, tick) -> None:
        current = self.driver.current
        if self.sound is not None:
            ppl = current.state.people
            head = tick.room.head
            pos, rot = (head.position, head.orientation) if head.valid else view_pose(current, self.seat)
            self.sound.publish(pos, rot, S.mouth_positions(ppl), ppl.head_pos, S.speaking_now(current.state),
                               S.whisper_pairs_now(current.state))
        self.platform.set_status(f"replay {(current.t_ns - self.reader.t0_ns) / NS:6.1f} / "
                                 f"{self.reader.duration_s:.1f} s | seat {self.seat}")


def replay_live(platform, path, *, seat: int | None = None, start_s: float = 0.0, log=print,
                max_frames: int | None = None, audio: bool = True, progress: bool = True) -> dict:
    """Play a recording on a live platform (a GL context is current): the meeting as recorded,
    on the wall clock from ``start_s``; the viewer looks around from ``seat`` with their own head
    (a headset wearer is carried into that seat) and hears the room there (live spatial audio,
    when there is a sound device).

    While fast-forwarding to ``start_s`` the platform still gets a frame (with nothing drawn)
    every FAST_FORWARD_FRAME_S, so the window stays responsive (its status line shows how far
    it is) and a headset session stays alive; closing the window then ends the replay."""
    from ..loop.seating import Seating

    reader = open_recording(path, start_s)
    replayer = Replayer(reader, start_s=start_s)
    frames = replayer.frames()
    skipped = 0
    current = None
    sound = forwarder = None
    ahead = _FastForwardProgress(reader, start_s, enabled=progress)
    result = None
    try:
        serviced = time.monotonic()
        for f in frames:                                 # fast-forward to the start point
            if not f.before_start:
                current = f
                break
            skipped += 1
            ahead.update(f)
            if time.monotonic() - serviced >= FAST_FORWARD_FRAME_S:
                serviced = time.monotonic()
                frame = platform.begin_frame()
                platform.end_frame(frame, None)
                platform.set_status(f"fast-forwarding to {start_s:g} s: {100 * ahead.fraction(f):3.0f} %")
                if frame.exit_requested:
                    ahead.done(arrived=False)
                    return {"frames": 0, "seat": seat, "fast_forwarded": skipped, "damage": None,
                            "problems": list(reader.problems), "seconds": 0.0, "stopped": True}
        ahead.done()
        if current is None:
            raise ValueError(f"{path}: no frames at or after --start {start_s:g}")
        seat = _check_seat(seat, replayer, path)
        if audio and replayer.cfg.audio.enabled:
            sound, forwarder = _live_sound(replayer, seat, log)

        def forward(f):                    # voice "arrives" now, on this machine's clock
            if forwarder is not None:
                for d in f.voice:
                    forwarder.send(d.seat, d.seq, d.t_ms, d.payload, time.monotonic_ns())
        driver = ReplayDriver(frames, current, seat, key="t_ns", on_frame=forward)
        wall = []

        def clock(frame):
            now = time.monotonic_ns()
            if not wall:
                wall.append((now, current.t_ns))
            return wall[0][1] + (now - wall[0][0])
        parts = [Seating(platform, log=log, seat=seat), _LiveReplay(platform, driver, reader, sound, seat)]
        result = FrameLoop(platform, driver, parts, clock=clock).run(max_frames=max_frames)
        current = driver.current
    finally:
        if forwarder is not None:
            forwarder.close()
        if sound is not None:
            sound.close()
        platform.shutdown()
        problems = list(reader.problems)
        reader.close()
    rec0 = wall[0][1] if wall else current.t_ns
    return {"frames": result.frames, "seat": seat, "fast_forwarded": skipped,
            "damage": problems[0] if problems else None, "problems": problems,
            "seconds": (current.t_ns - rec0) / NS}


def seat_transform(state: S.MeetingState, from_seat: int, to_seat: int):
    """T_stage_stage' (position (3,), quaternion (4,)) that carries someone sitting at
    ``from_seat`` (where a headset wearer is in the live meeting) to ``to_seat``, or None when
    they are the same seat."""
    if from_seat == to_seat:
        return None
    t_to, q_to = state.seat_pos[to_seat], state.seat_rot[to_seat]
    t_inv, q_inv = P.pose_invert(state.seat_pos[from_seat], state.seat_rot[from_seat])
    return P.pose_compose(t_to, q_to, t_inv, q_inv)


def moved_view(T, view):
    """The view carried by T (from seat_transform), or the view itself when T is None."""
    if T is None:
        return view
    from ..core.frame import View

    pos, rot = P.pose_compose(T[0], T[1], view.position, view.orientation)
    return View(pos, rot, view.fov)


def _live_sound(replayer: Replayer, seat: int, log):
    """(LiveMeetingAudio, VoiceForwarder or None) for hearing the replay from ``seat``, or
    (None, None) when there is no sound here (said in one line)."""
    from ..loop.live_audio import LiveMeetingAudio
    from ..net.room_audio import VoiceForwarder

    cfg, state = replayer.cfg, replayer.state
    try:
        sound = LiveMeetingAudio(len(state.people), seat, cfg.audio.sample_rate, cfg.audio.block,
                                 seed=cfg.meeting.seed, reflections=cfg.audio.reflections,
                                 table_height=state.table.height, log=log,
                                 remote_voices=replayer.room is not None)
    except Exception as exc:          # no PortAudio library, broken device ...
        log(f"audio: off ({type(exc).__name__}: {exc})")
        return None, None
    if not sound.device:
        sound.close()
        return None, None
    port = sound.voice_port
    return sound, (VoiceForwarder(port) if port else None)

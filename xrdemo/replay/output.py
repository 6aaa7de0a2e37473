"""Playing a recording on a platform: headless to an MP4 (or PNG frames), or live on a headset or
in a desktop window.

Headless: video frame k shows the newest replayed frame whose display time is at most
``T0 + k / fps`` (T0: the first frame at or after ``--start``), drawn from the chosen seat's eyes
with the renderer and the simulated runtime the live headless participant uses; the sound is the
room's voices (the recorded Opus frames through the same jitter buffers) rendered binaurally for
that seat's head, block by block on the recording's clock.

Live: the replay runs on the wall clock from the start point; the platform's own head (headset
or mouse look) looks around from the chosen seat, whose recorded head is hidden.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..recording import FrameSound
from .fileformat import RecordingReader
from .player import NS, Replayer, scene_for_seat, view_pose
from ..core import pose as P
from ..core import scene as S

REPLAY_FOV_DEG = 82.0
"""Horizontal field of view of headless replays (the same as headless participants record)."""


def open_recording(path, start_s: float = 0.0) -> RecordingReader:
    """Open and check a recording, and that ``start_s`` lies inside its intact part."""
    reader = RecordingReader(path)
    if not reader.chunks:
        what = f" ({reader.damage.what}, at byte {reader.damage.offset})" if reader.damage else ""
        reader.close()
        raise ValueError(f"{path}: nothing to play: the recording holds no intact records{what}")
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


class _ScriptedSound(FrameSound):
    """Binaural sound of a meeting with no network (scripted voices, as the live run played)."""

    def __init__(self, cfg, state: S.MeetingState, listener_seat: int, t_origin_ns: int = 0):
        from ..audio.meeting import MeetingVoices

        super().__init__(cfg, state, listener_seat)
        self.voices = MeetingVoices(len(state.people), self.rate, self.block, seed=cfg.meeting.seed,
                                    silent=(listener_seat,))

    def push(self, *_args) -> None:
        """(No network voices in a meeting without a network.)"""

    def render_until(self, state, sample_end: int, listener, frame_start: int = 0, frame_t_ns: int = 0):
        self.place(state, listener)
        speaking = S.speaking_now(state)

        def next_block(_first_sample):
            mono, (level, _) = self.voices.next_block(speaking)
            return mono, level
        return self.blocks_until(sample_end, next_block)


class _NetSound(FrameSound):
    """Binaural sound of a networked room: the recorded voice frames, for one seat's ears.

    The jitter buffers are read on the recording's clock: the blocks of a video frame are taken
    at that frame's recorded time plus their offset in it, so a recording whose frame loop fell
    behind real time still plays its voices as they arrived.
    """

    def __init__(self, cfg, state: S.MeetingState, listener_seat: int, t_origin_ns: int):
        from ..net.room_audio import RemoteVoices

        super().__init__(cfg, state, listener_seat)
        self.voices = RemoteVoices(len(state.people), self.rate, self.block, local=listener_seat)

    def push(self, d) -> None:
        self.voices.push(d.seat, d.seq, d.t_ms, d.payload, d.t_ns)

    def render_until(self, state, sample_end: int, listener, frame_start: int = 0, frame_t_ns: int = 0):
        """Samples up to sample_end; a block starting at sample s is read from the jitter buffers
        at frame_t_ns + (s - frame_start) / rate (frame_start: this video frame's first sample)."""
        self.place(state, listener)

        def next_block(first_sample):
            mono, _ = self.voices.next_block(None, frame_t_ns + (first_sample - frame_start) * NS // self.rate)
            return mono, None
        return self.blocks_until(sample_end, next_block)


def replay_headless(path, out: Path | None, *, seat: int | None = None, start_s: float = 0.0,
                    frames_dir: Path | None = None, audio: bool = True, size=None, fps: int | None = None,
                    progress: bool = True, log=print) -> dict:
    """Render a recording from ``seat``'s eyes and ears to an MP4 (and/or PNG frames).

    Returns a summary: frames written, seconds, seat, damage (the problem that ended the intact
    part, or None), and frames fast-forwarded before ``start_s``.
    """
    from ..platform.simulated import SimulatedPlatform
    from ..platform.timeline import Timeline
    from ..recording import _Mp4Writer, _Progress
    from ..render.context import create_headless_context

    if out is None and frames_dir is None:
        raise ValueError("nothing to write: give an output file or --frames-dir")
    for p in (out,):
        if p is not None and not Path(p).parent.exists():
            raise FileNotFoundError(f"folder {Path(p).parent} does not exist (for {p})")
    reader = open_recording(path, start_s)
    fps_tick = fps or 30
    replayer = Replayer(reader, start_s=start_s, tick_hz=fps_tick)
    ctx = None
    writer = platform = renderer = target = sound = bar = None
    pose = [np.zeros(3), np.array([0.0, 0.0, 0.0, 1.0])]
    written = skipped = 0
    state = {"k": 0, "T0": None, "period": None}
    summary: dict = {}

    def setup(first):
        nonlocal ctx, writer, platform, renderer, target, sound, bar, fps, size, seat
        cfg = replayer.cfg
        seat = _check_seat(seat, replayer, path)
        fps = fps or cfg.display.fps
        size = tuple(size or (cfg.display.width, cfg.display.height))
        from ..render.renderer import Framebuffer, Renderer

        ctx = create_headless_context()
        renderer = Renderer()
        target = Framebuffer(size, samples=4)
        platform = SimulatedPlatform(Timeline(head=lambda t: (pose[0], pose[1]), refresh_hz=float(fps),
                                              refresh_rates=(float(fps),)),
                                     start_ns=0, view_count=1, view_size=size, fov_deg=REPLAY_FOV_DEG,
                                     framebuffer_for=lambda i, s: target.draw_fbo)
        if audio and cfg.audio.enabled:
            sound = (_NetSound if replayer.room is not None else _ScriptedSound)(cfg, first.state, seat,
                                                                                 first.t_ns)
        writer = _Mp4Writer(out, size, fps, cfg.audio.sample_rate if sound else None) if out else None
        if frames_dir is not None:
            Path(frames_dir).mkdir(parents=True, exist_ok=True)
        total = max(1, int((reader.duration_s - start_s) * fps))
        bar = _Progress(total, reader.duration_s - start_s, enabled=progress)
        state["period"] = int(round(NS / fps))
        state["T0"] = first.step_t_ns

    def emit(f, k):
        nonlocal written
        pose[0], pose[1] = view_pose(f, seat)
        frame = platform.begin_frame()
        scene = scene_for_seat(f, seat)

        def draw(i, view, fbo, fb_size):
            renderer.draw_view(view, fbo, fb_size)

        renderer.upload(scene)
        platform.end_frame(frame, draw)
        image = target.read_rgba()[..., :3]
        samples = None
        if sound is not None:
            samples = sound.render_until(f.state, (k + 1) * sound.rate // fps, (pose[0], pose[1]),
                                         k * sound.rate // fps, f.t_ns)
        if writer is not None:
            writer.add(image, samples)
        if frames_dir is not None:
            from PIL import Image

            Image.fromarray(image).save(Path(frames_dir) / f"frame_{k:05d}.png")
        written += 1
        bar.update(min(written, bar.total))

    pending = None
    early: list = []                           # voice from just before the start (primes the buffers)
    voice_from = replayer.start_ns - NS // 2
    ahead = _FastForwardProgress(reader, start_s, enabled=progress)
    try:
        for f in replayer.frames():
            if sound is not None:
                for d in f.voice:
                    sound.push(d)
            elif state["T0"] is None:
                early.extend(d for d in f.voice if d.t_ns >= voice_from)
            if f.before_start:
                skipped += 1
                ahead.update(f)
                continue
            if state["T0"] is None:
                ahead.done()
                setup(f)
                for d in early if sound is not None else ():
                    sound.push(d)
                early = []
            while pending is not None and f.step_t_ns > state["T0"] + state["k"] * state["period"]:
                emit(pending, state["k"])
                state["k"] += 1
            pending = f
        if pending is not None:
            emit(pending, state["k"])
    finally:
        ahead.done(arrived=written > 0)
        if writer is not None:
            writer.close()
        if platform is not None:
            platform.shutdown()
        if bar is not None:
            bar.done()
        if ctx is not None:
            ctx.release()
        problems = list(reader.problems)
        reader.close()
    if written == 0 and not problems:
        raise ValueError(f"{path}: no frames at or after --start {start_s:g}")
    summary.update(frames=written, fps=fps, seat=seat, seconds=written / fps if fps else 0.0,
                   fast_forwarded=skipped, damage=problems[0] if problems else None, problems=problems,
                   kind=replayer.kind, recorded_seat=replayer.seat)
    return summary


class _FastForwardProgress:
    """Progress of the fast-forward to ``start_s`` (see docs/replay.md, Seeking): a bar on a
    terminal, a line every 10 % in a log; nothing when there is nothing to skip."""

    def __init__(self, reader, start_s: float, enabled: bool = True):
        from ..recording import _Progress

        self.t0_ns = reader.t0_ns
        self.total_ms = max(1, int(start_s * 1000))
        self.bar = _Progress(self.total_ms, start_s, enabled=enabled and start_s > 0,
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


def replay_live(platform, path, *, seat: int | None = None, start_s: float = 0.0, log=print,
                max_frames: int | None = None, audio: bool = True, progress: bool = True) -> dict:
    """Play a recording on a live platform (a GL context is current): the meeting as recorded,
    on the wall clock from ``start_s``; the viewer looks around from ``seat`` with their own head
    and hears the room there (live spatial audio, when there is a sound device).

    While fast-forwarding to ``start_s`` the platform still gets a frame (with nothing drawn)
    every FAST_FORWARD_FRAME_S, so the window stays responsive (its status line shows how far
    it is) and a headset session stays alive; closing the window then ends the replay."""
    from ..render.renderer import Renderer

    reader = open_recording(path, start_s)
    replayer = Replayer(reader, start_s=start_s)
    renderer = Renderer()
    frames = replayer.frames()
    shown = skipped = 0
    current = None
    wall0 = rec0 = None
    sound = forwarder = None
    ahead = _FastForwardProgress(reader, start_s, enabled=progress)
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
                if hasattr(platform, "set_status"):
                    platform.set_status(f"fast-forwarding to {start_s:g} s: "
                                        f"{100 * ahead.fraction(f):3.0f} %")
                if frame.exit_requested:
                    ahead.done(arrived=False)
                    return {"frames": 0, "seat": seat, "fast_forwarded": skipped, "damage": None,
                            "problems": list(reader.problems), "seconds": 0.0, "stopped": True}
        ahead.done()
        if current is None:
            raise ValueError(f"{path}: no frames at or after --start {start_s:g}")
        seat = _check_seat(seat, replayer, path)
        T_view = None
        if hasattr(platform, "set_seat"):                # the desktop simulator sits there
            from dataclasses import replace

            from ..platform.desktop_input import seat_of

            platform.set_seat(seat_of(replace(replayer.state, local=seat)))
        else:                                            # a headset: carry the wearer over
            T_view = seat_transform(replayer.state, max(replayer.state.local, 0), seat)
        if audio and replayer.cfg.audio.enabled:
            sound, forwarder = _live_sound(replayer, seat, log)
        nxt = next(frames, None)
        while True:
            frame = platform.begin_frame()
            draw = None
            try:
                now = time.monotonic_ns()
                if wall0 is None:
                    wall0, rec0 = now, current.t_ns
                t_rec = rec0 + (now - wall0)
                while nxt is not None and nxt.t_ns <= t_rec:
                    current, nxt = nxt, next(frames, None)
                    if forwarder is not None:       # voice "arrives" now, on this machine's clock
                        for d in current.voice:
                            forwarder.send(d.seat, d.seq, d.t_ms, d.payload, time.monotonic_ns())
                if frame.should_render:
                    renderer.upload(scene_for_seat(current, seat))

                    def draw(i, view, fbo, size):
                        renderer.draw_view(moved_view(T_view, view), fbo, size)
            finally:
                platform.end_frame(frame, draw)
            if sound is not None:
                ppl = current.state.people
                head = frame.head
                if head.valid:
                    pos, rot = head.position, head.orientation
                    if T_view is not None:
                        pos, rot = P.pose_compose(T_view[0], T_view[1], pos, rot)
                else:
                    pos, rot = view_pose(current, seat)
                sound.publish(pos, rot, S.mouth_positions(ppl), ppl.head_pos, S.speaking_now(current.state),
                              S.whisper_pairs_now(current.state))
            shown += 1
            if hasattr(platform, "set_status"):
                platform.set_status(f"replay {(current.t_ns - reader.t0_ns) / NS:6.1f} / "
                                    f"{reader.duration_s:.1f} s | seat {seat}")
            if frame.exit_requested or nxt is None or (max_frames is not None and shown >= max_frames):
                break
    finally:
        if forwarder is not None:
            forwarder.close()
        if sound is not None:
            sound.close()
        platform.shutdown()
        problems = list(reader.problems)
        reader.close()
    return {"frames": shown, "seat": seat, "fast_forwarded": skipped,
            "damage": problems[0] if problems else None, "problems": problems,
            "seconds": (current.t_ns - rec0) / NS if current is not None and rec0 is not None else 0.0}


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
    from ..audio.meeting import LiveMeetingAudio
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

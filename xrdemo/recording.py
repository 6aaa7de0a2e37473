"""Headless recordings: the meeting from one seat to an MP4 (H.264 + binaural AAC) or PNG frames.

Runs the same frame loop as a headset — the simulated runtime's begin_frame / end_frame, the
core step, the renderer — on a clock that advances one video frame at a time, with no sleeping.
Audio is rendered block by block on the same clock, so picture and sound stay in sync: video
frame k shows time k / fps and the audio samples of [k / fps, (k + 1) / fps) go with it.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import Config
from .core import pose as P
from .core import scene as S
from .core.room import Room, Table
from .scripted_viewer import ScriptedViewer

NS = 1_000_000_000


@dataclass
class RecordingMetrics:
    """What a recording cost, per frame in CPU milliseconds (lists), plus totals."""

    core_ms: list = field(default_factory=list)
    render_ms: list = field(default_factory=list)
    readback_ms: list = field(default_factory=list)
    encode_ms: list = field(default_factory=list)
    audio_block_us: list = field(default_factory=list)
    draw_calls_per_view: int = 0
    underruns: int = 0

    def summary(self) -> dict:
        def stats(v):
            a = np.asarray(v, float)
            if a.size == 0:
                return {"median": None, "p95": None, "max": None}
            return {"median": round(float(np.median(a)), 3), "p95": round(float(np.percentile(a, 95)), 3),
                    "max": round(float(a.max()), 3)}
        return {"frames": len(self.core_ms), "core_ms": stats(self.core_ms),
                "render_submit_ms": stats(self.render_ms), "readback_ms": stats(self.readback_ms),
                "encode_ms": stats(self.encode_ms), "audio_block_us": stats(self.audio_block_us),
                "audio_underruns": self.underruns, "draw_calls_per_view": self.draw_calls_per_view}


def make_meeting_from_config(cfg: Config, scripted=None) -> S.MeetingState:
    """The MeetingState a configuration describes. scripted: (N,) bool who follows the script
    (default everyone but the local person; nobody in a networked meeting)."""
    t = cfg.table
    table = Table(shape=t.shape, radius=t.radius, width=t.width, depth=t.depth, height=t.height)
    room = Room(width=cfg.room.width, depth=cfg.room.depth, height=cfg.room.height)
    m = cfg.meeting
    return S.make_meeting(m.people, table=table, room=room, local=m.seat, seed=m.seed, names=m.names,
                          scripted=scripted)


def record_meeting(cfg: Config, seconds: float, out: Path | None, frames_dir: Path | None = None,
                   metrics_path: Path | None = None, audio: bool = True, progress=True,
                   log=print, record: Path | None = None) -> dict:
    """Render ``seconds`` of the meeting in ``cfg`` from ``cfg.meeting.seat``.

    out: an .mp4 (H.264 video, AAC stereo binaural audio) or None. frames_dir: also (or only)
    write PNG frames there. Returns the metrics summary (also written to metrics_path as JSON).
    record: also write a meeting recording there (``xrdemo replay``), on the simulated clock.
    """
    from .platform.simulated import SimulatedPlatform
    from .platform.timeline import Timeline
    from .render.context import create_headless_context

    fps = cfg.display.fps
    size = (cfg.display.width, cfg.display.height)
    n_frames = int(round(seconds * fps))
    if n_frames < 1:
        raise ValueError(f"--seconds {seconds} is shorter than one frame at {fps} fps")
    if out is None and frames_dir is None:
        raise ValueError("nothing to write: give an output file or --frames-dir")
    for path in (out, metrics_path):
        if path is not None and not Path(path).parent.exists():
            raise FileNotFoundError(f"folder {Path(path).parent} does not exist (for {path})")
    if frames_dir is not None:
        Path(frames_dir).mkdir(parents=True, exist_ok=True)

    state = make_meeting_from_config(cfg)
    viewer = ScriptedViewer(state, seconds)
    recorder = None
    if record is not None:
        from .replay.capture import Recorder, open_local

        recorder = Recorder(record)
        open_local(recorder, cfg, t0_ns=0)
        recorder.state(state, cfg, None, t_ns=0)

    def head(t_ns):
        return viewer.pose(t_ns / NS)

    timeline = Timeline(head=head, hands=None, refresh_hz=float(fps), refresh_rates=(float(fps),))
    ctx = create_headless_context()
    try:
        from .render.renderer import Framebuffer, Renderer

        renderer = Renderer()
        target = Framebuffer(size, samples=4)
        platform = SimulatedPlatform(timeline, start_ns=0, view_count=1, view_size=size, fov_deg=82.0,
                                     framebuffer_for=lambda i, s: target.draw_fbo)
        sound = _MeetingSound(cfg, state, viewer) if audio and cfg.audio.enabled else None
        writer = _Mp4Writer(out, size, fps, cfg.audio.sample_rate if sound else None) if out else None
        metrics = RecordingMetrics()
        bar = _Progress(n_frames, seconds, enabled=progress)
        try:
            for k in range(n_frames):
                frame = platform.begin_frame()
                t_ns = frame.predicted_display_time_ns
                t0 = time.perf_counter()
                head_pos, head_rot = frame.head.position, frame.head.orientation
                level = sound.level if sound is not None else None
                inputs = S.LocalInput(head_pos=head_pos, head_rot=head_rot, voice_level=level)
                state, scene = S.step(state, inputs, t_ns)
                if recorder is not None:
                    recorder.frame(t_ns, inputs, t_ns=t_ns)
                t1 = time.perf_counter()
                samples = None
                if sound is not None:
                    # The sound of [t_k, t_k+1) from this frame's state; its energy moves the
                    # mouths of the next frame, so sound leads the picture by under one frame
                    # (ITU-R BT.1359 tolerates 45 ms early).
                    sound.state = state
                    samples, _ = sound.render_until((k + 1) * sound.rate // fps, metrics)

                def draw(i, view, fbo, fb_size):
                    renderer.draw_view(view, fbo, fb_size)

                renderer.upload(scene)
                platform.end_frame(frame, draw)
                t2 = time.perf_counter()
                image = target.read_rgba()[..., :3]
                t3 = time.perf_counter()
                if writer is not None:
                    writer.add(image, samples)
                if frames_dir is not None:
                    from PIL import Image

                    Image.fromarray(image).save(Path(frames_dir) / f"frame_{k:05d}.png")
                t4 = time.perf_counter()
                metrics.core_ms.append((t1 - t0) * 1e3)
                metrics.render_ms.append((t2 - t1) * 1e3)
                metrics.readback_ms.append((t3 - t2) * 1e3)
                metrics.encode_ms.append((t4 - t3) * 1e3)
                metrics.draw_calls_per_view = renderer.stats["draw_calls_per_view"]
                bar.update(k + 1)
        except KeyboardInterrupt:
            # Nothing recorded is lost: the file is closed properly below and stays playable.
            done = len(metrics.core_ms)
            bar.done()
            kept = ", ".join(str(p) for p in (out, frames_dir) if p is not None)
            log(f"interrupted: {kept} holds the first {done / fps:.1f} s ({done} frames)")
            raise
        finally:
            if writer is not None:
                writer.close()
            if recorder is not None:
                log(f"xrdemo: {recorder.close()}")
            platform.shutdown()
            bar.done()
    finally:
        ctx.release()
    summary = metrics.summary()
    summary.update({"seconds": seconds, "fps": fps, "size": list(size), "people": cfg.meeting.people,
                    "seat": cfg.meeting.seat, "audio": sound is not None,
                    "whisper_window_s": [round(viewer.lean_start, 2), round(viewer.lean_end, 2)]})
    if metrics_path is not None:
        Path(metrics_path).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


class _MeetingSound:
    """Binaural audio of the meeting for the recorded person, rendered block by block."""

    def __init__(self, cfg: Config, state: S.MeetingState, viewer: ScriptedViewer):
        from .audio.engine import SpatialAudioEngine, whisper_gains_from_pairs
        from .audio.meeting import MeetingVoices

        self.rate = cfg.audio.sample_rate
        self.block = cfg.audio.block
        self.engine = SpatialAudioEngine(self.rate, self.block, reflections=cfg.audio.reflections,
                                         table_height=state.table.height)
        self.voices = MeetingVoices(len(state.people), self.rate, self.block, seed=cfg.meeting.seed,
                                    silent=(state.local,))
        self.whisper_gains = whisper_gains_from_pairs
        self.state = state
        self.viewer = viewer
        self.rendered = 0                      # samples rendered so far
        self.pending = np.zeros((0, 2), np.float32)
        self.level = np.zeros(len(state.people))

    def render_until(self, sample_end: int, metrics: RecordingMetrics):
        """Render blocks until ``sample_end`` samples exist; return exactly the new samples since
        the previous call (stereo float32) and the newest voice level per person."""
        chunks = [self.pending]
        have = self.rendered
        start = self.rendered - len(self.pending)
        speaking = S.speaking_now(self.state)
        ppl = self.state.people
        self.engine.set_sources(S.mouth_positions(ppl))     # the people move once per video frame
        gains = self.whisper_gains(S.whisper_pairs_now(self.state), len(ppl))[:, self.state.local]
        while have < sample_end:
            t_s = have / self.rate
            head_pos, head_rot = self.viewer.pose(t_s)
            self.engine.set_listener(head_pos, head_rot)
            self.engine.set_whisper_gains(gains)
            mono, (level, _) = self.voices.next_block(speaking)
            t0 = time.perf_counter()
            stereo = self.engine.process(mono)
            metrics.audio_block_us.append((time.perf_counter() - t0) * 1e6)
            chunks.append(np.array(stereo, np.float32))
            self.level = level
            have += self.block
        self.rendered = have
        allsamp = np.concatenate(chunks)
        take = sample_end - start
        out, self.pending = allsamp[:take], allsamp[take:]
        return out, self.level


class _Mp4Writer:
    """H.264 video + AAC stereo audio into an MP4 with PyAV; audio and video share one clock."""

    def __init__(self, path: Path, size, fps: int, sample_rate: int | None):
        try:
            import av
        except ImportError as exc:
            raise RuntimeError("writing MP4 needs PyAV: pip install av (or use --frames-dir)") from exc
        self.av = av
        self.container = av.open(str(path), mode="w")
        self.video = self.container.add_stream("libx264", rate=fps)
        self.video.width, self.video.height = size
        self.video.pix_fmt = "yuv420p"
        self.video.options = {"crf": "20", "preset": "veryfast"}
        self.audio = None
        if sample_rate:
            self.audio = self.container.add_stream("aac", rate=sample_rate)
            self.audio.layout = "stereo"
            self.sample_rate = sample_rate
            self.audio_pts = 0

    def add(self, image: np.ndarray, samples: np.ndarray | None) -> None:
        frame = self.av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        for packet in self.video.encode(frame):
            self.container.mux(packet)
        if self.audio is not None and samples is not None and len(samples):
            planar = np.ascontiguousarray(samples.T.astype(np.float32))
            aframe = self.av.AudioFrame.from_ndarray(planar, format="fltp", layout="stereo")
            aframe.sample_rate = self.sample_rate
            aframe.pts = self.audio_pts
            self.audio_pts += planar.shape[1]
            for packet in self.audio.encode(aframe):
                self.container.mux(packet)

    def close(self) -> None:
        for stream in (self.video, self.audio):
            if stream is not None:
                for packet in stream.encode(None):
                    self.container.mux(packet)
        self.container.close()


class _Progress:
    """A one-line progress bar on a terminal (redrawn at most 10 times a second); a line every
    10 % otherwise (logs stay readable). ``label`` names the work; ``seconds`` is the meeting
    time that ``total`` units stand for."""

    def __init__(self, total: int, seconds: float, enabled: bool = True, label: str = "recording"):
        self.total, self.seconds, self.enabled, self.label = max(1, total), seconds, enabled, label
        self.tty = sys.stderr.isatty()
        self.last_decile = -1
        self.t0 = time.perf_counter()
        self.last_drawn = -1.0

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        frac = min(max(done / self.total, 0.0), 1.0)
        now = time.perf_counter()
        if self.tty:
            if now - self.last_drawn < 0.1 and done < self.total:
                return
        elif int(frac * 10) == self.last_decile:
            return
        self.last_drawn, self.last_decile = now, int(frac * 10)
        elapsed = now - self.t0
        eta = elapsed / frac * (1 - frac) if frac > 0 else 0.0
        text = (f"{self.label} [{'#' * int(30 * frac):<30}] {100 * frac:5.1f}%  "
                f"{frac * self.seconds:5.1f}/{self.seconds:g} s of meeting, {eta:4.0f} s left")
        if self.tty:
            print("\r" + text, end="", file=sys.stderr, flush=True)
        else:
            print(text, file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.enabled and self.tty and self.last_drawn >= 0:
            print(file=sys.stderr)


def record_networked(cfg: Config, url: str, name: str, seconds: float, out: Path | None,
                     audio: bool = True, progress=True, log=print, frames_dir: Path | None = None,
                     want_seat: int | None = None, record: Path | None = None) -> dict:
    """Sit in the networked room ``url`` for ``seconds`` as a headless participant and record
    what this seat sees and hears (MP4 / PNG frames), in real time.

    The participant looks around the table (``ScriptedViewer``), rests its hands, and speaks a
    built-in clip in turns (``netloop.BotVoice``), so the others see and hear someone there.
    Returns a summary: frames, the most people seen at once, voice frames received, net stats.
    record: also write a meeting recording there (``xrdemo replay``).
    """
    from .net.room_audio import RemoteVoices
    from .netloop import BotVoice, RoomLink, join_room, sleep_until
    from .platform.simulated import SimulatedPlatform
    from .platform.timeline import Timeline
    from .render.context import create_headless_context

    fps = cfg.display.fps
    size = (cfg.display.width, cfg.display.height)
    n_frames = int(round(seconds * fps))
    if n_frames < 1:
        raise ValueError(f"--seconds {seconds} is shorter than one frame at {fps} fps")
    if out is not None and not Path(out).parent.exists():
        raise FileNotFoundError(f"folder {Path(out).parent} does not exist (for {out})")
    recorder = None
    if record is not None:
        from .replay.capture import Recorder, recording_meeting

        recorder = Recorder(record)
    try:
        net = join_room(url, name, log=log, want_seat=want_seat, sample_rate=cfg.audio.sample_rate,
                        make_meeting=recording_meeting(recorder) if recorder else None)
    except BaseException:
        if recorder is not None:
            recorder.close()
        raise
    link = RoomLink(net, log=log)
    try:
        state = net.make_state(cfg)
        if recorder is not None:
            recorder.state(state, cfg, net)
        voices = RemoteVoices(net.capacity, cfg.audio.sample_rate, cfg.audio.block, local=net.seat)
        net.voice_sink = voices.push
        bot = BotVoice(net.seat, cfg.audio.sample_rate)
        viewer = ScriptedViewer(state, seconds)
        viewer.neighbour = -1                   # real neighbours lean in by themselves, or not
        viewer.present = state.people.present
        # made before the meeting's clock starts (the engine loads its compiled audio loops)
        sound = _RoomSound(cfg, state, voices) if audio and cfg.audio.enabled else None
        t_origin = 0  # the meeting's clock starts after the set-up below (GL can take a while)

        def head(t_ns):
            return viewer.pose((t_ns - t_origin) / NS)

        timeline = Timeline(head=head, hands=None, refresh_hz=float(fps), refresh_rates=(float(fps),))
        ctx = create_headless_context()
        most_seen = 0
        try:
            from .render.renderer import Framebuffer, Renderer

            renderer = Renderer()
            target = Framebuffer(size, samples=4)
            t_origin = time.monotonic_ns()
            if sound is not None:
                sound.t_origin_ns = t_origin
            platform = SimulatedPlatform(timeline, start_ns=t_origin, view_count=1, view_size=size,
                                         fov_deg=82.0, framebuffer_for=lambda i, s: target.draw_fbo)
            behind_s = 0.0
            writer = _Mp4Writer(out, size, fps, cfg.audio.sample_rate if sound else None) if out else None
            bar = _Progress(n_frames, seconds, enabled=progress)
            try:
                for k in range(n_frames):
                    frame = platform.begin_frame()
                    t_ns = frame.predicted_display_time_ns
                    sleep_until(t_ns)                        # the network runs on real time
                    now = time.monotonic_ns()
                    behind_s = max(behind_s, (now - t_ns) / NS)
                    mono, t_ms = bot.due(now)
                    net.send_voice(mono, t_ms)
                    rem = link.before_step(state, now)
                    if link.reseated(state):
                        log(f"network: the room moved this participant from seat {state.local} to "
                            f"seat {net.seat}")
                        state = net.make_state(cfg)
                        if recorder is not None:
                            recorder.state(state, cfg, net)
                        link.reset()
                        voices.local = net.seat
                        viewer = ScriptedViewer(state, seconds)
                        viewer.neighbour = -1
                        rem = link.before_step(state, now)
                    viewer.present = state.people.present
                    if sound is not None:             # lips follow the voice as it is played here
                        rem.level[:] = sound.level
                    inputs = S.LocalInput(head_pos=frame.head.position, head_rot=frame.head.orientation,
                                          mic_level=bot.level, remote=rem)
                    state, scene = S.step(state, inputs, t_ns - t_origin)
                    if recorder is not None:
                        recorder.frame(t_ns - t_origin, inputs, remote_level=rem.level if sound else None)
                    link.after_step(state, bot.level, t_ns)
                    most_seen = max(most_seen, int(rem.present.sum()))
                    samples = None
                    if sound is not None:
                        samples = sound.render_until(state, (k + 1) * sound.rate // fps, viewer.pose(
                            (t_ns - t_origin) / NS))

                    def draw(i, view, fbo, fb_size):
                        renderer.draw_view(view, fbo, fb_size)

                    renderer.upload(scene)
                    platform.end_frame(frame, draw)
                    image = target.read_rgba()[..., :3]
                    if writer is not None:
                        writer.add(image, samples)
                    if frames_dir is not None:
                        from PIL import Image

                        Path(frames_dir).mkdir(parents=True, exist_ok=True)
                        Image.fromarray(image).save(Path(frames_dir) / f"frame_{k:05d}.png")
                    bar.update(k + 1)
            finally:
                if writer is not None:
                    writer.close()
                platform.shutdown()
                bar.done()
        finally:
            ctx.release()
        if behind_s > 0.5:
            log(f"network: this machine fell up to {behind_s:.1f} s behind real time while recording "
                "(rendering is slower than the frame rate here); remote motion and voices were "
                "sampled late, and voices sped up in places to keep up")
        return {"frames": n_frames, "seconds": seconds, "seat": net.seat, "capacity": net.capacity,
                "most_people_seen": most_seen, "audio": sound is not None, "voice": voices.stats(),
                "net": net.stats(), "recorded_frames": recorder.frames if recorder else 0}
    finally:
        net.close()
        if recorder is not None:
            log(f"xrdemo: {recorder.close()}")


LAG_SLACK_NS = 100_000_000
"""How far behind real time a headless participant may ask the voice jitter buffers for a block
before its audio clock follows real time (more would overflow them and fall silent)."""


class FrameSound:
    """Binaural sound for video frames, rendered block by block for one listener seat.

    Holds the engine and the samples rendered past the end of the previous frame (they begin the
    next one). Subclasses say where each block's voices come from; ``level`` (N,) is the newest
    voice level per person (lips follow it).
    """

    def __init__(self, cfg: Config, state: S.MeetingState, seat: int):
        from .audio.engine import SpatialAudioEngine, whisper_gains_from_pairs

        self.rate, self.block = cfg.audio.sample_rate, cfg.audio.block
        self.engine = SpatialAudioEngine(self.rate, self.block, reflections=cfg.audio.reflections,
                                         table_height=state.table.height)
        self.whisper_gains = whisper_gains_from_pairs
        self.seat = seat
        self.rendered = 0
        self.pending = np.zeros((0, 2), np.float32)
        self.level = np.zeros(len(state.people))

    def place(self, state: S.MeetingState, listener) -> None:
        """Sources at everyone's mouth, the listener (position (3,), orientation (4,)) and the
        whisper gains toward this seat, for the frame about to be rendered."""
        ppl = state.people
        self.engine.set_sources(S.mouth_positions(ppl))
        self.engine.set_listener(*listener)
        self.engine.set_whisper_gains(self.whisper_gains(S.whisper_pairs_now(state), len(ppl))[:, self.seat])

    def blocks_until(self, sample_end: int, next_block) -> np.ndarray:
        """Exactly the samples since the previous call up to sample_end (stereo float32).
        next_block(first_sample) -> (mono (N, block), level (N,) or None) gives each block."""
        chunks = [self.pending]
        start = self.rendered - len(self.pending)
        while self.rendered < sample_end:
            mono, level = next_block(self.rendered)
            chunks.append(np.array(self.engine.process(mono), np.float32))
            if level is not None:
                self.level = level
            self.rendered += self.block
        allsamp = np.concatenate(chunks)
        take = sample_end - start
        out, self.pending = allsamp[:take], allsamp[take:]
        return out


class _RoomSound(FrameSound):
    """Binaural audio of a networked room for a headless participant, block by block."""

    def __init__(self, cfg: Config, state: S.MeetingState, voices, t_origin_ns: int = 0):
        super().__init__(cfg, state, state.local)
        self.voices = voices
        self.t_origin_ns = t_origin_ns  # the meeting's start (monotonic ns): set before the first frame

    def render_until(self, state: S.MeetingState, sample_end: int, listener) -> np.ndarray:
        """The samples since the previous call up to sample_end. Each block is taken from the
        jitter buffers at its own time on the sample clock."""
        self.seat = state.local
        self.place(state, listener)
        # When this machine falls behind real time (a slow start, a stall, a slow renderer), ask the
        # jitter buffers for "now less the slack", not for the past; as the frames catch up again the
        # shift shrinks with them. (Jumping the clock once and keeping the jump would run the audio
        # ahead of real time after the catch-up, into packets that have not come yet: silence.)
        lag = time.monotonic_ns() - (self.t_origin_ns + self.rendered * NS // self.rate)
        shift_ns = max(0, lag - LAG_SLACK_NS)  # how much later than its place in the recording

        def next_block(first_sample):
            t_ns = self.t_origin_ns + shift_ns + first_sample * NS // self.rate
            mono, (level, _) = self.voices.next_block(None, t_ns)
            return mono, level
        return self.blocks_until(sample_end, next_block)

"""Headless recordings: the meeting from one seat to an MP4 (H.264 + binaural AAC) or PNG frames.

Both modes run the one frame loop (``loop.frame_loop``) on the simulated runtime drawing
offscreen (``loop.headless.HeadlessView``):

- ``record_meeting``: a local meeting with scripted people, on a clock that advances one video
  frame at a time with no sleeping. Sound is rendered block by block on the same clock, so
  picture and sound stay in sync: video frame k shows time k / fps and the samples of
  [k / fps, (k + 1) / fps) go with it.
- ``record_networked``: a headless participant in a networked room (``xrdemo serve``), on real
  time: it looks around (``ScriptedViewer``), speaks a built-in clip in turns (``BotVoice``), and
  records what its seat sees and hears.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .config import Config
from .loop.drivers import CoreDriver
from .loop.frame_loop import FrameLoop, FramePart
from .loop.headless import FrameSoundPart, HeadlessView, RecordingMetrics, VideoOutput
from .loop.parts import MeetingRecording, RealTimePacer, StopAfter
from .meetings import MeetingSource, meeting_state
from .scripted_viewer import ScriptedViewer

NS = 1_000_000_000


def _frames_for(seconds: float, fps: int) -> int:
    n_frames = int(round(seconds * fps))
    if n_frames < 1:
        raise ValueError(f"--seconds {seconds} is shorter than one frame at {fps} fps")
    return n_frames


def _check_folders(*paths) -> None:
    for path in paths:
        if path is not None and not Path(path).parent.exists():
            raise FileNotFoundError(f"folder {Path(path).parent} does not exist (for {path})")


def record_meeting(cfg: Config, seconds: float, out: Path | None, frames_dir: Path | None = None,
                   metrics_path: Path | None = None, audio: bool = True, progress=True,
                   log=print, record: Path | None = None) -> dict:
    """Render ``seconds`` of the meeting in ``cfg`` from ``cfg.meeting.seat``.

    out: an .mp4 (H.264 video, AAC stereo binaural audio) or None. frames_dir: also (or only)
    write PNG frames there. Returns the metrics summary (also written to metrics_path as JSON).
    record: also write a meeting recording there (``xrdemo replay``), on the simulated clock.
    """
    from .loop.frame_sound import ScriptedSound

    fps = cfg.display.fps
    size = (cfg.display.width, cfg.display.height)
    n_frames = _frames_for(seconds, fps)
    if out is None and frames_dir is None:
        raise ValueError("nothing to write: give an output file or --frames-dir")
    _check_folders(out, metrics_path)

    state = meeting_state(cfg)
    viewer = ScriptedViewer(state, seconds)
    view = HeadlessView(size, fps, head=lambda t_ns: viewer.pose(t_ns / NS))
    parts = []
    sound = None
    try:
        if audio and cfg.audio.enabled:
            sound = ScriptedSound(cfg, state, state.local, listener_at=viewer.pose)
            parts.append(FrameSoundPart(sound, lambda tick: sound.render_until(
                tick.state, (tick.index + 1) * sound.rate // fps, viewer.pose(tick.t_ns / NS)),
                levels="voice"))
        if record is not None:
            from .replay.capture import Recorder, open_local

            recorder = Recorder(record)
            open_local(recorder, cfg, t0_ns=0)
            parts.append(MeetingRecording(recorder, lambda: cfg, None, log=log,
                                          clock_ns=lambda tick: 0 if tick is None else tick.t_ns))
        video = VideoOutput(view, out, fps, cfg.audio.sample_rate if sound else None, frames_dir,
                            n_frames, seconds, progress=progress, log=log)
        parts += [video, StopAfter(frames=n_frames)]
        FrameLoop(view.platform, CoreDriver(state), parts, renderer=view.renderer).run()
    finally:
        view.release()
    metrics: RecordingMetrics = video.metrics
    if sound is not None:
        metrics.audio_block_us = sound.block_us
    summary = metrics.summary()
    summary.update({"seconds": seconds, "fps": fps, "size": list(size), "people": cfg.meeting.people,
                    "seat": cfg.meeting.seat, "audio": sound is not None,
                    "whisper_window_s": [round(viewer.lean_start, 2), round(viewer.lean_end, 2)]})
    if metrics_path is not None:
        Path(metrics_path).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


class _Presence(FramePart):
    """Keeps the scripted viewer looking only at seats that are taken, and counts the most
    people seen at once (a networked headless participant)."""

    def __init__(self, seconds: float, bot):
        self.seconds, self.bot = seconds, bot
        self.viewer = None
        self.most_seen = 0
        self._seat = None

    def on_meeting(self, loop, state) -> None:
        if self.viewer is None or state.local != self._seat:
            self.viewer = ScriptedViewer(state, self.seconds)
            self.viewer.neighbour = -1          # real neighbours lean in by themselves, or not
            self._seat = state.local
        self.viewer.state = state
        self.viewer.present = state.people.present

    def on_inputs(self, tick) -> None:
        self.viewer.present = tick.state.people.present
        tick.inputs.mic_level = self.bot.level
        remote = tick.inputs.remote
        if remote is not None:
            self.most_seen = max(self.most_seen, int(remote.present.sum()))


def record_networked(cfg: Config, url: str, name: str, seconds: float, out: Path | None,
                     audio: bool = True, progress=True, log=print, frames_dir: Path | None = None,
                     want_seat: int | None = None, record: Path | None = None) -> dict:
    """Sit in the networked room ``url`` for ``seconds`` as a headless participant and record
    what this seat sees and hears (MP4 / PNG frames), in real time.

    Returns a summary: frames, the most people seen at once, voice frames received, net stats.
    record: also write a meeting recording there (``xrdemo replay``).
    """
    from .loop.frame_sound import RoomSound
    from .loop.room import BotVoicePart, RoomPart
    from .net.room_audio import RemoteVoices
    from .net.room_link import join_room

    fps = cfg.display.fps
    size = (cfg.display.width, cfg.display.height)
    n_frames = _frames_for(seconds, fps)
    _check_folders(out)
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
    source = MeetingSource(cfg, net)
    view = None
    try:
        net.set_status(kind="headless", muted=False, hand=False, recording=record is not None)
        state = source.build()
        voices = RemoteVoices(net.capacity, cfg.audio.sample_rate, cfg.audio.block, local=net.seat)
        net.voice_sink = voices.push
        bot = BotVoicePart(net, cfg.audio.sample_rate)
        presence = _Presence(seconds, bot.bot)
        presence.on_meeting(None, state)
        # made before the meeting's clock starts (the engine loads its compiled audio loops)
        sound = RoomSound(cfg, state, voices) if audio and cfg.audio.enabled else None
        origin = [0]                # the meeting's clock starts after the GL set-up
        view = HeadlessView(size, fps, head=lambda t_ns: presence.viewer.pose((t_ns - origin[0]) / NS),
                            start_ns=time.monotonic_ns)
        origin[0] = view.start_ns
        pacer = RealTimePacer()
        room = RoomPart(net, source, log=log, now_ns=lambda tick: time.monotonic_ns(),
                        level=lambda tick: bot.bot.level)
        parts = [pacer, bot, room, presence]
        if sound is not None:
            sound.t_origin_ns = origin[0]
            parts.append(FrameSoundPart(sound, lambda tick: sound.render_until(
                tick.state, (tick.index + 1) * sound.rate // fps,
                presence.viewer.pose(tick.t_ns / NS)), levels="remote"))
        recording = None
        if recorder is not None:
            recording = MeetingRecording(recorder, lambda: source.cfg, net, log=log,
                                         level_from=lambda: sound is not None)
            parts.append(recording)
            recorder = None                 # the part closes it
        video = VideoOutput(view, out, fps, cfg.audio.sample_rate if sound else None, frames_dir,
                            n_frames, seconds, progress=progress, log=log)
        parts += [video, StopAfter(frames=n_frames)]

        def clock(frame):
            return frame.predicted_display_time_ns - origin[0]

        loop = FrameLoop(view.platform, CoreDriver(state), parts, renderer=view.renderer, clock=clock)
        loop.run()
        if pacer.skipped:
            log(f"network: kept real time by repeating {pacer.skipped} of {pacer.ticks} video frames "
                f"(rendering {size[0]}x{size[1]} here is slower than {fps} fps; a smaller --size or "
                "[display] fps draws them all)")
        if pacer.behind_s > 0.5:
            log(f"network: this machine still fell up to {pacer.behind_s:.1f} s behind real time (the "
                "meeting's step or the network, not the drawing); remote motion and voices were "
                "sampled late, and voices sped up in places to keep up")
        return {"frames": n_frames, "seconds": seconds, "seat": net.seat, "capacity": net.capacity,
                "most_people_seen": presence.most_seen, "audio": sound is not None,
                "voice": voices.stats(), "net": net.stats(),
                "recorded_frames": recording.recorder.frames if recording else 0}
    finally:
        net.close()
        if recorder is not None:
            log(f"xrdemo: {recorder.close()}")
        if view is not None:
            view.release()

"""Wiring: pick a platform, run the meeting's frame loop on it, shut down cleanly.

``run(platform_name, cfg)``: with a headset (OpenXR) or a window (desktop) it runs the live loop
— platform.begin_frame -> core.step -> render -> platform.end_frame, with live spatial audio —
and with neither (headless) it records the meeting to an MP4 instead, saying which it chose and
why. App code never touches OpenXR, GLFW or sounddevice directly.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .config import Config
from .core import pose as P
from .core import scene as S
from .core.gestures import curls_from_controller
from .core.hands import hand_from_curls, hands_to_stage

DEFAULT_RECORDING = Path("xrdemo-recording.mp4")
SESSION_LOST = 3
"""Exit status of live_loop when the runtime lost the session (device unplugged, runtime gone)."""


def local_input(frame, state: S.MeetingState) -> S.LocalInput:
    """The core's view of this frame's tracking: head, and hands (articulated, else synthesised
    from controllers, else none — then the scripted hands stand in)."""
    head = frame.head
    inp = S.LocalInput()
    if head.valid:
        inp.head_pos, inp.head_rot = np.asarray(head.position, float), np.asarray(head.orientation, float)
    if frame.gaze is not None and frame.gaze.valid:
        inp.eye_dir = P.quat_rotate(frame.gaze.orientation, np.array([0.0, 0.0, -1.0]))
    hands = frame.hands
    if hands.valid.any():
        inp.joints = hands.positions.astype(np.float64)
        inp.valid = hands.valid.copy()
        inp.radii = hands.radii.astype(np.float64)
        return inp
    c = frame.controllers
    if c.active.any() and c.grip_valid.any():
        thumb_down = c.thumbstick_touch | c.primary | c.secondary
        curls, spread = curls_from_controller(c.squeeze, c.trigger, thumb_down)
        local = hand_from_curls(curls, spread)
        joints = hands_to_stage(c.grip_position, c.grip_orientation, local, np.array([True, False]))
        inp.joints = joints
        inp.valid = np.repeat(np.asarray(c.grip_valid, bool)[:, None], 26, axis=1)
    return inp


def run(platform_name: str, cfg: Config, *, seconds: float | None = None,
        recording: Path = DEFAULT_RECORDING, calibrate_table: float = 0.0,
        table_alignment: Path | None = None, log=print, join: str | None = None,
        name: str | None = None, want_seat: int | None = None, record: Path | None = None) -> int:
    """Run the main job on the named platform ('auto' falls back openxr -> desktop -> headless).

    join: ``HOST:PORT/ROOM`` of a networked meeting (``xrdemo serve``) to sit in, as ``name``.
    record: also write a meeting recording there (``xrdemo replay`` plays it).
    """
    import os

    from .platform.factory import create_platform

    if platform_name == "auto":
        # The OpenXR loader prints its own errors when no runtime is installed; our one-line
        # reason says the same. XR_LOADER_DEBUG=error (or verbose) brings them back.
        os.environ.setdefault("XR_LOADER_DEBUG", "none")
    platform, reason = create_platform(platform_name, log=None)
    kind = platform.capabilities.name
    if kind == "headless":
        platform.shutdown()
        secs = seconds if seconds is not None else 20.0
        if join:
            from .recording import record_networked

            log(f"xrdemo: no headset and no display, so sitting in {join} headless for {secs:g} s and "
                f"recording this seat to {recording} ({reason})")
            summary = record_networked(cfg, join, name or "headless", secs, Path(recording), log=log,
                                       want_seat=want_seat, record=record)
            log(f"xrdemo: wrote {recording} ({summary['frames']} frames; saw up to "
                f"{summary['most_people_seen']} other people)")
            return 0
        log(f"xrdemo: no headset and no display, so recording {secs:g} s of the meeting headless to "
            f"{recording} ({reason})")
        from .recording import record_meeting

        summary = record_meeting(cfg, secs, Path(recording), record=record)
        log(f"xrdemo: wrote {recording} ({summary['frames']} frames, binaural audio: "
            f"{'yes' if summary['audio'] else 'no'}); play it with headphones")
        return 0
    log(f"xrdemo: running the meeting on {reason}")
    status = live_loop(platform, cfg, seconds=seconds, log=log, calibrate_table=calibrate_table,
                       table_alignment=table_alignment, join=join, name=name, want_seat=want_seat,
                       record=record)
    if status == SESSION_LOST and platform_name == "auto" and kind == "openxr":
        # The headset went away mid-meeting: carry on in the desktop simulator if there is one.
        from .platform.base import PlatformUnavailable

        try:
            desktop, _ = create_platform("desktop", log=None)
        except PlatformUnavailable as exc:
            log(f"xrdemo: the headset is gone and there is no desktop window to carry on in ({exc})")
            return status
        log("xrdemo: the headset is gone; carrying on in the desktop simulator")
        more = None
        if record:
            # The headset part is a finished file; the rest of the meeting goes into a second one.
            more = Path(record).with_name(Path(record).stem + "-desktop" + (Path(record).suffix or ".xrrec"))
            log(f"xrdemo: {record} holds the meeting until the headset went away; the rest is recorded "
                f"to {more}")
        return live_loop(desktop, cfg, seconds=seconds, log=log, table_alignment=table_alignment,
                         join=join, name=name, want_seat=want_seat, record=more)
    return status


def _load_alignment(path: Path | None, log):
    """The saved table alignment (None when there is none); a bad file is reported, not fatal."""
    from .alignment import TableAlignment, default_alignment_path

    path = Path(path) if path else default_alignment_path()
    if not path.exists():
        return None
    try:
        al = TableAlignment.from_json(path.read_text(encoding="utf-8"), str(path))
    except (OSError, ValueError) as exc:
        log(f"table alignment: ignoring {path} ({exc}); run with --calibrate-table to redo it")
        return None
    log(f"table alignment: using {path} (real table top at {al.table_height:.3f} m, "
        f"{al.samples} touches, fit rms {1000 * al.rms_m:.1f} mm)")
    return al


def _with_table_height(cfg: Config, height: float) -> Config:
    from dataclasses import replace

    return replace(cfg, table=replace(cfg.table, height=float(np.clip(height, 0.4, 1.3))))


def live_loop(platform, cfg: Config, *, seconds: float | None = None, log=print,
              max_frames: int | None = None, calibrate_table: float = 0.0,
              table_alignment: Path | None = None, join: str | None = None,
              name: str | None = None, want_seat: int | None = None, record: Path | None = None) -> int:
    """The frame loop on a live platform (a GL context is current). Returns an exit status.

    calibrate_table: seconds at the start during which index-fingertip touches on the real
    table are collected; the fit then moves the meeting onto that table and is saved for later
    runs (table_alignment, default in the user's config directory). record: write a meeting
    recording there as the meeting goes (``xrdemo replay``; see xrdemo/replay/capture.py).
    """
    from .alignment import TouchCollector
    from .platform.base import EventKind
    from .recording import make_meeting_from_config
    from .render.renderer import Renderer

    renderer = Renderer()
    alignment = None if calibrate_table > 0 else _load_alignment(table_alignment, log)
    if alignment is not None:
        cfg = _with_table_height(cfg, alignment.table_height)
    collector = TouchCollector() if calibrate_table > 0 else None
    if collector is not None:
        log(f"table calibration: for {calibrate_table:g} s, touch your real table with your index "
            "fingers at its corners and along its edges, holding each touch for half a second")
    link = audio = mic = forwarder = recorder = None

    def build_state(cfg):
        state = link.net.make_state(cfg) if link else make_meeting_from_config(cfg)
        if recorder is not None:
            recorder.state(state, cfg, link.net if link else None)
        return state

    try:
        if record is not None:
            from .replay.capture import Recorder, open_local, recording_meeting

            recorder = Recorder(record)
        if join:
            from .netloop import RoomLink, join_room

            link = RoomLink(join_room(join, name or default_name(), log=log, want_seat=want_seat,
                                      sample_rate=cfg.audio.sample_rate,
                                      make_meeting=recording_meeting(recorder) if recorder else None), log=log)
        elif recorder is not None:
            open_local(recorder, cfg)
        state = build_state(cfg)
        _sit_down(platform, state)
        if cfg.audio.enabled:
            audio, forwarder = _open_audio(cfg, state, link, log)
        mic = open_microphone(cfg, log) if cfg.audio.enabled else None
        if link is not None and mic is not None:
            mic.listener = link.net.send_voice
        if cfg.display.refresh_rate:
            platform.set_refresh_rate(cfg.display.refresh_rate)
        if cfg.display.passthrough and not platform.set_passthrough(True):
            log("passthrough: not available on this platform")
    except BaseException:
        _close_all(link, forwarder, audio, mic, platform)
        if recorder is not None:
            recorder.close()
        raise
    status = 0
    t_start = None
    frames = 0
    fps_t0, fps_frames, fps = time.perf_counter(), 0, 0.0
    try:
        while True:
            frame = platform.begin_frame()
            draw = None
            try:
                t_ns = frame.predicted_display_time_ns
                t_start = t_ns if t_start is None else t_start
                if collector is not None:
                    collector.add(frame)
                    if (t_ns - t_start) * 1e-9 >= calibrate_table:
                        alignment = _finish_calibration(collector, table_alignment, log)
                        collector = None
                        if alignment is not None:
                            cfg = _with_table_height(cfg, alignment.table_height)
                            state = build_state(cfg)
                            if link is not None:
                                link.reset()
                if alignment is not None:
                    frame = alignment.apply(frame)
                inputs = local_input(frame, state)
                if audio is not None:
                    inputs.voice_level = audio.level
                if mic is not None:
                    inputs.mic_level = mic_to_level(mic.level_db)
                if link is not None:
                    inputs.remote = link.before_step(state, display_ns=t_ns,
                                                     period_ns=frame.predicted_display_period_ns)
                    if link.reseated(state):
                        # A reconnect found our seat taken: sit down in the new one.
                        log(f"network: the room moved you from seat {state.local} to seat {link.net.seat}")
                        state = build_state(cfg)
                        link.reset()
                        _sit_down(platform, state)
                        inputs = local_input(frame, state)
                        inputs.remote = link.before_step(state, display_ns=t_ns,
                                                         period_ns=frame.predicted_display_period_ns)
                        if audio is not None:
                            _close_all(None, forwarder, audio, None, None)
                            audio, forwarder = _open_audio(cfg, state, link, log)
                    if audio is not None and audio.device:    # lips follow the voice as played here
                        inputs.remote.level[:] = audio.level
                state, scene = S.step(state, inputs, t_ns)
                if recorder is not None:
                    recorder.frame(t_ns, inputs, remote_level=inputs.remote.level if link else None)
                if link is not None:
                    link.after_step(state, inputs.mic_level or 0.0, display_ns=t_ns,
                                    period_ns=frame.predicted_display_period_ns)
                if frame.should_render:
                    renderer.upload(scene)

                    def draw(i, view, fbo, size):
                        renderer.draw_view(view, fbo, size)
            finally:
                platform.end_frame(frame, draw)
            if audio is not None:
                ppl = state.people
                k = state.local
                audio.publish(ppl.head_pos[k], ppl.head_rot[k], S.mouth_positions(ppl), ppl.head_pos,
                              S.speaking_now(state), S.whisper_pairs_now(state))
            frames += 1
            fps_frames += 1
            now = time.perf_counter()
            if now - fps_t0 >= 1.0:
                fps, fps_t0, fps_frames = fps_frames / (now - fps_t0), now, 0
            if hasattr(platform, "set_status"):
                platform.set_status(status_line(fps, state, audio, state.partner, mic))
            pf = state.frame
            if pf is not None and 0 <= state.local and len(pf.contact_down):
                for person, hand, _joint in pf.contact_down:
                    if person == state.local:        # a fingertip or palm just met the table
                        platform.haptic_pulse(int(hand), amplitude=0.35, duration_s=0.03)
            for event in frame.events:
                if event.kind == EventKind.SESSION_LOST:
                    log(f"xrdemo: {event.message or 'the session was lost'}; stopping")
                    status = SESSION_LOST
            if frame.exit_requested or status:
                break
            if seconds is not None and (t_ns - t_start) * 1e-9 >= seconds:
                break
            if max_frames is not None and frames >= max_frames:
                break
    finally:
        _close_all(link, forwarder, audio, mic, platform)
        if recorder is not None:
            log(f"xrdemo: {recorder.close()}")
    log(f"xrdemo: ended after {frames} frames")
    return status


def _sit_down(platform, state: S.MeetingState) -> None:
    """The desktop simulator puts its camera in the local seat."""
    if hasattr(platform, "set_seat"):
        from .platform.desktop_input import seat_of

        platform.set_seat(seat_of(state))


def _open_audio(cfg: Config, state: S.MeetingState, link, log):
    """Live audio for the meeting (None when it cannot start, said in one line), and for a
    networked meeting the forwarder that hands received voice frames to the audio process."""
    from .audio.meeting import LiveMeetingAudio

    try:
        audio = LiveMeetingAudio(len(state.people), state.local, cfg.audio.sample_rate, cfg.audio.block,
                                 seed=cfg.meeting.seed, reflections=cfg.audio.reflections,
                                 table_height=state.table.height, log=log, remote_voices=link is not None)
    except Exception as exc:   # no PortAudio library, broken device ...
        log(f"audio: off ({type(exc).__name__}: {exc})")
        return None, None
    forwarder = None
    if link is not None and audio.voice_port:
        from .net.room_audio import VoiceForwarder

        forwarder = VoiceForwarder(audio.voice_port)
        link.net.voice_sink = forwarder.send
    return audio, forwarder


def _close_all(link, forwarder, audio, mic, platform) -> None:
    """Leave the room, stop voice forwarding, audio and microphone, shut the platform down (each
    that exists), in that order."""
    if link is not None:
        link.net.close()
    if forwarder is not None:
        if link is not None:
            link.net.voice_sink = None
        forwarder.close()
    if audio is not None:
        audio.close()
    if mic is not None:
        mic.stop()
    if platform is not None:
        platform.shutdown()


def default_name() -> str:
    """A display name for this person: the login name, else "guest"."""
    import getpass

    try:
        return getpass.getuser() or "guest"
    except Exception:
        return "guest"


def _finish_calibration(collector, path: Path | None, log):
    from .alignment import default_alignment_path

    try:
        al = collector.fit()
    except ValueError as exc:
        log(f"table calibration failed: {exc}")
        return None
    path = Path(path) if path else default_alignment_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(al.to_json() + "\n", encoding="utf-8")
        saved = f"saved to {path}"
    except OSError as exc:
        saved = f"not saved ({exc})"
    log(f"table calibration: real table top at {al.table_height:.3f} m from {al.samples} touches "
        f"(fit rms {1000 * al.rms_m:.1f} mm); the virtual table now lies on it; {saved}")
    return al


MIC_FLOOR_DB, MIC_FULL_DB = -55.0, -15.0
"""Microphone levels (dBFS) mapped to a voice level of 0 and 1."""


def mic_to_level(level_db: float) -> float:
    """The local microphone's dBFS level as a 0..1 voice level for the core."""
    return float(np.clip((level_db - MIC_FLOOR_DB) / (MIC_FULL_DB - MIC_FLOOR_DB), 0.0, 1.0))


def open_microphone(cfg: Config, log):
    """The default microphone with a level meter, or None (said in one line) when there is none."""
    try:
        from .audio.io import MicInput

        mic = MicInput(cfg.audio.sample_rate, cfg.audio.block)
        mic.start()
    except Exception as exc:   # no PortAudio, no input device, device busy
        log(f"microphone: none ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
        return None
    log("microphone: listening on the default input device")
    return mic


def status_line(fps: float, state: S.MeetingState, audio, whisper: int, mic=None) -> str:
    """The desktop status line: fps, people, audio device, microphone level, whisper state."""
    from .audio.io import level_meter

    dev = audio.device if audio is not None and audio.device else "none"
    who = state.people.names[whisper] if whisper >= 0 else "off"
    mic_text = level_meter(mic.level_db, width=8) if mic is not None else "none"
    return (f"{fps:5.1f} fps | {len(state.people)} people | audio: {dev} | mic: {mic_text} | "
            f"whisper: {who}")

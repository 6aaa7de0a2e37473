"""Wiring: pick a platform, run the meeting's frame loop on it, shut down cleanly.

``run(platform_name, cfg)``: with a headset (OpenXR) or a window (desktop) it runs the live loop,
and with neither (headless) it records the meeting to an MP4 instead, saying which it chose and
why. ``live_loop`` composes the one frame loop (``loop.frame_loop``) from parts: the seat and the
real table (``loop.seating``), the room (``loop.room``), live sound and the microphone
(``loop.live_audio``), the meeting recording, haptics, passthrough and the status line
(``loop.parts``). App code never touches OpenXR, GLFW or sounddevice directly.
"""

from __future__ import annotations

from pathlib import Path

from .config import Config
from .loop.drivers import CoreDriver, local_input  # noqa: F401  (local_input: the core's view of a frame)
from .loop.frame_loop import SESSION_LOST, FrameLoop
from .loop.live_audio import mic_to_level  # noqa: F401

DEFAULT_RECORDING = Path("xrdemo-recording.mp4")


def run(platform_name: str, cfg: Config, *, seconds: float | None = None,
        recording: Path = DEFAULT_RECORDING, calibrate_table: float = 0.0,
        table_alignment: Path | None = None, log=print, join: str | None = None,
        name: str | None = None, want_seat: int | None = None, record: Path | None = None,
        mirror_to: Path | None = None, mirror: bool = False) -> int:
    """Run the main job on the named platform ('auto' falls back openxr -> desktop -> headless).

    join: ``HOST:PORT/ROOM`` of a networked meeting (``xrdemo serve``) to sit in, as ``name``.
    record: also write a meeting recording there (``xrdemo replay`` plays it). mirror_to: an MP4
    of what the wearer (or the window) sees, with sound.
    """
    import os

    from .platform.factory import create_platform

    if platform_name == "auto":
        # The OpenXR loader prints its own errors when no runtime is installed; our one-line
        # reason says the same. XR_LOADER_DEBUG=error (or verbose) brings them back.
        os.environ.setdefault("XR_LOADER_DEBUG", "none")
    platform, reason = create_platform(platform_name, log=None, build_headless=False)
    kind = "headless" if platform is None else platform.capabilities.name
    if kind == "headless":
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
                       record=record, mirror_to=mirror_to, mirror=mirror)
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


def live_loop(platform, cfg: Config, *, seconds: float | None = None, log=print,
              max_frames: int | None = None, calibrate_table: float = 0.0,
              table_alignment: Path | None = None, join: str | None = None,
              name: str | None = None, want_seat: int | None = None, record: Path | None = None,
              mirror_to: Path | None = None, mirror: bool = False) -> int:
    """The frame loop on a live platform (a GL context is current). Returns an exit status.

    calibrate_table: seconds at the start during which index-fingertip touches on the real
    table are collected; the fit then moves the meeting onto that table and is saved for later
    runs (table_alignment, default in the user's config directory). record: write a meeting
    recording there as the meeting goes (``xrdemo replay``; see xrdemo/replay/capture.py).
    mirror_to: an MP4 of the left eye with the meeting's sound (``loop.mirror``); mirror: the left
    eye in a desktop window of its own.
    """
    from .loop.live_audio import LiveAudio, Microphone
    from .loop.parts import Haptics, MeetingRecording, Passthrough, SessionWatch, StatusLine, StopAfter
    from .loop.seating import Seating, TableCalibration, load_alignment
    from .meetings import MeetingSource

    parts = []
    try:
        alignment = None if calibrate_table > 0 else load_alignment(table_alignment, log)
        source = MeetingSource(cfg if alignment is None else alignment.apply_to_config(cfg))
        recorder = recording = room = None
        if record is not None:
            from .replay.capture import Recorder, open_local, recording_meeting

            recorder = Recorder(record)
            recording = MeetingRecording(recorder, lambda: source.cfg, None, log=log)
            parts.append(recording)
        if join:
            from .loop.room import RoomPart
            from .net.room_link import join_room

            def rejoin(seat):
                return join_room(join, name or default_name(), log=log, want_seat=seat,
                                 sample_rate=cfg.audio.sample_rate,
                                 make_meeting=recording_meeting(recorder) if recorder else None)
            net = rejoin(want_seat)
            source.room = net
            platform.set_title(f"xrdemo \u2014 {net.name} in {net.room}")
            room = RoomPart(net, source, log=log, rejoin=rejoin)
            if recording is not None:       # the room's people are recorded as they came
                recording.net, recording.level_from = net, (lambda: True)
        elif recorder is not None:
            open_local(recorder, cfg)
        def reseat(seat):                    # a calibrated real table: sit where you really are
            if room is not None:
                room.rejoin(seat)
            else:
                from dataclasses import replace as dc_replace

                source.cfg = dc_replace(source.cfg, meeting=dc_replace(source.cfg.meeting, seat=seat))
                loop.rebuild(source.build())
        seating = Seating(platform, log=log, alignment=alignment, reseat=reseat)
        parts.insert(0, seating)
        if calibrate_table > 0:
            parts.insert(1, TableCalibration(calibrate_table, table_alignment, seating, source, log=log))
        if room is not None:
            parts.insert(0, room)        # closed first: leave the room before the sound stops
        from .loop.volume import Volume

        audio = mic = None
        volume = Volume(log=log, room=room)
        if cfg.audio.enabled:
            parts.append(volume)
            audio = LiveAudio(cfg, log, room, volume)
            mic = Microphone(cfg, log, room, audio)
            parts += [audio, mic]
        if cfg.display.refresh_rate:
            platform.set_refresh_rate(cfg.display.refresh_rate)
        if mirror_to is not None or mirror:
            from .loop.mirror import Mirror

            parts.append(Mirror(mirror_to, cfg, room=room, log=log, window=mirror))
        from .loop.roster import MeetingStatus

        passthrough = Passthrough(platform, cfg.display.passthrough, log=log)
        status = MeetingStatus(platform, room, mic, recording=record is not None)
        parts += [passthrough, _menu(platform, seating, passthrough, mic, status, audio and volume, room, log),
                  status,
                  Haptics(platform),
                  StatusLine(platform, audio, mic, room=source.room.room if source.room else None,
                             roster=status, volume=volume, link=room),
                  SessionWatch(log)]
        if seconds is not None:
            parts.append(StopAfter(seconds=seconds))
        loop = FrameLoop(platform, CoreDriver(source.build()), parts)
    except BaseException:
        for part in parts:
            part.close(None)
        platform.shutdown()
        raise
    try:
        result = loop.run(max_frames=max_frames)
    finally:
        platform.shutdown()
    log(f"xrdemo: ended after {result.frames} frames")
    return result.status


def _menu(platform, seating, passthrough, mic, status, volume, room, log):
    """The in-headset menu (and the desktop's action keys) with what each action does here."""
    from .core.menu import MenuAction
    from .loop.menu import Menu

    def leave(tick):
        if room is not None and not room.left:      # leave the room, keep the session (N rejoins)
            room.leave()
        else:
            tick.stop = "you left the meeting"

    actions = {MenuAction.PASSTHROUGH: lambda tick: passthrough.toggle(),
               MenuAction.RECENTER: lambda tick: seating.recenter(),
               MenuAction.LEAVE: leave}
    toggles = {MenuAction.PASSTHROUGH: lambda: passthrough.on, MenuAction.RAISE_HAND: lambda: status.hand.up}
    actions[MenuAction.RAISE_HAND] = lambda tick: log(f"your hand is {'up' if status.hand.toggle() else 'down'}")
    if room is not None:
        def next_seat(tick):
            seat = None if room.left else room.next_free_seat()
            if not room.left and seat is None:
                log("network: every other seat is taken")
            elif room.rejoin(seat):
                log(f"network: you sit in seat {room.net.seat} now")
        actions[MenuAction.SEAT_NEXT] = next_seat

        def whisper(tick):
            seat = room.toggle_whisper(tick.state)
            log(f"network: whisper to {tick.state.people.names[seat]} (they hear you only when they "
                "whisper to you too)" if seat is not None else "network: whisper off")
        actions[MenuAction.WHISPER] = whisper
        toggles[MenuAction.WHISPER] = lambda: room.whisper_to is not None
    if volume:
        actions[MenuAction.VOLUME_UP] = lambda tick: volume.change(tick, True)
        actions[MenuAction.VOLUME_DOWN] = lambda tick: volume.change(tick, False)
    if mic is not None and mic.mic is not None:
        def mute(tick):
            log(f"microphone: {'muted' if mic.gate.toggle_mute() else 'on'}")
        actions[MenuAction.MUTE] = mute
        toggles[MenuAction.MUTE] = lambda: mic.gate.muted
    level = (lambda: 10 ** (volume.master_db / 20)) if volume else (lambda: None)
    return Menu(platform, actions, toggles=lambda: {a: f() for a, f in toggles.items()}, volume=level, log=log,
                roster=lambda: status.lines)


def default_name() -> str:
    """A display name for this person: the login name, else "guest"."""
    import getpass

    try:
        return getpass.getuser() or "guest"
    except Exception:
        return "guest"

"""Benchmark: what a whole frame of the one loop costs on the CPU, everything included.

Each frame is what a headset frame runs, through ``loop.frame_loop.FrameLoop`` with the live
parts: the platform (simulated runtime, stage space, two 640x360 eyes), the seat transform
carrying every pose into the room, the core step, the instance upload and GL submission of both
eyes, the audio publish (the audio process's seqlock in shared memory, as ``LiveMeetingAudio``
writes it), the network (a room on an in-process ``xrdemo serve``: roster, remote input, this
person's pose encoded, MAC'd and sent), the in-headset menu (closed), the roster and status, haptics
and the status line.

Mesa's no-op driver (GALLIUM_NOOP=true, set here) runs the whole GL front end but rasterises
nothing, so what this CPU's software rasteriser costs does not count; a GPU does that work. The
reference in the same process is the pre-refactor ``live_loop`` body (begin, inputs, step,
upload, end, publish), written out below as it was, on the same platform, room and channel.
Run: .venv/bin/python bench/frame_loop.py [--frames 300] [--people 1 4 16 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("GALLIUM_NOOP", "true")
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

SIZE = (640, 360)
NS = 1_000_000_000


def stage_platform(frames_dir_target, n_frames):
    from xrdemo.core import pose as P
    from xrdemo.platform.simulated import SimulatedPlatform
    from xrdemo.platform.timeline import Timeline

    q = P.quat_from_yaw_pitch_roll(0.4)
    timeline = Timeline(head=lambda t: (np.array([0.3, 1.15, -0.2]), q), hands=None, refresh_hz=90.0)
    p = SimulatedPlatform(timeline, start_ns=0, view_count=2, view_size=SIZE,
                          framebuffer_for=lambda i, s: frames_dir_target.draw_fbo)
    p.capabilities.reference_space = "stage"
    return p


class ChannelAudio:
    """LiveMeetingAudio's publish path without a sound device: the whisper column and the seqlock
    write into the audio process's shared memory."""

    def __init__(self, n, local):
        from xrdemo.audio.engine import whisper_gains
        from xrdemo.audio.handoff import MeetingChannel

        self.channel = MeetingChannel(n)
        self.local, self.whisper_gains = local, whisper_gains
        self.level = np.zeros(n)
        self.device = None

    def publish(self, head_pos, head_rot, mouths, heads, speaking):
        self.channel.publish(head_pos, head_rot, mouths, speaking, self.whisper_gains(heads)[:, self.local])

    def close(self):
        self.channel.close()
        self.channel.unlink()


def timed(platform, times):
    """Wrap begin_frame so a frame's time runs from before begin_frame to the end of the tick."""
    begin = platform.begin_frame
    mark = {}

    def begin_frame():
        mark["t0"] = time.perf_counter()
        return begin()
    platform.begin_frame = begin_frame
    return lambda: times.append((time.perf_counter() - mark["t0"]) * 1e3)


def join(n, server_port, room):
    from xrdemo.net.room_link import join_room

    if server_port is None:
        return None
    return join_room(f"127.0.0.1:{server_port}/{room}{n}", "bench", log=lambda m: None)


def one_loop(n, frames, server_port, target):
    """The one loop, live parts; per-frame CPU ms (the whole tick)."""
    from xrdemo.config import Config
    from xrdemo.core import scene as S
    from xrdemo.loop.drivers import CoreDriver
    from xrdemo.loop.frame_loop import FrameLoop, FramePart
    from xrdemo.loop.parts import Haptics, SessionWatch, StatusLine
    from xrdemo.loop.room import RoomPart
    from xrdemo.loop.seating import Seating
    from xrdemo.meetings import MeetingSource

    cfg = Config()
    cfg = replace(cfg, meeting=replace(cfg.meeting, people=n))
    net = join(n, server_port, "bench")
    source = MeetingSource(cfg, net)
    state = source.build()
    audio = ChannelAudio(len(state.people), state.local)
    times = []
    platform = stage_platform(target, frames)
    done = timed(platform, times)

    class Publish(FramePart):
        def after_frame(self, tick):
            st = tick.state
            ppl, k = st.people, st.local
            audio.publish(ppl.head_pos[k], ppl.head_rot[k], S.mouth_positions(ppl), ppl.head_pos,
                          S.speaking_now(st))

    class Clock(FramePart):
        def after_frame(self, tick):
            done()

    from xrdemo.core.menu import MenuAction
    from xrdemo.loop.menu import Menu
    from xrdemo.loop.roster import MeetingStatus

    room = RoomPart(net, source, log=lambda m: None) if net is not None else None
    status = MeetingStatus(platform, room)
    menu = Menu(platform, {MenuAction.RECENTER: lambda tick: None}, log=lambda m: None,
                roster=lambda: status.lines)
    parts = [Seating(platform, log=lambda m: None), menu, status, Publish(), Haptics(platform),
             StatusLine(platform, room=None, roster=status, link=room), SessionWatch(lambda m: None), Clock()]
    if room is not None:
        parts.insert(0, room)
    FrameLoop(platform, CoreDriver(state), parts).run(max_frames=frames)
    platform.shutdown()
    audio.close()
    return times


def old_loop(n, frames, server_port, target):
    """The pre-refactor live_loop's frame, as it was: begin, local input, remote people, step,
    send the pose, upload, end (draw both eyes), publish the audio, status line, haptics."""
    from xrdemo.config import Config
    from xrdemo.core import scene as S
    from xrdemo.loop.drivers import local_input
    from xrdemo.status import status_line
    from xrdemo.meetings import meeting_state
    from xrdemo.net.room_link import RoomLink
    from xrdemo.render.renderer import Renderer

    cfg = Config()
    cfg = replace(cfg, meeting=replace(cfg.meeting, people=n))
    net = join(n, server_port, "old")
    link = RoomLink(net, log=lambda m: None) if net is not None else None
    state = meeting_state(cfg, net.room_shape() if net is not None else None)
    audio = ChannelAudio(len(state.people), state.local)
    platform = stage_platform(target, frames)
    renderer = Renderer()
    times = []
    for _ in range(frames):
        t0 = time.perf_counter()
        frame = platform.begin_frame()
        draw = None
        try:
            t_ns = frame.predicted_display_time_ns
            inputs = local_input(frame)
            if link is not None:
                inputs.remote = link.before_step(state, display_ns=t_ns,
                                                 period_ns=frame.predicted_display_period_ns)
            state, scene = S.step(state, inputs, t_ns)
            if link is not None:
                link.after_step(state, 0.0, display_ns=t_ns, period_ns=frame.predicted_display_period_ns)
            if frame.should_render:
                renderer.upload(scene)

                def draw(i, view, fbo, size):
                    renderer.draw_view(view, fbo, size)
        finally:
            platform.end_frame(frame, draw)
        ppl, k = state.people, state.local
        audio.publish(ppl.head_pos[k], ppl.head_rot[k], S.mouth_positions(ppl), ppl.head_pos, S.speaking_now(state))
        platform.set_status(status_line(0.0, state, None, state.partner))
        times.append((time.perf_counter() - t0) * 1e3)
    platform.shutdown()
    if net is not None:
        net.close()
    audio.close()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--people", type=int, nargs="+", default=[1, 4, 16, 64])
    args = ap.parse_args()
    home = tempfile.mkdtemp(prefix="xrdemo-bench-")
    os.environ["XRDEMO_IDENTITY"] = str(Path(home) / "identity.key")
    from xrdemo.net.server import ServerThread
    from xrdemo.render.context import create_headless_context, gl_info
    from xrdemo.render.renderer import Framebuffer

    ctx = create_headless_context()
    print(f"GL: {gl_info()['renderer']} (GALLIUM_NOOP={os.environ.get('GALLIUM_NOOP')})")
    target = Framebuffer(SIZE, samples=1)
    warm = args.frames // 5
    rows = []
    for n in args.people:
        # A room holds at most 32 seats: beyond that the meeting is local (no network part).
        server = ServerThread(port=0, capacity=n).start() if n <= 32 else None
        port = server.port if server else None
        try:
            one_loop(n, warm, port, target)                 # compile, caches, first-use costs
            new, old = [], []
            for _ in range(2):                              # alternate, so load drifts hit both
                new += one_loop(n, args.frames // 2, port, target)[2:]
                old += old_loop(n, args.frames // 2, port, target)[2:]
        finally:
            if server is not None:
                server.stop()
        rows.append((n, statistics.median(new), float(np.percentile(new, 95)), statistics.median(old),
                     float(np.percentile(old, 95))))
    ctx.release()
    print(f"\nCPU ms per frame, whole loop (platform, seat transform, core, upload + GL submit of two "
          f"{SIZE[0]}x{SIZE[1]} eyes, audio publish, network), {args.frames} frames, median and p95")
    print("| people | one loop | p95 | pre-refactor live_loop | p95 | one loop / old |  (64: no network)")
    print("|---|---|---|---|---|---|")
    for n, a, a95, b, b95 in rows:
        print(f"| {n} | {a:.2f} | {a95:.2f} | {b:.2f} | {b95:.2f} | {a / b:.2f}x |")


if __name__ == "__main__":
    main()

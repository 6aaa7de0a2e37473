"""Benchmark: headless frames per second, stereo at 640x360 per eye, for 2, 8 and 16 people.

Each frame runs what a headset frame runs — simulated runtime begin_frame, core step, instance
upload, two eye views drawn, end_frame — and then reads both eyes back (what a recording needs).
CPU milliseconds per frame are split into core (scene.step), render submit (upload + GL calls)
and readback (glReadPixels, which is where llvmpipe actually rasterises). The reference row, in
the same process, is the same loop with an empty scene (clear only), so the ratios show what
the people cost on this machine. Run: .venv/bin/python bench/frame_headless.py [--frames N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

import numpy as np  # noqa: E402

from xrdemo.core import scene as S  # noqa: E402
from xrdemo.core.frame import FrameScene  # noqa: E402

SIZE = (640, 360)


def run(people: int | None, frames: int, renderer, targets):
    from xrdemo.core import pose as P
    from xrdemo.platform.simulated import SimulatedPlatform
    from xrdemo.platform.timeline import Timeline

    n = people or 2
    state = S.make_meeting(n, seed=1)
    seat = state.seat_pos[0]
    _, q = P.look_at(seat, [0.0, state.table.height + 0.2, 0.0])
    timeline = Timeline(head=lambda t: (seat, q), hands=None, refresh_hz=90.0)
    platform = SimulatedPlatform(timeline, start_ns=0, view_count=2, view_size=SIZE,
                                 framebuffer_for=lambda i, s: targets[i].draw_fbo)
    core, submit, readback = [], [], []
    for k in range(frames):
        frame = platform.begin_frame()
        t0 = time.perf_counter()
        inp = S.LocalInput(head_pos=frame.head.position, head_rot=frame.head.orientation)
        state, scene = S.step(state, inp, frame.predicted_display_time_ns)
        if people is None:
            scene = FrameScene()
        t1 = time.perf_counter()
        renderer.upload(scene)
        platform.end_frame(frame, lambda i, view, fbo, size: renderer.draw_view(view, fbo, size))
        t2 = time.perf_counter()
        for t in targets:
            t.read_rgba()
        t3 = time.perf_counter()
        if k >= 3:                       # the first frames compile shaders and warm caches
            core.append((t1 - t0) * 1e3)
            submit.append((t2 - t1) * 1e3)
            readback.append((t3 - t2) * 1e3)
    platform.shutdown()
    med = statistics.median
    total = med([a + b + c for a, b, c in zip(core, submit, readback)])
    return {"core": med(core), "submit": med(submit), "readback": med(readback), "total": total,
            "fps": 1000.0 / total, "draw_calls": renderer.stats["draw_calls_per_view"]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=40)
    args = ap.parse_args(argv)
    from xrdemo.render.context import create_headless_context, gl_info

    ctx = create_headless_context()
    from xrdemo.render.renderer import Framebuffer, Renderer

    renderer = Renderer()
    targets = [Framebuffer(SIZE, samples=4), Framebuffer(SIZE, samples=4)]
    ref = run(None, args.frames, renderer, targets)
    rows = [("empty (reference)", ref)] + [(f"{n} people", run(n, args.frames, renderer, targets))
                                          for n in (2, 8, 16)]
    print(f"headless stereo {SIZE[0]}x{SIZE[1]} per eye, 4x MSAA, on {gl_info()['renderer']}")
    print(f"{'scene':>18} | {'fps':>6} | {'core ms':>7} | {'submit ms':>9} | {'readback ms':>11} | "
          f"{'total ms':>8} | {'x ref':>5} | draws/view")
    print("-" * 92)
    for name, r in rows:
        print(f"{name:>18} | {r['fps']:6.1f} | {r['core']:7.2f} | {r['submit']:9.2f} | "
              f"{r['readback']:11.2f} | {r['total']:8.2f} | {r['total'] / ref['total']:5.2f} | {r['draw_calls']}")
    ctx.release()


if __name__ == "__main__":
    main()

"""Platform CPU time per frame, rendering excluded: from xrWaitFrame returning to xrEndFrame done.

Rows: the simulated runtime (reference), platform/openxr.py on the fake runtime, and
platform/openxr.py on Monado's null compositor (real IPC, real pacing; built by
scripts/build_monado.sh). CPU time is this thread's (time.thread_time_ns), so time blocked in
xrWaitFrame is not counted; the wait call's own CPU is subtracted too.

Run: PYTHONPATH=. python bench/frame_platform.py (not bench/platform.py: that name would shadow the standard library) [--frames 60]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")


class TimedXr:
    """Delegates to an xr module, timing the CPU spent inside wait_frame so it can be excluded."""

    def __init__(self, xr):
        self._xr = xr
        self.wait_cpu_ns = 0

    def __getattr__(self, name):
        return getattr(self._xr, name)

    def wait_frame(self, *a, **kw):
        t0 = time.thread_time_ns()
        try:
            return self._xr.wait_frame(*a, **kw)
        finally:
            self.wait_cpu_ns += time.thread_time_ns() - t0


def measure(platform, frames: int, timed: TimedXr | None = None) -> dict:
    from xrdemo.platform.base import SessionState

    for _ in range(200):   # reach FOCUSED first
        f = platform.begin_frame()
        platform.end_frame(f)
        if f.session_state == SessionState.FOCUSED and f.views:
            break
    samples = []
    for _ in range(frames):
        w0 = timed.wait_cpu_ns if timed else 0
        t0 = time.thread_time_ns()
        f = platform.begin_frame()
        platform.end_frame(f)
        cpu = time.thread_time_ns() - t0 - ((timed.wait_cpu_ns - w0) if timed else 0)
        samples.append(cpu / 1e3)
    samples.sort()
    return {"median_us": samples[len(samples) // 2], "p90_us": samples[int(len(samples) * 0.9)]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=60)
    args = ap.parse_args()

    from xrdemo.testing.fake_xr import FakeConfig, FakeXr
    from xrdemo.platform.openxr import OpenXRPlatform
    from xrdemo.platform.openxr_gl import NullFramebuffers
    from xrdemo.platform.simulated import SimulatedPlatform
    from xrdemo.platform.timeline import Timeline, default_controllers

    rows = []
    tl = Timeline(controllers=default_controllers)
    rows.append(("simulated runtime (reference)", measure(SimulatedPlatform(tl), args.frames * 5)))

    class _Egl:
        display = config = context = None

    fake = TimedXr(FakeXr(tl, FakeConfig()))
    p = OpenXRPlatform(fake, _Egl(), framebuffers=NullFramebuffers(), sleep=lambda s: None, log=lambda m: None)
    rows.append(("openxr.py on the fake runtime", measure(p, args.frames * 5, fake)))
    p.shutdown()

    from xrdemo.testing.monado_service import MonadoService, build_monado
    from xrdemo.platform.xr_import import import_xr
    from xrdemo.render.context import create_headless_context

    with MonadoService(build_monado(), remote=True) as monado:
        monado.apply_env()
        ctx = create_headless_context()
        real = TimedXr(import_xr())
        p = OpenXRPlatform(real, ctx, log=lambda m: None)
        rows.append(("openxr.py on Monado null compositor", measure(p, args.frames, real)))
        p.shutdown()
        ctx.release()

    ref = rows[0][1]["median_us"]
    print(f"{'platform (hands + controllers, no drawing)':44s} {'median µs':>10s} {'p90 µs':>9s} {'× ref':>7s}")
    for name, r in rows:
        print(f"{name:44s} {r['median_us']:10.0f} {r['p90_us']:9.0f} {r['median_us'] / ref:7.1f}")


if __name__ == "__main__":
    main()

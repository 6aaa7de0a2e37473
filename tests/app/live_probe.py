"""Runs app.live_loop with live audio and the microphone on the simulated runtime (EGL), the
way a headset session would, and prints what the app logged and its last status line as JSON.

Used by tests/app/test_live_audio.py against a JACK dummy server; run it in its own process
(PortAudio must start after jackd). Usage: python tests/app/live_probe.py SECONDS
"""

import json
import os
import sys
from dataclasses import replace

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")


def main() -> None:
    seconds = float(sys.argv[1])
    from xrdemo import app
    from xrdemo.config import Config
    from xrdemo.platform.simulated import SimulatedPlatform
    from xrdemo.platform.timeline import Timeline
    from xrdemo.render.context import create_headless_context
    from xrdemo.render.renderer import Framebuffer

    ctx = create_headless_context()
    target = Framebuffer((64, 36), samples=1)

    class PacedPlatform(SimulatedPlatform):
        """The simulated runtime, paced to real time like a display, with a status line."""

        status = ""

        def begin_frame(self):
            import time

            frame = super().begin_frame()
            time.sleep(self.period_ns / 1e9)
            return frame

        def set_status(self, text):
            self.status = text

    platform = PacedPlatform(Timeline(hands=None, refresh_hz=30.0), start_ns=0, view_count=1,
                             view_size=(64, 36), framebuffer_for=lambda i, s: target.draw_fbo)
    cfg = replace(Config(), meeting=replace(Config().meeting, people=4))
    logs = []
    status = app.live_loop(platform, cfg, seconds=seconds, log=logs.append,
                           table_alignment=os.devnull + ".none")
    ctx.release()
    print(json.dumps({"status": status, "logs": logs, "status_line": platform.status}))


if __name__ == "__main__":
    main()

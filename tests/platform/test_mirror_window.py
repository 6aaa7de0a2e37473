"""`xrdemo run --mirror`: the left eye shown in a desktop window of its own process (a real
window on Xvfb), fed every drawn frame; closing it leaves the meeting going."""

import subprocess
import time
from pathlib import Path

import numpy as np

from tests.conftest import quiet_config
from tests.platform.test_desktop import child_env, xvfb  # noqa: F401  (the fixture)
from xrdemo.core import pose as P
from xrdemo.loop.frame_loop import FramePart


def test_the_mirror_window_shows_the_frames_and_closing_it_does_not_end_the_meeting(
        gl, xvfb, monkeypatch, capfd):  # noqa: F811
    from xrdemo import app
    from xrdemo.platform.simulated import SimulatedPlatform
    from xrdemo.platform.timeline import Timeline
    from xrdemo.render.renderer import Framebuffer

    monkeypatch.setenv("DISPLAY", xvfb)
    found = {}

    class CloseTheWindow(FramePart):
        """At frame 30, find the mirror window on the X display and close it (Esc in it)."""

        def after_frame(self, tick):
            if tick.index == 30:
                out = subprocess.run(["xdotool", "search", "--name", "xrdemo mirror"], env=child_env(xvfb),
                                     capture_output=True, text=True, timeout=20)
                found["ids"] = out.stdout.split()
                if found["ids"]:
                    subprocess.run(["xdotool", "windowfocus", "--sync", found["ids"][0]], env=child_env(xvfb),
                                   timeout=20)
                    subprocess.run(["xdotool", "key", "--window", found["ids"][0], "Escape"],
                                   env=child_env(xvfb), timeout=20)

    original = app.FrameLoop
    monkeypatch.setattr(app, "FrameLoop", lambda platform, driver, parts, **kw:
                        original(platform, driver, [*parts, CloseTheWindow()], **kw))
    target = Framebuffer((64, 36), samples=1)
    head = lambda t: (np.array([0.0, 1.2, 1.3]), P.IDENTITY_QUAT.copy())
    platform = SimulatedPlatform(Timeline(head=head, hands=None, refresh_hz=30.0), start_ns=0, view_count=1,
                                 view_size=(64, 36), framebuffer_for=lambda i, s: target.draw_fbo)
    real_begin = platform.begin_frame

    def paced():
        time.sleep(0.04)
        return real_begin()
    platform.begin_frame = paced
    logs = []
    status = app.live_loop(platform, quiet_config(), log=logs.append, max_frames=60, mirror=True,
                           table_alignment=Path("/nonexistent/a.json"))
    assert status == 0, logs
    assert found.get("ids"), "no window titled 'xrdemo mirror' on the display"
    out = capfd.readouterr().out
    assert "mirror: ready" in out, out
    shown = int(out.split("mirror: showed ")[1].split()[0])
    assert shown > 5, out
    assert any("the window was closed; the meeting goes on" in line for line in logs), logs
    assert any("ended after 60 frames" in line for line in logs), logs

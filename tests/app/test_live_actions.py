"""The meeting run from keys and the menu in the live loop: leave, recenter, passthrough, mute
(the simulated runtime scripts the key presses as ACTION events)."""

from pathlib import Path

import numpy as np

from tests.conftest import quiet_config
from xrdemo.core import pose as P
from xrdemo.platform.simulated import SimulatedPlatform
from xrdemo.platform.timeline import ScriptEvent, Timeline

NO_ALIGNMENT = Path("/nonexistent/xrdemo-test/align.json")
MS = 1_000_000


def platform_with(gl, events, stage=False, passthrough=True):
    from xrdemo.render.renderer import Framebuffer

    target = Framebuffer((48, 27), samples=1)
    head = lambda t: (np.array([0.0, 1.15, 0.0] if stage else [0.0, 1.2, 1.3]), P.IDENTITY_QUAT.copy())
    p = SimulatedPlatform(Timeline(head=head, hands=None, refresh_hz=30.0, events=events), start_ns=0,
                          view_count=1, view_size=(48, 27), framebuffer_for=lambda i, s: target.draw_fbo,
                          passthrough=passthrough)
    if stage:
        p.capabilities.reference_space = "stage"
    return p


def test_the_leave_key_ends_the_meeting(gl):
    from xrdemo.app import live_loop

    events = [ScriptEvent(200 * MS, "action", "LEAVE")]
    logs = []
    status = live_loop(platform_with(gl, events), quiet_config(), log=logs.append, max_frames=90,
                       table_alignment=NO_ALIGNMENT)
    assert status == 0
    ended = [line for line in logs if "ended after" in line]
    frames = int(ended[-1].split("after ")[1].split()[0])
    assert 5 <= frames < 12, logs           # ~0.2 s at 30 Hz, long before the 90-frame limit


def test_passthrough_key_on_a_platform_without_it_says_so(gl):
    from xrdemo.app import live_loop

    logs = []
    live_loop(platform_with(gl, [ScriptEvent(100 * MS, "action", "PASSTHROUGH")], passthrough=False), quiet_config(),
              log=logs.append, max_frames=8, table_alignment=NO_ALIGNMENT)
    assert any("passthrough: not available" in line for line in logs), logs


def test_mute_without_a_microphone_is_not_pretended(gl):
    from xrdemo.app import live_loop

    logs = []
    live_loop(platform_with(gl, [ScriptEvent(100 * MS, "action", "MUTE")]), quiet_config(),
              log=logs.append, max_frames=8, table_alignment=NO_ALIGNMENT)
    assert any("not available" in line and "MUTE" in line.upper() for line in logs), logs


def test_push_to_talk_key_opens_the_microphone_only_while_held():
    """T down/up in the window -> TALK events -> the microphone gate (with push_to_talk on)."""
    from dataclasses import replace

    from xrdemo.audio.io import MicInput
    from xrdemo.config import Config
    from xrdemo.loop.frame_loop import Tick
    from xrdemo.loop.live_audio import Microphone
    from xrdemo.platform.base import EventKind, PlatformEvent
    from xrdemo.platform.desktop_input import DesktopControls

    controls = DesktopControls(None)
    controls.key("t", True)
    controls.key("t", True)                         # key repeat: still one press
    controls.key("t", False)
    assert controls.take_talk_changes() == [True, False]
    cfg = Config()
    cfg = replace(cfg, audio=replace(cfg.audio, push_to_talk=True))
    mic = Microphone(cfg, lambda m: None, mic=MicInput(stream=False))
    assert not mic.gate.open

    class F:
        def __init__(self, held):
            self.events = [PlatformEvent(EventKind.TALK, {"held": held})]
    mic.on_frame(Tick(frame=F(True), room=None, t_ns=0, index=0))
    assert mic.gate.open
    mic.on_frame(Tick(frame=F(False), room=None, t_ns=0, index=1))
    assert not mic.gate.open

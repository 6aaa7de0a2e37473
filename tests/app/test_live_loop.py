"""The live frame loop (app.live_loop) on the simulated runtime with a real EGL renderer:
calibration from touches, haptics on table contact, session loss, and exiting."""

from pathlib import Path

import numpy as np

from tests.conftest import quiet_config
from xrdemo.core import hands as H
from xrdemo.core import pose as P
from xrdemo.platform.simulated import SimulatedPlatform
from xrdemo.platform.timeline import ControllerSample, ScriptEvent, Timeline


def make_platform(gl, timeline, size=(96, 54)):
    from xrdemo.render.renderer import Framebuffer

    target = Framebuffer(size, samples=1)
    return SimulatedPlatform(timeline, start_ns=0, view_count=1, view_size=size,
                             framebuffer_for=lambda i, s: target.draw_fbo), target


NO_ALIGNMENT = Path("/nonexistent/xrdemo-test/align.json")   # never read a user's saved fit
REAL_TOP = 0.69      # the real table is lower than the virtual default (0.74) and off-centre


def tapping_hands(t_ns):
    """Both index fingertips tap spots on a real table top at REAL_TOP (holding each 0.5 s)."""
    t = t_ns * 1e-9
    k = int(t / 0.6)
    rng = np.random.default_rng(k)
    pos = np.zeros((2, 26, 3))
    for hand, side in ((0, -1), (1, 1)):
        spot = np.array([0.3 + side * rng.uniform(0.1, 0.6), REAL_TOP, 0.2 + rng.uniform(-0.4, 0.4)])
        lift = max(0.0, 0.1 - (t - 0.6 * k)) * 0.8                       # comes down, then rests
        pos[hand] = spot + [0, lift, 0]
    rot = np.zeros((2, 26, 4))
    rot[..., 3] = 1
    return pos, rot, np.full((2, 26), 0.008)


def test_calibration_from_touches_moves_the_table_and_is_saved(gl, tmp_path):
    from xrdemo.app import live_loop
    from xrdemo.alignment import TableAlignment

    head = lambda t: (np.array([0.3, 1.2, 1.1]), P.IDENTITY_QUAT.copy())
    platform, _ = make_platform(gl, Timeline(head=head, hands=tapping_hands, refresh_hz=30.0))
    logs = []
    path = tmp_path / "align.json"
    status = live_loop(platform, quiet_config(), log=logs.append, max_frames=150,
                       calibrate_table=4.0, table_alignment=path)
    assert status == 0
    text = "\n".join(logs)
    assert "touch your real table" in text and "real table top at 0.69" in text, text
    al = TableAlignment.from_json(path.read_text())
    assert abs(al.table_height - REAL_TOP) < 0.005
    # the next run picks the saved fit up by itself
    platform, _ = make_platform(gl, Timeline(head=head, hands=None, refresh_hz=30.0))
    logs = []
    live_loop(platform, quiet_config(), log=logs.append, max_frames=3, table_alignment=path)
    assert any("table alignment: using" in line for line in logs)


def test_controller_hands_touching_the_table_pulse_the_controller(gl):
    from xrdemo.app import live_loop

    def grips(t_ns):
        t = t_ns * 1e-9
        y = 0.74 + 0.05 + max(0.0, 0.25 - 0.2 * t)          # lower the hands onto the table
        q = np.tile(P.quat_from_yaw_pitch_roll(0.0, -0.2), (2, 1))
        pos = np.array([[-0.2, y, 0.75], [0.2, y, 0.75]])
        return ControllerSample(grip_position=pos, grip_orientation=q, aim_position=pos,
                                aim_orientation=q, trigger=np.zeros(2), squeeze=np.zeros(2),
                                thumbstick=np.zeros((2, 2)), thumbstick_touch=np.zeros(2, bool))

    head = lambda t: (np.array([0.0, 1.2, 1.3]), P.IDENTITY_QUAT.copy())
    platform, _ = make_platform(gl, Timeline(head=head, hands=None, controllers=grips, refresh_hz=30.0))
    live_loop(platform, quiet_config(), log=lambda s: None, max_frames=90,
              table_alignment=NO_ALIGNMENT)
    assert len(platform.haptic_log) >= 1, "no haptic pulse when the hands met the table"
    hands = {h for _, h, _, _ in platform.haptic_log}
    assert hands <= {0, 1}


def test_session_loss_ends_the_loop_with_a_message(gl):
    from xrdemo.app import live_loop

    tl = Timeline(hands=None, refresh_hz=30.0, events=[ScriptEvent(500_000_000, "loss_pending")])
    platform, _ = make_platform(gl, tl)
    logs = []
    status = live_loop(platform, quiet_config(), log=logs.append, max_frames=100,
                       table_alignment=NO_ALIGNMENT)
    assert status == 3
    assert any("lost" in line for line in logs)
    assert platform.frames_submitted < 100


def test_auto_carries_on_in_the_desktop_when_the_headset_session_is_lost(gl, monkeypatch):
    """A headset (here a simulated runtime calling itself openxr) loses its session mid-meeting;
    under auto the app says so and continues on the desktop platform."""
    from xrdemo import app
    from xrdemo.platform import factory

    made = []

    def fake_create(name, log=None, options=None, build_headless=True):
        if name == "auto":
            tl = Timeline(hands=None, refresh_hz=30.0, events=[ScriptEvent(300_000_000, "loss_pending")])
            p, _ = make_platform(gl, tl)
            p.capabilities.name = "openxr"
            made.append(p)
            return p, "platform openxr"
        assert name == "desktop"
        tl = Timeline(hands=None, refresh_hz=30.0, events=[ScriptEvent(200_000_000, "exit")])
        p, _ = make_platform(gl, tl)
        p.capabilities.name = "desktop"
        made.append(p)
        return p, "desktop: requested"

    monkeypatch.setattr(factory, "create_platform", fake_create)
    logs = []
    status = app.run("auto", quiet_config(), log=logs.append, table_alignment=NO_ALIGNMENT)
    text = "\n".join(logs)
    assert "carrying on in the desktop simulator" in text, text
    assert len(made) == 2 and made[1].frames_submitted > 0
    assert status == 0


def test_the_live_loop_joins_a_networked_meeting_and_sees_and_is_seen(gl, monkeypatch):
    """`run --join` on a live platform: the loop sends its person and shows the others."""
    import threading
    import time

    from xrdemo.net import room_link as netloop
    from xrdemo.app import live_loop
    from xrdemo.net.server import ServerThread
    from xrdemo.net.session import NetMeeting

    server = ServerThread(port=0, capacity=4)
    server.start()
    peer = NetMeeting(f"127.0.0.1:{server.port}/live", "Peer", log=lambda *_: None)
    peer.connect()
    stop = threading.Event()
    peer_head = np.array([0.4, 1.15, -0.6])

    def peer_loop():
        rest = H.blend_poses(np.eye(len(H.POSE_NAMES))[[0, 0]])
        while not stop.is_set():
            peer.send_pose(peer_head, P.quat_from_yaw_pitch_roll(0.5), rest + peer_head - [0, 0.4, 0.3],
                           [True, True], 0.6, -1)
            peer.poll()
            time.sleep(1 / 60)

    thread = threading.Thread(target=peer_loop, daemon=True)
    thread.start()
    seen, peer_view = [], []
    original = netloop.RoomLink.before_step

    def spy(self, state, now_ns=None, **kw):
        rem = original(self, state, now_ns, **kw)
        seen.append((rem.present.copy(), rem.head_pos.copy(), state.people.names))
        theirs = peer.remote_input()
        peer_view.append((theirs.present.copy(), theirs.head_pos.copy()))
        time.sleep(0.01)                       # the simulated runtime does not wait for vsync
        return rem

    monkeypatch.setattr(netloop.RoomLink, "before_step", spy)

    def head(t_ns):
        return np.array([0.0, 1.2, 0.9]), P.quat_from_yaw_pitch_roll(0.0)

    platform, _ = make_platform(gl, Timeline(head=head))
    logs = []
    try:
        status = live_loop(platform, quiet_config(), log=logs.append, max_frames=120,
                           table_alignment=NO_ALIGNMENT, join=f"127.0.0.1:{server.port}/live", name="Live")
    finally:
        stop.set()
        thread.join(timeout=5)
        peer.close()
        server.stop()
    assert status == 0
    assert any("joined" in line and "seat 1" in line for line in logs), logs
    present, heads, names = seen[-1]
    assert present[peer.seat] and names[peer.seat] == "Peer"
    assert np.linalg.norm(heads[peer.seat] - peer_head) < 0.01
    # ... and the peer saw the live participant's head where its runtime put it.
    their_present, their_heads = peer_view[-1]
    live = [s for s in range(4) if s != peer.seat and their_present[s]]
    assert len(live) == 1
    assert np.linalg.norm(their_heads[live[0]] - [0.0, 1.2, 0.9]) < 0.01


def test_audio_output_null_keeps_the_meeting_silent_and_says_so(gl):
    """[audio] output = "null" is read: no audio process is started, in one line."""
    from dataclasses import replace

    from xrdemo.app import live_loop
    from xrdemo.config import Config

    cfg = Config()
    cfg = replace(cfg, audio=replace(cfg.audio, output="null"), meeting=replace(cfg.meeting, people=3))
    head = lambda t: (np.array([0.0, 1.2, 1.3]), P.IDENTITY_QUAT.copy())
    platform, _ = make_platform(gl, Timeline(head=head, hands=None, refresh_hz=30.0))
    logs = []
    assert live_loop(platform, cfg, log=logs.append, max_frames=3, table_alignment=NO_ALIGNMENT) == 0
    assert any('audio: off ([audio] output = "null")' in line for line in logs), logs
    assert not any("audio: playing" in line or "no sound device" in line for line in logs), logs

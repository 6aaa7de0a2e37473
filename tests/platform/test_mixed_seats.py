"""Mixed seats for real: a Monado headset session (in this process), a desktop window under Xvfb
and a headless participant (both `xrdemo run` processes) in one room served by `xrdemo serve`.
Each sees the other two in their own seats (not over the table) — read from what each recorded
(`--record`, replayed through the core) —, the desktop person hears the headless participant's
voice from where it sits (the louder ear is on its side), and the headset wearer leaning toward
the desktop neighbour makes a whisper pair on both of their machines."""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import quiet_config
from tests.platform.test_desktop import child_env, xvfb  # noqa: F401  (the fixture)
from xrdemo.config import Config
from xrdemo.core import pose as P
from xrdemo.core.seating import seat_transform
from xrdemo.meetings import RoomShape, meeting_state
from xrdemo.testing.monado_remote import RemoteDriver

REPO = Path(__file__).resolve().parents[2]
XRDEMO = [sys.executable, "-m", "xrdemo"]
SEATED = np.array([0.0, 1.15, 0.0])          # the wearer sits at the stage origin, facing -Z


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, timeout_s=30.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        assert proc.poll() is None, proc.stdout.read()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("xrdemo serve did not listen")


def send_head(driver, position, q):
    data = type(driver.latest).from_buffer_copy(bytes(driver.latest))
    c = data.head.center
    c.position.x, c.position.y, c.position.z = (float(v) for v in position)
    c.orientation.x, c.orientation.y, c.orientation.z, c.orientation.w = (float(v) for v in q)
    data.head.per_view_data_valid = False
    driver.send(data)


def replayed(path: Path):
    """Every replayed frame's meeting state from a recording."""
    from xrdemo.replay.fileformat import RecordingReader
    from xrdemo.replay.player import Replayer

    with RecordingReader(path) as reader:
        return [f.state for f in Replayer(reader).frames()]


def test_headset_window_and_headless_meet_in_their_seats_and_the_neighbours_whisper(
        monado, egl, xvfb, tmp_path, monkeypatch):  # noqa: F811
    from xrdemo import app
    from xrdemo.loop.room import RoomPart
    from xrdemo.platform.openxr import OpenXRPlatform
    from xrdemo.platform.xr_import import import_xr

    port = free_port()
    url = f"127.0.0.1:{port}/mixed"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    server = subprocess.Popen([*XRDEMO, "serve", "--port", str(port), "--capacity", "3"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    others = []
    try:
        wait_for_port(port, server)
        common = ["--join", url, "--seconds", "30"]
        others.append(subprocess.Popen(
            [*XRDEMO, "run", "--platform", "desktop", *common, "--name", "Dee", "--seat", "1",
             "--record", str(tmp_path / "dee.xrrec")], env=child_env(xvfb), cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        others.append(subprocess.Popen(
            [*XRDEMO, "run", "--platform", "headless", *common, "--name", "Hal", "--seat", "2",
             "--video", str(tmp_path / "hal.mp4"), "--record", str(tmp_path / "hal.xrrec")], env=env,
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))

        # The headset wearer: seated at the stage origin; once all three are in the room, leans
        # toward the desktop neighbour (seat 1) for 4 s, then sits back.
        room = meeting_state(Config(), RoomShape(3, 0))
        lean_stage = P.quat_rotate(P.quat_conj(seat_transform(SEATED, P.IDENTITY_QUAT, room.seat_pos[0],
                                                              float(room.seat_yaw[0]))[1]),
                                   room.seat_pos[1] - room.seat_pos[0])
        lean_stage[1] = 0.0
        gap = np.linalg.norm(lean_stage)
        lean_to = SEATED + lean_stage / gap * (gap - 0.25)     # heads 25 cm apart
        links, stop = [], threading.Event()
        original = app.FrameLoop

        def watched(platform, driver, parts, **kw):
            links.extend(p for p in parts if isinstance(p, RoomPart))
            return original(platform, driver, parts, **kw)
        monkeypatch.setattr(app, "FrameLoop", watched)

        def wearer(driver):
            send_head(driver, SEATED, P.IDENTITY_QUAT)
            while not stop.is_set() and not (links and links[0].net.present().sum() == 3):
                time.sleep(0.1)
            time.sleep(2.0)
            t0 = time.monotonic()
            while not stop.is_set():
                t = time.monotonic() - t0
                a = float(np.clip(min(t, 5.0 - t), 0.0, 1.0))       # in over 1 s, hold, out
                send_head(driver, SEATED + a * (lean_to - SEATED), P.IDENTITY_QUAT)
                if t > 6.0:
                    break
                time.sleep(0.05)

        egl.make_current()
        with RemoteDriver(port=4242, host="127.0.0.1") as driver:
            thread = threading.Thread(target=wearer, args=(driver,), daemon=True)
            thread.start()
            platform = OpenXRPlatform(import_xr(), egl, log=lambda m: None)
            logs = []
            try:
                status = app.live_loop(platform, quiet_config(), log=logs.append, seconds=22.0,
                                       join=url, name="Hugo", want_seat=0,
                                       record=tmp_path / "hugo.xrrec",
                                       table_alignment=Path("/nonexistent/xrdemo/align.json"))
            finally:
                stop.set()
                thread.join(5)
        assert status == 0, logs
        for proc in others:
            out, _ = proc.communicate(timeout=120)
            assert proc.returncode == 0, out[-3000:]
    finally:
        for proc in [*others, server]:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)

    seats = {"hugo": 0, "dee": 1, "hal": 2}
    for who, k in seats.items():
        states = replayed(tmp_path / f"{who}.xrrec")
        together = [s for s in states if s.people.present is not None and s.people.present.sum() == 3]
        assert len(together) > 30, f"{who} was hardly ever in the room with both others"
        last = together[-1]
        assert last.local == k, (who, last.local)
        radius = last.table.radius
        for j in seats.values():
            if j == k:
                continue
            head = last.people.head_pos[j]
            assert np.hypot(head[0], head[2]) > radius, f"{who} sees seat {j} over the table: {head}"
            assert np.linalg.norm(head - last.seat_pos[j]) < 0.6, f"{who} sees seat {j} away from it: {head}"
        if who != "hal":
            paired = [s for s in states if s.frame is not None and
                      any(set(map(int, p)) == {0, 1} for p in s.frame.whisper_pairs)]
            assert paired, f"{who} never saw the headset and the desktop neighbour whisper"

    # The desktop person hears the headless participant (the only one with a voice here) from
    # its seat: its binaural sound, replayed from the desktop's seat, is louder on Hal's side.
    from xrdemo.replay.output import replay_headless
    from xrdemo.replay.player import view_pose

    replay_headless(tmp_path / "dee.xrrec", tmp_path / "dee-hears.mp4", seat=1, size=(64, 36),
                    progress=False, log=lambda m: None)
    import av

    with av.open(str(tmp_path / "dee-hears.mp4")) as c:
        audio = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
    left, right = (float(np.sqrt(np.mean(ch.astype(np.float64) ** 2))) for ch in audio[:2])
    assert max(left, right) > 1e-3, "the desktop person heard nothing"
    states = [s for s in replayed(tmp_path / "dee.xrrec") if s.people.present is not None
              and s.people.present[2]]
    mid = states[len(states) // 2]
    head_pos, head_rot = mid.people.head_pos[1], mid.people.head_rot[1]
    to_hal = P.quat_rotate(P.quat_conj(head_rot), mid.people.head_pos[2] - head_pos)
    ild_db = 20 * np.log10(right / left)
    assert abs(ild_db) > 2.0 and (ild_db > 0) == (to_hal[0] > 0), (ild_db, to_hal)

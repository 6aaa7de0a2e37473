"""A meeting you can hold, as people would use it: two desktop windows under Xvfb (real X key
presses through xdotool, real JACK dummy sound with a microphone) and a headless participant in one
`xrdemo serve` room, with an observer in the room that reads what everyone else sees. Dee raises
her hand, mutes, turns the volume down, moves to the next free seat, leaves and rejoins; each step
reaches the others."""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.platform.test_desktop import child_env, xdo, xvfb  # noqa: F401  (the fixture)
from xrdemo.net.server import ServerThread
from xrdemo.net.session import NetMeeting

REPO = Path(__file__).resolve().parents[2]
XRDEMO = [sys.executable, "-m", "xrdemo"]


def wait(cond, timeout_s=30.0, every=0.1):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(every)
    return False


class Observer:
    """A participant in the room (in this process) that keeps polling what the room says."""

    def __init__(self, url):
        self.net = NetMeeting(url, "Obs", log=lambda *_: None)
        self.net.connect()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.net.poll()
            time.sleep(0.05)

    def seat_of(self, name):
        names = self.net.names()
        return names.index(name) if name in names else -1

    def status_of(self, name):
        k = self.seat_of(name)
        return self.net.statuses()[k] if k >= 0 else {}

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.net.close()


def test_raise_hand_mute_volume_seat_leave_and_rejoin_from_the_window(xvfb, jack_server, tmp_path):  # noqa: F811
    if not __import__("shutil").which("xdotool"):
        pytest.fail("xdotool is not installed (apt-get install xdotool)")
    server = ServerThread(port=0, capacity=6).start()
    url = f"127.0.0.1:{server.port}/hold"
    procs = {}
    obs = None
    try:
        obs = Observer(url)                                   # seat 0
        win_env = {**child_env(xvfb), **{k: v for k, v in jack_server.items() if k.startswith("JACK")}}
        for name in ("Dee", "Eve"):
            procs[name] = subprocess.Popen(
                [*XRDEMO, "run", "--platform", "desktop", "--join", url, "--name", name, "--seconds", "60"],
                env=win_env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            assert wait(lambda: obs.seat_of(name) >= 0, 60), f"{name}'s window never joined"
        procs["Hal"] = subprocess.Popen(
            [*XRDEMO, "run", "--platform", "headless", "--join", url, "--name", "Hal", "--seconds", "40",
             ], env=dict(os.environ, PYTHONPATH=str(REPO)), cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert wait(lambda: obs.seat_of("Hal") >= 0, 60), "the headless participant never joined"
        assert wait(lambda: obs.status_of("Dee").get("kind") == "desktop"
                    and obs.status_of("Hal").get("kind") == "headless"), (obs.status_of("Dee"), obs.status_of("Hal"))

        assert wait(lambda: xdo(xvfb, "search", "--name", "Dee in hold") != "", 30)
        dee_win = xdo(xvfb, "search", "--name", "Dee in hold").split()[0]   # her window's title
        xdo(xvfb, "windowfocus", "--sync", dee_win)

        def press(key):
            xdo(xvfb, "key", "--window", dee_win, key)

        press("j")
        assert wait(lambda: obs.status_of("Dee").get("hand") is True), obs.status_of("Dee")
        press("m")
        assert wait(lambda: obs.status_of("Dee").get("muted") is True), obs.status_of("Dee")
        press("minus")                                       # volume: Dee's own ears, said in her log
        seat_before = obs.seat_of("Dee")
        press("n")
        assert wait(lambda: obs.seat_of("Dee") not in (-1, seat_before)), "N did not move Dee"
        press("l")
        assert wait(lambda: obs.seat_of("Dee") == -1), "L did not leave the room"
        press("n")
        assert wait(lambda: obs.seat_of("Dee") >= 0), "N did not rejoin"
        press("Escape")
        out, _ = procs["Dee"].communicate(timeout=60)
        assert procs["Dee"].returncode == 0, out[-3000:]
        assert "microphone: listening" in out and "microphone: muted" in out, out[-3000:]
        assert "volume: " in out and "you left the room" in out and "you sit in seat" in out, out[-3000:]
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
                try:
                    p.communicate(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
        if obs is not None:
            obs.close()
        server.stop()

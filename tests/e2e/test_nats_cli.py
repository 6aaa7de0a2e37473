"""Rooms over NATS from the command line: `xrdemo serve --nats` and headless `run --join nats://`."""

import re
import subprocess

import pytest
from e2eutil import headless_pair

from xrdemo.net.natsd import NatsServerProcess
from xrdemo.replay.fileformat import RecordingReader


@pytest.fixture
def nats_room_server(xrdemo_cmd, tmp_path):
    """A nats-server and one `xrdemo serve --nats --record srv` on it; yields the NATS URL; stops
    both, and checks the server's log and recording."""
    (tmp_path / "srv").mkdir()
    with NatsServerProcess() as natsd:
        proc = subprocess.Popen([xrdemo_cmd, "serve", "--nats", natsd.url, "--capacity", "3",
                                 "--record", "srv"],
                                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            line = proc.stdout.readline()
            assert "serving rooms over NATS" in line, line
            yield natsd.url
        finally:
            proc.send_signal(2)
            out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, out
        assert "'Ada' joined 'e2e'" in out and "'Alan' joined 'e2e'" in out, out
        assert "recording room 'e2e' to srv/e2e-" in out, out
        (recording,) = (tmp_path / "srv").glob("e2e-*.xrrec")
        with RecordingReader(recording) as reader:          # what the room server forwarded
            assert reader.meta["room"] == "e2e" and reader.meta["server"] == natsd.url
            assert reader.chunks and reader.damage is None


def test_two_headless_participants_meet_in_a_room_over_nats(xrdemo_cmd, nats_room_server, tmp_path):
    outs = headless_pair(xrdemo_cmd, f"{nats_room_server}/e2e", tmp_path, 5,
                         extra=lambda name: ("--record", f"{name}.xrrec"))
    for out in outs:
        assert re.search(r"joined nats://127\.0\.0\.1:\d+/e2e as .* in seat [0-2]", out), out
        assert (tmp_path / "Ada.mp4").stat().st_size > 10_000
    with RecordingReader(tmp_path / "Ada.xrrec") as reader:       # the room as Ada's seat saw it
        assert reader.chunks and reader.damage is None and reader.duration_s > 3


def test_joining_a_nats_that_is_not_there_says_so_in_one_line(run_xrdemo):
    r = run_xrdemo("run", "--platform", "headless", "--join", "nats://127.0.0.1:9/nowhere",
                   "--seconds", "1", timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "cannot join nats://127.0.0.1:9/nowhere: no NATS server answers" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr

"""Meeting recordings from the command line: `run --record`, `replay --info`, headless replay to
an MP4 (also from a point in the middle), and damaged, cut-off or too-new files."""

import re
import struct
import subprocess

import pytest


@pytest.fixture(scope="module")
def recorded(xrdemo_cmd, tmp_path_factory):
    """A headless participant in a served room, recording 3 s (the server records the room too);
    yields the folder."""
    folder = tmp_path_factory.mktemp("replay")
    (folder / "srv").mkdir()
    server = subprocess.Popen([xrdemo_cmd, "serve", "--host", "127.0.0.1", "--port", "0", "--record", "srv"],
                              cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        m = re.search(r":(\d+) ", server.stdout.readline())
        assert m
        r = subprocess.run([xrdemo_cmd, "run", "--platform", "headless", "--join", f"127.0.0.1:{m.group(1)}/rec",
                            "--name", "Ada", "--seconds", "3", "--video", "live.mp4", "--record", "meeting.xrrec"],
                           cwd=folder, capture_output=True, text=True, timeout=240)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        server.send_signal(2)
        out, _ = server.communicate(timeout=20)
    assert server.returncode == 0, out
    assert "recording every room to srv" in out and "recording room 'rec' to srv/rec-" in out, out
    assert (folder / "meeting.xrrec").stat().st_size > 1000
    return folder


def _frames(path):
    import av

    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def test_info_describes_the_recording(recorded, xrdemo_cmd):
    r = subprocess.run([xrdemo_cmd, "replay", "meeting.xrrec", "--info"], cwd=recorded, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "participant recording" in r.stdout and "room rec at 127.0.0.1:" in r.stdout
    assert "as 'Ada'" in r.stdout and "indexed" in r.stdout
    assert re.search(r"90 frame", r.stdout), r.stdout


def test_replay_headless_writes_the_meeting_from_a_point_in_it(recorded, xrdemo_cmd):
    r = subprocess.run([xrdemo_cmd, "replay", "meeting.xrrec", "--platform", "headless", "--start", "1.5",
                        "--recording", "part.mp4"], cwd=recorded, capture_output=True, text=True,
                       timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "after fast-forwarding" in r.stdout, r.stdout
    ahead = [line for line in r.stderr.splitlines() if line.startswith("fast-forwarding to 1.5 s [")]
    assert ahead and "100.0%" in ahead[-1], r.stderr            # progress while it jumps
    from xrdemo.replay import records as R
    from xrdemo.replay.fileformat import RecordingReader

    with RecordingReader(recorded / "meeting.xrrec") as reader:   # (the file starts at the join)
        after = sum(1 for rec in reader.records() if rec.rtype == R.FRAME and rec.t_ns >= reader.t0_ns + 1.5e9)
    n = _frames(recorded / "part.mp4")
    assert 20 < after < 90 and n == after, (n, after)           # one video frame per recorded frame


def test_a_cut_off_recording_plays_its_intact_part_and_says_where(recorded, xrdemo_cmd):
    data = (recorded / "meeting.xrrec").read_bytes()
    cut = recorded / "cut.xrrec"
    cut.write_bytes(data[:int(len(data) * 0.6)])
    r = subprocess.run([xrdemo_cmd, "replay", "cut.xrrec", "--platform", "headless", "--recording", "cut.mp4",
                        "--quiet", "--no-audio"], cwd=recorded, capture_output=True, text=True, timeout=240)
    assert r.returncode == 1, r.stdout + r.stderr
    assert re.search(r"cut\.xrrec: truncated.* at byte \d+", r.stderr), r.stderr
    assert "Traceback" not in r.stderr
    assert 20 <= _frames(recorded / "cut.mp4") < 90


def test_a_recording_from_a_newer_xrdemo_says_so(recorded, xrdemo_cmd):
    data = bytearray((recorded / "meeting.xrrec").read_bytes())
    struct.pack_into("<H", data, 8, 7)
    (recorded / "newer.xrrec").write_bytes(bytes(data))
    r = subprocess.run([xrdemo_cmd, "replay", "newer.xrrec", "--platform", "headless"], cwd=recorded,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "made by a newer xrdemo: format 7, this reads up to 1" in r.stderr, r.stderr


def test_bad_replay_arguments_fail_in_one_line(recorded, xrdemo_cmd):
    r = subprocess.run([xrdemo_cmd, "replay", "meeting.xrrec", "--start", "-1"], cwd=recorded,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--start" in r.stderr
    r = subprocess.run([xrdemo_cmd, "replay", "meeting.xrrec", "--start", "99", "--platform", "headless"],
                       cwd=recorded, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "outside meeting.xrrec" in r.stderr, r.stderr
    r = subprocess.run([xrdemo_cmd, "replay", "nothing.xrrec"], cwd=recorded, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and "nothing.xrrec does not exist" in r.stderr, r.stderr
    r = subprocess.run([xrdemo_cmd, "run", "--platform", "headless", "--record", "x.mp4"], cwd=recorded,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "must end in .xrrec" in r.stderr, r.stderr


def test_the_server_recorded_the_room_and_it_replays(recorded, xrdemo_cmd):
    files = list((recorded / "srv").glob("rec-*.xrrec"))
    assert len(files) == 1
    r = subprocess.run([xrdemo_cmd, "replay", str(files[0]), "--info"], cwd=recorded, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "server recording" in r.stdout, r.stdout + r.stderr
    assert re.search(r"0: Ada \u2713 [0-9A-Z]{4}", r.stdout), r.stdout      # signed join checked
    r = subprocess.run([xrdemo_cmd, "replay", str(files[0]), "--platform", "headless", "--seat", "1",
                        "--video", "srv.mp4", "--quiet", "--size", "96x54"], cwd=recorded,
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "from seat 1" in r.stdout and _frames(recorded / "srv.mp4") >= 60
    r = subprocess.run([xrdemo_cmd, "replay", str(files[0]), "--platform", "headless", "--seat", "9"],
                       cwd=recorded, capture_output=True, text=True, timeout=240)
    assert r.returncode == 1 and "--seat 9 does not exist" in r.stderr, r.stderr


@pytest.fixture(scope="module")
def xvfb():
    """A private Xvfb display (Xvfb picks the number); always stopped."""
    import os
    import select
    import shutil

    if not shutil.which("Xvfb"):
        pytest.fail("Xvfb is not installed (apt-get install xvfb)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 20.0)
        assert ready, "Xvfb did not report a display within 20 s"
        yield ":" + os.read(read_fd, 64).decode().strip()
    finally:
        os.close(read_fd)
        proc.terminate()
        proc.wait(10)


def test_desktop_run_records_and_replays_in_a_window(recorded, xrdemo_cmd, xvfb):
    import os

    env = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}
    env["DISPLAY"] = xvfb
    r = subprocess.run([xrdemo_cmd, "run", "--platform", "desktop", "--seconds", "1.5", "--people", "3",
                        "--record", "desk.xrrec"], cwd=recorded, capture_output=True, text=True, timeout=120,
                       env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "recorded" in r.stdout and "desk.xrrec" in r.stdout, r.stdout
    r = subprocess.run([xrdemo_cmd, "replay", "desk.xrrec", "--info"], cwd=recorded, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "no network: 3 people" in r.stdout, r.stdout + r.stderr
    r = subprocess.run([xrdemo_cmd, "replay", "meeting.xrrec", "--platform", "desktop", "--start", "2.2",
                        "--no-audio"], cwd=recorded, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "replaying meeting.xrrec on" in r.stdout and "desktop" in r.stdout.lower(), r.stdout
    from xrdemo.replay.fileformat import RecordingReader

    with RecordingReader(recorded / "meeting.xrrec") as reader:
        left = reader.duration_s - 2.2
    m = re.search(r"showed (\d+\.\d) s of the meeting \(\d+ frames\) from seat 0", r.stdout)
    assert m and abs(float(m.group(1)) - left) < 0.3, (r.stdout, left)


def test_auto_replays_headless_when_there_is_no_headset_and_no_display(recorded, xrdemo_cmd):
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    r = subprocess.run([xrdemo_cmd, "replay", "meeting.xrrec", "--start", "2.5", "--size", "64x36", "--quiet"],
                       cwd=recorded, capture_output=True, text=True, timeout=240, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no headset and no display, so replaying headless" in r.stdout, r.stdout
    assert "wrote meeting-replay.mp4" in r.stdout and _frames(recorded / "meeting-replay.mp4") > 5

"""Issue 15 item 7 as a user meets it: programs started together in one folder write separate,
good files under names that carry the person and the time; a given name is never replaced
silently."""

import re
import subprocess

import av


def frame_count(path):
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(c.streams.video[0]))


def test_two_recordings_started_together_in_one_folder_write_two_good_files(xrdemo_cmd, tmp_path):
    args = [xrdemo_cmd, "record", "--seconds", "1", "--size", "64x36", "--fps", "10", "--quiet"]
    procs = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    written = sorted(tmp_path.glob("xrdemo-*.mp4"))
    assert len(written) == 2
    for path in written:
        assert re.fullmatch(r"xrdemo-.+-\d{4}-\d\d-\d\d-\d{4}(-2)?\.mp4", path.name), path.name
        assert frame_count(path) == 10
    said = sorted(re.search(r"wrote (\S+):", o[0]).group(1) for o in outs)
    assert said == [p.name for p in written]


def test_a_given_output_name_is_never_replaced_silently(run_xrdemo, tmp_path):
    (tmp_path / "meeting.png").write_bytes(b"keep me")
    res = run_xrdemo("snapshot", "--people", "2", "--size", "64x36", "--out", "meeting.png")
    assert res.returncode == 1 and res.stderr.count("\n") == 1
    assert "meeting.png exists; give another --out name, or add --overwrite" in res.stderr
    assert (tmp_path / "meeting.png").read_bytes() == b"keep me"
    res = run_xrdemo("snapshot", "--people", "2", "--size", "64x36", "--out", "meeting.png", "--overwrite")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "meeting.png").read_bytes()[:4] == b"\x89PNG"


def test_snapshot_default_name_and_config(run_xrdemo, tmp_path):
    (tmp_path / "m.toml").write_text("[meeting]\npeople = 3\nseat = 1\n[display]\nwidth = 96\nheight = 54\n")
    res = run_xrdemo("snapshot", "--config", "m.toml")
    assert res.returncode == 0, res.stderr
    written = list(tmp_path.glob("xrdemo-*.png"))
    assert len(written) == 1 and f"wrote {written[0].name} (96x54, 3 people, seat 1" in res.stdout


def test_a_failed_run_leaves_no_empty_file(run_xrdemo, tmp_path):
    res = run_xrdemo("record", "--seconds", "0.01", "--fps", "10")      # shorter than one frame
    assert res.returncode == 1 and "shorter than one frame" in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_calibrate_table_without_a_headset_says_it_needs_one(run_xrdemo):
    res = run_xrdemo("run", "--platform", "desktop", "--calibrate-table", "5")
    assert res.returncode == 1 and "--calibrate-table needs a headset" in res.stderr


def test_readme_headless_participants_in_one_folder_write_two_good_files(xrdemo_cmd, tmp_path):
    """README's example as written (no --name, no --recording), twice in one folder: two files,
    both good, named after the login name; both joined under it."""
    from xrdemo.outputs import file_safe, login_name

    server = subprocess.Popen([xrdemo_cmd, "serve", "--host", "127.0.0.1", "--port", "0", "--capacity", "3"],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        port = re.search(r":(\d+) ", server.stdout.readline()).group(1)
        cmd = [xrdemo_cmd, "run", "--platform", "headless", "--join", f"127.0.0.1:{port}/team", "--seconds", "3"]
        procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for _ in range(2)]
        outs = [p.communicate(timeout=240)[0] for p in procs]
    finally:
        server.send_signal(2)
        server.communicate(timeout=20)
    assert all(p.returncode == 0 for p in procs), outs
    me = file_safe(login_name())
    written = sorted(tmp_path.glob(f"xrdemo-{me}-*.mp4"))
    assert len(written) == 2, outs
    for path in written:
        assert frame_count(path) >= 3 * 30 - 1
    for out in outs:
        assert f"as {login_name()!r}" in out, out

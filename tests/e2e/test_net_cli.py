"""Networked meetings from the command line: `xrdemo serve` and headless `xrdemo run --join`."""

import re
import subprocess

import numpy as np
import pytest
from e2eutil import headless_pair

@pytest.fixture
def server(xrdemo_cmd, tmp_path):
    """`xrdemo serve --port 0 --capacity 3`; yields its port, stops it with Ctrl-C afterwards."""
    proc = subprocess.Popen([xrdemo_cmd, "serve", "--host", "127.0.0.1", "--port", "0", "--capacity", "3"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()
    m = re.search(r":(\d+) ", line)
    assert m, f"serve did not say where it listens: {line!r}"
    yield int(m.group(1))
    proc.send_signal(2)
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out


def _audio(path):
    import av

    with av.open(str(path)) as c:
        return np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)


def test_two_headless_participants_see_and_hear_each_other(xrdemo_cmd, server, tmp_path):
    outs = headless_pair(xrdemo_cmd, f"127.0.0.1:{server}/e2e", tmp_path, 7)
    for out in outs:
        assert re.search(r"joined .* in seat [0-2]", out), out
    for name in ("Ada", "Alan"):
        audio = _audio(tmp_path / f"{name}.mp4")
        assert audio.shape[0] == 2 and audio.shape[1] >= 6 * 48000
        # The other talks in turns (3 s on, 3 s off): their voice is there, and so are the pauses.
        half_seconds = audio[:, :audio.shape[1] // 24000 * 24000].reshape(2, -1, 24000)
        rms = np.sqrt(np.mean(half_seconds ** 2, axis=(0, 2)))
        assert rms.max() > 0.01, rms
        assert rms.min() < 0.1 * rms.max(), rms


def test_joining_a_server_that_is_not_there_says_so(run_xrdemo):
    r = run_xrdemo("run", "--platform", "headless", "--join", "127.0.0.1:9/nowhere", "--seconds", "1",
                   timeout=60)
    assert r.returncode == 1
    assert "127.0.0.1:9" in r.stderr + r.stdout
    assert "Traceback" not in r.stderr


def test_a_bad_join_address_is_refused_in_one_line(run_xrdemo):
    r = run_xrdemo("run", "--platform", "headless", "--join", "127.0.0.1:99999/room", timeout=60)
    assert r.returncode in (1, 2)
    assert "port" in (r.stderr + r.stdout).lower()
    assert "Traceback" not in r.stderr


def test_a_mistyped_identity_file_is_refused_not_made(run_xrdemo, tmp_path):
    """--identity names a key the user has: a path that does not exist is a typo, not a wish for
    a new identity (that would quietly make a stranger of them); `xrdemo id --identity` makes one."""
    missing = tmp_path / "keys" / "me.kye"
    r = run_xrdemo("run", "--platform", "headless", "--join", "127.0.0.1:9/room", "--identity", str(missing),
                   timeout=60)
    assert r.returncode in (1, 2) and "Traceback" not in r.stderr
    assert f"--identity {missing}: no such file" in r.stderr and f"xrdemo id --identity {missing}" in r.stderr
    assert not missing.exists() and not missing.parent.exists()
    made = run_xrdemo("id", "--identity", str(missing), timeout=60)
    assert made.returncode == 0 and missing.exists(), made.stdout + made.stderr

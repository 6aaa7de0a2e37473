"""The real callback path: sounddevice on a JACK dummy server (a paced device with no sound card)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def jack_server():
    """Start `jackd -d dummy` (48 kHz, 256 frames) with a private server name; stop it afterwards.

    jackd asks for real-time scheduling (its default) and runs without it where that is not allowed.
    """
    jackd = shutil.which("jackd")
    assert jackd, "jackd not installed (Debian package jackd2)"
    name = f"xrdemo-test-{os.getpid()}"
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, JACK_NO_AUDIO_RESERVATION="1")
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([jackd, "-n", name, "-d", "dummy", "-r", "48000", "-p", "256"],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 10
    ready = False
    while time.monotonic() < deadline and proc.poll() is None:
        if subprocess.run(["jack_lsp"], env=env, capture_output=True).returncode == 0:
            ready = True
            break
        time.sleep(0.2)
    if not ready:
        proc.kill()
        log.seek(0)
        pytest.fail(f"jackd did not start: {log.read().decode(errors='replace')[-500:]}")
    yield env
    proc.terminate()  # only after the client process (below) has exited
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_live_stream_on_jack_has_no_underruns_under_cpu_load(jack_server):
    env = dict(jack_server, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, str(ROOT / "tests/audio/jack_stream_probe.py"), "3"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    stats = json.loads(result.stdout.strip().splitlines()[-1])
    assert stats["callbacks"] > 0.8 * 3 * 48000 / 256  # the device really paced ~562 blocks
    assert stats["device_underruns"] == 0, stats
    assert stats["ring_underruns"] == 0, stats
    assert stats["fifo_frames"] >= 2 * 256  # rendered ahead into PortAudio's FIFO, not in a callback
    assert stats["load_loops"] > 0.8 * 3 * 90  # the busy 90 Hz "render loop" really ran
    assert stats["wrong_sizes"] == 0
    assert stats["filter_updates"] > 100  # head poses did flow through the handoff

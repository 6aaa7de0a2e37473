"""Test-wide settings and shared fixtures.

The suite is headless, so PyOpenGL binds to EGL (set before any GL import); tests that need a
window (the desktop simulator under Xvfb) run it in a subprocess with its own environment.
``jack_server``: a JACK dummy server (a paced audio device with no sound card) for tests of the
real audio path.
"""

import os

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
# Networked tests (and the xrdemo processes they start) use a throwaway identity key, never the
# user's own (~/.config/xrdemo/identity.key); removed at exit.
import atexit as _atexit  # noqa: E402
import shutil as _shutil  # noqa: E402
import tempfile as _tempfile  # noqa: E402

if not os.environ.get("XRDEMO_IDENTITY"):
    _identity_dir = _tempfile.mkdtemp(prefix="xrdemo-test-identity-")
    os.environ["XRDEMO_IDENTITY"] = os.path.join(_identity_dir, "identity.key")
    _atexit.register(_shutil.rmtree, _identity_dir, True)


import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture
def jack_server():
    """Start `jackd -d dummy` (48 kHz, 256 frames) with a private server name; stop it afterwards.

    jackd asks for real-time scheduling (its default) and runs without it where that is not allowed.
    Yields the environment (JACK_DEFAULT_SERVER) that clients need to find it.
    """
    jackd = shutil.which("jackd")
    assert jackd, "jackd not installed (Debian package jackd2)"
    name = f"xrdemo-test-{os.getpid()}-{time.monotonic_ns() % 100000}"
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
    proc.terminate()  # only after the client processes (below) have exited
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def gl():
    """A headless GL context (EGL) for the tests of one module; released after them."""
    from xrdemo.render.context import create_headless_context

    ctx = create_headless_context()
    yield ctx
    ctx.release()


def quiet_config(people: int = 4):
    """The default configuration with sound off and ``people`` at the table (for live-loop and
    replay tests that need no audio device)."""
    from dataclasses import replace

    from xrdemo.config import Config

    cfg = Config()
    return replace(cfg, audio=replace(cfg.audio, enabled=False), meeting=replace(cfg.meeting, people=people))

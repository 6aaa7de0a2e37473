"""End-to-end tests run the installed ``xrdemo`` command as a user would, in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def xrdemo_cmd():
    exe = Path(sys.executable).parent / ("xrdemo.exe" if os.name == "nt" else "xrdemo")
    assert exe.exists(), f"the xrdemo console command is not installed next to {sys.executable}; " \
                         "run the README set-up (pip install -e '.[test]')"
    return str(exe)


@pytest.fixture
def run_xrdemo(xrdemo_cmd, tmp_path):
    def run(*args, timeout=300, env=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        return subprocess.run([xrdemo_cmd, *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=timeout, env=full_env, stdin=subprocess.DEVNULL)
    return run


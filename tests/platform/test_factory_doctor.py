"""The factory's fallback chain and `xrdemo doctor`, with and without a real runtime."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from xrdemo.platform.base import PlatformUnavailable
from xrdemo.platform.factory import create_platform
from xrdemo.platform.simulated import SimulatedPlatform

REPO = Path(__file__).resolve().parents[2]


def no_runtime_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("XR_")}
    env.update(XR_RUNTIME_JSON=str(tmp_path / "missing.json"), PYTHONPATH=str(REPO), XDG_CONFIG_HOME=str(tmp_path),
               HOME=str(tmp_path), PYOPENGL_PLATFORM="egl")
    env.pop("DISPLAY", None)
    return env


def test_auto_falls_back_to_headless_and_says_why(monkeypatch):
    def no_xr(**kw):
        raise PlatformUnavailable("no OpenXR runtime installed")

    monkeypatch.setitem(__import__("xrdemo.platform.factory", fromlist=["CREATORS"]).CREATORS, "openxr", no_xr)
    said = []
    platform, reason = create_platform("auto", log=said.append)
    assert isinstance(platform, SimulatedPlatform)
    assert "headless" in reason and "no OpenXR runtime installed" in reason and "desktop:" in reason
    assert said == [f"xrdemo: using {reason}"]


def test_named_platform_failure_raises_and_unknown_name_is_rejected(monkeypatch):
    with pytest.raises(ValueError, match="unknown platform"):
        create_platform("vr")
    with pytest.raises(PlatformUnavailable, match="desktop"):
        create_platform("desktop")      # no desktop module (or no display) here


def test_auto_in_a_process_without_runtime_picks_headless(tmp_path):
    code = ("from xrdemo.platform import create_platform\n"
            "p, why = create_platform('auto')\nprint('PICKED', type(p).__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], env=no_runtime_env(tmp_path), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "PICKED SimulatedPlatform" in out.stdout
    assert "openxr: no OpenXR runtime installed" in out.stdout


def test_auto_picks_openxr_when_monado_runs(monado, tmp_path):
    env = {**no_runtime_env(tmp_path), "XR_RUNTIME_JSON": monado.env["XR_RUNTIME_JSON"],
           "XDG_RUNTIME_DIR": monado.env["XDG_RUNTIME_DIR"]}
    code = ("from xrdemo.platform import create_platform\n"
            "p, why = create_platform('auto')\nprint('PICKED', type(p).__name__, p.capabilities.system)\n"
            "p.shutdown()\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "PICKED OpenXRPlatform Monado: Remote HMD" in out.stdout


def test_doctor_without_runtime(tmp_path):
    out = subprocess.run([sys.executable, "-m", "xrdemo.cli", "doctor"], env=no_runtime_env(tmp_path),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "no OpenXR runtime installed" in out.stdout
    assert "OpenGL:      llvmpipe" in out.stdout
    assert "auto picks:  headless" in out.stdout
    strict = subprocess.run([sys.executable, "-m", "xrdemo.cli", "doctor", "--strict"],
                            env=no_runtime_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert strict.returncode == 1 and "nothing interactive can run here" in strict.stderr


def test_doctor_with_monado(monado, tmp_path):
    env = {**no_runtime_env(tmp_path), "XR_RUNTIME_JSON": monado.env["XR_RUNTIME_JSON"],
           "XDG_RUNTIME_DIR": monado.env["XDG_RUNTIME_DIR"]}
    out = subprocess.run([sys.executable, "-m", "xrdemo.cli", "doctor", "--strict"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "runtime Monado" in out.stdout and "Headset:     Monado: Remote HMD" in out.stdout
    assert "yes XR_EXT_hand_tracking" in out.stdout and "NO  XR_FB_passthrough" in out.stdout
    assert "auto picks:  openxr" in out.stdout

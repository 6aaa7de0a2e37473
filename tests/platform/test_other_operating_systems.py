"""Windows and macOS (issue 13 item 10): every module of the package imports, and `xrdemo doctor`
runs, where ``sys.platform`` is the only thing that differs.

In a fresh interpreter the third-party libraries load first with the real platform (their own
platform switches are theirs to test), then every xrdemo module is imported again with
``sys.platform`` set to "win32" or "darwin", and `xrdemo doctor` runs through ``xrdemo.__main__``
exactly as the console script does. Nothing is skipped.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xrdemo.platform.openxr_window import gpu_advice

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import contextlib, importlib, io, json, pkgutil, sys, traceback
target = sys.argv[1]
import xrdemo
names = sorted(m.name for m in pkgutil.walk_packages(xrdemo.__path__, "xrdemo.") if m.name != "xrdemo.__main__")
for name in names:                       # third-party modules load with the real platform
    importlib.import_module(name)
for name in [m for m in sys.modules if m == "xrdemo" or m.startswith("xrdemo.")]:
    del sys.modules[name]
sys.platform = target
failed = {}
for name in ["xrdemo"] + names:
    try:
        importlib.import_module(name)
    except BaseException:
        failed[name] = traceback.format_exc(limit=3)
sys.argv = ["xrdemo", "doctor"]
out, err, code = io.StringIO(), io.StringIO(), None
try:
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        importlib.import_module("xrdemo.__main__")
except SystemExit as exc:
    code = exc.code
except BaseException:
    code = "raised"
    err.write(traceback.format_exc())
sys.platform = "linux"
print(json.dumps({"count": len(names), "failed": failed, "code": code, "out": out.getvalue(), "err": err.getvalue()}))
"""


@pytest.mark.parametrize("target", ["win32", "darwin"])
def test_every_module_imports_and_doctor_runs(target):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XRDEMO_NO_WINDOW": "1"}
    env.pop("DISPLAY", None)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, target], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["count"] > 100
    assert result["failed"] == {}, "\n".join(f"{k}:\n{v}" for k, v in result["failed"].items())
    assert result["code"] in (0, None), result["err"][-3000:]
    assert "Traceback" not in result["out"] + result["err"]
    assert "auto picks:" in result["out"] and "OpenGL:" in result["out"] and "OpenXR:" in result["out"]


def test_gpu_advice_names_the_integrated_gpu_and_software_gl():
    assert "integrated GPU" in gpu_advice("Intel(R) UHD Graphics 620")
    assert "High performance" in gpu_advice("AMD Radeon(TM) Graphics")
    assert "driver" in gpu_advice("GDI Generic")
    for discrete in ("NVIDIA GeForce RTX 3060 Laptop GPU/PCIe/SSE2", "AMD Radeon RX 6700 XT",
                     "Intel(R) Arc(TM) A770 Graphics"):
        assert gpu_advice(discrete) is None, discrete

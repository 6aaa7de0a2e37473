"""Every shader and asset ships in the wheel: the package-data globs in pyproject.toml cover each
file under shaders/ and assets/, and resources.py finds them in the checkout."""

import fnmatch
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from xrdemo import resources

ROOT = Path(__file__).resolve().parents[2]


def test_package_data_covers_every_shader_and_asset():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = cfg["package-dir"]
    data = cfg["package-data"]
    for package, folder in dirs.items():
        files = [p for p in (ROOT / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        assert files, f"{folder}/ is empty"
        for f in files:
            rel = f.relative_to(ROOT / folder).as_posix()
            assert any(fnmatch.fnmatch(rel, g) for g in data[package]), \
                f"{folder}/{rel} would be left out of the wheel (add a glob to package-data)"
            assert package in cfg["packages"]


def test_resources_resolve_in_a_checkout():
    assert resources.shader_path("lit.frag").read_text().startswith("#version")
    assert resources.asset_path("hrtf_kemar_48k.npz").stat().st_size > 1000
    try:
        resources.asset_path("no-such-file.bin")
    except FileNotFoundError as exc:
        assert "no-such-file.bin" in str(exc)
    else:
        raise AssertionError("a missing asset must raise FileNotFoundError")


def test_every_script_the_docs_show_runs_as_shown():
    """Each ``scripts/NAME`` the README or docs/ mention runs as written there: executable, with
    an interpreter line, and (for the Python ones) ``--help`` works with the system's Python,
    which hands over to the project's .venv."""
    import os
    import re
    import subprocess

    texts = [(ROOT / "README.md").read_text()] + [p.read_text() for p in (ROOT / "docs").glob("*.md")]
    named = sorted({m for t in texts for m in re.findall(r"scripts/[a-z_]+\.(?:py|sh)", t)})
    assert "scripts/contact_sheet.py" in named and "scripts/setup.sh" in named
    for rel in named:
        path = ROOT / rel
        assert path.exists(), f"the docs show {rel}, which does not exist"
        assert os.access(path, os.X_OK), f"{rel} is not executable, but the docs run it directly"
        assert path.read_text().startswith("#!"), f"{rel} has no interpreter line"
        if rel.endswith(".py"):
            res = subprocess.run([str(path), "--help"], capture_output=True, text=True, timeout=120,
                                 env={"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")})
            assert res.returncode == 0 and "usage" in res.stdout.lower(), (rel, res.stderr[-500:])
    # the commands as the docs write them call the script directly (or with the .venv Python)
    for t in texts:
        for m in re.finditer(r"(\S+)\s+(scripts/[a-z_]+\.py)", t):
            assert "python" not in m.group(1) or m.group(1) == ".venv/bin/python", m.group(0)

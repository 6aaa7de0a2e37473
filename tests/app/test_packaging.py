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

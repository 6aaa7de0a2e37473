"""The one place that resolves shader and asset paths, from a source checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _root(kind: str) -> Path:
    """Directory holding ``kind`` ("shaders" or "assets"): inside the installed package, else the checkout."""
    installed = _PACKAGE_DIR / kind
    if installed.is_dir():
        return installed
    checkout = _PACKAGE_DIR.parent / kind
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        f"xrdemo cannot find its {kind}/ directory (looked in {installed} and {checkout}); "
        "reinstall the package"
    )


def shader_path(name: str) -> Path:
    """Path of a GLSL file in shaders/, e.g. ``shader_path("lit.vert")``."""
    return _existing(_root("shaders") / name, "shader")


def asset_path(name: str) -> Path:
    """Path of a data file in assets/, e.g. ``asset_path("hrtf_kemar_48k.npz")``."""
    return _existing(_root("assets") / name, "asset")


def read_shader(name: str) -> str:
    """Source text of a GLSL file in shaders/."""
    return shader_path(name).read_text(encoding="utf-8")


def _existing(path: Path, what: str) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"missing {what} file {path.name!r} (expected at {path})")
    return path

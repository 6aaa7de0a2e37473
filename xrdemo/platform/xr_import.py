"""The one way to import pyopenxr: ``import_xr()``.

``import xr`` switches PyOpenGL's platform to GLX even when EGL (or OSMesa) was chosen, after which
EGL calls fail with EGL_BAD_DISPLAY. This helper keeps whatever PyOpenGL platform was active before.
"""

from __future__ import annotations

import importlib
import os
import sys


def import_xr():
    """Import and return the ``xr`` module (pyopenxr) without changing PyOpenGL's platform.

    Raises ImportError (with the install hint) when pyopenxr is not installed. The loader's own
    error lines are silenced (XR_LOADER_DEBUG=none) unless XR_LOADER_DEBUG is set: xrdemo says in
    one line why OpenXR is unavailable; set XR_LOADER_DEBUG=error (or all) to see the loader's view.
    """
    os.environ.setdefault("XR_LOADER_DEBUG", "none")
    if "xr" in sys.modules:
        return sys.modules["xr"]
    saved = None
    try:
        import OpenGL.platform as gl_platform
        saved = gl_platform.PLATFORM
    except ImportError:          # PyOpenGL absent: nothing to protect
        gl_platform = None
    try:
        return importlib.import_module("xr")
    except ImportError as exc:
        raise ImportError(f"pyopenxr is not installed ({exc}); pip install pyopenxr") from exc
    finally:
        if gl_platform is not None and saved is not None:
            gl_platform.PLATFORM = saved

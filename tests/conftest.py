"""Test-wide settings: the suite is headless, so PyOpenGL binds to EGL (set before any GL import).

Tests that need a window (the desktop simulator under Xvfb) run it in a subprocess with its own
environment.
"""

import os

os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

"""Platforms: where frames come from and go to (OpenXR headset, desktop window, simulated runtime).

App code uses ``create_platform`` and the ``Platform`` protocol only; no ``xr`` name leaks out.
"""

from xrdemo.platform.base import (  # noqa: F401
    Capabilities, FrameInput, Platform, PlatformEvent, PlatformUnavailable, SessionState, EventKind,
)
from xrdemo.platform.factory import PLATFORM_NAMES, create_platform  # noqa: F401

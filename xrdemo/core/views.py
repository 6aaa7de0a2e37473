"""Views (eye poses + fov) from a head pose, for window, snapshot and simulated-headset use."""

from __future__ import annotations

import numpy as np

from . import pose as P
from .frame import View

DEFAULT_IPD = 0.064
"""Metres between the eyes (adult median ~63-64 mm)."""


def eye_views(head_pos: np.ndarray, head_rot: np.ndarray, size: tuple[int, int],
              stereo: bool = False, horizontal_fov_deg: float = 80.0,
              ipd: float = DEFAULT_IPD) -> list[View]:
    """One centred view, or left and right eye views, for an image of ``size`` (w, h) pixels each.

    head_pos (3,) metres, head_rot (4,) quaternion (T_stage_head). Eyes sit ±ipd/2 along the
    head's +X axis and share its orientation; the fov is symmetric with the image's aspect.
    """
    w, h = size
    fov = P.symmetric_fov(horizontal_fov_deg, w / h)
    head_pos = np.asarray(head_pos, float)
    head_rot = np.asarray(head_rot, float)
    if not stereo:
        return [View(head_pos.copy(), head_rot.copy(), fov)]
    views = []
    for side in (-0.5, 0.5):
        eye = head_pos + P.quat_rotate(head_rot, np.array([side * ipd, 0.0, 0.0]))
        views.append(View(eye, head_rot.copy(), fov))
    return views

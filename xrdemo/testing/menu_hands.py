"""Scripted hands for driving the in-headset menu (core/menu.py) in tests: a left hand with its
palm turned a given angle from the eyes, and a right hand pointing its index fingertip at a point.

Built with the core hand model (core/hands.py: the "open" and "point" poses), placed rigidly, so
they are the same 26-joint hands (XR_EXT_hand_tracking order, metres) a runtime or the desktop
simulator reports.
"""

from __future__ import annotations

import numpy as np

from xrdemo.core import hands as H
from xrdemo.core import menu as M
from xrdemo.core import pose as P

_UP = np.array([0.0, 1.0, 0.0])


def _local(pose_name: str, left: bool) -> np.ndarray:
    w = np.zeros((1, len(H.POSE_NAMES)))
    w[0, H.pose_index(pose_name)] = 1.0
    return H.mirror_to_left(H.blend_poses(w), np.array([left]))[0]


LEFT_OPEN = _local("open", True)
"""(26, 3) an open left hand in its wrist frame."""
RIGHT_POINT = _local("point", False)
"""(26, 3) a right hand pointing its index finger, wrist frame."""


def _frame(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Orthonormal (3, 3) with columns a, b (made perpendicular to a), a x b."""
    a = P.normalize(np.asarray(a, float))
    b = P.normalize(b - a * np.dot(a, b))
    return np.stack([a, b, np.cross(a, b)], axis=1)


def left_hand(palm_at: np.ndarray, head: np.ndarray, away_deg: float = 0.0) -> np.ndarray:
    """(26, 3) open left hand, palm centre at ``palm_at``, fingers up, its palm normal turned
    ``away_deg`` degrees from the direction to the eyes at ``head`` (0: facing them)."""
    palm_at = np.asarray(palm_at, float)
    n_local = M.palm_normal(LEFT_OPEN, left=True)
    f_local = LEFT_OPEN[12] - LEFT_OPEN[1]
    to_head = np.asarray(head, float) - palm_at
    R = _frame(to_head, _UP) @ _frame(n_local, f_local).T
    up = P.normalize(np.cross(to_head, np.cross(_UP, to_head)))
    R = P.quat_to_matrix(P.quat_from_axis_angle(up, np.radians(away_deg))) @ R
    return palm_at + (LEFT_OPEN - LEFT_OPEN[0]) @ R.T


def right_hand(tip_at: np.ndarray, toward: np.ndarray = (0.0, 0.0, -1.0)) -> np.ndarray:
    """(26, 3) right hand pointing its index finger along ``toward``, the tip (joint 10) at tip_at."""
    d_local = RIGHT_POINT[10] - RIGHT_POINT[7]
    R = _frame(np.asarray(toward, float), _UP) @ _frame(d_local, _UP).T
    return np.asarray(tip_at, float) + (RIGHT_POINT - RIGHT_POINT[10]) @ R.T

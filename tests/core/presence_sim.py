"""Shared helpers for the presence tests: people seated around a round table, facing its centre."""

import numpy as np

from xrdemo.core.pose import quat_from_yaw_pitch_roll, quat_to_matrix


def seats(n: int, radius: float = 1.0, height: float = 1.2):
    """(N, 3) head positions and (N, 4) seat-facing orientations (forward toward the centre)."""
    ang = np.arange(n) * 2.0 * np.pi / n
    pos = np.stack([np.sin(ang) * radius, np.full(n, height), np.cos(ang) * radius], axis=1)
    q = quat_from_yaw_pitch_roll(np.arctan2(pos[:, 0], pos[:, 2]))
    return pos, q, quat_to_matrix(q)

"""Resting hands lie on the table top for every table shape and size, and never in a neighbour's."""

import numpy as np
import pytest

from xrdemo.core import hands as H
from xrdemo.core import scene as S
from xrdemo.core.room import Table

WRIST = H.JOINT["wrist"]


def _outside(table, p) -> np.ndarray:
    """Metres each (x, z) point lies outside the table top (<= 0 inside)."""
    if table.shape == "round":
        return np.hypot(p[..., 0], p[..., 2]) - table.radius
    return np.maximum(np.abs(p[..., 0]) - table.width / 2, np.abs(p[..., 2]) - table.depth / 2)


@pytest.mark.parametrize("shape", ["round", "rect"])
@pytest.mark.parametrize("n", [2, 3, 5, 6, 8, 12, 16])
def test_resting_hands_are_on_the_table_and_apart(shape, n):
    st = S.make_meeting(n, table=Table(shape=shape), local=-1, seed=n)
    worst_out, worst_overlap, resting = -1.0, -1.0, 0
    for i in range(0, 150):                                   # 5 s at 30 Hz
        st, _ = S.step(st, None, i * 33_333_333)
        if i % 10:
            continue
        lift = st.frame.hand_lift                              # (N, 2)
        rest = lift < 0.02
        resting += int(rest.sum())
        j = st.people.joints                                   # (N, 2, 26, 3)
        worst_out = max(worst_out, float(_outside(st.table, j[rest][:, WRIST]).max()) if rest.any() else -1)
        # Any two people's resting hands: no joint spheres overlapping.
        r = st.people.radii
        who = np.repeat(np.arange(n), 2)[rest.reshape(-1)]
        pts = j[rest].reshape(-1, 3)
        rad = r[rest].reshape(-1)
        owner = np.repeat(who, H.JOINT_COUNT)
        d = np.linalg.norm(pts[:, None] - pts[None], axis=-1) - (rad[:, None] + rad[None])
        d[owner[:, None] == owner[None]] = np.inf
        worst_overlap = max(worst_overlap, float(-d.min()) if np.isfinite(d).any() else -1)
    assert resting > n                                         # hands did rest
    assert worst_out <= 0.02, worst_out                        # was 0.34 m at 12 people, rect
    assert worst_overlap <= 0.0, worst_overlap

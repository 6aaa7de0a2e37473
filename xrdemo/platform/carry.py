"""Carrying a whole frame from one space to another (the seat transform, a table alignment)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..core import pose as P


def carry_frame(frame, position: np.ndarray, orientation: np.ndarray):
    """A copy of a platform FrameInput with every pose carried by T_room_stage (position (3,) m,
    orientation (4,) quaternion): views, head, hands, controllers, gaze."""
    from ..core.frame import View

    def pts(p):
        return P.transform_points(position, orientation, p)

    def rots(q):
        return P.quat_mul(np.broadcast_to(orientation, np.shape(q)), q)

    views = [View(pts(v.position), rots(v.orientation), v.fov) for v in frame.views]
    head = replace(frame.head, position=pts(frame.head.position), orientation=rots(frame.head.orientation))
    h = frame.hands
    hands = replace(h, positions=pts(h.positions).astype(np.float32),
                    orientations=rots(h.orientations).astype(np.float32))
    c = frame.controllers
    controllers = replace(c, grip_position=pts(c.grip_position), grip_orientation=rots(c.grip_orientation),
                          aim_position=pts(c.aim_position), aim_orientation=rots(c.aim_orientation))
    gaze = frame.gaze
    if gaze is not None:
        gaze = replace(gaze, position=pts(gaze.position), orientation=rots(gaze.orientation))
    return replace(frame, views=views, head=head, hands=hands, controllers=controllers, gaze=gaze)

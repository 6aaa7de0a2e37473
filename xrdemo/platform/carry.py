"""Carrying a whole frame from one space to another (the seat transform, a table alignment)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..core import pose as P


def carry_frame(frame, position: np.ndarray, orientation: np.ndarray):
    """A copy of a platform FrameInput with every pose carried by T_room_stage (position (3,) m,
    orientation (4,) quaternion): views, head, hands, controllers, gaze.

    Every point of the frame goes through one matrix product and every orientation through one
    quaternion product (about 60 of each: 2 views, the head, 2 x 26 joints, 2 grips, 2 aims, gaze).
    """
    from ..core.frame import View

    h, c, gaze = frame.hands, frame.controllers, frame.gaze
    nv = len(frame.views)
    pts = [np.asarray(v.position, float).reshape(1, 3) for v in frame.views]
    rots = [np.asarray(v.orientation, float).reshape(1, 4) for v in frame.views]
    pts += [np.asarray(frame.head.position, float).reshape(1, 3), np.asarray(h.positions, float).reshape(-1, 3),
            np.asarray(c.grip_position, float), np.asarray(c.aim_position, float)]
    rots += [np.asarray(frame.head.orientation, float).reshape(1, 4),
             np.asarray(h.orientations, float).reshape(-1, 4),
             np.asarray(c.grip_orientation, float), np.asarray(c.aim_orientation, float)]
    if gaze is not None:
        pts.append(np.asarray(gaze.position, float).reshape(1, 3))
        rots.append(np.asarray(gaze.orientation, float).reshape(1, 4))
    R = P.quat_to_matrix(np.asarray(orientation, float))
    moved = np.concatenate(pts) @ R.T + np.asarray(position, float)
    turned = P.quat_mul(np.asarray(orientation, float)[None, :], np.concatenate(rots))
    joints = h.positions.size // 3
    i = nv
    views = [View(moved[k], turned[k], v.fov) for k, v in enumerate(frame.views)]
    head = replace(frame.head, position=moved[i], orientation=turned[i])
    i += 1
    hands = replace(h, positions=moved[i:i + joints].reshape(h.positions.shape).astype(np.float32),
                    orientations=turned[i:i + joints].reshape(h.orientations.shape).astype(np.float32))
    i += joints
    controllers = replace(c, grip_position=moved[i:i + 2], grip_orientation=turned[i:i + 2],
                          aim_position=moved[i + 2:i + 4], aim_orientation=turned[i + 2:i + 4])
    i += 4
    if gaze is not None:
        gaze = replace(gaze, position=moved[i], orientation=turned[i])
    return replace(frame, views=views, head=head, hands=hands, controllers=controllers, gaze=gaze)

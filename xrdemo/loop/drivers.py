"""What drives the people in the loop: the core step (live and recorded meetings), or a replay.

``local_input(frame)`` is the core's view of a frame's tracking: the head, the eyes, the face, and the hands
(articulated, else synthesised from controllers, else none — then the scripted hands stand in).
"""

from __future__ import annotations

import numpy as np

from ..core import pose as P
from ..core import scene as S
from ..core.gestures import curls_from_controller
from ..core.hands import hand_from_curls, hands_to_stage
from .frame_loop import Driver


def local_input(frame) -> S.LocalInput:
    """The core's LocalInput from a FrameInput (room space): head, gaze, hands or controllers."""
    head = frame.head
    inp = S.LocalInput()
    if head.valid:
        inp.head_pos, inp.head_rot = np.asarray(head.position, float), np.asarray(head.orientation, float)
    if frame.gaze is not None and frame.gaze.valid:
        inp.eye_dir = P.quat_rotate(frame.gaze.orientation, np.array([0.0, 0.0, -1.0]))
    face = getattr(frame, "face", None)
    if face is not None and face.valid:                 # a face tracker (platform/openxr_face.py)
        inp.face = np.array(face.weights, np.float32)
    hands = frame.hands
    if hands.valid.any():
        inp.joints = hands.positions.astype(np.float64)
        inp.valid = hands.valid.copy()
        inp.radii = hands.radii.astype(np.float64)
        return inp
    c = frame.controllers
    if c.active.any() and c.grip_valid.any():
        thumb_down = c.thumbstick_touch | c.primary | c.secondary
        curls, spread = curls_from_controller(c.squeeze, c.trigger, thumb_down)
        local = hand_from_curls(curls, spread)
        joints = hands_to_stage(c.grip_position, c.grip_orientation, local, np.array([True, False]))
        inp.joints = joints
        inp.valid = np.repeat(np.asarray(c.grip_valid, bool)[:, None], 26, axis=1)
    return inp


class CoreDriver(Driver):
    """The people move by ``core.step``; the local person follows the platform's frame (tick.room)."""

    def __init__(self, state: S.MeetingState):
        self.state = state

    def inputs(self, tick) -> S.LocalInput:
        return local_input(tick.room)

    def step(self, tick):
        self.state, scene = S.step(self.state, tick.inputs, tick.t_ns)
        return scene

"""Lock-free "newest head pose" handoff from the render loop to the audio thread.

One writer (the frame loop) and one reader (the audio callback). The writer fills the slot the
reader is not pointed at, then publishes it by bumping a sequence counter; the reader copies the
published slot and retries if the counter moved meanwhile (a seqlock over a preallocated double
buffer). Neither side allocates or takes a lock, so the audio thread never waits for rendering.
"""

from __future__ import annotations

import numpy as np


class PoseHandoff:
    """Newest listener pose: position (3,) metres + orientation (4,) quaternion (x, y, z, w)."""

    def __init__(self, position=(0.0, 0.0, 0.0), orientation=(0.0, 0.0, 0.0, 1.0)):
        self._slots = np.zeros((2, 7))
        self._slots[:, :3] = position
        self._slots[:, 3:] = orientation
        self._sequence = 0  # even/odd selects the published slot; Python int writes are atomic

    def publish(self, position, orientation) -> None:
        """Writer side (render loop): store a new pose without blocking the reader."""
        target = (self._sequence + 1) & 1
        self._slots[target, :3] = position
        self._slots[target, 3:] = orientation
        self._sequence += 1

    def read(self, out: np.ndarray) -> int:
        """Reader side (audio thread): copy the newest pose into out (7,); returns its sequence number."""
        while True:
            seq = self._sequence
            out[:] = self._slots[seq & 1]
            if seq == self._sequence:
                return seq

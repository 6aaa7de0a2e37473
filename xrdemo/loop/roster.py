"""Who is here, for everyone: this person's meeting status (muted, hand raised, headset / desktop
/ headless, recording) sent to the room, and the roster under the window's status line.

A raised hand goes up with the menu's RAISE_HAND (or the J key), or by lifting a tracked hand
above the head; it comes down when the person speaks or lowers it the same way.
"""

from __future__ import annotations

import numpy as np

from ..core import scene as S
from ..status import roster_lines
from .frame_loop import FramePart

WRIST = 1
RAISED_ABOVE_HEAD_M = 0.08
"""A tracked wrist this far above the eyes raises the hand."""


class HandRaise:
    """The raised-hand state: ``toggle()`` (menu, key), ``update(head, hands, speaking)`` per frame."""

    def __init__(self):
        self.up = False
        self._was_above = False

    def toggle(self) -> bool:
        self.up = not self.up
        return self.up

    def update(self, head, hands, speaking: bool) -> bool:
        """head: Pose (room); hands: HandsInput (room); speaking: the person speaks now."""
        above = False
        if head.valid and hands.valid[:, WRIST].any():
            wrists = hands.positions[:, WRIST, 1][hands.valid[:, WRIST]]
            above = bool(np.any(wrists > head.position[1] + RAISED_ABOVE_HEAD_M))
        if above and not self._was_above:
            self.up = True
        self._was_above = above
        if speaking and not above:
            self.up = False
        return self.up


class MeetingStatus(FramePart):
    """Sends this person's status to the room when it changes, and shows the roster (names with
    ✓/?/✗, headset/desktop/headless, muted, hand up, recording, speaking) under the status line.
    room: the RoomPart (None for a local meeting: only the status line's own people count);
    mic: the Microphone part or None; recording: this person records the meeting."""

    def __init__(self, platform, room=None, mic=None, recording: bool = False):
        self.platform, self.room, self.mic, self.recording = platform, room, mic, recording
        self.hand = HandRaise()
        self.lines: list[str] = []
        self._key = None

    def on_step(self, tick) -> None:
        speaking = bool(self.mic is not None and self.mic.chain is not None and self.mic.chain.speaking)
        self.hand.update(tick.room.head, tick.room.hands, speaking)
        if self.room is None:
            return
        muted = bool(self.mic is not None and self.mic.mic is not None and self.mic.gate.muted)
        net = self.room.net
        net.set_status(muted=muted, hand=self.hand.up, kind=self.platform.capabilities.name,
                       recording=self.recording)
        statuses = net.room_statuses()
        ppl = tick.state.people
        speaking = S.speaking_now(tick.state)
        key = (repr(statuses), ppl.names, None if ppl.present is None else ppl.present.tobytes(),
               None if ppl.verified is None else ppl.verified.tobytes(), speaking.tobytes())
        if key != self._key:                  # the lines change a few times a second, not per frame
            self._key = key
            self.lines = roster_lines(tick.state, statuses, speaking)

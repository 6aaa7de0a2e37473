"""Mute and push-to-talk: whether this machine's microphone audio may leave it.

The sender asks the gate for every 10 ms frame (``admit``); a closed gate hands back ``None`` and
the frame is never encoded or sent, so muted audio never leaves the machine (it is not dropped
later). The gate also notices a person talking into a closed microphone (voice activity while
closed) so the status line can say "you are muted". Controls (``toggle_mute``, ``set_talk_key``)
come from the UI thread, ``admit`` runs on the sender thread: they share only plain attributes
(single stores) and take no lock. No clock: it counts frames.
"""

from __future__ import annotations

import numpy as np

FRAME_MS = 10


class MicGate:
    """Mute toggle + push-to-talk for one microphone.

    start_muted: begin muted (config ``[audio] start_muted``); push_to_talk: the gate is open only
    while the talk key is held (config ``[audio] push_to_talk``). Muting wins over the talk key.
    warn_after_ms: voice activity within the last ``window_ms`` while closed that makes
    ``speaking_while_muted`` true; it stays true for ``hold_ms`` after the last speech frame.
    fade_ms: a frame that opens the gate is faded in over this long (no click at the cut).
    """

    def __init__(self, start_muted: bool = False, push_to_talk: bool = False, warn_after_ms: int = 300,
                 window_ms: int = 1000, hold_ms: int = 2000, fade_ms: int = 5, sample_rate: int = 48000):
        self.muted = bool(start_muted)
        self.push_to_talk = bool(push_to_talk)
        self.talk_key = False
        self._window = np.zeros(max(1, window_ms // FRAME_MS), bool)   # voice activity while closed
        self._at = 0
        self._need = max(1, warn_after_ms // FRAME_MS)
        self._hold = max(0, hold_ms // FRAME_MS)
        self._hold_left = 0
        self._was_open = False
        self._fade = np.minimum(1.0, (np.arange(int(fade_ms * sample_rate / 1000)) + 1.0)
                                / max(1, int(fade_ms * sample_rate / 1000))).astype(np.float32)
        self.frames_sent = 0
        self.frames_withheld = 0

    # --- controls (UI thread) -------------------------------------------------------------------
    def toggle_mute(self) -> bool:
        """Flip mute; returns the new muted state."""
        self.muted = not self.muted
        return self.muted

    def set_muted(self, muted: bool) -> None:
        self.muted = bool(muted)

    def set_talk_key(self, held: bool) -> None:
        """The push-to-talk key went down (True) or up (False)."""
        self.talk_key = bool(held)

    # --- state ------------------------------------------------------------------------------------
    @property
    def open(self) -> bool:
        """True when microphone audio may leave the machine right now."""
        return not self.muted and (not self.push_to_talk or self.talk_key)

    @property
    def speaking_while_muted(self) -> bool:
        """The person is talking into a closed microphone: show "you are muted"."""
        return self._hold_left > 0

    def status_text(self) -> str:
        """A few words for the status line: "mic on", "muted", "push to talk", "talking", "you are muted"."""
        if self.speaking_while_muted:
            return "you are muted"
        if self.muted:
            return "muted"
        if self.push_to_talk:
            return "talking" if self.talk_key else "push to talk"
        return "mic on"

    # --- the sender thread ------------------------------------------------------------------------
    def admit(self, frame: np.ndarray, speech: bool) -> np.ndarray | None:
        """One processed 10 ms frame and its voice activity -> the frame to send, or None (keep it).

        The first frame after the gate opens is faded in (a copy; the caller's frame is untouched)."""
        is_open = self.open
        self._window[self._at] = bool(speech) and not is_open
        self._at = (self._at + 1) % self._window.size
        if speech and not is_open and self._window.sum() >= self._need:
            self._hold_left = self._hold + 1
        elif self._hold_left > 0:
            self._hold_left -= 1
        if is_open and self._hold_left:
            self._hold_left = 0
            self._window[:] = False
        opened = is_open and not self._was_open
        self._was_open = is_open
        if not is_open:
            self.frames_withheld += 1
            return None
        self.frames_sent += 1
        if opened:
            frame = np.array(frame, np.float32)
            n = min(frame.size, self._fade.size)
            frame[:n] *= self._fade[:n]
        return frame

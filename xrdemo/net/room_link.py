"""A networked meeting, frame by frame: joining a room, and the link a frame loop calls around
``core.step``.

``join_room(url, name)`` joins as this user (their identity key). ``RoomLink.before_step``
applies who joined or left (seats, names) to the meeting state and returns the remote people for
this frame; ``after_step`` sends this person's pose.
"""

from __future__ import annotations

import time

import numpy as np

from ..core import scene as S
from .session import NetMeeting

VOICE_RATE = 48000
"""Hz: voice over the network is Opus at 48 kHz; a networked meeting's audio runs at this rate."""


class RoomLink:
    """One participant's frame-by-frame link to its room (see the module docstring)."""

    def __init__(self, net: NetMeeting, log=print):
        self.net, self.log = net, log
        self.reset()

    def reset(self) -> None:
        """Forget what was applied (call after building a new MeetingState for the room)."""
        self._names = None
        self._present = None

    def reseated(self, state: S.MeetingState) -> bool:
        """True when the room moved this person to another seat (a reconnect found the old seat
        taken): the caller rebuilds its meeting (``meetings.meeting_state(cfg, net.room_shape())``), audio and camera seat."""
        return self.net.seat != state.local

    def before_step(self, state: S.MeetingState, now_ns: int | None = None,
                    display_ns: int | None = None, period_ns: int | None = None) -> S.RemoteInput:
        """Roster changes into ``state``; the remote people at this frame's display time.

        display_ns: the platform's predicted display time of the frame. Used as is when it is on
        this machine's monotonic clock (desktop; OpenXR runtimes on Linux), else the display is
        taken to be one frame period after now.
        """
        net = self.net
        now_ns = display_time_on_monotonic(display_ns, period_ns) if now_ns is None else now_ns
        # who was there, for "X left" (the roster may already have forgotten them)
        known = tuple(a or b for a, b in zip(net.names(), self._names or ("",) * net.capacity))
        for ev in net.poll():
            kind = ev.get("type") if isinstance(ev, dict) else getattr(ev, "type", "")
            if kind in ("joined", "left", "reconnecting", "reconnected", "room_full", "name_taken",
                        "identity_mismatch"):
                self.log(f"network: {describe_event(ev, known, getattr(net, 'host', '') or '')}")
        names = net.names()
        if names != self._names:
            self._names = names
            state.people.names = tuple(n or f"seat {i + 1}" for i, n in enumerate(names))
        notes = net.tag_notes()               # muted, hand up, reconnecting: on the name tags
        if notes != state.people.notes:
            state.people.notes = notes
        rem = net.remote_input(now_ns)
        present = rem.present.copy()
        if 0 <= state.local < len(present):
            present[state.local] = True
        if self._present is None or not np.array_equal(present, self._present):
            self._present = present
            S.set_present(state, present)
        return rem

    def after_step(self, state: S.MeetingState, level: float, now_ns: int | None = None,
                   display_ns: int | None = None, period_ns: int | None = None) -> None:
        """Send this person's pose, stamped with the display time it was predicted for."""
        k = state.local
        if k != self.net.seat:
            return                          # reseated: the caller rebuilds first
        ppl = state.people
        tracked = ppl.hand_alpha[k] > 0.5
        now_ns = display_time_on_monotonic(display_ns, period_ns) if now_ns is None else now_ns
        self.net.send_pose(ppl.head_pos[k], ppl.head_rot[k], ppl.joints[k], tracked, level,
                           state.partner, now_ns=now_ns)


def display_time_on_monotonic(display_ns: int | None, period_ns: int | None) -> int:
    """The predicted display time on time.monotonic_ns()'s clock (see RoomLink.before_step)."""
    now = time.monotonic_ns()
    if display_ns is not None and 0 <= display_ns - now < 500_000_000:
        return int(display_ns)
    return now + int(period_ns or 16_666_667)


LEFT_REASONS = {
    "leave": "left the meeting", "closed": "left: lost connection", "timeout": "left: lost connection",
    "error": "left: their connection broke a rule", "server_stopped": "left: the server stopped",
    "gone_while_reconnecting": "left while we were reconnecting", "replaced": "rejoined from elsewhere",
    "slow": "left: their connection was too slow",
}


def _verified_mark(verified) -> str:
    return {1: " \u2713", 0: " ?", -1: " \u2717"}.get(verified if verified is None else int(verified), "")


def describe_event(ev, names=(), server: str = "") -> str:
    """A room event in plain words: "Bob joined \u2713 in seat 2", "Bob left: lost connection",
    "reconnecting to 192.168.1.20 (the server went quiet)\u2026". names: display names by seat."""
    if not isinstance(ev, dict):
        return str(ev)
    kind = ev.get("type", "")
    seat = ev.get("seat")
    who = ev.get("name") or (names[seat] if isinstance(seat, int) and 0 <= seat < len(names) and names[seat]
                             else f"the person in seat {seat if isinstance(seat, int) else '?'}")
    if kind == "joined":
        return f"{who} joined{_verified_mark(ev.get('verified'))} in seat {seat if isinstance(seat, int) else '?'}"
    if kind == "left":
        reason = str(ev.get("reason", ""))
        return f"{who} {LEFT_REASONS.get(reason, 'left' + (f' ({reason})' if reason else ''))}"
    if kind == "reconnecting":
        return f"reconnecting to {server or 'the server'} (it stopped answering)\u2026"
    if kind == "reconnected":
        return f"reconnected to {server or 'the server'}; you are in seat {seat if isinstance(seat, int) else '?'}"
    if kind == "room_full":
        return f"reconnecting: the room on {server or 'the server'} is full; still trying\u2026"
    if kind == "name_taken":
        return f"reconnecting: {ev.get('reason') or 'your name is taken by someone else'}; still trying\u2026"
    if kind == "identity_mismatch":
        return f"{who} arrived with a different key than before (\u2717: it may not be them)"
    return ", ".join(f"{k}={v}" for k, v in ev.items())



def join_room(url: str, name: str, log=print, timeout_s: float = 5.0, voice_sink=None,
              want_seat: int | None = None, sample_rate: int = 48000, make_meeting=None) -> NetMeeting:
    """Join ``HOST:PORT/ROOM`` as this user (their identity key, made on first use, see
    ``net.identity``; $XRDEMO_IDENTITY picks another file). Raises with a clear message when the
    server is not there, the room is full or the name belongs to another key; nothing is left
    open then. want_seat: the seat to ask for (the lowest free one otherwise). make_meeting: the
    NetMeeting class (or a factory taking its arguments) to use, e.g. one that records."""
    from .identity import KnownPeople, load_or_create_identity

    if sample_rate != VOICE_RATE:
        raise ValueError(f"networked meetings need [audio] sample_rate = {VOICE_RATE} (Opus voice); "
                         f"the configuration says {sample_rate}")
    identity, created = load_or_create_identity()
    if created:
        log(f"network: made your identity key {identity.path} (fingerprint {identity.fingerprint}); "
            "keep it private, it is how others know it is you")
    net = (make_meeting or NetMeeting)(url, name, log=log, voice_sink=voice_sink, want_seat=want_seat,
                                       identity=identity, known_people=KnownPeople.beside(identity))
    net.connect(timeout_s=timeout_s)
    return net



"""The desktop status line, as text from plain values: what it says is what is true.

``status_line`` replaces ``app.status_line``: the people count is the people present (taken
seats), not the room's capacity; the microphone part says muted / push to talk / "YOU ARE MUTED"
(speech into a closed microphone, from ``audio.mic_gate.MicGate``) before any level meter; the
room's name shows when there is one. No clocks, no I/O.
"""

from __future__ import annotations

import numpy as np


def people_present(state) -> int:
    """How many people are at the table: the taken seats (all seats when ``present`` is None)."""
    present = state.people.present
    return len(state.people) if present is None else int(np.count_nonzero(present))


def mic_text(mic=None, gate=None) -> str:
    """'none', 'muted', 'YOU ARE MUTED', 'push to talk (hold T)', or a level meter.

    mic: anything with ``level_db`` (dBFS); gate: a MicGate or None (always open)."""
    from .audio.io import level_meter

    if gate is not None:
        if gate.speaking_while_muted:
            return "YOU ARE MUTED"
        if not gate.open:
            return "muted" if gate.muted else "push to talk"
    if mic is None:
        return "none"
    return level_meter(mic.level_db, width=8)


def status_line(fps: float, state, audio, whisper: int, mic=None, gate=None, room: str | None = None) -> str:
    """``'  60.0 fps | room team | 2 people | audio: pulse | mic: muted | whisper: off'``.

    state: the MeetingState; audio: anything with ``device`` (or None); whisper: the partner's
    seat (-1 for none); room: the networked room's name (None when local)."""
    dev = audio.device if audio is not None and audio.device else "none"
    who = state.people.names[whisper] if whisper >= 0 else "off"
    n = people_present(state)
    parts = [f"{fps:5.1f} fps"]
    if room:
        parts.append(f"room {room}")
    parts += [f"{n} {'person' if n == 1 else 'people'}", f"audio: {dev}", f"mic: {mic_text(mic, gate)}",
              f"whisper: {who}"]
    return " | ".join(parts)


KIND_WORDS = {"openxr": "headset", "desktop": "desktop", "headless": "headless"}
VERIFIED_MARKS = {1: "[ok]", 0: "[?]", -1: "[!]"}
"""Verified / not verified / flagged, in characters every overlay and panel font draws."""


def roster_lines(state, statuses=None, speaking=None) -> list[str]:
    """Who is here, one line each: '[ok] Ada (you) - headset, muted, hand up, speaking'.

    state: the MeetingState (names, present, verified); statuses: each seat's status dict
    (``net.session.NetMeeting.statuses``: muted, hand, kind, recording) or None; speaking: (N,)
    bool who is speaking now, or None."""
    ppl = state.people
    present = ppl.present if ppl.present is not None else np.ones(len(ppl), bool)
    lines = []
    for k in np.flatnonzero(present):
        k = int(k)
        st = (statuses[k] if statuses is not None and k < len(statuses) else {}) or {}
        mark = VERIFIED_MARKS.get(int(ppl.verified[k]), "?") if ppl.verified is not None else ""
        words = [KIND_WORDS[st["kind"]]] if st.get("kind") in KIND_WORDS else []
        words += [w for key, w in (("reconnecting", "reconnecting..."), ("muted", "muted"),
                                   ("hand", "hand up"), ("recording", "recording")) if st.get(key)]
        if speaking is not None and k < len(speaking) and speaking[k]:
            words.append("speaking")
        who = f"{mark} {ppl.names[k]}".strip() + (" (you)" if k == state.local else "")
        lines.append(who + (" - " + ", ".join(words) if words else ""))
    return lines

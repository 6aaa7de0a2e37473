"""A participant's session through a server restart, dropouts and hostile welcomes."""

import time

import numpy as np
import pytest

from xrdemo.meetings import meeting_state
from xrdemo.config import Config
from xrdemo.core import scene as S
from xrdemo.net.server import ServerThread
from xrdemo.net.session import NetMeeting
from xrdemo.net.room_link import RoomLink, join_room


def _wait(cond, timeout_s=8.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_a_participant_whose_seat_was_taken_during_a_restart_sits_down_elsewhere():
    srv = ServerThread(port=0, timeout_s=1.0).start()
    port = srv.port
    ada = NetMeeting(f"127.0.0.1:{port}/r", "Ada", log=lambda *_: None)
    ada.connect()
    link = RoomLink(ada, log=lambda *_: None)
    state = meeting_state(Config(), ada.room_shape())
    assert state.local == ada.seat == 0
    srv.stop()
    srv = ServerThread(port=port, timeout_s=1.0).start()     # forgot everything
    newcomer = NetMeeting(f"127.0.0.1:{port}/r", "Newcomer", log=lambda *_: None)
    try:
        newcomer.connect()                                   # gets seat 0 before Ada is back
        assert newcomer.seat == 0
        assert _wait(lambda: ada.client.connected)
        link.before_step(state)
        assert link.reseated(state)
        state = meeting_state(Config(), ada.room_shape())
        link.reset()
        assert state.local == ada.seat != 0
        # Both see each other in their own seats.
        for _ in range(30):
            now = time.monotonic_ns()
            rem = link.before_step(state, now)
            state, _ = S.step(state, S.LocalInput(remote=rem), now)
            link.after_step(state, 0.0, now)
            newcomer.poll()
            newcomer.send_pose([0.0, 1.2, 1.0], [0, 0, 0, 1], np.zeros((2, 26, 3)), [False, False], 0.0, -1)
            time.sleep(0.02)
        assert link.before_step(state).present[0]
        assert newcomer.remote_input().present[ada.seat]
    finally:
        ada.close()
        newcomer.close()
        srv.stop()


def test_a_dropped_out_seat_is_held_for_its_owner():
    srv = ServerThread(port=0, timeout_s=0.5).start()
    try:
        ada = NetMeeting(f"127.0.0.1:{srv.port}/h", "Ada", log=lambda *_: None)
        bob = NetMeeting(f"127.0.0.1:{srv.port}/h", "Bob", log=lambda *_: None)
        ada.connect()
        bob.connect()
        assert (ada.seat, bob.seat) == (0, 1)
        ada.client._loop.call_soon_threadsafe(ada.client._loop.stop)   # vanishes without a goodbye
        assert _wait(lambda: 0 not in bob.client.roster)
        cy = NetMeeting(f"127.0.0.1:{srv.port}/h", "Cy", log=lambda *_: None)
        cy.connect()
        assert cy.seat == 2                       # seat 0 is kept for Ada for a while
        cy.close()
        bob.close()
        ada.close()                               # still closes cleanly afterwards
    finally:
        srv.stop()


def test_a_failed_join_leaves_nothing_running():
    import threading

    before = threading.active_count()
    for _ in range(3):
        with pytest.raises(ConnectionError):
            join_room("127.0.0.1:9/nowhere", "x", log=lambda *_: None, timeout_s=1.0)
    assert _wait(lambda: threading.active_count() <= before, timeout_s=5.0)


def test_networked_voice_needs_48_khz_audio():
    with pytest.raises(ValueError, match="sample_rate = 48000"):
        join_room("127.0.0.1:9/r", "x", sample_rate=44100)


def test_room_events_are_said_in_plain_words():
    from xrdemo.net.room_link import describe_event

    assert describe_event({"type": "joined", "seat": 1, "name": "Bob", "verified": 1}) == "Bob joined \u2713 in seat 1"
    assert describe_event({"type": "joined", "seat": 2, "name": "Eve", "verified": -1}) == "Eve joined \u2717 in seat 2"
    assert describe_event({"type": "left", "seat": 1, "reason": "timeout"}, ("Ada", "Bob")) == \
        "Bob left: lost connection"
    assert describe_event({"type": "left", "seat": 1, "reason": "leave"}, ("Ada", "Bob")) == "Bob left the meeting"
    assert describe_event({"type": "reconnecting", "seat": 0}, (), "192.168.1.20") == \
        "reconnecting to 192.168.1.20 (it stopped answering)\u2026"
    assert "=" not in describe_event({"type": "name_taken", "seat": 0, "reason": "Ada belongs to another key"})


def test_a_participant_hears_in_plain_words_who_joined_and_left():
    srv = ServerThread(port=0).start()
    logs = []
    ada = NetMeeting(f"127.0.0.1:{srv.port}/w", "Ada", log=lambda *_: None)
    try:
        ada.connect()
        link = RoomLink(ada, log=logs.append)
        state = meeting_state(Config(), ada.room_shape())
        bob = NetMeeting(f"127.0.0.1:{srv.port}/w", "Bob", log=lambda *_: None)
        bob.connect()
        assert _wait(lambda: link.before_step(state) is not None and any("Bob joined" in m for m in logs))
        bob.close()
        assert _wait(lambda: link.before_step(state) is not None and any("Bob left" in m for m in logs))
        assert not any("type=" in m for m in logs), logs
    finally:
        ada.close()
        srv.stop()

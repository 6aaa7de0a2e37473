"""Who is here, for everyone: muted, hand raised, headset/desktop/headless and recording travel to
the others (through a real server) and show in the roster; a raised tracked hand raises it."""

import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from tests.conftest import quiet_config
from xrdemo.config import Config
from xrdemo.core import pose as P
from xrdemo.meetings import meeting_state
from xrdemo.net.server import ServerThread
from xrdemo.net.session import NetMeeting, clean_status
from xrdemo.status import roster_lines

from tests.net.test_room_session import _wait


@contextmanager
def ada_and_bob(room: str, **server):
    """A real server (ServerThread(port=0, **server)) with Ada and Bob connected to ``room``;
    yields (server, ada, bob) and closes them all."""
    srv = ServerThread(port=0, **server).start()
    ada = NetMeeting(f"127.0.0.1:{srv.port}/{room}", "Ada", log=lambda *_: None)
    bob = NetMeeting(f"127.0.0.1:{srv.port}/{room}", "Bob", log=lambda *_: None)
    try:
        ada.connect()
        bob.connect()
        yield srv, ada, bob
    finally:
        ada.close()
        bob.close()
        srv.stop()


def test_a_status_reaches_the_others_and_hostile_values_are_dropped():
    with ada_and_bob("s") as (srv, ada, bob):
        assert ada.set_status(muted=True, hand=True, kind="desktop", recording=False)
        assert not ada.set_status(muted=True)                     # unchanged: nothing sent
        assert _wait(lambda: bob.poll() is not None and bob.statuses()[ada.seat].get("hand") is True)
        assert bob.statuses()[ada.seat] == {"muted": True, "hand": True, "recording": False, "kind": "desktop"}
        ada.set_status(hand=False)
        assert _wait(lambda: bob.poll() is not None and bob.statuses()[ada.seat].get("hand") is False)
        state = meeting_state(Config(), bob.room_shape())
        lines = roster_lines(state, bob.statuses())
        assert "Ada - desktop, muted" in lines, lines
        assert any("Bob (you)" in line for line in lines), lines
    assert clean_status({"muted": "yes", "hand": 1, "kind": "evil" * 100, "x": [1] * 9}) == {}
    assert clean_status("not a dict") == {}


def test_a_tracked_hand_above_the_head_raises_it_and_speaking_lowers_it():
    from xrdemo.loop.roster import HandRaise
    from xrdemo.platform.base import HandsInput, Pose

    head = Pose(np.array([0.0, 1.2, 1.0]), P.IDENTITY_QUAT.copy(), True)
    hands = HandsInput.untracked()
    hands.valid[:] = True
    hands.positions[:, :, :] = [0.2, 0.9, 0.8]                    # resting low
    h = HandRaise()
    assert not h.update(head, hands, speaking=False)
    hands.positions[1, :, 1] = 1.45                               # right hand up above the head
    assert h.update(head, hands, speaking=False)
    assert h.update(head, hands, speaking=True)                   # still holding it up
    hands.positions[1, :, 1] = 0.9
    assert h.update(head, hands, speaking=False)                  # put down: stays raised
    assert not h.update(head, hands, speaking=True)               # until the person speaks
    assert h.toggle() and not h.toggle()                          # the key / menu


def watched_platform(events, observer, watch):
    """The simulated runtime paced near real time (keys scripted as ``events``); before every
    frame the observer reads the room and ``watch()`` notes what it sees."""
    from xrdemo.platform.simulated import SimulatedPlatform
    from xrdemo.platform.timeline import Timeline
    from xrdemo.render.renderer import Framebuffer

    target = Framebuffer((32, 18), samples=1)
    head = lambda t: (np.array([0.0, 1.2, 1.3]), P.IDENTITY_QUAT.copy())
    platform = SimulatedPlatform(Timeline(head=head, hands=None, refresh_hz=30.0, events=events), start_ns=0,
                                 view_count=1, view_size=(32, 18), framebuffer_for=lambda i, s: target.draw_fbo)
    real_begin = platform.begin_frame

    def begin():
        time.sleep(0.025)
        observer.poll()
        watch()
        return real_begin()
    platform.begin_frame = begin
    return platform


def test_raise_hand_in_the_live_loop_is_seen_by_the_others(gl):
    from xrdemo.app import live_loop
    from xrdemo.platform.simulated import SimulatedPlatform
    from xrdemo.platform.timeline import ScriptEvent, Timeline
    from xrdemo.render.renderer import Framebuffer

    srv = ServerThread(port=0).start()
    bob = NetMeeting(f"127.0.0.1:{srv.port}/h", "Bob", log=lambda *_: None)
    try:
        bob.connect()
        seen = []

        def watch():
            names = bob.names()
            if "Ada" in names:
                seen.append(dict(bob.statuses()[names.index("Ada")]))
        platform = watched_platform([ScriptEvent(300_000_000, "action", "RAISE_HAND")], bob, watch)
        live_loop(platform, quiet_config(), log=lambda m: None, max_frames=60,
                  table_alignment=Path("/nonexistent/a.json"), join=f"127.0.0.1:{srv.port}/h", name="Ada")
        assert seen and not seen[0].get("hand"), seen[:3]
        assert any(s.get("hand") for s in seen), seen[-3:]          # the J key / menu raised it
        assert all(s.get("kind") == "headless" for s in seen if s), seen[-3:]
    finally:
        bob.close()
        srv.stop()


def test_change_seat_leave_and_rejoin_without_restarting(gl):
    """N moves you to the next free seat, L leaves the room (the session goes on), N rejoins;
    the others see each step."""
    from xrdemo.app import live_loop
    from xrdemo.platform.simulated import SimulatedPlatform
    from xrdemo.platform.timeline import ScriptEvent, Timeline
    from xrdemo.render.renderer import Framebuffer

    srv = ServerThread(port=0, capacity=4).start()
    bob = NetMeeting(f"127.0.0.1:{srv.port}/seats", "Bob", log=lambda *_: None)
    try:
        bob.connect()                                        # Bob sits in seat 0
        seen = []
        ms = 1_000_000
        events = [ScriptEvent(700 * ms, "action", "SEAT_NEXT"), ScriptEvent(1500 * ms, "action", "LEAVE"),
                  ScriptEvent(2300 * ms, "action", "SEAT_NEXT")]
        platform = watched_platform(events, bob, lambda: seen.append(
            bob.names().index("Ada") if "Ada" in bob.names() else -1))
        logs = []
        status = live_loop(platform, quiet_config(), log=logs.append, max_frames=100,
                           table_alignment=Path("/nonexistent/a.json"), join=f"127.0.0.1:{srv.port}/seats",
                           name="Ada")
        assert status == 0, logs
        runs = [seen[0]]
        for s in seen[1:]:
            if s != runs[-1]:
                runs.append(s)
        # Ada in seat 1, then seat 2, then gone, then back (in the lowest free seat, 1)
        assert runs[:4] == [1, 2, -1, 1] or runs[:5] == [-1, 1, 2, -1, 1], (runs, logs)
        assert any("you left the room" in line for line in logs), logs
    finally:
        bob.close()
        srv.stop()


def test_name_tags_say_muted_and_hand_up_through_the_step():
    from xrdemo.core import scene as S

    state = meeting_state(Config())
    state.people.notes = ("", "muted", "", "hand up", "muted, hand up", "")
    state, scene = S.step(state, None, 1_000_000_000)
    state, scene = S.step(state, None, 1_050_000_000)             # kept from step to step
    texts = scene.labels.texts
    names = state.people.names
    assert f"{names[1]} \u00b7 muted" in texts and f"{names[3]} \u00b7 hand up" in texts, texts
    assert any(t.startswith(names[4]) and t.endswith("muted, hand up") for t in texts), texts


def test_leaning_toward_a_seat_chooses_the_private_whisper_partner():
    """The loop's room part picks the whisper partner from this person's own lean (never from
    heads others report): voice then goes to them alone, encrypted (net/whisper_pair.py)."""
    from xrdemo.loop.room import RoomPart
    from xrdemo.meetings import MeetingSource

    with ada_and_bob("p") as (srv, ada, bob):
        assert _wait(lambda: ada.poll() is not None and ada.present().sum() == 2)
        logs = []
        part = RoomPart(ada, MeetingSource(Config(), ada), log=logs.append)
        state = meeting_state(Config(), ada.room_shape())
        k, j = ada.seat, bob.seat
        toward = state.seat_pos[j] - state.seat_pos[k]
        toward[1] = 0
        state.people.head_pos[k] = state.seat_pos[k] + 0.3 * toward / np.linalg.norm(toward)
        part._choose_whisper_partner(state)
        assert ada.client.whisper_partner == j and any("whispering to Bob" in m for m in logs)
        state.people.head_pos[k] = state.seat_pos[k]
        part._choose_whisper_partner(state)
        assert ada.client.whisper_partner is None and "whisper over" in logs[-1]
        # the menu's whisper button (B): to the nearest neighbour present, without leaning
        state.people.present = ada.present()
        assert part.toggle_whisper(state) == j
        part._choose_whisper_partner(state)
        assert ada.client.whisper_partner == j
        assert part.toggle_whisper(state) is None
        part._choose_whisper_partner(state)
        assert ada.client.whisper_partner is None


def test_the_status_line_says_connected_with_the_round_trip_then_reconnecting():
    from xrdemo.loop.room import RoomPart
    from xrdemo.meetings import MeetingSource

    srv = ServerThread(port=0, timeout_s=1.0).start()
    ada = NetMeeting(f"127.0.0.1:{srv.port}/c", "Ada", log=lambda *_: None)
    try:
        ada.connect()
        part = RoomPart(ada, MeetingSource(Config(), ada), log=lambda m: None)
        assert _wait(lambda: part.connection_text().startswith("connected, "))   # a round trip measured
        srv.stop()
        assert _wait(lambda: part.connection_text().startswith("reconnecting"), 10)
        part.leave()
        assert part.connection_text() == "left the room"
    finally:
        ada.close()


def test_the_same_name_twice_in_a_room_reads_ada_and_ada_2_for_everyone():
    from xrdemo.net.session import unique_names

    assert unique_names(("Ada", "", "Ada", "Bob", "Ada")) == ("Ada", "", "Ada (2)", "Bob", "Ada (3)")
    from xrdemo.net.identity import load_or_create_identity

    me, _ = load_or_create_identity()                    # the same person, in two windows
    srv = ServerThread(port=0).start()
    a1 = NetMeeting(f"127.0.0.1:{srv.port}/u", "Ada", log=lambda *_: None, identity=me)
    a2 = NetMeeting(f"127.0.0.1:{srv.port}/u", "Ada", log=lambda *_: None, identity=me)
    try:
        a1.connect()
        a2.connect()
        assert _wait(lambda: a1.poll() is not None and a2.poll() is not None
                     and a1.names()[a2.seat] == "Ada (2)" and a2.names()[a2.seat] == "Ada (2)"
                     and a2.names()[a1.seat] == "Ada"), (a1.names(), a2.names())
    finally:
        a1.close()
        a2.close()
        srv.stop()


def test_someone_whose_poses_stop_shows_reconnecting_before_they_are_hidden():
    from types import SimpleNamespace

    from xrdemo.loop.frame_loop import Tick
    from xrdemo.loop.roster import MeetingStatus
    from xrdemo.platform.base import HandsInput, Pose

    with ada_and_bob("r") as (srv, ada, bob):
        state = meeting_state(Config(), bob.room_shape())
        k = bob.seat
        end = time.monotonic() + 1.0
        while time.monotonic() < end:                       # Bob's poses flow, then stop
            bob.send_pose(state.seat_pos[k], P.IDENTITY_QUAT, np.zeros((2, 26, 3)), np.zeros(2, bool), 0.0, -1)
            ada.poll()
            ada.remote_input()
            time.sleep(0.02)
        part = MeetingStatus(SimpleNamespace(capabilities=SimpleNamespace(name="desktop")),
                             room=SimpleNamespace(net=ada))
        ada_state = meeting_state(Config(), ada.room_shape())
        head = Pose(ada_state.seat_pos[ada.seat], P.IDENTITY_QUAT.copy(), True)
        room = SimpleNamespace(head=head, hands=HandsInput.untracked())
        tick = Tick(frame=None, room=room, t_ns=0, index=0, state=ada_state)
        part.on_step(tick)
        assert not any("reconnecting" in line for line in part.lines), part.lines
        time.sleep(0.5)                                     # no poses from Bob for half a second
        ada.poll()
        ada.remote_input()
        ada_state.people.notes = ada.tag_notes()            # what RoomLink puts on the tags
        part.on_step(tick)
        assert any(line.startswith("Bob - reconnecting") for line in part.lines) \
            and any("reconnecting" in line for line in part.lines), part.lines
        assert "reconnecting" in ada_state.people.notes[k], ada_state.people.notes


def test_pose_loss_is_measured_from_the_update_counter():
    from xrdemo.net.server import Impairment

    for loss, low, high in ((0.0, 0.0, 0.02), (0.2, 0.08, 0.35)):
        with ada_and_bob("l", impairment=Impairment(loss=loss, jitter_ms=0.0, seed=3)) as (srv, ada, bob):
            assert _wait(lambda: ada.poll() is not None and bob.seat in ada.client.roster)
            state = meeting_state(Config(), bob.room_shape())
            for i in range(150):                          # 2.5 s at 60 Hz, as a client sends
                bob.send_pose(state.seat_pos[bob.seat], P.IDENTITY_QUAT, np.zeros((2, 26, 3)), np.zeros(2, bool),
                              0.0, -1, now_ns=time.monotonic_ns())
                time.sleep(1 / 60)
            time.sleep(0.3)
            assert low <= ada.pose_loss <= high, (loss, ada.pose_loss)

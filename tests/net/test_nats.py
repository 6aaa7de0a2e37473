"""Rooms over NATS, against real nats-server processes (single node and a two-node cluster)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from netutil import events_until, wait_until
from xrdemo.core import pose as PO
from xrdemo.net import identity as I
from xrdemo.net import protocol as proto
from xrdemo.net.client import NameTaken
from xrdemo.net.nats_server import NatsServerThread
from xrdemo.net.nats_transport import NatsClient, import_nats
from xrdemo.net.natsd import NatsServerProcess
from xrdemo.net.session import NetMeeting

FAST = dict(keepalive_s=0.1, timeout_s=2.0)   # client liveness (2 s: a busy 2-core machine)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def natsd():
    """One nats-server on an OS-chosen port (stopped afterwards)."""
    node = NatsServerProcess().start()
    yield node
    node.stop()


@pytest.fixture
def cluster():
    """Two nats-server nodes joined by a route; yields (a, b) once the route is up."""
    a = NatsServerProcess(cluster=True, name="node-a").start()
    b = NatsServerProcess(routes=[a.route_url], name="node-b")
    try:
        b.start()
        b.wait_for_log("Route connection created", 10.0)
        a.wait_for_log("Route connection created", 10.0)
        yield a, b
    finally:
        b.stop()
        a.stop()


@pytest.fixture
def make():
    """Room servers (threads) and clients, all closed afterwards."""
    made = []

    def server(*urls, **kw):
        srv = NatsServerThread(list(urls), **{"timeout_s": 2.0, **kw}).start()
        made.append(srv)
        return srv

    def client(url, name, room="r", **kw):
        c = NatsClient([url], room, name, **{**FAST, **kw})
        made.append(c)
        return c

    yield server, client
    for x in reversed(made):
        (x.close if hasattr(x, "close") else x.stop)()


def _served_pair(make, server_url, client_url=None):
    """A room server on server_url and two connected clients, ann and bob, in room "r" (through
    client_url, default the same); returns (server, ann, bob)."""
    server, client = make
    srv = server(server_url)
    a, b = client(client_url or server_url, "ann"), client(client_url or server_url, "bob")
    a.connect()
    b.connect()
    return srv, a, b


def _traffic(sender, receiver, n=5):
    """Send n poses and n voice frames from sender; wait until receiver has them all."""
    # The server forwards to a member once a datagram of its has arrived (its keepalive binds
    # its datagram subject, as a UDP address); a fresh keepalive echo shows that has happened.
    echoes = receiver.stats.get("keepalive_received", 0)
    wait_until(lambda: receiver.stats.get("keepalive_received", 0) > echoes)
    got = []
    for i in range(n):
        assert sender.send_pose(bytes([i]) * 80, 1000 + i)
        assert sender.send_voice(i, 2000 + 20 * i, b"v" * 60)

    def have_all():
        got.extend(receiver.drain())
        return sum(d.kind == "pose" for d in got) == n and sum(d.kind == "voice" for d in got) == n

    try:
        wait_until(have_all)
    except AssertionError:
        raise AssertionError(f"{receiver.name} got {[(d.kind, d.seq) for d in got]}; its events "
                             f"{receiver.events()}, stats {receiver.stats}; {sender.name}'s events "
                             f"{sender.events()}, stats {sender.stats}") from None
    return got


# --- single node -------------------------------------------------------------------------------
def test_two_clients_share_a_room_over_one_nats_node(natsd, make):
    server, client = make
    srv = server(natsd.url)
    a, b, other = client(natsd.url, "ann"), client(natsd.url, "bob"), client(natsd.url, "cy", room="x")
    assert a.connect()["seat"] == 0
    assert b.connect()["seat"] == 1
    assert other.connect()["seat"] == 0                # another room, its own seats
    wait_until(lambda: len(a.roster) == 2 and len(b.roster) == 2)
    assert {s: m.name for s, m in a.roster.items()} == {0: "ann", 1: "bob"}
    # signed joins travel over NATS too: each peer checked the other's signature itself
    assert a.roster[1].verified == b.roster[0].verified == I.VERIFIED
    assert a.server_id == b.server_id == srv.server.server_id
    got = _traffic(a, b)
    assert [(d.kind, d.seat, d.seq) for d in got if d.kind == "pose"] == [("pose", 0, i) for i in range(5)]
    assert {d.payload for d in got if d.kind == "voice"} == {b"v" * 60}
    got = _traffic(b, a)
    assert {d.seat for d in got} == {1}
    time.sleep(0.2)
    assert other.drain() == []                         # nothing crosses rooms
    wait_until(lambda: a.stats["keepalive_received"] > 0)   # keepalives are echoed
    st = srv.stats()
    assert st["rooms"] == 2 and st["members"] == 3 and st["claims"] == ["r", "x"]
    assert st["packets_out"]["pose"] == 10 and st["packets_out"]["voice"] == 10     # 5 each way
    b.close()
    ev = events_until(a, lambda ev: any(e["type"] == "left" for e in ev))
    assert {"type": "left", "seat": 1, "reason": "leave"} in ev


def test_a_networked_meeting_joins_by_nats_url_and_exchanges_poses_and_voice(natsd, make):
    server, _client = make
    server(natsd.url)
    url = f"{natsd.url}/standup"
    voice = []
    ada = NetMeeting(url, "Ada", log=lambda *_: None)
    bea = NetMeeting(url, "Bea", log=lambda *_: None, voice_sink=lambda *frame: voice.append(frame))
    try:
        ada.connect()
        bea.connect()
        assert (ada.seat, bea.seat) == (0, 1) and ada.capacity == 8
        head = np.array([0.3, 1.2, -0.5])
        rot = PO.quat_from_yaw_pitch_roll(0.4)
        joints = np.tile(head + [0.0, -0.3, -0.3], (2, 26, 1))
        speech = (0.2 * np.random.default_rng(0).standard_normal(48000 // 5)).astype(np.float32)
        wait_until(lambda: bea.client.stats.get("keepalive_received", 0) > 0)   # bea is reachable
        assert ada.send_voice(speech) == 10                # 200 ms = ten 20 ms Opus frames
        t0 = time.monotonic_ns()

        def bea_sees_ada():
            now = time.monotonic_ns()
            ada.send_pose(head, rot, joints, [True, True], 0.7, -1, now_ns=now)
            bea.poll()
            rem = bea.remote_input(now)
            return rem.present[0] and np.linalg.norm(rem.head_pos[0] - head) < 0.01

        wait_until(bea_sees_ada)
        assert abs(bea.remote.level[0] - 0.7) < 0.05
        wait_until(lambda: len(voice) == 10)
        assert [v[0] for v in voice] == [0] * 10 and sorted(v[1] for v in voice) == list(range(10))
        assert bea.names()[:2] == ("Ada", "Bea")
        assert time.monotonic_ns() - t0 < 10e9
    finally:
        ada.close()
        bea.close()


def test_a_client_that_vanishes_is_gone_and_a_room_server_restart_brings_clients_back(natsd, make):
    srv, a, b = _served_pair(make, natsd.url)
    first = srv.server.server_id
    srv.stop()                                          # the room server goes away
    srv2 = make[0](natsd.url)
    assert srv2.server.server_id != first
    for c in (a, b):
        events_until(c, lambda ev: any(e["type"] == "reconnected" for e in ev), timeout_s=10)
    assert (a.seat, b.seat) == (0, 1)                   # they asked for their old seats
    wait_until(lambda: len(a.roster) == 2 and len(b.roster) == 2)
    assert a.server_id == b.server_id == srv2.server.server_id
    _traffic(a, b)
    # A client whose network thread stops (a vanished machine) is removed within the timeout.
    b._loop.call_soon_threadsafe(b._loop.stop)
    ev = events_until(a, lambda ev: any(e["type"] == "left" for e in ev), timeout_s=5)
    assert {"type": "left", "seat": 1, "reason": "timeout"} in ev


def test_a_nats_server_restart_brings_everyone_back(natsd, make):
    srv, a, b = _served_pair(make, natsd.url)
    natsd.restart()                                     # same port, all NATS connections cut
    # Each NATS connection comes back by itself; a client whose control stream stayed silent
    # for longer than its timeout meanwhile also rejoins the room (same seat).
    wait_until(lambda: all(c._nc.stats["reconnects"] >= 1 for c in (a, b)), timeout_s=15)
    wait_until(lambda: a.connected and b.connected and len(a.roster) == 2 and len(b.roster) == 2,
               timeout_s=10)
    assert (a.seat, b.seat) == (0, 1)
    _traffic(a, b)
    _traffic(b, a)
    assert srv.stats()["members"] == 2


def test_a_hello_for_another_room_than_the_stream_was_opened_for_is_refused(natsd, make):
    server, client = make
    srv = server(natsd.url)
    sneaky = client(natsd.url, "sneaky", room="a")
    original = sneaky._open_control

    async def open_for_room_b():
        sneaky.room = "b"                  # the open asks for b ...
        try:
            return await original()
        finally:
            sneaky.room = "a"              # ... the hello says a

    sneaky._open_control = open_for_room_b
    with pytest.raises(ConnectionError, match="opened for room 'b'"):
        sneaky.connect()
    st = srv.stats()
    assert st["control_errors"]["wrong_room"] == 1 and st["members"] == 0


def test_forged_and_malformed_nats_traffic_is_dropped_and_counted(natsd, make):
    srv, a, b = _served_pair(make, natsd.url)
    nats = import_nats("test")
    sid = srv.server.server_id
    wait_until(lambda: b.stats.get("keepalive_received", 0) > 0)     # bob is reachable
    b_inbox = b._writer.reply

    async def attack():
        nc = await nats.connect(natsd.url)
        up = f"xrdemo.s.{sid}.up"
        await nc.publish(up, b"\x01\x00", reply="xrdemo.d.evil")                     # short
        await nc.publish(up, proto.pack_client_datagram(1, 0x123456, 0, 0, b"x" * 80),
                         reply="xrdemo.d.evil")                                      # no such session
        await nc.publish(up, proto.pack_client_datagram(1, 0x123456, 0, 0, b"x"))         # no reply subject
        # control bytes for a stream whose secret name is not known: never reach a stream, even
        # with someone's inbox as the reply subject (an eavesdropper on xrdemo.c.> sees those)
        leave = proto.encode_message({"type": "leave"})
        await nc.publish(f"xrdemo.s.{sid}.ctl.{'0' * 32}", leave, reply=b_inbox)
        await nc.request("xrdemo.open", b"not json", timeout=2)
        # An eavesdropper on the NATS server captures one of ann's pose datagrams ...
        captured = asyncio.get_running_loop().create_future()

        async def spy(msg):
            if not captured.done() and msg.data[0] == proto.KIND_POSE:
                captured.set_result(msg)

        await nc.subscribe(up, cb=spy)
        await nc.flush()
        a.send_pose(b"p" * 80, 1)
        msg = await asyncio.wait_for(captured, 5)
        await nc.publish(up, msg.data, reply="xrdemo.d.evil")        # as its own: wrong address
        await nc.publish(up, msg.data, reply=msg.reply)              # as ann, again: a replay
        forged = bytearray(msg.data)
        forged[20] ^= 1
        await nc.publish(up, bytes(forged), reply=msg.reply)          # altered: bad MAC
        await nc.flush()
        await nc.close()

    import asyncio
    asyncio.run(attack())
    wait_until(lambda: srv.stats()["drops"].get("bad_mac") == 1)
    st = srv.stats()
    assert st["drops"]["short"] == 1 and st["drops"]["no_reply_subject"] == 1
    assert st["drops"]["bad_session"] == 1 and st["drops"]["wrong_addr"] == 1
    assert st["drops"]["replay"] == 1
    assert st["control_errors"]["unknown_stream"] == 1 and st["control_errors"]["bad_open"] == 1
    wait_until(lambda: len(b.drain()) == 1)             # ann's genuine pose, once
    assert b.connected and len(a.roster) == 2           # the forged leave did nothing
    time.sleep(0.2)
    assert a.drain() == [] and b.drain() == []          # nothing else reached the room
    _traffic(a, b)                                      # and the room still works


@pytest.fixture
def documented_auth(tmp_path):
    """A nats-server with the authorization block of docs/nats.md; yields (node, users)."""
    doc = (ROOT / "docs" / "nats.md").read_text()
    block = re.search(r"^authorization \{.*?^\}", doc, re.M | re.S).group(0)
    users = dict(re.findall(r"user: ([\w-]+), password: \"([^\"]+)\"", block))
    (tmp_path / "auth.conf").write_text(block + "\n")
    node = NatsServerProcess(config=tmp_path / "auth.conf").start()
    yield node, users
    node.stop()


def test_the_documented_guest_permissions_let_people_meet_and_keep_them_off_server_subjects(
        documented_auth, make):
    node, users = documented_auth
    port = node.port
    guest = f"nats://guest:{users['guest']}@127.0.0.1:{port}"
    _, a, b = _served_pair(make, f"nats://room-server:{users['room-server']}@127.0.0.1:{port}", guest)
    client = make[1]
    wait_until(lambda: len(a.roster) == 2 and len(b.roster) == 2)
    _traffic(a, b)
    nats = import_nats("test")
    errors, seen = [], []

    async def snoop():
        async def on_error(exc):
            errors.append(str(exc))

        nc = await nats.connect(guest, error_cb=on_error)

        async def cb(msg):
            seen.append(msg.subject)

        subs = [await nc.subscribe("xrdemo.s.>", cb=cb),      # the secret stream names
                await nc.subscribe("xrdemo.open", cb=cb)]
        await nc.publish("xrdemo.claims", b'{"server": "evil", "rooms": {"r": 0}}')
        await nc.publish("xrdemo.names", b'{"server": "evil", "names": {}}')
        await nc.flush()
        await asyncio.sleep(0.3)
        for sub in subs:
            await sub.unsubscribe()
        await nc.close()

    import asyncio
    a.send_pose(b"x" * 80, 1)
    asyncio.run(snoop())
    assert seen == []
    assert sum("permissions violation" in e.lower() for e in errors) == 4, errors
    with pytest.raises(ConnectionError, match="refused the user name or password .*Authorization Violation"):
        client(f"nats://guest:wrong@127.0.0.1:{port}", "eve").connect()


# --- errors --------------------------------------------------------------------------------
def test_no_nats_server_gives_a_clear_error():
    import socket

    with socket.socket() as s:                          # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = NatsClient([f"nats://127.0.0.1:{port}"], "r", "ann", **FAST)
    try:
        with pytest.raises(ConnectionError, match=rf"cannot join nats://127.0.0.1:{port}/r: "
                                                   "no NATS server answers"):
            c.connect()
    finally:
        c.close()


def test_no_room_server_on_the_nats_gives_a_clear_error(natsd):
    c = NatsClient([natsd.url], "r", "ann", **FAST)
    try:
        with pytest.raises(ConnectionError, match=r"cannot join nats://.*/r: no xrdemo room server"):
            c.connect()
    finally:
        c.close()


def test_missing_nats_py_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "nats", None)       # `import nats` now raises ImportError
    net = NetMeeting("nats://127.0.0.1:4222/r", "ann", log=lambda *_: None)
    try:
        with pytest.raises(RuntimeError, match=r"cannot join nats://127.0.0.1:4222/r: the nats-py "
                                               r"package is not installed \(pip install nats-py\)"):
            net.connect(timeout_s=2)
    finally:
        net.close()


@pytest.mark.parametrize("url, error", [
    ("nats://127.0.0.1:4222", "no room"),
    ("nats://host:99999/r", "port"),
    ("nats://a b/r", "bad host"),
    ("nats://h/r!", "room"),
])
def test_bad_nats_urls_are_refused(url, error):
    with pytest.raises(ValueError, match=error):
        proto.check_join_url(url)


def test_passwords_in_nats_urls_are_not_printed():
    c = NatsClient(["nats://ann:s3cret@127.0.0.1:9"], "r", "ann", **FAST)
    try:
        with pytest.raises(ConnectionError) as err:
            c.connect()
    finally:
        c.close()
    assert "s3cret" not in str(err.value) and "nats://ann:***@127.0.0.1:9" in str(err.value)
    assert proto.redact_nats_url("nats://a:b@h:1,nats://c:d@h2") == "nats://a:***@h:1,nats://c:***@h2"


def test_nats_urls_parse():
    assert proto.parse_nats_url("nats://h/r") == (["nats://h:4222"], "r")
    assert proto.parse_nats_url("nats://u:pw@h1:1,h2/team.a") == (["nats://u:pw@h1:1", "nats://h2:4222"], "team.a")
    assert proto.check_join_url("nats://[::1]:5/r") == "nats" and proto.check_join_url("h:1/r") == "udp"


# --- a cluster and several room servers ------------------------------------------------------
def test_clients_on_different_cluster_nodes_see_each_other(cluster, make):
    node_a, node_b = cluster
    server, client = make
    server(node_a.url)                                  # the room server talks to node a only
    a = client(node_a.url, "ann")
    b = client(node_b.url, "bob")                      # bob's NATS connection is to node b
    a.connect()
    b.connect()
    wait_until(lambda: len(a.roster) == 2 and len(b.roster) == 2)
    _traffic(a, b)
    _traffic(b, a)


def _room_owners(*servers):
    """room -> set of server ids that have members in it."""
    owners: dict = {}
    for srv in servers:
        for room in srv.call(lambda s=srv: list(s.server.rooms)):
            owners.setdefault(room, set()).add(srv.server.server_id)
    return owners


def test_two_room_servers_on_a_cluster_share_the_rooms_each_room_on_one(cluster, make):
    node_a, node_b = cluster
    server, client = make
    s1 = server(node_a.url)
    s2 = server(node_b.url)
    ids = {s1.server.server_id, s2.server.server_id}
    wait_until(lambda: s1.call(lambda: s2.server.server_id in s1.server.peers)
               and s2.call(lambda: s1.server.server_id in s2.server.peers))
    rooms = ["r1", "r2", "r3", "r4"]
    people = {}
    for i, room in enumerate(rooms):
        for k in range(2):                               # two people per room, on different nodes
            c = client((node_a, node_b)[(i + k) % 2].url, f"p{i}{k}", room=room)
            c.connect()
            people.setdefault(room, []).append(c)
        # the new claim has reached both servers before the next room is opened
        wait_until(lambda room=room: all(srv.call(lambda srv=srv: srv.server.owner_of(room))
                                         for srv in (s1, s2)))
    owners = _room_owners(s1, s2)
    assert set(owners) == set(rooms)
    assert all(len(o) == 1 for o in owners.values()), owners          # each room on one server
    assert {next(iter(o)) for o in owners.values()} == ids            # both servers serve rooms
    for room, (x, y) in people.items():
        assert x.server_id == y.server_id == next(iter(owners[room]))
        wait_until(lambda x=x, y=y: len(x.roster) == 2 and len(y.roster) == 2)
        _traffic(x, y)
    # The owner of r1 stops: its rooms move to the other server, people reconnect in their seats.
    owner = next(iter(owners["r1"]))
    gone, stay = (s1, s2) if s1.server.server_id == owner else (s2, s1)
    moved = [room for room in rooms if owners[room] == {owner}]
    gone.stop()
    for room in moved:
        for c in people[room]:
            wait_until(lambda c=c: c.connected and c.server_id == stay.server.server_id, timeout_s=10)
        x, y = people[room]
        wait_until(lambda x=x, y=y: len(x.roster) == 2 and len(y.roster) == 2)
        assert sorted((x.seat, y.seat)) == [0, 1]
        _traffic(x, y)
    assert set(_room_owners(stay)) == set(rooms)


def test_two_servers_claiming_one_room_settle_on_the_earliest_claim(natsd, make):
    server, client = make
    s1 = server(natsd.url)
    s2 = server(natsd.url)
    wait_until(lambda: s1.call(lambda: s2.server.server_id in s1.server.peers)
               and s2.call(lambda: s1.server.server_id in s2.server.peers))
    a, b = client(natsd.url, "ann", room="clash"), client(natsd.url, "bob", room="clash")
    # Each first open goes straight to a different server (as two first contacts racing each
    # other through different servers would), so both claim the room.
    a_open, b_open = _force_open(a, s1), _force_open(b, s2)
    a.connect()
    b.connect()
    assert a_open and b_open
    # One of them gives the room up; both people end in one room on the earliest claimant.
    wait_until(lambda: a.connected and b.connected and a.server_id == b.server_id
               and len(a.roster) == 2 and len(b.roster) == 2, timeout_s=10)
    owners = _room_owners(s1, s2)
    assert owners == {"clash": {a.server_id}}
    handed = sum(srv.stats()["control"].get("rooms_handed_over", 0) for srv in (s1, s2))
    assert handed == 1
    _traffic(a, b)


def _force_open(client, srv):
    """Make client's first open go to srv directly (its forwarded-open subject), later ones as
    usual through the queue group."""
    sent = []
    nc_request = None

    def patch():
        nonlocal nc_request
        nc = client._nc
        nc_request = nc.request

        async def request(subject, payload=b"", timeout=1.0, **kw):
            if subject == "xrdemo.open" and not sent:
                sent.append(subject)
                subject = f"xrdemo.s.{srv.server.server_id}.open"
            return await nc_request(subject, payload, timeout=timeout, **kw)

        nc.request = request

    original_udp = client._open_udp

    async def open_udp():
        await original_udp()
        patch()

    client._open_udp = open_udp
    return sent


def test_a_name_taken_on_one_room_server_is_taken_on_all(natsd, make):
    """Display names belong to a key across the room servers of a NATS (identity.md)."""
    server, client = make
    s1, s2 = server(natsd.url), server(natsd.url)
    wait_until(lambda: s1.call(lambda: s2.server.server_id in s1.server.peers)
               and s2.call(lambda: s1.server.server_id in s2.server.peers))
    ann = client(natsd.url, "Ann", room="r1", identity=I.Identity.generate())
    ann.connect()
    first = ann.server_id
    other = s2 if first == s1.server.server_id else s1
    wait_until(lambda: other.call(lambda: other.server.owner_of("r1")) == first)
    # r2 is new: it goes to the other room server (the one with fewer rooms) ...
    mallory = client(natsd.url, "ann", room="r2", identity=I.Identity.generate())
    with pytest.raises(NameTaken, match="belongs to someone else"):
        mallory.connect()
    assert other.stats()["control"]["name_taken"] == 1           # ... which refused the name
    # Ann may use her name anywhere; a room server started later learns who is who.
    again = client(natsd.url, "Ann", room="r3", identity=ann.identity)
    again.connect()
    s3 = server(natsd.url)
    norm = I.normalize_name("Ann")
    assert s3.call(lambda: s3.server._name_keys.get(norm)) == ann.identity.public


# --- the command line ---------------------------------------------------------------------
def _serve(url: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "xrdemo.cli", "serve", "--nats", url,
                             "--timeout", "2", "--status-every", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def test_xrdemo_serve_nats_processes_serve_rooms_on_a_cluster(cluster, make):
    node_a, node_b = cluster
    _server, client = make
    procs = [_serve(node_a.url), _serve(node_b.url)]
    logs, readers = [[], []], []
    try:
        for p in procs:
            line = p.stdout.readline()
            assert "serving rooms over NATS" in line and "join with: xrdemo run --join nats://" in line, line
        for p, log in zip(procs, logs):
            readers.append(threading.Thread(target=lambda p=p, log=log: log.extend(p.stdout), daemon=True))
            readers[-1].start()
        x = client(node_a.url, "x", room="one")
        y = client(node_b.url, "y", room="one")
        x.connect()
        y.connect()
        wait_until(lambda: len(x.roster) == 2 and len(y.roster) == 2)
        assert x.server_id == y.server_id
        _traffic(x, y)
        # each prints status lines (every 0.2 s), which count the other room server
        wait_until(lambda: all(any("1 other room server on NATS" in line for line in list(log))
                               for log in logs), timeout_s=10)
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait(10)
        for r in readers:
            r.join(10)
    outs = ["".join(log) for log in logs]
    assert all(p.returncode == 0 for p in procs), outs
    assert any("'x' joined 'one'" in out for out in outs), outs
    assert all("server stopped" in out for out in outs), outs


def test_a_killed_room_server_s_rooms_move_to_another_one(natsd, make):
    """SIGKILL: no goodbye, no EOF to the clients; its claims lapse and its people come back."""
    _server, client = make
    procs = [_serve(natsd.url), _serve(natsd.url)]
    try:
        ids = []
        for p in procs:
            line = p.stdout.readline()
            ids.append(re.search(r"xrdemo server (\w+) serving rooms", line).group(1))
        time.sleep(1.0)                                  # they have heard of each other
        x, y = client(natsd.url, "x", room="one"), client(natsd.url, "y", room="one")
        x.connect()
        y.connect()
        owner = ids.index(x.server_id)
        procs[owner].kill()
        procs[owner].wait(10)
        survivor = ids[1 - owner]
        for c in (x, y):
            wait_until(lambda c=c: c.connected and c.server_id == survivor, timeout_s=15)
        wait_until(lambda: len(x.roster) == 2 and len(y.roster) == 2)
        assert sorted((x.seat, y.seat)) == [0, 1]
        _traffic(x, y)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
            p.communicate(timeout=10)


def test_xrdemo_serve_nats_refuses_bad_addresses_and_an_absent_nats(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    bad = subprocess.run([sys.executable, "-m", "xrdemo.cli", "serve", "--nats", "nats://h:4222/room"],
                         capture_output=True, text=True, env=env, timeout=30)
    assert bad.returncode == 2 and "not a room" in bad.stderr
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    absent = subprocess.run([sys.executable, "-m", "xrdemo.cli", "serve", "--nats",
                             f"nats://127.0.0.1:{port}"], capture_output=True, text=True, env=env,
                            timeout=30)
    assert absent.returncode == 1
    assert f"cannot reach NATS at nats://127.0.0.1:{port}: no NATS server answers" in absent.stderr
    assert absent.stderr.count("\n") == 1, absent.stderr

"""Issue 16, item 3: private rooms. Poses and voices are sealed by their senders under sender
keys the members give each other (boxed under pair keys from their signed session keys); the
server, a raw member that ignores the key boxes, and a member who left cannot read them; forged
and replayed datagrams are dropped and counted; a recording of a private room holds
ciphertext only and says so. Real server, real clients."""

import threading
import time

import numpy as np
import pytest
from cryptography.exceptions import InvalidTag

from xrdemo.net import protocol as proto
from xrdemo.net.client import NetClient
from xrdemo.net.sender_keys import BOX_CONTEXT, SenderKeys
from xrdemo.net.server import ServerThread
from xrdemo.net import identity as I

from conftest import FAST
from netutil import Watcher, drain_datagrams, bind_udp, raw_join, sealed, udp_socket, wait_until

POSE = b"pose of Ada: head at the window, hands on the table" + bytes(40)
VOICE = b"opus: the quarterly numbers are not public yet" + bytes(60)


@pytest.fixture
def private_server():
    srv = ServerThread(port=0, timeout_s=1.0, private_rooms=True).start()
    yield srv
    srv.stop()


@pytest.fixture
def made():
    out = []
    yield out
    for c in out:
        c.close()


def member(port, name, made, room="r"):
    c = NetClient("127.0.0.1", port, room, name, **FAST)
    made.append(c)
    c.connect()
    return c


def keyed(*cs):
    """Every client holds a current key of every other's."""
    def ok():
        for c in cs:
            for o in cs:
                if o is not c and c._sender.own[0] not in o._sender.key_ids(c.seat):
                    return False
        return True
    return ok


def test_two_members_hear_and_see_each_other_and_the_server_holds_ciphertext(private_server, made):
    watcher = Watcher()
    private_server.call(setattr, private_server.server, "observer", watcher)
    a, b = member(private_server.port, "a", made), member(private_server.port, "b", made)
    assert a.private and b.private
    wait_until(keyed(a, b))
    wait_until(lambda: private_server.stats()["control"].get("bound", 0) >= 2)
    t = int(time.monotonic() * 1000) & 0xFFFFFFFF
    for i in range(10):
        assert a.send_pose(POSE, t + i)
        assert b.send_voice(i, t + i, VOICE)
    wait_until(lambda: b.stats.get("sealed_pose_received", 0) == 10 and a.stats.get("sealed_voice_received", 0) == 10)
    assert [(d.kind, d.seat, d.payload) for d in b.drain()] == [("pose", a.seat, POSE)] * 10
    assert [(d.kind, d.seat, d.payload) for d in a.drain()] == [("voice", b.seat, VOICE)] * 10
    kinds = {k for k, *_ in watcher.datagrams}
    assert kinds == {proto.KIND_SEALED_POSE, proto.KIND_SEALED_VOICE}          # nothing plain
    assert not any(POSE[:20] in p or VOICE[:20] in p for *_, p in watcher.datagrams)
    assert a.stats.get("pose_sent", 0) == 0 and a.stats["sealed_pose_sent"] == 10


def test_a_private_meeting_carries_real_poses_and_voice(private_server):
    from xrdemo.net.session import NetMeeting

    heard = []
    nets = [NetMeeting(f"127.0.0.1:{private_server.port}/r", name, log=lambda *_: None,
                       voice_sink=(lambda *f: heard.append(f[0])) if name == "b" else None)
            for name in ("a", "b")]
    try:
        for n in nets:
            n.connect(timeout_s=5)
        a, b = nets
        wait_until(lambda: len(a.client.roster) == 2 and len(b.client.roster) == 2)
        wait_until(keyed(a.client, b.client))
        wait_until(lambda: private_server.stats()["control"].get("bound", 0) >= 2)
        b.poll()
        joints = np.zeros((2, 26, 3))
        joints[:, :, 1] = 0.9
        head = np.array([0.1, 1.2, 0.3])
        t0 = time.monotonic_ns()
        for i in range(20):
            a.send_pose(head, np.array([0, 0, 0, 1.0]), joints, [True, True], 0.5, -1,
                        now_ns=t0 + i * 20_000_000)
            time.sleep(0.005)
        wait_until(lambda: a.seat in b.buffers)
        tone = (0.1 * np.sin(np.arange(9600) * 2 * np.pi * 440 / 48000)).astype(np.float32)
        sent = a.send_voice(tone)
        assert sent >= 8
        wait_until(lambda: len(heard) == sent)
        assert set(heard) == {a.seat}
        assert b.decode_errors == 0
    finally:
        for n in nets:
            n.close()


def test_a_raw_member_that_ignores_the_key_boxes_decodes_nothing(private_server, made):
    a = member(private_server.port, "a", made)
    sock, w = raw_join(private_server.port, name="eve", client_id="eeee0001")
    ue = udp_socket()
    bind_udp(ue, w["keys"], int(w["session"], 16), private_server.port)
    wait_until(lambda: len(a.roster) == 2)
    wait_until(lambda: private_server.stats()["control"].get("bound", 0) >= 2)
    wait_until(lambda: a.stats.get("sender_key_boxes_sent", 0) >= 1)   # eve was given a box: she ignores it
    t = int(time.monotonic() * 1000) & 0xFFFFFFFF
    for i in range(5):
        a.send_pose(POSE, t + i)
        a.send_voice(i, t + i, VOICE)
    got = drain_datagrams(ue)
    assert sorted({k for k, *_ in got}) == [proto.KIND_SEALED_POSE, proto.KIND_SEALED_VOICE] and len(got) == 10
    assert not any(POSE[:20] in p or VOICE[:20] in p for *_, p in got)
    from xrdemo.net import posecodec as PC
    for kind, _seat, _seq, _t, payload in got:                 # not a pose a codec can read either
        if kind == proto.KIND_SEALED_POSE:
            with pytest.raises(ValueError):
                PC.decode_pose(payload, None)
    # and plain poses from her are not forwarded into a private room
    ue.sendto(sealed(w["keys"], proto.KIND_POSE, int(w["session"], 16), 1, t, POSE), ("127.0.0.1", private_server.port))
    wait_until(lambda: private_server.stats()["drops"].get("plain_in_private", 0) == 1)
    sock.close(), ue.close()


def test_a_member_who_left_cannot_read_what_comes_after_and_a_newcomer_not_what_came_before(private_server, made):
    watcher = Watcher()
    private_server.call(setattr, private_server.server, "observer", watcher)
    a, b, c = (member(private_server.port, n, made) for n in ("a", "b", "c"))
    wait_until(keyed(a, b, c))
    wait_until(lambda: private_server.stats()["control"].get("bound", 0) >= 3)
    t = int(time.monotonic() * 1000) & 0xFFFFFFFF
    a.send_pose(POSE, t)
    wait_until(lambda: c.stats.get("sealed_pose_received", 0) == 1)
    c_had = dict(c._sender._theirs[a.seat])            # every key of a's that c ever held (kept last 2)
    assert c_had
    key_before = a._sender.own[0]
    c.close()
    wait_until(lambda: a._sender.own[0] != key_before)                 # a made a new key when c left
    wait_until(keyed(a, b))
    del watcher.datagrams[:]
    for i in range(5):
        a.send_pose(POSE, t + 10 + i)
    wait_until(lambda: b.stats.get("sealed_pose_received", 0) == 6)
    after = [(k, s, q, tm, p) for k, s, q, tm, p in watcher.datagrams if s == a.seat]
    assert len(after) == 5
    for kind, seat, seq, t_ms, payload in after:      # c's keys open none of them
        for aead in c_had.values():
            with pytest.raises(InvalidTag):
                aead.decrypt(payload[:12], payload[12:], proto.server_header(kind, seat, seq, t_ms) + payload[:12])
    # a newcomer gets only keys made after its arrival
    key_before = a._sender.own[0]
    d = member(private_server.port, "d", made)
    wait_until(keyed(a, b, d))
    assert key_before not in d._sender.key_ids(a.seat) and a._sender.own[0] != key_before


def _inject(client, packet):
    """Hand a datagram to client as if its server had sent it (a compromised server)."""
    client._loop.call_soon_threadsafe(client._on_datagram, packet)


def test_forged_and_replayed_datagrams_are_dropped_and_counted(private_server, made):
    watcher = Watcher()
    private_server.call(setattr, private_server.server, "observer", watcher)
    a, b = member(private_server.port, "a", made), member(private_server.port, "b", made)
    sock, w = raw_join(private_server.port, name="mallory", client_id="baad0001")
    um = udp_socket()
    session = int(w["session"], 16)
    bind_udp(um, w["keys"], session, private_server.port)
    wait_until(lambda: len(b.roster) == 3)
    wait_until(keyed(a, b))
    wait_until(lambda: private_server.stats()["control"].get("bound", 0) >= 3)
    # mallory joins honestly and gives b a sender key of hers, by hand
    my = SenderKeys()
    key_id, key = my.new_key()
    pair = w["eph_obj"].pair_keys(b.roster[b.seat].eph, b"r" + BOX_CONTEXT)
    sock.sendall(proto.encode_message({"type": "sender_key", "boxes": {
        str(b.seat): I.b64(SenderKeys.box(pair[0], key_id, key, w["seat"], b.seat))}}))
    wait_until(lambda: key_id in b._sender.key_ids(w["seat"]))
    t = int(time.monotonic() * 1000) & 0xFFFFFFFF
    up = ("127.0.0.1", private_server.port)
    honest = my.seal(proto.KIND_SEALED_POSE, w["seat"], 1, t, b"mallory's honest pose")
    um.sendto(sealed(w["keys"], proto.KIND_SEALED_POSE, session, 1, t, honest), up)
    wait_until(lambda: b.stats.get("sealed_pose_received", 0) == 1)
    assert [(d.seat, d.payload) for d in b.drain()] == [(w["seat"], b"mallory's honest pose")]
    # her datagram sealed as if from a's seat: the server stamps her own seat, the check fails
    as_a = my.seal(proto.KIND_SEALED_POSE, a.seat, 2, t, b"I am a")
    um.sendto(sealed(w["keys"], proto.KIND_SEALED_POSE, session, 2, t, as_a), up)
    # an altered ciphertext
    bent = bytearray(my.seal(proto.KIND_SEALED_POSE, w["seat"], 3, t, b"bent"))
    bent[-1] ^= 1
    um.sendto(sealed(w["keys"], proto.KIND_SEALED_POSE, session, 3, t, bytes(bent)), up)
    # her honest payload again under a new seq
    um.sendto(sealed(w["keys"], proto.KIND_SEALED_POSE, session, 4, t, honest), up)
    wait_until(lambda: b.stats.get("rx_dropped_sealed_bad", 0) == 3)
    # a compromised server: a's datagram re-sent with a new seq, and again stamped as mallory's,
    # an exact copy, and a plain pose passed off as a's
    a.send_pose(POSE, t + 5)
    wait_until(lambda: b.stats.get("sealed_pose_received", 0) == 2)
    kind, seat, seq, t_ms, payload = [x for x in watcher.datagrams if x[1] == a.seat][-1]
    down = b._link.keys.down
    _inject(b, proto.seal(down, proto.pack_server_datagram(kind, seat, seq + 1, t_ms, payload)))
    _inject(b, proto.seal(down, proto.pack_server_datagram(kind, seat, seq, t_ms, payload)))
    _inject(b, proto.seal(down, proto.pack_server_datagram(proto.KIND_POSE, seat, seq + 2, t_ms, POSE)))
    wait_until(lambda: b.stats.get("rx_dropped_sealed_bad", 0) == 4
               and b.stats.get("rx_dropped_replay", 0) >= 1
               and b.stats.get("rx_dropped_plain_in_private", 0) == 1)
    _inject(b, proto.seal(down, proto.pack_server_datagram(kind, w["seat"], 7, t_ms, payload)))
    time.sleep(0.2)
    assert b.stats.get("sealed_pose_received", 0) == 2              # nothing forged got through
    assert [d.payload for d in b.drain()] == [POSE]
    sock.close(), um.close()


def test_a_normal_room_is_unchanged_and_refuses_sealed_datagrams(server, clients):
    a, b = clients(server.port, "a"), clients(server.port, "b")
    a.connect(), b.connect()
    assert not a.private and not b.private
    wait_until(lambda: server.stats()["control"].get("bound", 0) >= 2)
    a.send_pose(POSE, 1000)
    wait_until(lambda: b.stats.get("pose_received", 0) == 1)
    sock, w = raw_join(server.port, name="s", client_id="5ea10001")
    us = udp_socket()
    bind_udp(us, w["keys"], int(w["session"], 16), server.port)
    us.sendto(sealed(w["keys"], proto.KIND_SEALED_POSE, int(w["session"], 16), 1, 1000, bytes(40)),
              ("127.0.0.1", server.port))
    wait_until(lambda: server.stats()["drops"].get("sealed_in_normal_room", 0) == 1)
    sock.close(), us.close()


def test_a_private_room_recording_holds_ciphertext_only_and_says_so(tmp_path, made, capsys):
    from xrdemo.cli import main
    from xrdemo.replay import fileformat as F
    from xrdemo.replay import records as R
    from xrdemo.replay.server_record import ServerRecorder

    srv = ServerThread(port=0, timeout_s=1.0, private_rooms=True).start()
    recorder = ServerRecorder(tmp_path, "127.0.0.1:test", private=True)
    srv.call(setattr, srv.server, "observer", recorder)
    try:
        a, b = member(srv.port, "a", made, room="secret"), member(srv.port, "b", made, room="secret")
        wait_until(keyed(a, b))
        wait_until(lambda: srv.stats()["control"].get("bound", 0) >= 2)
        for i in range(5):
            a.send_pose(POSE, 1000 + i)
            b.send_voice(i, 1000 + i, VOICE)
        wait_until(lambda: b.stats.get("sealed_pose_received", 0) == 5 and a.stats.get("sealed_voice_received", 0) == 5)
        a.close(), b.close()
        wait_until(lambda: not recorder.rooms)
    finally:
        srv.stop()
        recorder.close()
    path, = recorder.files
    with F.RecordingReader(path) as r:
        assert r.meta["ciphertext_only"]
        recs = list(r.records())
    types = {rec.rtype for rec in recs}
    assert R.SEALED in types and R.POSE not in types and R.VOICE not in types
    assert not any(POSE[:20] in rec.body or VOICE[:20] in rec.body for rec in recs)
    assert sum(rec.rtype == R.SEALED for rec in recs) == 10
    capsys.readouterr()
    assert main(["replay", str(path), "--info"]) == 0
    out = capsys.readouterr().out
    assert "ciphertext only" in out and "a (" not in out.split("people by seat")[0]
    assert main(["replay", str(path), "--platform", "headless", "--video", str(tmp_path / "x.mp4")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"xrdemo replay: error: {path}: cannot show the people: this server recording of a "
                   "private room holds ciphertext only (no keys to open it)"]
    assert not (tmp_path / "x.mp4").exists()


def test_over_nats_a_private_room_publishes_each_sealed_datagram_once_and_an_eavesdropper_reads_nothing():
    import asyncio

    from xrdemo.net.nats_server import NatsServerThread
    from xrdemo.net.nats_transport import NatsClient, connect_nats
    from xrdemo.net.natsd import NatsServerProcess

    node = NatsServerProcess().start()
    srv = NatsServerThread([node.url], timeout_s=2.0, private_rooms=True).start()
    heard = []
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def on(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(5)

    async def eavesdrop():                        # anyone subscribed to every datagram subject
        nc = await connect_nats([node.url], None, name="eve", timeout_s=3.0)

        async def keep(msg):
            heard.append(msg.data)

        await nc.subscribe("xrdemo.d.>", cb=keep)
        await nc.flush()
        return nc

    cs = []
    try:
        nc = on(eavesdrop())
        cs = [NatsClient([node.url], "r", n, keepalive_s=0.1, timeout_s=2.0) for n in ("a", "b", "c")]
        for c in cs:
            c.connect(5)
        a, b, c = cs
        assert all(x.private for x in cs)
        wait_until(keyed(a, b, c))
        wait_until(lambda: all(x._fanout_sub is not None for x in cs))
        wait_until(lambda: srv.stats()["control"].get("bound", 0) >= 3)     # (delivered counts bound members)
        for i in range(10):
            a.send_pose(POSE, 1000 + i)
            b.send_voice(i, 1000 + i, VOICE)
            time.sleep(0.01)
        wait_until(lambda: b.stats.get("sealed_pose_received", 0) == 10 and c.stats.get("sealed_pose_received", 0) == 10
                   and a.stats.get("sealed_voice_received", 0) == 10 and c.stats.get("sealed_voice_received", 0) == 10)
        assert [d.payload for d in b.drain() if d.kind == "pose"] == [POSE] * 10
        stats = srv.stats()
        assert stats["fanout"]["published"] == 20                      # once each, not once per member
        assert stats["packets_out"]["sealed_pose"] == 20               # delivered to 2 members each
        time.sleep(0.2)
        assert len(heard) >= 20 and not any(POSE[:20] in h or VOICE[:20] in h for h in heard)
        on(nc.close())
    finally:
        for x in cs:
            x.close()
        srv.stop()
        node.stop()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)

"""Hostile input: the parsers only ever raise ProtocolError, and a live server keeps serving under a
spray of random datagrams and random TCP bytes (everything dropped and counted)."""

from __future__ import annotations

import random
import socket
import struct
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from netutil import wait_until
from xrdemo.net import identity as I
from xrdemo.net import protocol as proto
from xrdemo.net.client import NetClient, _Link
from xrdemo.net.server import ServerThread

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)

FIELDS = ["type", "v", "room", "name", "client_id", "want_seat", "profile", "udp_port", "key", "eph", "sig"]
plausible_messages = st.fixed_dictionaries(
    {"type": st.sampled_from(["hello", "ping", "leave", "profile", "rebind", "welcome", "", "x"])},
    optional={k: json_values | st.sampled_from([1, 2, "r", "abcdef01", 3, {}, "A" * 43 + "=", "B" * 86 + "=="])
              for k in FIELDS[1:]})


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_datagram_parsers_raise_only_protocol_errors(data):
    for parse in (proto.parse_client_datagram, proto.parse_server_datagram):
        try:
            kind, _who, seq, t_ms, payload = parse(data)
        except proto.ProtocolError as exc:
            assert exc.reason in ("short", "bad_kind", "too_long", "bad_seat")
        else:
            assert kind in proto.KIND_NAMES and len(payload) <= proto.MAX_PAYLOAD[kind]
            assert 0 <= seq < 65536 and 0 <= t_ms < 2**32


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 50))
def test_frame_reader_raises_only_protocol_errors(data, step):
    reader = proto.FrameReader()
    try:
        for i in range(0, len(data), step):
            for msg in reader.feed(data[i:i + step]):
                assert isinstance(msg, dict) and isinstance(msg["type"], str)
    except proto.ProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_well_framed_garbage_bodies(body):
    frame = struct.pack(">I", len(body)) + body
    try:
        proto.FrameReader().feed(frame)
    except proto.ProtocolError as exc:
        assert exc.reason in ("bad_length", "bad_json", "bad_message")


@settings(max_examples=500, deadline=None)
@given(plausible_messages)
def test_message_validation_raises_only_protocol_errors(msg):
    try:
        out = proto.validate_client_message(msg)
    except proto.ProtocolError as exc:
        assert exc.reason in ("bad_message", "unknown_type", "version")
        return
    if isinstance(out, proto.Hello):
        assert proto.ROOM_RE.fullmatch(out.room) and isinstance(out.profile, dict)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=500), plausible_messages | st.dictionaries(st.text(max_size=6), json_values))
def test_client_receive_paths_never_raise(data, msg):
    c = NetClient("127.0.0.1", 1, "r", "a")
    try:
        c._link = _Link(session=1, seat=0, keys=I.SessionKeys(b"u" * 32, b"d" * 32))
        c._on_datagram(data)
        c._on_control(msg)
        c._on_control({**msg, "type": random.choice(["joined", "left", "profile", "pong"])})
        assert isinstance(c.drain(), list) and isinstance(c.events(), list)
    finally:
        c.close()


def test_live_server_survives_a_spray_of_random_datagrams_and_tcp_bytes():
    rng = random.Random(7)
    with ServerThread(port=0, timeout_s=2.0) as srv:
        a = NetClient("127.0.0.1", srv.port, "r", "a", keepalive_s=0.1)
        b = NetClient("127.0.0.1", srv.port, "r", "b", keepalive_s=0.1)
        try:
            a.connect()
            b.connect()
            wait_until(lambda: srv.stats()["packets_in"].get("keepalive", 0) >= 2)
            session = a._link.session
            dst = ("127.0.0.1", srv.port)
            n_sprayed = 3000
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                for i in range(n_sprayed):
                    r = rng.random()
                    if r < 0.3:        # random bytes
                        data = rng.randbytes(rng.randrange(0, 600))
                    elif r < 0.6:      # a's real token without a's key (a forged MAC)
                        data = proto.pack_client_datagram(rng.choice([1, 2, 3]), session, i, i,
                                                      rng.randbytes(rng.randrange(0, 100))) + rng.randbytes(8)
                    elif r < 0.8:      # guessed tokens
                        data = proto.pack_client_datagram(rng.choice([1, 2]), rng.randrange(1 << 24) ^ session | 1,
                                                      i, i, b"x")
                    else:              # valid kinds, oversize payloads
                        data = proto.pack_client_datagram(rng.choice([1, 2, 3]), session, i, i, b"y" * rng.choice([129, 401, 1200]))
                    u.sendto(data, dst)
                    if i % 200 == 0:
                        time.sleep(0.002)      # let the server keep up (loopback buffers are finite)
            for _ in range(30):                # random TCP streams, some after a valid hello
                with socket.create_connection(dst, timeout=2) as s:
                    if rng.random() < 0.5:
                        s.sendall(proto.encode_message({"type": "hello", "v": proto.PROTOCOL_VERSION, "room": "r",
                                                    "name": "z", "client_id": rng.randbytes(4).hex()}))
                    try:
                        s.sendall(rng.randbytes(rng.randrange(1, 300)))
                        s.settimeout(0.5)
                        s.recv(4096)
                    except OSError:
                        pass
            # still serving: forwarding and joining work, and every sprayed datagram was dropped
            a.send_pose(b"still here", 1)
            wait_until(lambda: [d for d in b.drain() if d.payload == b"still here"])
            c = NetClient("127.0.0.1", srv.port, "r", "c")
            try:
                assert c.connect()["seat"] >= 2
            finally:
                c.close()
            stats = srv.stats()
            drops = stats["drops"]
            assert sum(drops.values()) > 0.9 * n_sprayed      # (a few may be lost on loopback)
            assert drops.get("bad_mac", 0) > 0 and drops.get("bad_session", 0) > 0
            assert drops.get("too_long", 0) > 0
            assert sum(stats["control_errors"].values()) > 0
            wait_until(lambda: set(a.roster) >= {0, 1} and a.connected and b.connected)
        finally:
            a.close()
            b.close()

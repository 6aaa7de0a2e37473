"""Helpers for the network tests: polling with a deadline and a raw (hand-driven) protocol client."""

from __future__ import annotations

import json
import socket
import struct
import time

from xrdemo.net import identity as I
from xrdemo.net import protocol as proto


def wait_until(predicate, timeout_s: float = 5.0, period_s: float = 0.01):
    """Poll predicate() until it returns something truthy (returned) or fail after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s: {predicate}")
        time.sleep(period_s)


def recv_message(sock: socket.socket, timeout_s: float = 5.0) -> dict:
    """One framed control message from a blocking TCP socket."""
    sock.settimeout(timeout_s)
    header = _recv_exact(sock, 4)
    (n,) = struct.unpack(">I", header)
    return json.loads(_recv_exact(sock, n))


def _recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def raw_join(port: int, room: str = "r", name: str = "raw", client_id: str = "feedbeef",
             want_seat=None, identity=None) -> tuple[socket.socket, dict]:
    """Join by hand over TCP: read the challenge, send a hello signed by identity (default: a new
    key), read the answer. Returns the open socket and the answer; a welcome also gets "keys"
    (the session's ``identity.SessionKeys``, to seal datagrams by hand)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    challenge = I.unb64(recv_message(sock)["challenge"], I.CHALLENGE_BYTES)
    eph = I.Ephemeral()
    sock.sendall(proto.encode_message(I.hello_message(identity or I.Identity.generate(), proto.PROTOCOL_VERSION,
                                                  challenge, eph.public, room, name, client_id,
                                                  want_seat, {}, 0)))
    answer = recv_message(sock)
    if answer.get("type") == "welcome":
        server_eph = I.unb64(answer["eph"], I.KEY_BYTES)
        answer["keys"] = eph.session_keys(server_eph, challenge, eph.public, server_eph)
        answer["eph_obj"] = eph          # this session's X25519 key pair (whisper keys)
    return sock, answer


def sealed(keys, kind: int, session: int, seq: int, t_ms: int, payload: bytes = b"") -> bytes:
    """A client -> server datagram with its MAC under keys.up."""
    return proto.seal(keys.up, proto.pack_client_datagram(kind, session, seq, t_ms, payload))


def udp_socket(host: str = "127.0.0.1") -> socket.socket:
    """A UDP socket on host (127.0.0.2 and up are other loopback addresses: another machine,
    as the server sees it)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    s.settimeout(2.0)
    return s


def events_until(client, predicate, timeout_s: float = 5.0) -> list:
    """Collect client.events() until predicate(all collected) holds; returns them all."""
    seen: list = []

    def check():
        seen.extend(client.events())
        return predicate(seen)

    wait_until(check, timeout_s)
    return seen


def bind_udp(sock, keys, session: int, port: int, seq: int = 0) -> None:
    """Bind a raw client's UDP address at the server: send a keepalive; from the control
    connection's IP it binds at once (the echo comes back), from another the server sends a
    probe (``protocol.KIND_PROBE``), answered here with its nonce, then the echo."""
    import time as _time

    t_ms = int(_time.monotonic() * 1000) & 0xFFFFFFFF
    sock.sendto(sealed(keys, proto.KIND_KEEPALIVE, session, seq, t_ms), ("127.0.0.1", port))
    data, _ = sock.recvfrom(2048)
    kind, _seat, pseq, pt, nonce = proto.parse_server_datagram(data[:-proto.MAC_BYTES])
    if kind == proto.KIND_KEEPALIVE:
        return
    assert kind == proto.KIND_PROBE, kind
    sock.sendto(sealed(keys, proto.KIND_PROBE, session, pseq, pt, nonce), ("127.0.0.1", port))
    sock.sendto(sealed(keys, proto.KIND_KEEPALIVE, session, seq + 1, t_ms), ("127.0.0.1", port))
    data, _ = sock.recvfrom(2048)
    assert data[0] == proto.KIND_KEEPALIVE, data[0]


def drain_datagrams(sock, seconds: float = 0.5) -> list:
    """Every server datagram arriving on a raw UDP socket until ``seconds`` pass with none, parsed
    (MAC stripped, not checked) by proto.parse_server_datagram."""
    sock.settimeout(seconds)
    out = []
    try:
        while True:
            data = sock.recv(2048)
            out.append(proto.parse_server_datagram(data[:-proto.MAC_BYTES]))
    except OSError:
        pass
    return out


class Watcher:
    """A server observer (as a recorder is) keeping every datagram it is told of, as
    (kind, seat, seq, t_ms, payload) in ``datagrams``."""

    def __init__(self):
        self.datagrams = []

    def joined(self, *a):
        pass

    def left(self, *a):
        pass

    def profile(self, *a):
        pass

    def datagram(self, room, kind, seat, seq, t_ms, payload):
        self.datagrams.append((kind, seat, seq, t_ms, payload))

"""Helpers for the network tests: polling with a deadline and a raw (hand-driven) protocol client."""

from __future__ import annotations

import json
import socket
import struct
import time

from xrdemo.net import protocol as P


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
             want_seat=None) -> tuple[socket.socket, dict]:
    """Join by hand over TCP; returns the open socket and the server's first answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(P.encode_message({"type": "hello", "v": 1, "room": room, "name": name,
                                   "client_id": client_id, "want_seat": want_seat, "profile": {},
                                   "udp_port": 0}))
    return sock, recv_message(sock)


def udp_socket() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2.0)
    return s

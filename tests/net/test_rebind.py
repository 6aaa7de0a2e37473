"""Issue 16, item 4: NAT rebinding. A client whose UDP source port changes mid-meeting flows
again within 2 s (the server checks the new address with a probe the client answers under its
session key); a copy of someone's datagram raced from another address cannot capture the binding."""

import socket
import threading
import time

from xrdemo.net import protocol as proto
from xrdemo.net.client import NetClient

from netutil import raw_join, sealed, udp_socket, wait_until


def change_udp_port(client: NetClient) -> None:
    """What a NAT rebinding looks like to the server: the client's datagrams suddenly come from
    another source port (here the client's socket is swapped for a new one, on its loop)."""
    done = threading.Event()

    def swap():
        old = client._sock
        client._loop.remove_reader(old.fileno())
        new = socket.socket(old.family, socket.SOCK_DGRAM)
        new.setblocking(False)
        new.connect(old.getpeername())
        client._loop.add_reader(new.fileno(), client._read_udp)
        client._sock = new
        old.close()
        done.set()
    client._loop.call_soon_threadsafe(swap)
    assert done.wait(2.0)


def test_a_client_whose_port_changes_flows_again_within_2_s(server):
    port = server.port
    a = NetClient("127.0.0.1", port, "r", "a")                   # default liveness (1 s keepalive)
    b = NetClient("127.0.0.1", port, "r", "b")
    listener = NetClient("127.0.0.1", port, "r", "quiet")        # sends nothing but keepalives
    heard = {"a": [], "b": [], "quiet": []}
    for c, name in ((a, "a"), (b, "b"), (listener, "quiet")):
        c.on_datagram = lambda d, name=name: heard[name].append((time.monotonic(), d.seat))
        c.connect()
    stop = threading.Event()

    def talk():
        while not stop.is_set():
            t = int(time.monotonic() * 1000) & 0xFFFFFFFF
            a.send_pose(b"a" * 80, t)
            b.send_pose(b"b" * 80, t)
            time.sleep(0.02)
    th = threading.Thread(target=talk, daemon=True)
    th.start()
    try:
        wait_until(lambda: heard["b"] and heard["a"] and heard["quiet"])
        old_port = a._sock.getsockname()[1]
        change_udp_port(a)
        change_udp_port(listener)
        t0 = time.monotonic()
        assert a._sock.getsockname()[1] != old_port
        wait_until(lambda: any(t > t0 + 0.05 and s == a.seat for t, s in heard["b"][-5:]), timeout_s=5)
        wait_until(lambda: any(t > t0 + 0.05 for t, _ in heard["a"][-5:]), timeout_s=5)
        wait_until(lambda: any(t > t0 + 0.05 for t, _ in heard["quiet"][-5:]), timeout_s=5)
        back = {name: min(t for t, _ in heard[name] if t > t0 + 0.05) - t0 for name in heard}
        assert max(back.values()) < 2.0, back
        stats = server.stats()
        assert stats["control"]["rebound"] >= 2 and a.connected and listener.connected
    finally:
        stop.set()
        th.join()
        for c in (a, b, listener):
            c.close()


def test_a_raced_copy_from_another_address_cannot_capture_the_binding(server, clients):
    """A copy of the victim's first datagram sent first from another IP only earns that address
    a probe it cannot answer (nor with a copy of the victim's answer); the victim's own first
    datagram, from its control connection's IP, binds."""
    receiver = clients(server.port, "receiver")
    receiver.connect()
    sock, welcome = raw_join(server.port, name="victim", client_id="0badcafe")
    session, keys = int(welcome["session"], 16), welcome["keys"]
    uv, thief = udp_socket("127.0.0.3"), udp_socket("127.0.0.2")   # the victim behind a NAT: probed too
    dst = ("127.0.0.1", server.port)
    try:
        wait_until(lambda: server.stats()["control"].get("bound", 0) >= 1)      # the receiver
        first = sealed(keys, proto.KIND_POSE, session, 0, 100, b"first")
        thief.sendto(first, dst)                               # the copy wins the race
        uv.sendto(first, dst)
        probe_thief = proto.parse_server_datagram(thief.recv(100)[:-8])
        probe_victim = proto.parse_server_datagram(uv.recv(100)[:-8])
        assert probe_thief[0] == probe_victim[0] == proto.KIND_PROBE and probe_thief[4] != probe_victim[4]
        answer = sealed(keys, proto.KIND_PROBE, session, probe_victim[2], probe_victim[3], probe_victim[4])
        thief.sendto(answer, dst)                              # a copy of the victim's answer
        wait_until(lambda: server.stats()["drops"].get("bad_probe") == 1)
        forged = proto.pack_client_datagram(proto.KIND_PROBE, session, probe_thief[2], probe_thief[3], probe_thief[4])
        thief.sendto(forged + b"\0" * 8, dst)                  # its own nonce, without the key
        wait_until(lambda: server.stats()["drops"].get("bad_mac") == 1)
        uv.sendto(answer, dst)                                 # the victim answers: bound
        wait_until(lambda: server.stats()["control"].get("bound", 0) >= 2)
        uv.sendto(sealed(keys, proto.KIND_POSE, session, 1, 101, b"mine"), dst)
        thief.sendto(sealed(keys, proto.KIND_POSE, session, 1, 101, b"mine"), dst)
        wait_until(lambda: [d for d in receiver.drain() if d.payload == b"mine"])
        assert server.stats()["control"].get("rebound", 0) == 0
        assert set(_kinds(thief)) <= {proto.KIND_PROBE}            # the thief is only ever asked
    finally:
        for s in (sock, uv, thief):
            s.close()


def test_a_copy_raced_from_the_same_ip_loses_the_binding_at_the_next_datagram(server, clients):
    """From the control connection's IP (say, behind the same NAT) a raced copy of the first
    datagram does bind, but only until the victim's next datagram: that address is probed,
    answers, and the copy's sender cannot take it back (it cannot answer a probe)."""
    receiver = clients(server.port, "receiver")
    receiver.connect()
    sock, welcome = raw_join(server.port, name="victim", client_id="0badcafe")
    session, keys = int(welcome["session"], 16), welcome["keys"]
    uv, thief = udp_socket(), udp_socket()
    dst = ("127.0.0.1", server.port)
    try:
        wait_until(lambda: server.stats()["control"].get("bound", 0) >= 1)
        first = sealed(keys, proto.KIND_POSE, session, 0, 100, b"first")
        thief.sendto(first, dst)
        wait_until(lambda: server.stats()["control"].get("bound", 0) >= 2)      # the thief, for now
        uv.sendto(sealed(keys, proto.KIND_POSE, session, 1, 101, b"second"), dst)
        probe = proto.parse_server_datagram(uv.recv(100)[:-8])
        assert probe[0] == proto.KIND_PROBE
        uv.sendto(sealed(keys, proto.KIND_PROBE, session, probe[2], probe[3], probe[4]), dst)
        wait_until(lambda: server.stats()["control"].get("rebound", 0) == 1)
        for seq in range(2, 6):
            thief.sendto(sealed(keys, proto.KIND_POSE, session, seq, 102, b"copy"), dst)   # copies: no way back
        time.sleep(0.3)
        uv.sendto(sealed(keys, proto.KIND_POSE, session, 9, 109, b"mine"), dst)
        wait_until(lambda: [d for d in receiver.drain() if d.payload == b"mine"])
        assert server.stats()["control"]["rebound"] == 1                         # still the victim's
    finally:
        for s in (sock, uv, thief):
            s.close()


def _kinds(sock, seconds=0.3):
    sock.settimeout(seconds)
    got = []
    try:
        while True:
            got.append(proto.parse_server_datagram(sock.recv(200)[:-8])[0])
    except OSError:
        pass
    return got

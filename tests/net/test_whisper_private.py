"""Issue 16, item 2: private whispers. Whispered voice is encrypted end to end for the partner
alone (a key from the two members' signed session keys), the server forwards it to that partner
only and never records it, a raw client in the room receives nothing of it, and a pair exists
only when both people chose each other (nobody else can redirect or suppress it)."""

import time

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from xrdemo.net import identity as I
from xrdemo.net import protocol as proto

from netutil import Watcher, drain_datagrams, bind_udp, raw_join, udp_socket, wait_until

SECRET = b"opus frame: meet me at the coffee machine" + bytes(20)


def test_a_whisper_reaches_the_partner_alone_decrypted_and_nobody_else(server, clients):
    watcher = Watcher()
    server.call(setattr, server.server, "observer", watcher)
    a, b = clients(server.port, "a"), clients(server.port, "b")
    a.connect(), b.connect()
    sock, w = raw_join(server.port, name="eve", client_id="eeee0001")     # a raw client in the room
    ue = udp_socket()
    bind_udp(ue, w["keys"], int(w["session"], 16), server.port)
    wait_until(lambda: len(a.roster) == 3 and len(b.roster) == 3)
    wait_until(lambda: server.stats()["control"].get("bound", 0) >= 3)      # everyone's UDP address
    a.whisper_partner, b.whisper_partner = b.seat, a.seat
    t = int(time.monotonic() * 1000) & 0xFFFFFFFF
    for i in range(20):
        assert a.send_whisper(b.seat, i, t + 20 * i, SECRET)
    wait_until(lambda: b.stats.get("whisper_received", 0) == 20)
    got = [d for d in b.drain() if d.kind == "whisper"]
    assert [d.payload for d in got] == [SECRET] * 20 and {d.seat for d in got} == {a.seat}
    assert [k for k, *_ in watcher.datagrams if k == proto.KIND_WHISPER] == []          # never recorded
    assert [k for k, _ in drain_datagrams(ue)] == []                                   # eve: nothing at all
    assert a.drain() == []
    assert server.stats()["packets_out"]["whisper"] == 20
    sock.close(), ue.close()


def test_only_the_pair_keys_open_a_whisper_the_server_sees_ciphertext(server, clients):
    """The target here is a raw client holding its own session key: the bytes the server
    forwarded do not contain the voice, and only the pair key derived from the two signed
    session keys opens them."""
    a = clients(server.port, "a")
    a.connect()
    sock, w = raw_join(server.port, name="tess", client_id="7e550001")
    ut = udp_socket()
    bind_udp(ut, w["keys"], int(w["session"], 16), server.port)
    wait_until(lambda: len(a.roster) == 2)
    wait_until(lambda: server.stats()["control"].get("bound", 0) >= 2)
    a.whisper_partner = w["seat"]
    assert a.send_whisper(w["seat"], 1, 1000, SECRET)
    (kind, seat, seq, t_ms, payload), = drain_datagrams(ut)
    assert kind == proto.KIND_WHISPER and payload[0] == w["seat"] and SECRET not in payload
    a_eph = a.roster[a.seat].eph
    _send, recv = w["eph_obj"].pair_keys(a_eph, b"r")
    nonce = payload[1:proto.WHISPER_HEAD] + bytes(4)
    assert ChaCha20Poly1305(recv).decrypt(nonce, payload[proto.WHISPER_HEAD:], bytes([seat, w["seat"]])) == SECRET
    other = I.Ephemeral()                                      # any other key: nothing
    try:
        ChaCha20Poly1305(other.pair_keys(a_eph, b"r")[1]).decrypt(nonce, payload[proto.WHISPER_HEAD:],
                                                                  bytes([seat, w["seat"]]))
        raise AssertionError("another key opened the whisper")
    except Exception as exc:
        assert type(exc).__name__ == "InvalidTag"
    sock.close(), ut.close()


def test_a_third_member_can_neither_redirect_nor_suppress_a_whisper(server, clients):
    a, b, m = clients(server.port, "a"), clients(server.port, "b"), clients(server.port, "mallory")
    for c in (a, b, m):
        c.connect()
    wait_until(lambda: all(len(c.roster) == 3 for c in (a, b, m)))
    wait_until(lambda: server.stats()["control"].get("bound", 0) >= 3)
    a.whisper_partner, b.whisper_partner = b.seat, a.seat
    m.whisper_partner = a.seat                     # mallory "leans in" to a: a does not choose her
    for i in range(5):
        a.send_whisper(b.seat, i, 1000 + i, SECRET)
        m.send_whisper(b.seat, i, 1000 + i, b"noise" * 10)    # and tries to whisper over a to b
    wait_until(lambda: b.stats.get("whisper_received", 0) == 5 and
               b.stats.get("rx_dropped_whisper_not_partner", 0) == 5)
    assert {d.seat for d in b.drain()} == {a.seat}             # b hears a, not mallory
    time.sleep(0.2)
    assert m.stats.get("whisper_received", 0) == 0 and m.drain() == []
    # b has not chosen a (no pair): a's whispers are not heard by b either
    b.whisper_partner = None
    a.send_whisper(b.seat, 9, 1009, SECRET)
    wait_until(lambda: b.stats.get("rx_dropped_whisper_not_partner", 0) == 6)
    assert b.drain() == []


def test_a_meeting_whispering_sends_its_voice_to_the_partner_only(server):
    import numpy as np

    from xrdemo.net.session import NetMeeting

    heard = {"a": [], "b": [], "c": []}
    nets = {}
    for name in ("a", "b", "c"):
        nets[name] = NetMeeting(f"127.0.0.1:{server.port}/r", name, log=lambda *_: None,
                                voice_sink=lambda *f, name=name: heard[name].append(f[0]))
        nets[name].connect(timeout_s=5)
    try:
        wait_until(lambda: all(len(n.client.roster) == 3 for n in nets.values()))
        wait_until(lambda: server.stats()["control"].get("bound", 0) >= 3)
        a, b = nets["a"], nets["b"]
        a.client.whisper_partner, b.client.whisper_partner = b.seat, a.seat
        tone = (0.1 * np.sin(np.arange(48000) * 2 * np.pi * 440 / 48000)).astype(np.float32)
        sent = a.send_voice(tone)
        assert sent >= 40
        wait_until(lambda: len(heard["b"]) == sent)
        time.sleep(0.3)
        assert heard["c"] == [] and set(heard["b"]) == {a.seat}
        assert a.client.stats.get("voice_sent", 0) == 0 and a.client.stats["whisper_sent"] == sent
    finally:
        for n in nets.values():
            n.close()

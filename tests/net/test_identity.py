"""Identity you cannot fake: key files, signed joins, session MACs, names, and the attacks on them
(a replayed join, a borrowed name, forged and replayed datagrams) against a real server."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from netutil import bind_udp, events_until, raw_join, recv_message, sealed, udp_socket, wait_until
from xrdemo.net import identity as I
from xrdemo.net import protocol as proto
from xrdemo.net.client import NameTaken
from xrdemo.net.server import ServerThread
from xrdemo.net.session import NetMeeting

REPO = Path(__file__).resolve().parents[2]


# --- the key file ------------------------------------------------------------------------------
def test_identity_is_made_once_private_and_kept(tmp_path):
    path = tmp_path / "cfg" / "xrdemo" / "identity.key"
    ident, created = I.load_or_create_identity(path)
    assert created and path.exists() and ident.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again, created2 = I.load_or_create_identity(path)
    assert not created2 and again.public == ident.public and len(ident.public) == 32
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_default_path_follows_the_environment(tmp_path):
    assert I.default_identity_path({"XRDEMO_IDENTITY": str(tmp_path / "k")}) == tmp_path / "k"
    assert I.default_identity_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "xrdemo" / "identity.key"
    assert I.default_identity_path({}).parts[-3:] == (".config", "xrdemo", "identity.key")


def test_readable_key_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "identity.key"
    I.load_or_create_identity(path)
    path.chmod(0o640)
    with pytest.raises(PermissionError) as exc:
        I.load_or_create_identity(path)
    assert str(path) in str(exc.value) and "chmod 600" in str(exc.value)
    path.chmod(0o600)
    assert I.load_identity(path)


@pytest.mark.parametrize("content", [b"", b"garbage\n", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"])
def test_corrupt_key_file_is_named_and_left_alone(tmp_path, content):
    path = tmp_path / "identity.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(ValueError) as exc:
        I.load_or_create_identity(path)
    assert str(path) in str(exc.value) and "damaged" in str(exc.value)
    assert path.read_bytes() == content            # never overwritten


def test_fingerprint_is_eight_groups_of_four_hex():
    ident = I.Identity.generate()
    fp = ident.fingerprint
    groups = fp.split(" ")
    assert len(groups) == 8 and all(len(g) == 4 and int(g, 16) >= 0 for g in groups)
    assert fp != I.Identity.generate().fingerprint


# --- signatures, keys, replay windows ----------------------------------------------------------
def test_signature_round_trip_and_every_field_is_covered():
    ident, eph = I.Identity.generate(), I.Ephemeral()
    args = (proto.PROTOCOL_VERSION, b"c" * 32, "room", "Ada", "abcdef01", eph.public)
    sig = ident.sign(I.join_statement(*args))
    assert I.verify_join(ident.public, sig, I.join_statement(*args))
    for i, other in enumerate((1, b"d" * 32, "room2", "Adb", "abcdef02", b"e" * 32)):
        changed = list(args)
        changed[i] = other
        assert not I.verify_join(ident.public, sig, I.join_statement(*changed)), i
    assert not I.verify_join(I.Identity.generate().public, sig, I.join_statement(*args))
    assert not I.verify_join(b"\x00" * 32, sig, I.join_statement(*args))


def test_both_ends_derive_the_same_session_keys():
    c, s = I.Ephemeral(), I.Ephemeral()
    kc = c.session_keys(s.public, b"x" * 32, c.public, s.public)
    ks = s.session_keys(c.public, b"x" * 32, c.public, s.public)
    assert kc == ks and kc.up != kc.down and len(kc.up) == 32
    assert c.session_keys(s.public, b"y" * 32, c.public, s.public) != kc   # the challenge salts it


def test_replay_window():
    w = I.ReplayWindow(size=64, max_age_ms=3000)
    assert w.accept(10, 1000)
    assert not w.accept(10, 1000)                  # the same datagram twice
    assert w.accept(12, 1040) and w.accept(11, 1020)   # reordered: fine
    assert not w.accept(11, 1020)
    assert w.accept(100, 2000)
    assert not w.accept(30, 1500)                  # more than 64 behind
    assert not w.accept(101, 2000 - 3001)          # a new seq, but stamped too long ago
    assert w.accept(101, 2000 - 2999)
    w2 = I.ReplayWindow()
    assert w2.accept(65535, 0xFFFFFFF0) and w2.accept(0, 0x10) and w2.accept(1, 0x20)   # wraps
    assert not w2.accept(65535, 0xFFFFFFF0)


def test_known_people_trust_on_first_use(tmp_path):
    path = tmp_path / "known_people.json"
    k = I.KnownPeople(path)
    assert k.check("Ada", "FP1") == "new"
    assert k.check("ada ", "FP1") == "known"
    assert k.check("ADA", "FP2") == "mismatch"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    k2 = I.KnownPeople(path)
    assert k2.get("Ada") == "FP1" and k2.entries() == [("Ada", "FP1")]
    path.write_text("{not json")
    with pytest.raises(ValueError, match=str(path)):
        I.KnownPeople(path)


# --- peers see who is verified ---------------------------------------------------------------
def test_peers_verify_each_other_themselves(server, clients):
    a, b = clients(server.port, "Ada"), clients(server.port, "Bob")
    a.connect()
    b.connect()
    wait_until(lambda: 1 in a.roster)
    assert a.roster[1].verified == I.VERIFIED and a.roster[1].fingerprint == b.identity.fingerprint
    assert b.roster[0].verified == I.VERIFIED and b.roster[0].key == a.identity.public
    assert b.roster[1].verified == I.VERIFIED       # oneself


def test_netmeeting_verified_flags_by_seat(server):
    nets = [NetMeeting(f"127.0.0.1:{server.port}/m", n, log=lambda *_: None) for n in ("Ada", "Bob")]
    try:
        for n in nets:
            n.connect()
        wait_until(lambda: len(nets[0].client.roster) == 2)
        assert nets[0].verified().tolist()[:3] == [1, 1, 0]
        assert nets[0].remote_input().verified.tolist()[:3] == [1, 1, 0]   # on to the name tags
    finally:
        for n in nets:
            n.close()


def test_a_forged_signed_join_from_the_server_is_not_trusted(clients):
    """Peers do not take the server's word: a joined whose statement does not match is unverified."""
    c = clients(1, "obs")
    c.room = "r"
    real, eph = I.Identity.generate(), I.Ephemeral()
    challenge = b"c" * 32
    sig = real.sign(I.join_statement(proto.PROTOCOL_VERSION, challenge, "r", "Ada", "abcdef01", eph.public))
    signed = {"key": I.b64(real.public), "eph": I.b64(eph.public), "challenge": I.b64(challenge),
              "sig": I.b64(sig), "client_id": "abcdef01"}
    c._on_control({"type": "joined", "seat": 2, "name": "Ada", "id": signed})
    assert c.roster[2].verified == I.VERIFIED
    c._on_control({"type": "joined", "seat": 3, "name": "Eve", "id": signed})      # Ada's join, renamed
    c._on_control({"type": "joined", "seat": 4, "name": "Bob"})                     # no signature at all
    assert c.roster[3].verified == I.UNVERIFIED and c.roster[4].verified == I.UNVERIFIED
    assert c.stats.get("peer_bad_signature") == 1


# --- attack: replaying a captured join ---------------------------------------------------------
def test_a_replayed_join_is_refused_and_nobody_sees_it(server, clients):
    watcher = clients(server.port, "watcher")
    watcher.connect()
    victim = I.Identity.generate()
    # The victim's genuine join, captured on the wire ...
    s1 = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    challenge = I.unb64(recv_message(s1)["challenge"], 32)
    hello = I.hello_message(victim, proto.PROTOCOL_VERSION, challenge, I.Ephemeral().public, "r", "Vic",
                            "0a0b0c0d", None, {}, 0)
    captured = proto.encode_message(hello)
    s1.sendall(captured)
    assert recv_message(s1)["type"] == "welcome"
    s1.close()
    wait_until(lambda: server.stats()["members"] == 1)
    watcher.events()
    # ... sent again by someone else, on a new connection (a new challenge): refused.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s2:
        assert recv_message(s2)["type"] == "challenge"
        s2.sendall(captured)
        answer = recv_message(s2)
        assert answer["type"] == "error" and answer["code"] == "bad_signature"
        assert s2.recv(10) == b""
    assert server.stats()["control_errors"]["bad_signature"] == 1
    time.sleep(0.2)
    assert watcher.events() == [] and set(watcher.roster) == {0}
    assert server.stats()["members"] == 1


def test_a_join_signed_by_another_key_is_refused(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        challenge = I.unb64(recv_message(s)["challenge"], 32)
        hello = I.hello_message(I.Identity.generate(), proto.PROTOCOL_VERSION, challenge, I.Ephemeral().public,
                                "r", "Mallory", "0a0b0c0d")
        hello["key"] = I.b64(I.Identity.generate().public)         # claims a key it does not hold
        s.sendall(proto.encode_message(hello))
        assert recv_message(s)["code"] == "bad_signature"
    assert server.stats()["members"] == 0


# --- attack: claiming someone's name -----------------------------------------------------------
def test_a_name_claimed_by_another_key_is_refused(server, clients):
    ada = clients(server.port, "Ada")
    ada.connect()
    watcher = clients(server.port, "watcher")
    watcher.connect()
    events_until(ada, lambda ev: ev)
    for claimed in ("Ada", "ada", " ADA "):
        impostor = clients(server.port, claimed)
        with pytest.raises(NameTaken) as exc:
            impostor.connect()
        assert "belongs to someone else" in str(exc.value)
    assert server.stats()["control"]["name_taken"] == 3
    # ... and still after Ada has left (the server remembers the name with her key)
    ada_key = ada.identity
    ada.close()
    wait_until(lambda: set(watcher.roster) == {1})
    with pytest.raises(NameTaken):
        clients(server.port, "Ada").connect()
    time.sleep(0.1)
    assert [e["type"] for e in watcher.events()] == ["left"]          # no impostor ever joined
    # Ada herself (her key) gets her name back, from another device too
    assert clients(server.port, "Ada", identity=ada_key).connect()["seat"] == 0
    assert clients(server.port, "Ada", identity=ada_key).connect()["seat"] == 2


def test_a_known_name_with_a_new_key_is_flagged_by_peers(server, clients):
    """A server that has not seen the name (another server, a restart) lets it in; the people
    who met the real Ada before flag the newcomer: not verified, with a warning event."""
    known = I.KnownPeople()
    known.check("Ada", I.Identity.generate().fingerprint)       # met the real Ada elsewhere
    me = clients(server.port, "me", known_people=known)
    me.connect()
    clients(server.port, "Ada").connect()
    ev = events_until(me, lambda ev: any(e["type"] == "identity_mismatch" for e in ev))
    mismatch = next(e for e in ev if e["type"] == "identity_mismatch")
    assert mismatch["seat"] == 1 and mismatch["known"] == known.get("Ada") != mismatch["fingerprint"]
    assert me.roster[1].verified == I.FLAGGED


# --- attack: forged and replayed datagrams -----------------------------------------------------
def test_forged_pose_packets_for_another_seat_reach_nobody(server, clients):
    victim_sock, victim = raw_join(server.port, name="victim", client_id="11111111")
    mallory_sock, mallory = raw_join(server.port, name="mallory", client_id="22222222")
    receiver = clients(server.port, "receiver")
    receiver.connect()
    v_session, m_session = int(victim["session"], 16), int(mallory["session"], 16)
    uv, um = udp_socket(), udp_socket()
    dst = ("127.0.0.1", server.port)
    try:
        bind_udp(um, mallory["keys"], m_session, server.port)          # binds mallory
        bind_udp(uv, victim["keys"], v_session, server.port)           # and the victim
        wait_until(lambda: server.stats()["control"].get("bound", 0) >= 3)   # and the receiver
        uv.sendto(sealed(victim["keys"], proto.KIND_POSE, v_session, 0, 100, b"genuine"), dst)
        wait_until(lambda: [d for d in receiver.drain() if d.payload == b"genuine" and d.seat == 0])
        drops0 = dict(server.stats().get("drops", {}))
        forged = [
            proto.pack_client_datagram(proto.KIND_POSE, v_session, 1, 101, b"no mac at all"),          # no MAC
            proto.pack_client_datagram(proto.KIND_POSE, v_session, 2, 102, b"bad mac") + b"\0" * 8,    # a wrong one
            sealed(mallory["keys"], proto.KIND_POSE, v_session, 3, 103, b"own key"),   # victim's token, own key
            sealed(mallory["keys"], proto.KIND_VOICE, v_session, 4, 104, b"own key"),
        ]
        for data in forged:
            um.sendto(data, dst)
        wait_until(lambda: server.stats()["drops"].get("bad_mac", 0) - drops0.get("bad_mac", 0) == 4)
        # a captured genuine datagram replayed: from the victim's own address, and from another
        captured = sealed(victim["keys"], proto.KIND_POSE, v_session, 5, 105, b"once")
        uv.sendto(captured, dst)
        uv.sendto(captured, dst)
        um.sendto(captured, dst)
        wait_until(lambda: server.stats()["drops"].get("replay", 0) == 1)
        wait_until(lambda: server.stats()["drops"].get("wrong_addr", 0) == 1)
        # an old one (seq far behind) and one stamped long ago: both replays
        uv.sendto(sealed(victim["keys"], proto.KIND_POSE, v_session, 0, 100, b"genuine"), dst)
        uv.sendto(sealed(victim["keys"], proto.KIND_POSE, v_session, 6, 100 - 5000, b"stale"), dst)
        wait_until(lambda: server.stats()["drops"].get("replay", 0) == 3)
        time.sleep(0.2)
        got = [(d.seat, d.payload) for d in receiver.drain()]
        assert got == [(0, b"once")]                 # only the genuine datagram, once
        assert receiver.stats.get("rx_dropped_bad_mac", 0) == 0
    finally:
        for s in (victim_sock, mallory_sock, uv, um):
            s.close()


def test_client_drops_forwarded_datagrams_with_a_bad_mac_or_seen_before(server, clients):
    a = clients(server.port, "a")
    a.connect()
    keys = a._link.keys
    body = proto.pack_server_datagram(proto.KIND_POSE, 3, 7, 1000, b"pose")
    a._loop.call_soon_threadsafe(a._on_datagram, body + b"\x01" * 8)                 # forged MAC
    a._loop.call_soon_threadsafe(a._on_datagram, proto.seal(b"k" * 32, body))             # another key
    a._loop.call_soon_threadsafe(a._on_datagram, proto.seal(keys.up, body))               # the wrong direction
    a._loop.call_soon_threadsafe(a._on_datagram, proto.seal(keys.down, body))             # genuine
    a._loop.call_soon_threadsafe(a._on_datagram, proto.seal(keys.down, body))             # replayed
    wait_until(lambda: a.stats.get("rx_dropped_replay") == 1)
    assert a.stats["rx_dropped_bad_mac"] == 3
    assert [(d.seat, d.payload) for d in a.drain()] == [(3, b"pose")]


def test_pose_datagrams_stay_within_100_bytes(server, clients):
    a, b = clients(server.port, "a"), clients(server.port, "b")
    a.connect()
    b.connect()
    wait_until(lambda: server.stats()["packets_in"].get("keepalive", 0) >= 2)
    a.send_pose(b"p" * 80, 1)
    wait_until(lambda: b.stats.get("pose_received") == 1)
    assert a.stats["pose_bytes_sent"] == 98 and b.stats["pose_bytes_received"] == 96


# --- the command -------------------------------------------------------------------------------
def test_xrdemo_id_makes_then_shows_the_identity(tmp_path):
    key = tmp_path / "me" / "identity.key"
    env = dict(os.environ, PYTHONPATH=str(REPO), XRDEMO_IDENTITY=str(key))
    run = lambda *a: subprocess.run([sys.executable, "-m", "xrdemo.cli", "id", *a], env=env,
                                    capture_output=True, text=True, timeout=60)
    first = run()
    assert first.returncode == 0, first.stderr
    assert "made a new identity key" in first.stdout and str(key) in first.stdout
    fp = I.load_identity(key).fingerprint
    assert f"fingerprint:   {fp}" in first.stdout
    second = run("--known")
    assert second.returncode == 0 and "made a new" not in second.stdout and fp in second.stdout
    assert "people you have met" in second.stdout
    key.chmod(0o644)
    bad = run()
    assert bad.returncode == 1 and "chmod 600" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    helped = subprocess.run([sys.executable, "-m", "xrdemo.cli", "id", "--help"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert "fingerprint" in helped.stdout and "Ed25519" in helped.stdout


def test_joining_from_the_app_uses_the_users_key_and_makes_it_once(server, tmp_path, monkeypatch):
    from xrdemo.net.room_link import join_room

    key = tmp_path / "cfg" / "identity.key"
    monkeypatch.setenv("XRDEMO_IDENTITY", str(key))
    said = []
    nets = [join_room(f"127.0.0.1:{server.port}/app", "Ada", log=said.append) for _ in range(2)]
    try:
        mine = I.load_identity(key)
        assert nets[0].client.identity.public == nets[1].client.identity.public == mine.public
        assert sum("made your identity key" in line for line in said) == 1
        assert mine.fingerprint in "\n".join(said)
        assert nets[1].client.known_people.path == key.with_name("known_people.json")
        # the same person on two devices keeps the name; the seats differ
        assert {n.seat for n in nets} == {0, 1}
    finally:
        for n in nets:
            n.close()


def test_signed_joins_that_do_not_fit_the_welcome_follow_and_are_verified(clients, monkeypatch):
    from xrdemo.net import server as server_module

    monkeypatch.setattr(server_module, "WELCOME_BUDGET", 700)      # room for about two signed joins
    with ServerThread(port=0, capacity=8) as srv:
        for i in range(5):
            clients(srv.port, f"p{i}").connect()
        newcomer = clients(srv.port, "new")
        newcomer.connect()
        ev = events_until(newcomer, lambda ev: sum(e["type"] == "identity" for e in ev) >= 3)
        assert all(e["verified"] == I.VERIFIED for e in ev if e["type"] == "identity")
        wait_until(lambda: all(m.verified == I.VERIFIED for m in newcomer.roster.values()))
        assert len(newcomer.roster) == 6


def test_identity_files_in_folders_others_can_write_are_refused(tmp_path):
    import os

    from xrdemo.net.identity import KnownPeople, load_identity, load_or_create_identity

    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pytest.raises(PermissionError, match="chmod 700"):
        load_or_create_identity(shared / "identity.key")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    ident, created = load_or_create_identity(private / "identity.key")
    assert created
    os.chmod(private, 0o777)
    with pytest.raises(PermissionError, match="written by other users"):
        load_identity(private / "identity.key")
    os.chmod(private, 0o700)
    with pytest.raises(ValueError, match="is not a file"):
        load_identity(private)
    known = private / "known_people.json"
    known.write_text('{"version": 1, "people": {}}')
    os.chmod(known, 0o666)
    with pytest.raises(PermissionError, match="known-people file"):
        KnownPeople(known)

"""The client transport: join a room on a meeting server, send and receive poses and voice.

``NetClient`` runs its own asyncio loop on a daemon thread. The app thread calls ``connect()``,
then ``send_pose`` / ``send_voice`` (thread-safe, never block: datagrams go straight to a
non-blocking UDP socket, or are dropped and counted when not connected) and collects what
arrived with ``drain()`` (or an ``on_datagram`` callback on the network thread), roster changes
with ``events()``, and who is there with ``roster``.

Liveness: every ``keepalive_s`` the client sends a TCP ``ping`` and a UDP keepalive (which also
binds its UDP address at the server, so a client that only listens still receives). When the TCP
connection drops, or nothing arrives on it for ``timeout_s``, the client reconnects by itself with
backoff (0.2 s doubling to 2 s), asking for its old seat, until ``close()``.

Identity (``identity.py``, docs/identity.md): the hello is signed over the server's challenge
with this user's key; every datagram sent carries a MAC under the session key, and datagrams
received with a bad MAC (``rx_dropped_bad_mac``) or seen before (``rx_dropped_replay``) are
dropped. Each member of the roster comes with their signed join, checked here (not taken on
the server's word) and against the names this user has met before (``KnownPeople``):
``Member.verified`` is VERIFIED (1), UNVERIFIED (0) or FLAGGED (-1, a known name with another
key; an ``identity_mismatch`` event says so).

Private rooms (``sender_keys.py``, docs/identity.md): when the welcome says ``private``, poses
and voice are sealed under this member's sender key, which it boxes for every other member
(again on every join and leave), and only sealed ones are accepted from the room.

Why one long module (~850 lines): the client is one asyncio state machine (join, reconnect,
roster, rebinding, whispers, sender keys) whose handlers share its session keys and roster; NATS transport
and the identity checks live apart (nats_transport.py, identity.py).
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import secrets
import socket
import threading
import time
from dataclasses import dataclass, replace
from typing import NamedTuple

from . import identity as I
from . import protocol as proto
from .sender_keys import BOX_BYTES, BOX_CONTEXT, SenderKeys

QUEUE_MAX = 4096            # datagrams kept for drain() before the oldest new ones are dropped
EVENTS_MAX = 1024
UDP_BATCH = 256             # datagrams read per wake-up before yielding to other work
UDP_BUFFER_BYTES = 1 << 20  # receive buffer asked of the OS
PENDING_PER_SEAT = 64       # private rooms: sealed datagrams kept while their sender key is on its way
PENDING_S = 1.0             # ... for at most this long


class RoomFull(ConnectionError):
    """The room has no free seat."""


class NameTaken(ConnectionError):
    """The server refuses this display name: another identity key owns it (or one that looks
    like it), the tags cannot draw it, or this key or address made too many new names."""


class Datagram(NamedTuple):
    """One received real-time datagram. kind: "pose" or "voice"; seat: the sender's seat;
    seq: uint16; t_ms: the sender's clock (uint32 ms); arrival_ns: time.monotonic_ns() here."""
    kind: str
    seat: int
    seq: int
    t_ms: int
    payload: bytes
    arrival_ns: int


@dataclass(frozen=True)
class Member:
    """Someone in the room (this client included). key: their Ed25519 public key (b"" when
    unknown); fingerprint: its readable form; verified: identity.VERIFIED / UNVERIFIED / FLAGGED."""
    name: str
    profile: dict
    key: bytes = b""
    fingerprint: str = ""
    verified: int = I.UNVERIFIED
    eph: bytes = b""             # their session X25519 key (from the signed join): whisper keys


@dataclass(frozen=True)
class _Link:
    """What the sending threads need of the current connection (replaced as a whole)."""
    session: int
    seat: int
    keys: I.SessionKeys          # datagram MAC keys of this session


_RX_KEYS = {k: (f"{n}_received", f"{n}_bytes_received") for k, n in proto.KIND_NAMES.items()}


def _now_ms() -> int:
    return (time.monotonic_ns() // 1_000_000) & 0xFFFFFFFF


class NetClient:
    """One participant's connection (see the module docstring).

    host, port, room, name: where and who. profile: a JSON object (≤ 8 KiB) the others receive.
    want_seat: the seat to ask for (else the lowest free). client_id: a hex token kept across
    reconnects (random by default). keepalive_s / timeout_s: ping period and the silence after
    which the server is taken for gone. identity: this user's ``identity.Identity`` (default: a
    new one in memory). known_people: ``identity.KnownPeople`` for trust on first use (default:
    in memory).
    """

    def __init__(self, host: str, port: int, room: str, name: str, *, profile: dict | None = None,
                 want_seat: int | None = None, client_id: str | None = None,
                 keepalive_s: float = 1.0, timeout_s: float = 3.0,
                 identity: I.Identity | None = None, known_people: I.KnownPeople | None = None):
        if not proto.ROOM_RE.fullmatch(room or ""):
            raise ValueError(f"room {room!r} must be 1-64 characters of [A-Za-z0-9_.-]")
        self.host, self.port, self.room, self.name = host, int(port), room, name
        self.where = f"{host}:{port}"
        self.client_id = client_id or secrets.token_hex(8)
        self.want_seat = want_seat
        self.identity = identity or I.Identity.generate()
        self.known_people = known_people or I.KnownPeople()
        self._windows: dict = {}          # (seat, kind) -> ReplayWindow (loop thread)
        self._eph: I.Ephemeral | None = None      # this session's X25519 key (whispers)
        self._pair_cache: dict = {}       # (seat, their eph) -> (send AEAD, receive AEAD)
        self._whisper_counter = itertools.count(1)
        self._sender: SenderKeys | None = None    # private rooms (sender_keys.py): set by the welcome
        self._box_cache: dict = {}        # (seat, their eph) -> (send key, receive key) for sender-key boxes
        self._pending: dict = {}          # seat -> deque of sealed datagrams waiting for that seat's key
        self.whisper_partner: int | None = None
        """The seat this person whispers with, or None. Whispers are sent only to it and
        accepted only from it, so a pair exists only when both sides chose each other (each
        by its own person's lean); set by the app, read on any thread."""
        self.keepalive_s, self.timeout_s = keepalive_s, timeout_s
        self.on_datagram = None          # f(Datagram) on the network thread, set before connect
        self.capacity = 0
        self._profile = dict(profile or {})
        self._link: _Link | None = None
        self._seat = -1
        self._roster: dict[int, Member] = {}
        self._rx: collections.deque = collections.deque()
        self._events: collections.deque = collections.deque(maxlen=EVENTS_MAX)
        self._lock = threading.Lock()
        self._tx_counts = collections.Counter()      # sending threads (under _lock)
        self._rx_counts = collections.Counter()      # the loop thread only
        self._pose_seq = itertools.count()
        self._keepalive_seq = itertools.count()
        self._sock: socket.socket | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._last_rx = 0.0
        self._closing = False
        self._supervisor = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="xrdemo-net", daemon=True)

    # --- the app side ------------------------------------------------------------------------
    def connect(self, timeout_s: float = 5.0) -> dict:
        """Join the room. Returns the welcome (seat, capacity, members, ...).

        Raises RoomFull, or ConnectionError naming host:port and the reason. After a successful
        connect the client keeps itself connected (reconnecting as needed) until ``close()``.
        """
        if self._closing:
            raise ConnectionError(f"{self.where}: this client was closed")
        if not self._thread.is_alive():
            self._thread.start()
        fut = asyncio.run_coroutine_threadsafe(self._first_connect(timeout_s), self._loop)
        try:
            return fut.result(timeout_s + 1.0)
        except TimeoutError:
            fut.cancel()
            raise ConnectionError(f"cannot join {self.where}/{self.room}: no answer in {timeout_s:g} s") from None

    def send_pose(self, payload: bytes, t_ms: int) -> bool:
        """Send one pose payload (≤ 128 bytes) stamped t_ms. False when dropped (not connected).
        In a private room it is sealed under this member's sender key (``sender_keys.py``)."""
        if self._sender is not None:
            return self._send_sealed(proto.KIND_POSE, next(self._pose_seq), t_ms, payload)
        return self._send(proto.KIND_POSE, next(self._pose_seq), t_ms, payload)

    def send_voice(self, seq: int, t_ms: int, payload: bytes) -> bool:
        """Send one voice frame (≤ 400 bytes) with its uint16 seq. False when dropped. Sealed
        in a private room, like poses."""
        if self._sender is not None:
            return self._send_sealed(proto.KIND_VOICE, seq, t_ms, payload)
        return self._send(proto.KIND_VOICE, seq, t_ms, payload)

    @property
    def private(self) -> bool:
        """True in a private room (the server's welcome said so): poses and voice go sealed
        under sender keys, and only sealed ones are accepted."""
        return self._sender is not None

    def _send_sealed(self, kind: int, seq: int, t_ms: int, payload: bytes) -> bool:
        sender, link = self._sender, self._link
        sealed_kind = proto.SEALED_OF[kind]
        body = None
        if sender is not None and link is not None and len(payload) <= proto.MAX_PAYLOAD[kind]:
            body = sender.seal(sealed_kind, link.seat, seq, t_ms, payload)
        if body is None:
            with self._lock:
                self._tx_counts[f"{proto.KIND_NAMES[sealed_kind]}_dropped_"
                                f"{'too_long' if len(payload) > proto.MAX_PAYLOAD[kind] else 'no_key'}"] += 1
            return False
        return self._send(sealed_kind, seq, t_ms, body)

    def send_whisper(self, target: int, seq: int, t_ms: int, payload: bytes) -> bool:
        """Send one voice frame to the member in seat ``target`` alone, encrypted end to end
        (ChaCha20-Poly1305 under the key only the two of them can derive). False when dropped:
        not connected, no such member, or no signed session key of theirs."""
        aead = self._pair_aead(target, 0)
        if aead is None:
            with self._lock:
                self._tx_counts["whisper_dropped_no_key"] += 1
            return False
        counter = next(self._whisper_counter)
        head = bytes([target]) + counter.to_bytes(8, "big")
        sealed = aead.encrypt(counter.to_bytes(8, "big") + b"\0\0\0\0", bytes(payload),
                              bytes([self._seat & 0xFF, target]))
        return self._send(proto.KIND_WHISPER, seq, t_ms, head + sealed)

    def _pair_aead(self, seat: int, direction: int):
        """The AEAD for whispers with seat (direction 0: sending, 1: receiving), or None."""
        from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

        eph = self._eph
        with self._lock:
            member = self._roster.get(seat)
        if eph is None or member is None or not member.eph or seat == self._seat \
                or member.verified != I.VERIFIED:     # no whispers to a flagged (known-name, other key) member
            return None
        key = (seat, member.eph)
        pair = self._pair_cache.get(key)
        if pair is None:
            try:
                send, recv = eph.pair_keys(member.eph, self.room.encode())
            except ValueError:
                return None
            pair = self._pair_cache[key] = (ChaCha20Poly1305(send), ChaCha20Poly1305(recv))
        return pair[direction]

    def set_profile(self, profile: dict) -> None:
        """Replace this client's profile (JSON object ≤ 8 KiB); the room is told."""
        if not isinstance(profile, dict) or proto.profile_size(profile) > proto.MAX_PROFILE:
            raise ValueError(f"a profile must be a JSON object of at most {proto.MAX_PROFILE} bytes")
        self._profile = dict(profile)
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._send_control, {"type": "profile", "profile": self._profile})

    def drain(self) -> list[Datagram]:
        """The datagrams received since the last call (when no on_datagram callback is set)."""
        out = []
        rx = self._rx
        while rx:
            out.append(rx.popleft())
        return out

    def events(self) -> list[dict]:
        """Roster and connection changes since the last call, oldest first: dicts with "type"
        (joined, left, profile, reconnecting, reconnected, room_full, name_taken, identity,
        identity_mismatch) and, where it applies, "seat", "name", "reason", "fingerprint",
        "known" (the fingerprint this user knew for that name)."""
        out = []
        ev = self._events
        while ev:
            out.append(ev.popleft())
        return out

    @property
    def roster(self) -> dict[int, Member]:
        """seat -> Member for everyone in the room, this client included (a copy)."""
        with self._lock:
            return dict(self._roster)

    @property
    def seat(self) -> int:
        """This client's seat (-1 before the first join)."""
        return self._seat

    @property
    def connected(self) -> bool:
        return self._link is not None

    @property
    def stats(self) -> dict:
        """Counters: ``{kind}_sent``, ``{kind}_bytes_sent``, ``{kind}_received``,
        ``{kind}_bytes_received`` (kind: pose, voice, keepalive; bytes include the datagram
        header), ``{kind}_dropped_{reason}`` and ``rx_dropped_{reason}`` (not sent / not
        delivered), ``control_bytes_sent`` / ``_received`` (TCP), totals ``bytes_sent``,
        ``bytes_received`` (UDP + TCP), ``packets_sent``, ``packets_received``, ``dropped``,
        and ``rtt_ms`` (the last keepalive round trip)."""
        with self._lock:
            out = dict(self._tx_counts)
        out.update(self._rx_counts)
        kinds = proto.KIND_NAMES.values()
        out["packets_sent"] = sum(out.get(f"{k}_sent", 0) for k in kinds)
        out["packets_received"] = sum(out.get(f"{k}_received", 0) for k in kinds)
        out["bytes_sent"] = (sum(out.get(f"{k}_bytes_sent", 0) for k in kinds)
                             + out.get("control_bytes_sent", 0))
        out["bytes_received"] = (sum(out.get(f"{k}_bytes_received", 0) for k in kinds)
                                 + out.get("control_bytes_received", 0))
        out["dropped"] = sum(v for k, v in out.items() if "_dropped_" in k or k.startswith("rx_dropped"))
        return out

    def close(self, timeout_s: float = 2.0) -> None:
        """Leave the room and stop the network thread."""
        if self._closing:
            return
        self._closing = True
        self._link = None
        if self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout_s)
            except (TimeoutError, RuntimeError, OSError):
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout_s)
        elif self._thread.ident is not None and not self._loop.is_closed():
            # the loop thread was stopped from outside: finish the shutdown on this thread
            try:
                self._loop.run_until_complete(asyncio.wait_for(self._shutdown(), timeout_s))
            except (asyncio.TimeoutError, RuntimeError, OSError):
                pass
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> "NetClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- sending (any thread) ----------------------------------------------------------------
    def _send(self, kind: int, seq: int, t_ms: int, payload: bytes) -> bool:
        name = proto.KIND_NAMES[kind]
        link, sock = self._link, self._sock
        if link is None or sock is None:
            reason = "not_connected"
        elif len(payload) > proto.MAX_PAYLOAD[kind]:
            reason = "too_long"
        else:
            packet = proto.seal(link.keys.up, proto.pack_client_datagram(kind, link.session, seq, t_ms, payload))
            try:
                sock.send(packet)
            except OSError:        # buffer full, or ICMP refusal while the server restarts
                reason = "send_error"
            else:
                with self._lock:
                    self._tx_counts[f"{name}_sent"] += 1
                    self._tx_counts[f"{name}_bytes_sent"] += len(packet)
                return True
        with self._lock:
            self._tx_counts[f"{name}_dropped_{reason}"] += 1
        return False

    # --- the loop thread ---------------------------------------------------------------------
    def _count_rx(self, key: str, n: int = 1) -> None:
        self._rx_counts[key] += n

    def _emit(self, kind: str, **fields) -> None:
        self._events.append({"type": kind, **fields})

    async def _first_connect(self, timeout_s: float) -> dict:
        if self._link is not None:
            raise ConnectionError(f"{self.where}: already connected")
        try:
            welcome = await asyncio.wait_for(self._open(self.want_seat), timeout_s)
        except asyncio.TimeoutError:
            raise ConnectionError(f"cannot join {self.where}/{self.room}: "
                                  f"no welcome within {timeout_s:g} s") from None
        except (RoomFull, NameTaken):
            raise
        except proto.ProtocolError as exc:
            raise ConnectionError(f"cannot join {self.where}/{self.room}: bad answer ({exc})") from None
        except OSError as exc:
            raise ConnectionError(f"cannot join {self.where}/{self.room}: "
                                  f"{exc.strerror or exc}") from None
        self._supervisor = asyncio.ensure_future(self._keep_connected())
        return welcome

    async def _open(self, want_seat: int | None) -> dict:
        """Open the TCP control channel, say hello, apply the welcome; start reading."""
        if self._sock is None:
            await self._open_udp()
        reader, writer = await self._open_control()
        try:
            msg = await self._read_message(reader)
            self._raise_for_error(msg)
            if msg.get("type") != "challenge":
                raise proto.ProtocolError("bad_message", f"expected a challenge, got {msg.get('type')!r} "
                                                     "(a server older than protocol 2?)")
            try:
                challenge = I.unb64(msg.get("challenge"), I.CHALLENGE_BYTES)
            except ValueError:
                raise proto.ProtocolError("bad_message", "malformed challenge") from None
            eph = I.Ephemeral()
            hello = self.hello_message(challenge, eph.public, want_seat)
            frame = proto.encode_message(hello)
            writer.write(frame)
            self._count_rx("control_bytes_sent", len(frame))
            msg = await self._read_message(reader)
            self._raise_for_error(msg)
            if msg.get("type") != "welcome":
                raise proto.ProtocolError("bad_message", f"expected welcome, got {msg.get('type')!r}")
            try:
                server_eph = I.unb64(msg.get("eph"), I.KEY_BYTES)
                keys = eph.session_keys(server_eph, challenge, eph.public, server_eph)
            except ValueError:
                raise proto.ProtocolError("bad_message", "welcome without a usable key exchange") from None
            self._apply_welcome(msg, keys)
            self._eph = eph                       # kept for the whisper keys of this session
            self._pair_cache.clear()
            self._box_cache.clear()
        except BaseException:
            writer.close()
            raise
        self._writer = writer
        if self._sender is not None:             # a private room: a new key for everyone here
            self._rekey()
        self._last_rx = self._loop.time()
        self._session_task = asyncio.ensure_future(self._session(reader, writer))
        self._send_keepalive()
        return msg

    async def _open_control(self):
        """Open the control stream -> (reader, writer); a transport subclass (``NatsClient``)
        gives a stream carried another way."""
        return await asyncio.open_connection(self.host, self.port)

    def hello_message(self, challenge: bytes, eph_public: bytes, want_seat: int | None) -> dict:
        """The signed hello answering ``challenge`` (eph_public: this session's X25519 key)."""
        return I.hello_message(self.identity, proto.PROTOCOL_VERSION, challenge, eph_public, self.room,
                               self.name, self.client_id, want_seat, self._profile,
                               self._sock.getsockname()[1] if self._sock is not None else None)

    def _raise_for_error(self, msg: dict) -> None:
        if msg.get("type") != "error":
            return
        text = str(msg.get("message", ""))[:200]
        code = msg.get("code")
        if code == "room_full":
            raise RoomFull(f"cannot join {self.where}/{self.room}: the room is full ({text})")
        if code in ("name_taken", "bad_name", "name_rate", "name_limit"):
            raise NameTaken(f"cannot join {self.where}/{self.room} as {self.name!r}: {text}")
        raise ConnectionError(f"cannot join {self.where}/{self.room}: server said {code}: {text}")

    def _check_member(self, seat: int, name: str, signed) -> Member:
        """A roster entry from the server, with its signed join checked here (not taken on the
        server's word) and its name against the people this user has met."""
        try:
            key = I.unb64(signed["key"], I.KEY_BYTES)
            statement = I.join_statement(proto.PROTOCOL_VERSION, I.unb64(signed["challenge"], I.CHALLENGE_BYTES),
                                         self.room, name, str(signed["client_id"]),
                                         I.unb64(signed["eph"], I.KEY_BYTES))
            sig = I.unb64(signed["sig"], I.SIG_BYTES)
        except (KeyError, TypeError, ValueError):
            return Member(name, {})
        if not I.verify_join(key, sig, statement):
            self._count_rx("peer_bad_signature")
            return Member(name, {})
        fp = I.fingerprint(key)
        eph = I.unb64(signed["eph"], I.KEY_BYTES)
        if key == self.identity.public:        # this user (here, or on another device)
            return Member(name, {}, key, fp, I.VERIFIED, eph)
        if self.known_people.check(name, fp) == "mismatch":
            self._emit("identity_mismatch", seat=seat, name=name, fingerprint=fp,
                       known=self.known_people.get(name))
            return Member(name, {}, key, fp, I.FLAGGED, eph)
        return Member(name, {}, key, fp, I.VERIFIED, eph)

    async def _open_udp(self) -> None:
        infos = await self._loop.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
        if not infos:
            raise OSError(f"cannot resolve {self.host}")
        family, type_, proto, _, addr = infos[0]
        sock = socket.socket(family, type_, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_BUFFER_BYTES)
        except OSError:
            pass
        sock.setblocking(False)
        sock.connect(addr)
        self._loop.add_reader(sock.fileno(), self._read_udp)
        self._sock = sock

    async def _read_message(self, reader) -> dict:
        n = proto.frame_length(await reader.readexactly(4))
        msg = proto.decode_body(await reader.readexactly(n))
        self._count_rx("control_bytes_received", 4 + n)
        return msg

    def _apply_welcome(self, msg: dict, keys: I.SessionKeys) -> None:
        try:
            seat, session = int(msg["seat"]), int(msg["session"], 16)
            capacity = int(msg["capacity"])
            members = {}
            for m in msg["members"]:
                s = int(m["seat"])
                checked = self._check_member(s, str(m["name"]), m.get("id"))
                members[s] = replace(checked, profile=dict(m.get("profile") or {}))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise proto.ProtocolError("bad_message", f"malformed welcome: {exc!r}") from None
        with self._lock:
            old = self._roster
            self._roster = members
        reconnect = self._seat >= 0
        self._seat, self.capacity = seat, capacity
        if reconnect:                       # tell what changed meanwhile
            self._emit("reconnected", seat=seat)
            for s in sorted(set(old) - set(members)):
                self._emit("left", seat=s, reason="gone_while_reconnecting")
            for s in sorted(set(members) - set(old)):
                if s != seat:
                    self._emit("joined", seat=s, name=members[s].name)
        self._windows.clear()
        # A private room: a fresh sender-key state for this session (new own key once joined).
        self._sender = SenderKeys() if msg.get("private") is True else None
        self._pending.clear()
        self._link = _Link(session, seat, keys)   # last: from here on `connected` is True

    async def _session(self, reader, writer) -> None:
        """Read control messages until the connection ends."""
        try:
            while True:
                msg = await self._read_message(reader)
                self._last_rx = self._loop.time()
                self._on_control(msg)
        except (asyncio.IncompleteReadError, ConnectionError, OSError, proto.ProtocolError):
            pass
        finally:
            writer.close()

    def _on_control(self, msg: dict) -> None:
        kind = msg.get("type")
        try:
            if kind == "joined":
                seat = int(msg["seat"])
                member = replace(self._check_member(seat, str(msg["name"]), msg.get("id")),
                                 profile=dict(msg.get("profile") or {}))
                with self._lock:
                    self._roster[seat] = member
                self._forget_streams(seat)
                self._emit("joined", seat=seat, name=member.name, verified=member.verified,
                           fingerprint=member.fingerprint)
                if self._sender is not None:        # a newcomer must not read what came before
                    self._rekey()
            elif kind == "left":
                seat = int(msg["seat"])
                with self._lock:
                    self._roster.pop(seat, None)
                self._forget_streams(seat)
                self._emit("left", seat=seat, reason=str(msg.get("reason", "")))
                if self._sender is not None:        # the leaver must not read what comes after
                    self._rekey()
            elif kind == "profile":
                seat = int(msg["seat"])
                profile = dict(msg["profile"])
                with self._lock:
                    member = self._roster.get(seat)
                    if member is not None:
                        self._roster[seat] = replace(member, profile=profile)
                self._emit("profile", seat=seat)
            elif kind == "identity":        # a signed join that did not fit in the welcome
                seat = int(msg["seat"])
                with self._lock:
                    member = self._roster.get(seat)
                if member is not None:
                    checked = self._check_member(seat, member.name, msg.get("id"))
                    with self._lock:
                        if self._roster.get(seat) is member:
                            self._roster[seat] = replace(checked, profile=member.profile)
                    self._emit("identity", seat=seat, verified=checked.verified)
                    if self._sender is not None:    # now their session key is known: give ours
                        self._give_keys([seat])
            elif kind == "sender_key":
                self._on_sender_key(int(msg["seat"]), I.unb64(msg["box"], BOX_BYTES))
            elif kind == "pong":
                pass
            else:
                self._count_rx("control_ignored")
        except (KeyError, TypeError, ValueError):
            self._count_rx("control_malformed")

    def _forget_streams(self, seat: int) -> None:
        """A seat changed hands: its replay windows start afresh (and its sender keys go)."""
        for key in [k for k in self._windows if k[0] == seat]:
            del self._windows[key]
        if self._sender is not None:
            self._sender.forget(seat)
            self._pending.pop(seat, None)

    # --- private rooms: sender keys (loop thread) ---------------------------------------------
    def _box_keys(self, seat: int) -> tuple[bytes, bytes] | None:
        """(send, receive) pair keys for sender-key boxes with seat, or None (no signed session
        key of theirs: their join did not check out)."""
        eph = self._eph
        with self._lock:
            member = self._roster.get(seat)
        if eph is None or member is None or not member.eph or seat == self._seat \
                or member.verified == I.UNVERIFIED:
            return None
        cached = self._box_cache.get((seat, member.eph))
        if cached is None:
            try:
                cached = eph.pair_keys(member.eph, self.room.encode() + BOX_CONTEXT)
            except ValueError:
                return None
            self._box_cache[(seat, member.eph)] = cached
        return cached

    def _rekey(self) -> None:
        """A new own sender key, given to every other member (joins, leaves, our own join)."""
        self._sender.new_key()
        self._count_rx("sender_key_changes")
        with self._lock:
            seats = [s for s in self._roster if s != self._seat]
        self._give_keys(seats)

    def _give_keys(self, seats) -> None:
        """Send the current own sender key to these seats, each in a box under its pair key."""
        key_id, key = self._sender.own
        if not key:
            return
        boxes = {}
        for seat in seats:
            pair = self._box_keys(seat)
            if pair is None:
                self._count_rx("sender_key_no_pair")
                continue
            boxes[str(seat)] = I.b64(SenderKeys.box(pair[0], key_id, key, self._seat, seat))
        if boxes:
            self._send_control({"type": "sender_key", "boxes": boxes})
            self._count_rx("sender_key_boxes_sent", len(boxes))

    def _on_sender_key(self, seat: int, box: bytes) -> None:
        """A box from seat (relayed by the server): keep its key, then read what waited for it."""
        pair = self._box_keys(seat) if self._sender is not None else None
        if pair is None or self._sender.accept_box(pair[1], box, seat, self._seat) is None:
            self._count_rx("sender_key_bad")
            return
        self._count_rx("sender_keys_received")
        waiting = self._pending.pop(seat, None)
        for item in waiting or ():
            self._open_sealed(*item, retry=True)

    def _open_sealed(self, kind, seat, seq, t_ms, payload, nbytes, arrival_ns, retry=False) -> None:
        """A sealed datagram (after the MAC and replay checks): opened and delivered as a pose
        or voice; one whose key has not arrived yet waits a moment; anything else is counted."""
        c = self._rx_counts
        plain = self._sender.open(kind, seat, seq, t_ms, payload) if self._sender is not None else "no_room"
        if isinstance(plain, bytes):
            self._deliver(kind, proto.KIND_NAMES[proto.PLAIN_OF[kind]], seat, seq, t_ms, plain,
                          arrival_ns, nbytes)
            return
        if plain == "no_key" and not retry:
            queue = self._pending.setdefault(seat, collections.deque())
            cutoff = arrival_ns - int(PENDING_S * 1e9)
            while queue and (queue[0][-1] < cutoff or len(queue) >= PENDING_PER_SEAT):
                queue.popleft()
                c["rx_dropped_sealed_no_key"] += 1
            queue.append((kind, seat, seq, t_ms, payload, nbytes, arrival_ns))
            return
        c[f"rx_dropped_sealed_{plain}"] += 1

    def _send_control(self, msg: dict) -> None:
        writer = self._writer
        if writer is not None and not writer.is_closing():
            frame = proto.encode_message(msg)
            writer.write(frame)
            self._count_rx("control_bytes_sent", len(frame))

    def _send_keepalive(self) -> None:
        self._send(proto.KIND_KEEPALIVE, next(self._keepalive_seq), _now_ms(), b"")

    async def _keep_connected(self) -> None:
        """Ping; notice a dead link; reconnect with backoff, asking for the same seat."""
        while not self._closing:
            task = self._session_task
            while not task.done():
                await asyncio.wait([task], timeout=self.keepalive_s)
                if task.done():
                    break
                if self._loop.time() - self._last_rx > self.timeout_s:
                    self._writer.transport.abort()         # the server stopped answering
                    await asyncio.wait([task], timeout=1.0)
                    break
                self._send_control({"type": "ping"})
                self._send_keepalive()
            if self._closing:
                return
            self._link = None
            self._emit("reconnecting", seat=self._seat)
            delay = 0.2
            while not self._closing:
                await asyncio.sleep(delay)
                try:
                    await asyncio.wait_for(self._open(self._seat), max(self.timeout_s, 1.0))
                except RoomFull:
                    self._emit("room_full", seat=self._seat)
                except NameTaken as exc:
                    self._emit("name_taken", seat=self._seat, reason=str(exc))
                except (OSError, asyncio.TimeoutError, proto.ProtocolError):
                    pass
                else:
                    break
                delay = min(delay * 2, 2.0)

    async def _shutdown(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
        writer = self._writer
        if writer is not None and not writer.is_closing():
            writer.write(proto.encode_message({"type": "leave"}))
            try:
                await asyncio.wait_for(writer.drain(), 0.5)
            except (asyncio.TimeoutError, OSError):
                pass
            writer.close()
        if self._sock is not None:
            self._loop.remove_reader(self._sock.fileno())

    # --- receiving (loop thread) -------------------------------------------------------------
    def _open_whisper(self, seat: int, payload: bytes) -> bytes | None:
        """A whisper from seat -> the Opus frame, or None (counted): not for this seat, not
        from this person's whisper partner, or not decryptable."""
        from cryptography.exceptions import InvalidTag

        c = self._rx_counts
        if len(payload) < proto.WHISPER_HEAD + proto.WHISPER_TAG or payload[0] != self._seat:
            c["rx_dropped_whisper_not_mine"] += 1
            return None
        if self.whisper_partner != seat:
            c["rx_dropped_whisper_not_partner"] += 1
            return None
        aead = self._pair_aead(seat, 1)
        if aead is None:
            c["rx_dropped_whisper_no_key"] += 1
            return None
        try:
            return aead.decrypt(payload[1:proto.WHISPER_HEAD] + b"\0\0\0\0", payload[proto.WHISPER_HEAD:],
                                bytes([seat, self._seat & 0xFF]))
        except InvalidTag:
            c["rx_dropped_whisper_bad"] += 1
            return None

    def _on_room_datagram(self, data: bytes) -> None:
        """A private room over NATS: a sealed datagram the room server published once for the
        whole room (no server MAC: the sender-key seal covers the header and the payload)."""
        arrival_ns = time.monotonic_ns()
        c = self._rx_counts
        try:
            kind, seat, seq, t_ms, payload = proto.parse_server_datagram(data)
        except proto.ProtocolError as exc:
            c[f"rx_dropped_{exc.reason}"] += 1
            return
        link = self._link
        if link is None or self._sender is None or kind not in proto.PLAIN_OF:
            c["rx_dropped_fanout_unexpected"] += 1
            return
        if seat == link.seat:
            return                               # our own, back from NATS
        if not self._fresh(seat, kind, seq, t_ms):
            return
        self._open_sealed(kind, seat, seq, t_ms, payload, len(data), arrival_ns)

    def _fresh(self, seat: int, kind: int, seq: int, t_ms: int) -> bool:
        """False (counted) for a datagram this seat already sent, or one too old (a replay)."""
        window = self._windows.get((seat, kind))
        if window is None:
            window = self._windows[(seat, kind)] = I.ReplayWindow()
        if not window.accept(seq, t_ms):
            self._rx_counts["rx_dropped_replay"] += 1
            return False
        return True

    def _read_udp(self) -> None:
        """The UDP socket is readable: handle every datagram waiting (one wake-up, many packets)."""
        sock = self._sock
        for _ in range(UDP_BATCH):
            try:
                data = sock.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:      # e.g. ICMP port unreachable while the server restarts
                self._rx_counts["udp_errors"] += 1
                return
            self._on_datagram(data)

    def _on_datagram(self, data: bytes) -> None:
        arrival_ns = time.monotonic_ns()
        c = self._rx_counts
        try:
            body, tag = proto.split_mac(data)
            kind, seat, seq, t_ms, payload = proto.parse_server_datagram(body)
        except proto.ProtocolError as exc:
            c[f"rx_dropped_{exc.reason}"] += 1
            return
        link = self._link
        if link is None:
            c["rx_dropped_not_connected"] += 1
            return
        if not proto.mac_ok(link.keys.down, body, tag):
            c["rx_dropped_bad_mac"] += 1
            return
        if not self._fresh(seat, kind, seq, t_ms):
            return
        if kind == proto.KIND_PROBE:          # the server checks this address: answer from here
            c["probe_received"] += 1
            self._send(proto.KIND_PROBE, seq, t_ms, payload)
            return
        if kind == proto.KIND_KEEPALIVE:
            c["rtt_ms"] = proto.ms_diff(arrival_ns // 1_000_000, t_ms)
            c["keepalive_received"] += 1
            c["keepalive_bytes_received"] += len(data)
            return
        name = proto.KIND_NAMES[kind]
        if seat == link.seat:
            c["rx_dropped_own_seat"] += 1
            return
        if kind in proto.PLAIN_OF:            # private rooms: sealed under the sender's key
            self._open_sealed(kind, seat, seq, t_ms, payload, len(data), arrival_ns)
            return
        if self._sender is not None and kind in proto.SEALED_OF:
            c["rx_dropped_plain_in_private"] += 1  # a private room carries sealed poses and voice only
            return
        if kind == proto.KIND_WHISPER:
            payload = self._open_whisper(seat, payload)
            if payload is None:
                return
        self._deliver(kind, name, seat, seq, t_ms, payload, arrival_ns, len(data))

    def _deliver(self, kind, name, seat, seq, t_ms, payload, arrival_ns, nbytes) -> None:
        c = self._rx_counts
        received, bytes_received = _RX_KEYS[kind]
        c[received] += 1
        c[bytes_received] += nbytes
        d = Datagram(name, seat, seq, t_ms, payload, arrival_ns)
        callback = self.on_datagram
        if callback is not None:
            try:
                callback(d)
            except Exception:          # the app's handler must not kill the network thread
                c["callback_errors"] += 1
        elif len(self._rx) < QUEUE_MAX:
            self._rx.append(d)
        else:
            c["rx_dropped_queue_full"] += 1

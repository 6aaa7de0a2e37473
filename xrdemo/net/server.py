"""The meeting server: rooms, seats and a presence list over TCP, real-time forwarding over UDP.

Standard library only (asyncio). One port number serves both: TCP for the control channel
(join, leave, roster, profiles, pings) and UDP for poses and voice. Payloads are opaque here.

- A client connects over TCP; the server sends a random ``challenge``; the client says ``hello``
  signed over it with its identity key (``identity.py``); the server checks the signature and
  the name, and answers ``welcome`` (seat, a 24-bit UDP session token, its ephemeral X25519 key,
  the capacity, the members with their signed joins) or ``error`` (``room_full``,
  ``bad_request``, ``version``, ``bad_signature``, ``name_taken``) and closes. Rooms appear on
  first join and vanish when empty.
- Names: a display name belongs to the first key that used it on this server (kept in memory
  while the server runs); another key asking for it is refused with ``name_taken``.
- Seats: ``want_seat`` when free, else the seat this client_id had before (kept for a while after
  it left), else the lowest free seat. A new hello with a client_id and key already in the room
  replaces the old connection in the same seat (a client that reconnects before its old link
  timed out).
- UDP: a datagram must carry a known session token and a valid MAC under that session's key
  (else ``bad_session`` / ``bad_mac``); the first valid one binds the member's source address, and
  later ones from another address are dropped (``wrong_addr``) until the client sends ``rebind``
  on its control channel; a seq or t_ms already seen or too old is dropped (``replay``). Valid
  pose and voice datagrams go to every other member of the room with the sender's seat in the
  header and a MAC under each recipient's key; keepalives are echoed to the sender only.
- Liveness: a member with no TCP or UDP traffic for ``timeout_s`` is removed and the room told
  (``left``, reason ``timeout``). A closed TCP connection leaves at once.
- Everything malformed is dropped and counted by reason (``stats()``), never raised.

``Impairment`` makes the server a lossy, jittery relay for tests; ``ServerThread`` runs a server
on its own event loop thread for tests and in-process use.

Why one long module (~990 lines): the server is one asyncio protocol over one port (control
channel, datagram forwarding, fair shares, seat holds, limits) sharing one room table; names,
recording and metrics live apart (names.py, replay/server_record.py, commands/serve.py).
"""

from __future__ import annotations

import asyncio
import collections
import errno
import hmac
import os
import random
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field

from . import identity as I
from . import limits as L
from . import names as N
from . import protocol as proto

HELLO_TIMEOUT_S = 5.0          # a connection must say hello within this
SLOW_CLIENT_BYTES = 256 * 1024  # a member whose unsent control data exceeds this is dropped
SEAT_HOLD_S = 30.0              # a seat whose member dropped out is offered to others last, this long
REMEMBERED_SEATS = 1024         # (room, client_id) -> seat kept for reconnects after leaving
UDP_BUFFER_BYTES = 8 << 20      # socket buffers asked of the OS (capped by net.core.rmem_max/wmem_max):
                                # room for a flood's backlog while the server is descheduled
UDP_BATCH = 256                 # datagrams read per wake-up before yielding to other work
WELCOME_BUDGET = 12 * 1024      # bytes of profiles and signed joins inside a welcome (frames max 16 KiB)
NAME_REGISTRY_MAX = 400_000     # name keys the registry holds; then new names are refused, none forgotten
NAME_RATES = {"key": (10 / 3600, 10.0),         # new names per identity key: 10, then one per 6 min
              "address": (60 / 3600, 60.0)}     # per IP address (IPv6: per /64): 60, then one a minute
NAME_BUCKETS_MAX = 65536        # keys and addresses whose new-name buckets are kept
BUSY_LOG_S = 10.0               # at most one log line this often about refused connections
PROBE_TTL_S = 5.0               # a probe's answer counts this long
PROBE_REPEAT_S = 0.2            # an unbound address is asked again after this
PROBES_PENDING = 4              # addresses being checked at once per member
LIMITED_KEPT = 64               # members who went over their fair share, kept in the stats after leaving


@dataclass
class Impairment:
    """A lossy, jittery link applied to every forwarded datagram (tests and soak runs).

    loss: probability a datagram is dropped; jitter_ms: each kept datagram is delayed by a
    uniform 0..2*jitter_ms milliseconds (so datagrams get reordered); seed: for repeatability.
    """
    loss: float = 0.05
    jitter_ms: float = 30.0
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self):
        if not 0.0 <= self.loss <= 1.0 or self.jitter_ms < 0:
            raise ValueError(f"impairment needs 0 <= loss <= 1 and jitter_ms >= 0, got {self}")
        self._rng = random.Random(self.seed)

    def plan(self) -> float | None:
        """None to drop this datagram, else its delay in seconds."""
        if self._rng.random() < self.loss:
            return None
        return self._rng.uniform(0.0, 2.0 * self.jitter_ms) / 1000.0


@dataclass(eq=False)
class _Member:
    room: "_Room"
    seat: int
    name: str
    client_id: str
    profile: dict
    session: int
    writer: asyncio.StreamWriter
    last_seen: float                       # loop.time() of the last TCP or UDP traffic
    addr: tuple | None = None              # bound UDP source address
    active: bool = True
    key: bytes = b""                       # Ed25519 identity public key
    keys: I.SessionKeys | None = None      # datagram MAC keys of this session
    signed_join: dict = field(default_factory=dict)   # what peers need to check the join
    windows: dict = field(default_factory=dict)       # kind -> ReplayWindow
    buckets: dict = field(default_factory=dict)       # kind name -> limits.TokenBucket (fair share)
    limited: collections.Counter = field(default_factory=collections.Counter)  # kind -> dropped over the share
    probes: dict = field(default_factory=dict)        # address -> (nonce, loop time sent): not yet bound
    peer_ip: str | None = None                        # the control connection's IP address
    probe_seq: int = 0


@dataclass(frozen=True)
class _Auth:
    """A hello whose signature checked out: the session keys and what peers get to verify it."""
    keys: I.SessionKeys
    server_eph: bytes
    signed_join: dict


@dataclass(eq=False)
class _Room:
    name: str
    capacity: int
    members: dict = field(default_factory=dict)   # seat -> _Member
    private: bool = False                         # poses and voice sealed by their senders (sender_keys.py)
    fanout: str | None = None                     # NATS: the subject sealed datagrams are published on once


class Server:
    """The room server (see the module docstring).

    host, port: where to listen (TCP and UDP on the same port; port 0 lets the OS choose; the
    chosen one is ``self.port`` after ``start()``). capacity: seats per room (1..32).
    timeout_s: silence after which a member is removed. impairment: optional ``Impairment``.
    log: ``f(str)`` for one-line notices (joins, leaves), or None. rates: overrides of
    ``limits.RATES`` (kind -> (per second, burst)), each member's fair share. names_path: a file
    that keeps who owns which display name across restarts (None: in memory while running);
    max_names: name keys held (then new names are refused); name_rates: overrides of
    ``NAME_RATES`` (new names per key and per address). limits: ``limits.ServerLimits``
    (connections per address and in all, rooms; each refusal has its own error code).
    private_rooms: every room is private: members seal their poses and voices under sender
    keys they give each other (``sender_keys.py``); the server relays the key boxes and
    forwards the sealed datagrams, and drops plain poses and voice in them.
    """

    def __init__(self, host: str = "0.0.0.0", port: int = proto.DEFAULT_PORT, capacity: int = 8,
                 timeout_s: float = 3.0, impairment: Impairment | None = None, log=None,
                 hello_timeout_s: float = HELLO_TIMEOUT_S, rates: dict | None = None,
                 names_path=None, max_names: int = NAME_REGISTRY_MAX, name_rates: dict | None = None,
                 limits: L.ServerLimits | None = None, private_rooms: bool = False):
        if not 1 <= capacity <= proto.MAX_SEATS:
            raise ValueError(f"capacity must be 1..{proto.MAX_SEATS}, got {capacity}")
        if timeout_s <= 0:
            raise ValueError(f"timeout must be positive, got {timeout_s}")
        self.host, self.port, self.capacity, self.timeout_s = host, port, capacity, timeout_s
        self.impairment = impairment
        self.private_rooms = bool(private_rooms)
        self.hello_timeout_s = hello_timeout_s
        self.rates = dict(L.RATES, **(rates or {}))   # kind -> (per second, burst): fair shares
        self.limits = limits or L.ServerLimits()
        self.max_connections = self.limits.connections   # lowered at start() to fit the file handles
        self._per_address: dict = {}                     # address group -> open control connections
        self._busy_count, self._busy_logged = 0, -1e9
        self._previous_handler = None
        self._limited_left: collections.OrderedDict = collections.OrderedDict()  # who -> kind counts, after leaving
        self.log = log or (lambda _msg: None)
        self.rooms: dict[str, _Room] = {}
        self._sessions: dict[int, _Member] = {}
        self._remembered: collections.OrderedDict = collections.OrderedDict()
        self.names = N.NameRegistry(names_path, max_names)
        self._name_keys = self.names.by_key          # name key -> owner (NatsServer shares it)
        self.name_rates = dict(NAME_RATES, **(name_rates or {}))
        self._name_buckets: collections.OrderedDict = collections.OrderedDict()   # ("key"|"address", who) -> bucket
        self._dropped: dict = {}           # (room, seat) -> (monotonic time its member dropped out, client_id, key)
        self._tcp: asyncio.base_events.Server | None = None
        self._udp_sock: socket.socket | None = None     # non-blocking; read by _read_udp
        self._delayed: dict[int, list] = {}               # impairment: due ms -> [(packet, addr, kind)]
        self._sweeper: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn_tasks: set = set()
        self.counters: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.started_at = 0.0
        self.observer = None
        """Told of joins, leaves, profiles and accepted datagrams (a server-side recorder, e.g.
        replay.server_record.ServerRecorder), on the loop thread; its errors are counted."""

    # --- life --------------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen on TCP and UDP (same port number)."""
        self._loop = asyncio.get_running_loop()
        self._previous_handler = self._loop.get_exception_handler()
        self._loop.set_exception_handler(self._on_loop_error)
        self.max_connections = _connection_budget(self.limits)
        last_error = None
        for _attempt in range(20):
            tcp = await asyncio.start_server(self._on_connection, self.host, self.port,
                                             reuse_address=True)
            port = tcp.sockets[0].getsockname()[1]
            try:
                sock = _udp_socket(tcp.sockets[0].family, (self.host, port))
            except OSError as exc:        # the OS gave TCP a port whose UDP twin is taken
                last_error = exc
                tcp.close()
                await tcp.wait_closed()
                if self.port != 0:
                    raise OSError(f"cannot listen for UDP on {self.host}:{port}: {exc}") from exc
                continue
            self._loop.add_reader(sock.fileno(), self._read_udp)
            self._udp_sock = sock
            self._tcp, self.port = tcp, port
            break
        else:
            raise OSError(f"no port free for both TCP and UDP on {self.host}: {last_error}")
        self._sweeper = asyncio.create_task(self._sweep())
        self.started_at = self._loop.time()

    async def stop(self) -> None:
        """Close every connection and stop listening."""
        if self._loop is not None and self._loop.get_exception_handler() == self._on_loop_error:
            self._loop.set_exception_handler(self._previous_handler)
        if self._sweeper:
            self._sweeper.cancel()
        if self._tcp:
            self._tcp.close()
        for room in list(self.rooms.values()):
            for m in list(room.members.values()):
                self._remove(m, "server_stopped", tell_room=False)
        for task in list(self._conn_tasks):
            task.cancel()
        if self._conn_tasks:
            await asyncio.gather(*self._conn_tasks, return_exceptions=True)
        if self._tcp:
            await self._tcp.wait_closed()
        if self._udp_sock is not None:
            self._loop.remove_reader(self._udp_sock.fileno())
            self._udp_sock.close()
        self._tcp = self._udp_sock = self._sweeper = None
        self._delayed.clear()

    async def serve_forever(self) -> None:
        await self.start()
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()

    def _tell(self, what: str, *args) -> None:
        """Pass one room happening to the observer; an observer's failure is counted, not raised."""
        if self.observer is not None:
            try:
                getattr(self.observer, what)(*args)
            except Exception:
                self._count("control", "observer_errors")

    # --- stats -------------------------------------------------------------------------------
    def _count(self, group: str, key: str, n: int = 1) -> None:
        self.counters[group][key] += n

    def stats(self) -> dict:
        """Counters (dicts by kind or reason): ``packets_in``, ``bytes_in`` (``all`` counts every
        datagram received, valid or not), ``packets_out``, ``bytes_out``, ``drops`` (invalid
        datagrams by reason), ``control`` (connections, joins, room_full, ...), ``control_errors``
        (by reason), ``leaves`` (by reason), ``impaired``; flat: ``dropped_by_impairment``,
        ``rate_limited`` (datagrams and control messages over a member's fair share, by kind),
        ``limited_members`` (who -> kind -> count, members now here and the last few who left),
        ``rooms``, ``members``, ``process_cpu_s``, and ``thread_cpu_s`` when called on the
        server's loop (``ServerThread.stats()`` does)."""
        out = {name: dict(c) for name, c in self.counters.items()}
        for name in ("drops", "rate_limited", "refused", "packets_in", "packets_out", "bytes_in", "bytes_out"):
            out.setdefault(name, {})
        out["dropped_by_impairment"] = self.counters["impaired"]["lost"]
        limited = dict(self._limited_left)
        for room in self.rooms.values():
            for m in room.members.values():
                if m.limited:
                    limited[_who(m)] = dict(m.limited)
        out["limited_members"] = limited
        out["rooms"] = len(self.rooms)
        out["connections"] = len(self._conn_tasks)
        out["members"] = sum(len(r.members) for r in self.rooms.values())
        out["process_cpu_s"] = time.process_time()
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            out["thread_cpu_s"] = time.thread_time()
        return out

    # --- control channel ---------------------------------------------------------------------
    def _admission(self, peer) -> tuple[str, str] | None:
        """(code, message) when a new connection must be refused, else None."""
        if len(self._conn_tasks) >= self.max_connections:
            self._note_busy(f"{len(self._conn_tasks)} connections open, the most this server takes")
            return "busy", "the server is full (too many connections); try again in a minute"
        if peer is not None and self._per_address.get(peer, 0) >= self.limits.per_address:
            return "too_many_connections", (f"{self.limits.per_address} connections from your "
                                            "address are open already")
        return None

    def _note_busy(self, why: str) -> None:
        """One log line per BUSY_LOG_S about refusing connections, never a flood."""
        self._busy_count += 1
        now = time.monotonic()
        if now - self._busy_logged >= BUSY_LOG_S:
            self.log(f"refusing new connections: {why} ({self._busy_count} refused so far)")
            self._busy_logged = now

    def _on_loop_error(self, loop, context) -> None:
        """The event loop's error handler: running out of file handles while accepting is one
        line per BUSY_LOG_S (asyncio pauses accepting and retries by itself), not a traceback
        per attempt; anything else goes to the handler that was there before."""
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
            self._count("refused", "out_of_file_handles")
            self._note_busy("the process is out of file handles")
            return
        if self._previous_handler is not None:
            self._previous_handler(loop, context)
        else:
            loop.default_exception_handler(context)

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        task = asyncio.current_task()
        peer = _address_group(writer.get_extra_info("peername"))
        refusal = self._admission(peer)
        if refusal is not None:
            self._count("refused", refusal[0])
            self._write(writer, {"type": "error", "code": refusal[0], "message": refusal[1]})
            self._close_writer(writer)
            return
        self._conn_tasks.add(task)
        if peer is not None:
            self._per_address[peer] = self._per_address.get(peer, 0) + 1
        member = None
        reason = "closed"
        self._count("control", "connections")
        try:
            challenge = I.new_challenge()
            self._write(writer, {"type": "challenge", "v": proto.PROTOCOL_VERSION,
                                 "challenge": I.b64(challenge)})
            msg = await asyncio.wait_for(self._read_message(reader), self.hello_timeout_s)
            hello = proto.validate_client_message(msg)
            if not isinstance(hello, proto.Hello):
                raise proto.ProtocolError("bad_message", "the first message must be hello")
            member = self._join(hello, writer, self._authenticate(hello, challenge))
            if member is None:
                return
            while member.active:
                msg = await self._read_message(reader)
                now = member.last_seen = self._loop.time()
                msg = proto.validate_client_message(msg)
                kind = msg["type"]
                if kind != "leave" and not self._within_share(member, "control", now):
                    # A flood: dropped, and the connection is not read again until the share
                    # allows (TCP pushes back on the sender).
                    await asyncio.sleep(member.buckets["control"].wait_s(now))
                    continue
                if kind == "ping":
                    self._send(member, {"type": "pong", "server_time_ms": self._now_ms()})
                elif kind == "leave":
                    reason = "leave"
                    break
                elif kind == "profile":
                    if not self._within_share(member, "profile", now):
                        continue
                    member.profile = msg["profile"]
                    self._broadcast(member.room, {"type": "profile", "seat": member.seat,
                                                  "profile": member.profile}, skip=member)
                    self._tell("profile", member.room.name, member.seat, member.profile)
                elif kind == "rebind":
                    member.addr = None
                    self._count("control", "rebind")
                elif kind == "sender_key":
                    self._relay_sender_keys(member, msg)
                else:   # a hello on a joined connection
                    raise proto.ProtocolError("bad_message", "hello sent twice")
        except proto.ProtocolError as exc:
            self._count("control_errors", exc.reason)
            reason = "error"
            code = exc.reason if exc.reason in ("version", "bad_signature") else "bad_request"
            self._write(writer, {"type": "error", "code": code, "message": str(exc)})
        except asyncio.TimeoutError:
            self._count("control_errors", "hello_timeout")
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            reason = "closed"
        except asyncio.CancelledError:
            reason = "server_stopped"
        finally:
            if member is not None and member.active:
                self._remove(member, reason)
            self._close_writer(writer)
            self._conn_tasks.discard(task)
            if peer is not None:
                left = self._per_address.get(peer, 1) - 1
                if left > 0:
                    self._per_address[peer] = left
                else:
                    self._per_address.pop(peer, None)

    def _relay_sender_keys(self, member: _Member, msg: dict) -> None:
        """Private rooms: pass each box of a member's sender key to the seat it is for (the
        boxes are sealed under pair keys the server cannot derive)."""
        room = member.room
        if not room.private:
            self._count("control_errors", "sender_key_not_private")
            return
        for seat_text, box in msg["boxes"].items():
            target = room.members.get(int(seat_text))
            if target is None or target is member:
                self._count("control", "sender_key_no_seat")
                continue
            self._send(target, {"type": "sender_key", "seat": member.seat, "box": box})
            self._count("control", "sender_key_boxes")

    def _within_share(self, member: _Member, kind: str, now: float) -> bool:
        """Spend one of the member's ``kind`` tokens; False (counted) when its share is used up."""
        if member.buckets[kind].take(now):
            return True
        self.counters["rate_limited"][kind] += 1
        member.limited[kind] += 1
        return False

    async def _read_message(self, reader: asyncio.StreamReader) -> dict:
        n = proto.frame_length(await reader.readexactly(4))
        return proto.decode_body(await reader.readexactly(n))

    def _authenticate(self, hello: proto.Hello, challenge: bytes) -> _Auth:
        """Check the hello's signature over this connection's challenge (a captured hello
        replayed on another connection fails here); derive the session keys."""
        statement = I.join_statement(proto.PROTOCOL_VERSION, challenge, hello.room, hello.name,
                                     hello.client_id, hello.eph)
        if not I.verify_join(hello.key, hello.sig, statement):
            raise proto.ProtocolError("bad_signature", "the join signature does not match the key, "
                                                   "this connection's challenge and the hello")
        eph = I.Ephemeral()
        try:
            keys = eph.session_keys(hello.eph, challenge, hello.eph, eph.public)
        except ValueError:
            raise proto.ProtocolError("bad_message", "unusable ephemeral key") from None
        signed = {"key": I.b64(hello.key), "eph": I.b64(hello.eph), "challenge": I.b64(challenge),
                  "sig": I.b64(hello.sig), "client_id": hello.client_id}
        return _Auth(keys, eph.public, signed)

    def _name_owner(self, name: str, room: _Room | None) -> bytes | None:
        """The key this name (or a look-alike) belongs to: someone in the room, else the registry."""
        keys = N.name_keys(name)
        for m in room.members.values() if room else ():
            if keys & N.name_keys(m.name):
                return m.key
        return self.names.owner(name)

    def _claim_name(self, name: str, key: bytes) -> None:
        self.names.claim(name, key)

    def _name_refusal(self, hello: proto.Hello, peer) -> tuple[str, str] | None:
        """(code, message) when this hello may not use its name, else None. A name new to this
        server costs a token of the key's and of the address's new-name buckets."""
        problem = N.name_problem(hello.name)
        if problem is not None:
            return "bad_name", f"the name {hello.name!r} cannot be used: {problem}"
        owner = self._name_owner(hello.name, self.rooms.get(hello.room))
        if owner is not None and owner != hello.key:
            return "name_taken", (f"the name {hello.name!r} (or one that looks like it) belongs to "
                                  f"someone else here (key {I.fingerprint(owner)[:9]}...); join with "
                                  "another --name")
        if owner is not None:
            return None
        if self.names.full:
            return "name_limit", ("this server knows too many names to take a new one; "
                                  "join with a name you used here before")
        now = self._loop.time()
        for kind, who in (("key", hello.key), ("address", peer)):
            if who is None:
                continue
            bucket = self._name_buckets.get((kind, who))
            if bucket is None:
                bucket = self._name_buckets[(kind, who)] = L.TokenBucket(*self.name_rates[kind], now)
                while len(self._name_buckets) > NAME_BUCKETS_MAX:
                    self._name_buckets.popitem(last=False)
            if not bucket.ready(now):
                return "name_rate", (f"too many new names from this {'identity' if kind == 'key' else 'address'}"
                                     f"; try again in {bucket.wait_s(now):.0f} s or use a name you had")
        for kind, who in (("key", hello.key), ("address", peer)):
            if who is not None:
                self._name_buckets[(kind, who)].take(now)
        return None

    def _join(self, hello: proto.Hello, writer, auth: _Auth) -> _Member | None:
        refusal = self._name_refusal(hello, _address_group(writer.get_extra_info("peername")))
        if refusal is not None:
            code, message = refusal
            self._count("control", code)
            self._count("refused", code)
            self._write(writer, {"type": "error", "code": code, "message": message})
            return None
        room = self.rooms.get(hello.room)
        replaced_seat = None
        for old in list(room.members.values()) if room else ():
            if old.client_id == hello.client_id and old.key == hello.key:   # reconnecting: same seat
                replaced_seat = old.seat
                self._remove(old, "replaced", tell_room=False)
                self._count("control", "replaced")
        room = self.rooms.get(hello.room)              # (it vanished if that was its only member)
        if room is None:
            if len(self.rooms) >= self.limits.rooms:
                self._count("refused", "too_many_rooms")
                self._write(writer, {"type": "error", "code": "too_many_rooms", "message":
                                     f"this server holds {len(self.rooms)} rooms, its most; join a "
                                     "room that exists or try again later"})
                return None
            room = self.rooms[hello.room] = self._make_room(hello.room)
        if len(room.members) >= room.capacity:
            self._count("control", "room_full")
            self._count("refused", "room_full")
            self._write(writer, {"type": "error", "code": "room_full",
                                 "message": f"room {room.name!r} is full ({room.capacity} seats)"})
            if not room.members:
                del self.rooms[room.name]
            return None
        seat = replaced_seat if replaced_seat is not None else self._choose_seat(room, hello)
        session = self._new_session()
        now = self._loop.time()
        member = _Member(room, seat, hello.name, hello.client_id, hello.profile, session, writer,
                         now, key=hello.key, keys=auth.keys, signed_join=auth.signed_join,
                         peer_ip=_ip_of(writer.get_extra_info("peername")),
                         buckets=L.buckets(now, self.rates))
        self._claim_name(hello.name, hello.key)
        room.members[seat] = member
        self._sessions[session] = member
        self._remembered[(room.name, hello.client_id)] = seat
        self._remembered.move_to_end((room.name, hello.client_id))
        while len(self._remembered) > REMEMBERED_SEATS:
            self._remembered.popitem(last=False)
        self._count("control", "joins")
        self._welcome(member, auth.server_eph)
        self._broadcast(room, {"type": "joined", "seat": seat, "name": member.name,
                               "profile": member.profile, "id": member.signed_join}, skip=member)
        self.log(f"{member.name!r} joined {room.name!r} in seat {seat} "
                 f"({len(room.members)}/{room.capacity})")
        self._tell("joined", room.name, room.capacity, seat, member.name, member.profile, member.signed_join)
        return member

    def _make_room(self, name: str) -> _Room:
        return _Room(name, self.capacity, private=self.private_rooms)

    def _welcome(self, member: _Member, server_eph: bytes) -> None:
        """Send ``welcome``. Signed joins, then profiles, ride along while the message stays
        under WELCOME_BUDGET; the rest follow at once as ``identity`` and ``profile`` messages
        (each fits a frame on its own)."""
        room = member.room
        members, later, later_ids, budget = [], [], [], WELCOME_BUDGET
        for m in sorted(room.members.values(), key=lambda m: m.seat):
            entry = {"seat": m.seat, "name": m.name}
            size = proto.profile_size(m.signed_join) + 10
            if size <= budget:
                entry["id"] = m.signed_join
                budget -= size
            else:
                later_ids.append(m)
            members.append(entry)
        for entry, m in zip(members, sorted(room.members.values(), key=lambda m: m.seat)):
            size = proto.profile_size(m.profile) + 120
            if size <= budget:
                entry["profile"] = m.profile
                budget -= size
            elif m.profile:
                later.append(m)
        welcome = {
            "type": "welcome", "seat": member.seat, "session": f"{member.session:06x}",
            "eph": I.b64(server_eph), "capacity": room.capacity, "timeout_s": self.timeout_s,
            "server_time_ms": self._now_ms(), "members": members}
        if room.private:
            welcome["private"] = True
            if room.fanout is not None:
                welcome["fanout"] = room.fanout
        self._send(member, welcome)
        for m in later_ids:
            self._send(member, {"type": "identity", "seat": m.seat, "id": m.signed_join})
        for m in later:
            self._send(member, {"type": "profile", "seat": m.seat, "profile": m.profile})

    def _choose_seat(self, room: _Room, hello: proto.Hello) -> int:
        """The seat for a newcomer: its wish, else its seat from before, else the lowest free
        one. Seats whose member dropped out less than SEAT_HOLD_S ago are held for that member
        (same client id and key): nobody else gets one, asked for or not, while another is free."""
        free = [s for s in range(room.capacity) if s not in room.members]
        now = time.monotonic()
        held = {seat for (name, seat), (t, cid, key) in self._dropped.items()
                if name == room.name and now - t < SEAT_HOLD_S
                and not (cid == hello.client_id and key == hello.key)}
        open_seats = [s for s in free if s not in held] or free    # held seats go last
        for wish in (hello.want_seat, self._remembered.get((room.name, hello.client_id))):
            if wish is not None and wish in open_seats:
                return wish
        return open_seats[0]

    def _new_session(self) -> int:
        while True:
            token = secrets.randbits(proto.SESSION_BITS)
            if token and token not in self._sessions:
                return token

    def _remove(self, member: _Member, reason: str, tell_room: bool = True) -> None:
        if not member.active:
            return
        member.active = False
        room = member.room
        if room.members.get(member.seat) is member:
            del room.members[member.seat]
        self._sessions.pop(member.session, None)
        if reason != "leave":                  # dropped out, not a goodbye: hold the seat a while
            self._dropped[(room.name, member.seat)] = (time.monotonic(), member.client_id, member.key)
            while len(self._dropped) > REMEMBERED_SEATS:
                self._dropped.pop(next(iter(self._dropped)))
        self._count("leaves", reason)
        if member.limited:                       # who went over their share stays in the stats a while
            self._limited_left[_who(member)] = dict(member.limited)
            while len(self._limited_left) > LIMITED_KEPT:
                self._limited_left.popitem(last=False)
        self._close_writer(member.writer)
        if tell_room:
            self._broadcast(room, {"type": "left", "seat": member.seat, "reason": reason})
        if not room.members and self.rooms.get(room.name) is room:
            del self.rooms[room.name]
        self.log(f"{member.name!r} left {room.name!r} seat {member.seat} ({reason})")
        # A member replaced by its own reconnect leaves no empty room behind for the recorder.
        self._tell("left", room.name, member.seat, reason, not room.members and reason != "replaced")

    def _send(self, member: _Member, msg: dict) -> None:
        if not member.active:
            return
        self._write(member.writer, msg)
        transport = member.writer.transport
        if transport is not None and transport.get_write_buffer_size() > SLOW_CLIENT_BYTES:
            self._loop.call_soon(self._remove, member, "slow")

    def _write(self, writer, msg: dict) -> None:
        try:
            if not writer.is_closing():
                writer.write(proto.encode_message(msg))
                self._count("control", "messages_out")
        except (OSError, RuntimeError):
            pass
        except ValueError:          # too big for a frame: a bug upstream, never a crash here
            self._count("control", "oversize_dropped")

    @staticmethod
    def _close_writer(writer) -> None:
        try:
            writer.close()
        except (OSError, RuntimeError):
            pass

    def _broadcast(self, room: _Room, msg: dict, skip: _Member | None = None) -> None:
        for m in list(room.members.values()):
            if m is not skip:
                self._send(m, msg)

    def _now_ms(self) -> int:
        return (time.monotonic_ns() // 1_000_000) & 0xFFFFFFFF

    async def _sweep(self) -> None:
        """Remove members silent for longer than timeout_s."""
        period = min(0.25, self.timeout_s / 4)
        while True:
            await asyncio.sleep(period)
            deadline = self._loop.time() - self.timeout_s
            for room in list(self.rooms.values()):
                for m in list(room.members.values()):
                    if m.last_seen < deadline:
                        self._remove(m, "timeout")

    # --- datagrams ---------------------------------------------------------------------------
    def _read_udp(self) -> None:
        """The UDP socket is readable: handle every datagram waiting (one wake-up, many packets)."""
        sock = self._udp_sock
        for _ in range(UDP_BATCH):
            try:
                data, addr = sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:          # ICMP errors from earlier sends surface here: nothing to do
                self.counters["drops"]["recv_error"] += 1
                return
            self._on_datagram(data, addr)

    def _on_datagram(self, data: bytes, addr) -> None:
        c = self.counters
        c["packets_in"]["all"] += 1
        c["bytes_in"]["all"] += len(data)
        try:
            body, tag = proto.split_mac(data)
            kind, session, seq, t_ms, payload = proto.parse_client_datagram(body)
        except proto.ProtocolError as exc:
            c["drops"][exc.reason] += 1
            return
        member = self._sessions.get(session)
        if member is None:
            c["drops"]["bad_session"] += 1
            return
        name = proto.KIND_NAMES[kind]
        now = self._loop.time()
        bucket = member.buckets[name]
        if addr == member.addr and not bucket.ready(now):
            # Over the member's share: dropped before any MAC work. Only datagrams that passed
            # the MAC spend tokens, so forged ones cannot use up someone else's share.
            c["rate_limited"][name] += 1
            member.limited[name] += 1
            return
        if not proto.mac_ok(member.keys.up, body, tag):      # forged, or another session's token
            c["drops"]["bad_mac"] += 1
            return
        window = member.windows.get(kind)
        if window is None:
            window = member.windows[kind] = I.ReplayWindow()
        if addr != member.addr:
            # The first datagram of a session from the IP its control connection came from binds
            # at once (the usual case: TCP and UDP through the same NAT); any other first address,
            # and every later change, is checked by a probe first.
            if (member.addr is None and kind != proto.KIND_PROBE and member.peer_ip is not None
                    and _ip_of(addr) == member.peer_ip):
                if not window.accept(seq, t_ms):
                    c["drops"]["replay"] += 1
                    return
                member.addr = addr
                member.probes.clear()
                self._count("control", "bound")
            else:
                self._address_check(member, kind, payload, addr, now)
                return
        elif kind == proto.KIND_PROBE:        # a late or repeated answer from the bound address
            return
        elif not window.accept(seq, t_ms):
            c["drops"]["replay"] += 1
            return
        member.last_seen = now
        if not bucket.take(now):                   # over this member's fair share
            c["rate_limited"][name] += 1
            member.limited[name] += 1
            return
        c["packets_in"][name] += 1
        c["bytes_in"][name] += len(data)
        if kind == proto.KIND_KEEPALIVE:
            self._sendto_now(proto.seal(member.keys.down, proto.pack_server_datagram(kind, member.seat, seq, t_ms)),
                             addr, name)
            return
        if member.room.private:
            if kind in proto.SEALED_OF:           # plain poses and voice have no place here
                c["drops"]["plain_in_private"] += 1
                return
        elif kind in proto.PLAIN_OF:
            c["drops"]["sealed_in_normal_room"] += 1
            return
        packet = proto.server_header(kind, member.seat, seq, t_ms) + payload
        if kind == proto.KIND_WHISPER:        # for one partner only, never recorded (end-to-end encrypted)
            partner = member.room.members.get(payload[0]) if payload else None
            if partner is None or partner is member or partner.addr is None:
                c["drops"]["whisper_no_partner"] += 1
                return
            targets = [(partner.addr, partner.keys.down)]
        else:
            if self.observer is not None:
                self._tell("datagram", member.room.name, kind, member.seat, seq, t_ms, payload)
            targets = [(m.addr, m.keys.down) for m in member.room.members.values()
                       if m is not member and m.addr is not None]
            if member.room.fanout is not None and kind in proto.PLAIN_OF and self.impairment is None:
                self._publish_once(member.room, packet, name, len(targets))
                return
        if self.impairment is not None:
            for addr, key in targets:
                self._send_impaired(proto.seal(key, packet), addr, name)
            return
        sent = 0
        sock = self._udp_sock
        for addr, key in targets:       # re-authenticated for each recipient
            try:
                sock.sendto(proto.seal(key, packet), addr)
                sent += 1
            except OSError:            # full send buffer (BlockingIOError) or a dead address
                c["drops"]["send_error"] += 1
        c["packets_out"][name] += sent
        c["bytes_out"][name] += sent * (len(packet) + proto.MAC_BYTES)

    def _publish_once(self, room: _Room, packet: bytes, name: str, recipients: int) -> None:
        """A sealed datagram of a private room over NATS, published once on the room's fan-out
        subject for NATS to deliver to every member (``NatsServer``; never called otherwise)."""
        self._udp_sock.sendto(packet, room.fanout)
        c = self.counters
        c["packets_out"][name] += recipients
        c["bytes_out"][name] += len(packet)
        c["fanout"]["published"] += 1

    def _address_check(self, member: _Member, kind: int, payload: bytes, addr, now: float) -> None:
        """An authentic datagram of member's session from an address that is not its bound one
        (the first of a session, or after a NAT gave the client a new port). A probe with the
        nonce sent to this very address binds it; anything else makes the server send that
        address a probe (a few a second at most). A copy of someone's datagram raced from
        another address only earns that address a probe it cannot answer: the answer needs the
        session's key."""
        c = self.counters
        if kind == proto.KIND_PROBE:
            pending = member.probes.get(addr)
            if pending is not None and now - pending[1] < PROBE_TTL_S and hmac.compare_digest(payload, pending[0]):
                rebound = member.addr is not None
                member.addr = addr
                member.probes.clear()
                member.last_seen = now
                self._count("control", "rebound" if rebound else "bound")
            else:
                c["drops"]["bad_probe"] += 1
            return
        c["drops"]["wrong_addr" if member.addr is not None else "unbound"] += 1
        pending = member.probes.get(addr)
        if pending is not None and now - pending[1] < PROBE_REPEAT_S:
            return                       # asked this address a moment ago
        if not member.buckets["probe"].take(now):
            c["rate_limited"]["probe"] += 1
            return
        nonce = secrets.token_bytes(proto.PROBE_BYTES)
        member.probes[addr] = (nonce, now)
        while len(member.probes) > PROBES_PENDING:
            member.probes.pop(next(iter(member.probes)))
        member.probe_seq = (member.probe_seq + 1) & 0xFFFF
        self._sendto_now(proto.seal(member.keys.down, proto.pack_server_datagram(
            proto.KIND_PROBE, member.seat, member.probe_seq, self._now_ms(), nonce)), addr, "probe")

    def _send_impaired(self, packet: bytes, addr, name: str) -> None:
        """Drop or delay one forwarded datagram. Delays are grouped per millisecond, so one
        timer serves every datagram due in the same millisecond."""
        delay = self.impairment.plan()
        if delay is None:
            self.counters["impaired"]["lost"] += 1
            return
        due_ms = int((self._loop.time() + delay) * 1000.0) + 1
        batch = self._delayed.get(due_ms)
        if batch is None:
            batch = self._delayed[due_ms] = []
            self._loop.call_at(due_ms / 1000.0, self._flush_delayed, due_ms)
        batch.append((packet, addr, name))

    def _flush_delayed(self, due_ms: int) -> None:
        for packet, addr, name in self._delayed.pop(due_ms, ()):
            self._sendto_now(packet, addr, name)

    def _sendto_now(self, packet: bytes, addr, name: str) -> None:
        sock = self._udp_sock
        if sock is None:
            return
        try:
            sock.sendto(packet, addr)
        except OSError:
            self.counters["drops"]["send_error"] += 1
            return
        self.counters["packets_out"][name] += 1
        self.counters["bytes_out"][name] += len(packet)


def _connection_budget(limits: L.ServerLimits) -> int:
    """How many control connections fit: the configured most, and never more than the file
    handles left (the soft RLIMIT_NOFILE less those open now, less a reserve for datagrams,
    recordings and the like), so the server refuses with a message before the OS refuses it."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return limits.connections
    if soft == resource.RLIM_INFINITY:
        return limits.connections
    try:
        used = len(os.listdir("/proc/self/fd"))
    except OSError:
        used = 64
    reserve = min(limits.fd_reserve, max(8, soft // 4))
    return max(1, min(limits.connections, soft - used - reserve))


def _ip_of(addr) -> str | None:
    """The IP address (text, IPv4-mapped IPv6 as IPv4) of a socket address; None for anything
    else (a NATS subject)."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(addr[0])
    except (TypeError, ValueError, IndexError):
        return None
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)


def _address_group(peername) -> str | None:
    """Who an address is for per-address limits: the IPv4 address, or the /64 of an IPv6 one
    (one home or host usually holds a whole /64); None when there is no IP address."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(peername[0])
    except (TypeError, ValueError, IndexError):
        return None
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _who(member: _Member) -> str:
    """A member as the stats name it: ``room/seat 'name' FINGERPRINT-PREFIX``."""
    fp = I.fingerprint(member.key)[:9] if member.key else "-"
    return f"{member.room.name}/{member.seat} {member.name!r} {fp}"


def _udp_socket(family: int, addr: tuple) -> socket.socket:
    """A non-blocking UDP socket bound to addr, with roomy buffers (bursts of 16 people)."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
            try:
                sock.setsockopt(socket.SOL_SOCKET, opt, UDP_BUFFER_BYTES)
            except OSError:
                pass
        sock.setblocking(False)
        sock.bind(addr)
    except OSError:
        sock.close()
        raise
    return sock


class ServerThread:
    """A ``Server`` on its own event-loop thread, driven from synchronous code.

    ``ServerThread(port=0, ...).start()`` returns once listening (``.port`` is the real port);
    ``stop()`` closes everything. Also a context manager. Keyword arguments go to ``Server``.
    """

    def __init__(self, **server_kwargs):
        server_kwargs.setdefault("host", "127.0.0.1")
        self.server = Server(**server_kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="xrdemo-server",
                                        daemon=True)

    @property
    def port(self) -> int:
        return self.server.port

    def start(self, timeout_s: float = 5.0) -> "ServerThread":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(timeout_s)
        return self

    def call(self, fn, *args, timeout_s: float = 5.0):
        """Run ``fn(*args)`` on the server's loop thread and return its result."""
        async def run():
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout_s)

    def stats(self) -> dict:
        """``Server.stats()`` taken on the loop thread (so thread_cpu_s is the server's)."""
        return self.call(self.server.stats)

    def cpu_seconds(self) -> float:
        """CPU seconds used so far by the server's thread (user + system)."""
        return self.call(time.thread_time)

    def stop(self, timeout_s: float = 5.0) -> None:
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(timeout_s)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout_s)
            if not self._thread.is_alive():
                self._loop.close()

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

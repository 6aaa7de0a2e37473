"""Meeting rooms over NATS: the same control frames and datagrams as TCP/UDP, on NATS subjects.

The room logic stays in ``server.Server`` and ``client.NetClient``; this module only swaps their
transport, so everything they do (joins, seats, liveness, reconnects, validation, drop counters)
works unchanged over a NATS server or cluster. Subjects (``P`` = the prefix, ``xrdemo``):

- ``P.open`` (request, queue group ``xrdemo-servers``): a client opens a control stream for a
  room: JSON ``{"room", "inbox", "stream"}`` (``stream``: 32 random hex digits, the stream's
  secret name). One room server receives it; if another server owns the room (or should take a
  new one) it forwards the request to ``P.s.<id>.open``. The owner answers
  ``{"server": id, "ctl": ..., "up": ...}``.
- ``P.s.<id>.ctl.<stream>``: client -> server control bytes, exactly what the TCP stream would
  carry (4-byte length + JSON frames). An empty message ends the stream (EOF). Only the client
  and the room servers see ``<stream>`` (guests may not subscribe to ``P.open`` or ``P.s.>``),
  so nobody else can write into someone's stream, even knowing their inbox.
- ``P.c.<token>`` (the client's inbox, new per connection): server -> client control bytes;
  empty = the server closed the stream.
- ``P.s.<id>.up``: client -> server datagrams (10-byte header + payload); the reply subject is
  the client's datagram subject, which plays the role of the UDP source address.
- ``P.d.<token>``: server -> client datagrams (8-byte header + payload), one per recipient.
- ``P.claims``: every room server announces the rooms it owns (twice a second, and at once on a
  new claim; an empty list when it stops). Each room has one owner: the earliest claim wins, a
  server that finds itself second hands its members over (they reconnect to the owner). A new
  room goes to the live server with the fewest rooms.
- ``P.names``: the room servers share which key each display name belongs to (identity.py): a
  server announces each name it sees with a new key, and a starting server asks the others
  (``P.names.sync``) for what they know, so a name taken on one room server is taken on all.

``NatsClient`` is a ``NetClient`` whose control stream and datagram socket are NATS subjects;
``NatsServer`` is a ``Server`` that listens on NATS instead of a port; ``NatsServerThread`` runs one
on its own thread. Both need the ``nats-py`` package.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass

from . import identity as I
from . import protocol as P
from .client import NetClient
from .server import NAME_REGISTRY_MAX, Server, ServerThread

PREFIX = "xrdemo"
SERVER_QUEUE = "xrdemo-servers"     # queue group of the room servers for first contact
CLAIM_PERIOD_S = 0.5                # room servers announce their rooms this often
CLAIM_TTL_S = 2.0                   # a server not heard from for this long owns nothing
CONNECT_TIMEOUT_S = 3.0             # reaching the NATS server
PENDING_BYTES = 256 * 1024          # outgoing bytes nats-py may hold while reconnecting
NAMES_PER_MESSAGE = 4096            # name -> key entries per message when a new server catches up
_SUBJECT_RE = re.compile(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*")
_STREAM_RE = re.compile(r"[0-9a-f]{32}")


def import_nats(what: str):
    """The ``nats`` module (nats-py), or RuntimeError saying ``what`` needs it and how to get it."""
    try:
        import nats
        import nats.errors
    except ImportError:
        raise RuntimeError(f"{what}: the nats-py package is not installed "
                           "(pip install nats-py)") from None
    return nats


async def connect_nats(servers: list[str], what: str | None, *, name: str, timeout_s: float,
                       log=None):
    """Connect to a NATS server (trying each of ``servers``), reconnecting by itself for ever
    afterwards. ConnectionError ``"{what}: no NATS server answers (why)"`` (without the
    ``what:`` when None) when none answers within timeout_s."""
    nats = import_nats(what or f"NATS at {where_of(servers)}")
    last_error = []

    async def on_error(exc):
        last_error.append(exc)
        del last_error[:-1]

    holder = []

    async def on_disconnect():
        if log and holder and not (holder[0].is_closed or holder[0].is_draining):
            log(f"NATS connection lost ({where_of(servers)}); reconnecting")

    async def on_reconnect():
        if log:
            log("NATS connection back")

    from nats.aio.client import Client

    nc = Client()
    holder.append(nc)
    try:
        await asyncio.wait_for(
            nc.connect(servers=servers, name=name, connect_timeout=min(timeout_s, 2.0),
                       allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=0.25,
                       error_cb=on_error, disconnected_cb=on_disconnect,
                       reconnected_cb=on_reconnect, pending_size=PENDING_BYTES,
                       dont_randomize=False), timeout_s)
        return nc
    except (asyncio.TimeoutError, OSError, nats.errors.Error) as exc:
        try:                        # leave no reader or pinger task behind
            await asyncio.wait_for(nc.close(), 1.0)
        except Exception:
            pass
        cause = last_error[0] if last_error else exc
        text = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
        text = f"no NATS server answers ({text})"
        raise ConnectionError(f"{what}: {text}" if what else text) from None


def where_of(servers: list[str]) -> str:
    """NATS server URLs for messages, comma-separated, passwords hidden."""
    return P.redact_nats_url(",".join(servers))


class Outbox:
    """Ordered NATS publishing for synchronous code on the loop thread (``put``) and for other
    threads (``put_threadsafe``): messages queue up and one task publishes each burst."""

    def __init__(self, loop: asyncio.AbstractEventLoop, nc):
        self._loop, self._nc = loop, nc
        self._queue: collections.deque = collections.deque()
        self._task: asyncio.Task | None = None
        self.errors = 0                     # messages nats-py refused (closed, buffer full)

    def put(self, subject: str, data: bytes, reply: str = "") -> None:
        self._queue.append((subject, data, reply))
        if self._task is None:
            self._task = self._loop.create_task(self._publish())

    def put_threadsafe(self, subject: str, data: bytes, reply: str = "") -> None:
        self._loop.call_soon_threadsafe(self.put, subject, data, reply)

    async def _publish(self) -> None:
        queue, nc = self._queue, self._nc
        try:
            while queue:
                subject, data, reply = queue.popleft()
                try:
                    await nc.publish(subject, data, reply=reply)
                except Exception:          # closed or reconnect buffer full: real-time data is lost
                    self.errors += 1
        finally:
            self._task = None

    async def flush(self, timeout_s: float = 1.0) -> None:
        """Publish what is queued and wait until the NATS server has it (best effort)."""
        if self._task is not None:
            await asyncio.wait([self._task], timeout=timeout_s)
        try:
            await self._nc.flush(timeout=timeout_s)
        except Exception:
            pass


class StreamOverNats:
    """The writing half of a control stream carried by NATS messages. It stands in for an
    ``asyncio.StreamWriter`` (write, drain, close, is_closing, transport.abort,
    get_write_buffer_size, get_extra_info); closing sends an empty message (EOF to the other
    side) and ends ``reader`` (the local reading half) too."""

    def __init__(self, outbox: Outbox, subject: str, reply: str, reader: asyncio.StreamReader,
                 on_close=None):
        self.outbox, self.subject, self.reply, self.reader = outbox, subject, reply, reader
        self._on_close = on_close
        self._closing = False

    def write(self, data: bytes) -> None:
        if not self._closing:
            self.outbox.put(self.subject, bytes(data), self.reply)

    async def drain(self) -> None:
        await self.outbox.flush(0.5)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self.outbox.put(self.subject, b"", self.reply)
        feed_eof(self.reader)
        if self._on_close is not None:
            self._on_close()

    @property
    def transport(self) -> "StreamOverNats":
        return self

    def abort(self) -> None:
        self.close()

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default=None):
        return ("nats", self.subject) if name == "peername" else default


def feed(reader: asyncio.StreamReader, data: bytes) -> None:
    """Stream bytes that arrived in a NATS message into reader; an empty message is EOF."""
    if reader.at_eof() or getattr(reader, "_eof", False):
        return
    if data:
        reader.feed_data(data)
    else:
        reader.feed_eof()


def feed_eof(reader: asyncio.StreamReader) -> None:
    if not getattr(reader, "_eof", False):
        reader.feed_eof()


# --- the client ------------------------------------------------------------------------------
class _DatagramSender:
    """Stands in for the client's UDP socket: ``send(packet)`` from any thread publishes the
    datagram to the owning server's ``up`` subject, the client's datagram subject as reply."""

    def __init__(self, outbox: Outbox, reply: str):
        self.outbox, self.reply = outbox, reply
        self.up = ""                         # set by each open (the owner's up subject)

    def send(self, packet: bytes) -> int:
        if not self.up:
            raise OSError("no room server yet")
        self.outbox.put_threadsafe(self.up, packet, self.reply)
        return len(packet)

    def getsockname(self):
        return ("nats", 0)

    def close(self) -> None:
        pass


class NatsClient(NetClient):
    """A ``NetClient`` whose transport is NATS (same interface, same behaviour).

    servers: NATS URLs (``nats://HOST:PORT``; several = nodes of one cluster); room, name and the
    keyword arguments as for NetClient. prefix: the subject prefix the room servers use.
    """

    def __init__(self, servers: list[str], room: str, name: str, *, prefix: str = PREFIX, **kw):
        first = servers[0][len(P.NATS_SCHEME):] if servers else "?"
        host, _, port = first.rpartition("@")[2].rpartition(":")
        super().__init__(host or first, int(port) if port.isdigit() else P.NATS_DEFAULT_PORT,
                         room, name, **kw)
        self.servers = list(servers)
        self.where = where_of(servers)      # error messages: "cannot join nats://h:4222/room: ..."
        self.prefix = prefix
        self._token = secrets.token_hex(8)
        self._nc = None
        self._outbox: Outbox | None = None
        self.server_id = ""                  # the room server that owns our room (last open)

    async def _open_udp(self) -> None:
        """Connect to NATS (first time) and listen on this client's datagram subject."""
        import_nats(f"cannot join {self.where}/{self.room}")     # a clear error when it is missing
        self._nc = await connect_nats(self.servers, None, name=f"xrdemo-client-{self.name}"[:64],
                                      timeout_s=max(self.timeout_s, 1.0))
        self._outbox = Outbox(self._loop, self._nc)
        dgram = f"{self.prefix}.d.{self._token}"

        async def on_datagram(msg):
            if msg.headers:          # a NATS status (503: the room server's subject has no
                self._count_rx("rx_dropped_nats_status")     # listener for a moment)
                return
            self._on_datagram(msg.data)

        await self._nc.subscribe(dgram, cb=on_datagram)
        self._sock = _DatagramSender(self._outbox, dgram)

    async def _open_control(self):
        """A fresh control stream: subscribe a new inbox, then ask a room server to open it."""
        nats = import_nats(f"cannot join {self.where}/{self.room}")
        inbox = f"{self.prefix}.c.{self._token}.{secrets.token_hex(4)}"
        stream = secrets.token_hex(16)
        reader = asyncio.StreamReader()

        async def on_control(msg):
            if msg.headers:          # a NATS status, not the server's bytes: the liveness
                self._count_rx("control_nats_status")        # timeout decides about the link
                return
            feed(reader, msg.data)

        sub = await self._nc.subscribe(inbox, cb=on_control)
        try:
            await self._nc.flush(timeout=max(self.timeout_s, 1.0))
            answer = await self._nc.request(f"{self.prefix}.open",
                                            json.dumps({"room": self.room, "inbox": inbox,
                                                        "stream": stream}).encode(),
                                            timeout=max(self.timeout_s, 1.0))
            info = json.loads(answer.data)
            if "error" in info:
                raise ConnectionError(f"the room server refused: {str(info['error'])[:200]}")
            ctl, up = str(info["ctl"]), str(info["up"])
        except BaseException as exc:
            await _quiet_unsubscribe(sub)
            if isinstance(exc, nats.errors.NoRespondersError):
                raise ConnectionError(f"no xrdemo room server on this NATS (start one: "
                                      f"xrdemo serve --nats {where_of(self.servers[:1])})") from None
            if isinstance(exc, (nats.errors.Error, asyncio.TimeoutError, ValueError, KeyError,
                                TypeError)):
                raise ConnectionError(f"no room server answered ({type(exc).__name__}: {exc})") from None
            raise
        self.server_id = str(info.get("server", ""))
        self._sock.up = up

        def on_close():
            self._loop.create_task(_quiet_unsubscribe(sub))

        writer = StreamOverNats(self._outbox, f"{ctl}.{stream}", inbox, reader, on_close)
        return reader, writer

    @property
    def stats(self) -> dict:
        """NetClient's counters, plus ``publish_errors`` (messages nats-py refused)."""
        out = super().stats
        out["publish_errors"] = self._outbox.errors if self._outbox is not None else 0
        return out

    async def _shutdown(self) -> None:
        self._sock = None                   # (the base class would remove a UDP socket's reader)
        await super()._shutdown()
        if self._outbox is not None:
            await self._outbox.flush(0.5)
        if self._nc is not None:
            try:
                await asyncio.wait_for(self._nc.close(), 1.0)
            except Exception:
                pass
        await _cancel_nats_tasks()


async def _cancel_nats_tasks(timeout_s: float = 1.0) -> None:
    """Cancel nats-py's tasks left on the running loop (a client closed while it was still
    reconnecting leaves some) and let them finish, before the loop closes."""
    def of_nats(task) -> bool:
        frame = getattr(task.get_coro(), "cr_frame", None)
        return frame is not None and str(frame.f_globals.get("__name__", "")).startswith("nats.")

    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and of_nats(t)]
    for t in tasks:
        t.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=timeout_s)


async def _quiet_unsubscribe(sub) -> None:
    try:
        await sub.unsubscribe()
    except Exception:
        pass


# --- the server ------------------------------------------------------------------------------
class _DatagramPublisher:
    """Stands in for the server's UDP socket: ``sendto(packet, subject)`` publishes."""

    def __init__(self, outbox: Outbox):
        self.outbox = outbox

    def sendto(self, packet: bytes, subject) -> int:
        self.outbox.put(subject, packet)
        return len(packet)


@dataclass(eq=False)
class _Stream:
    """One client's control stream at the server (keyed by its secret name)."""
    room: str
    reader: asyncio.StreamReader
    writer: StreamOverNats
    frames: P.FrameReader | None       # peeks at what comes in until the hello has passed


class NatsServer(Server):
    """A room server (``server.Server``) that serves rooms on a NATS server or cluster.

    servers: NATS URLs of one cluster. prefix: subject prefix. claim_period_s: how often this
    server announces its rooms. Other keyword arguments go to ``Server`` (capacity, timeout_s,
    log, impairment, hello_timeout_s). ``server_id`` names this process on NATS.
    """

    def __init__(self, servers: list[str], *, prefix: str = PREFIX,
                 claim_period_s: float = CLAIM_PERIOD_S, **kw):
        kw.pop("host", None)
        kw.pop("port", None)
        super().__init__(host="nats", port=0, **kw)
        self.servers = list(servers)
        self.prefix = prefix
        self.claim_period_s = claim_period_s
        self.claim_ttl_s = max(CLAIM_TTL_S, 4 * claim_period_s)
        self.server_id = secrets.token_hex(4)
        self._nc = None
        self._outbox: Outbox | None = None
        self._streams: dict[str, _Stream] = {}
        self.claims: dict[str, int] = {}                 # room -> claimed at (ms since the epoch)
        self.peers: dict[str, tuple[dict, float]] = {}   # server id -> (room -> since, heard at)
        self._announcer: asyncio.Task | None = None
        self._subs: list = []

    @property
    def where(self) -> str:
        return where_of(self.servers)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._nc = await connect_nats(self.servers, f"cannot reach NATS at {self.where}",
                                      name=f"xrdemo-serve-{self.server_id}",
                                      timeout_s=CONNECT_TIMEOUT_S, log=self.log)
        self._outbox = Outbox(self._loop, self._nc)
        me = f"{self.prefix}.s.{self.server_id}"
        nc = self._nc
        self._subs = [
            await nc.subscribe(f"{self.prefix}.claims", cb=self._on_claims),
            await nc.subscribe(f"{self.prefix}.names", cb=self._on_names),
            await nc.subscribe(f"{self.prefix}.names.sync", cb=self._on_names_sync),
            await nc.subscribe(f"{me}.open", cb=self._on_forwarded_open),
            await nc.subscribe(f"{me}.ctl.*", cb=self._on_ctl),
            await nc.subscribe(f"{me}.up", cb=self._on_up, pending_msgs_limit=65536),
        ]
        self._udp_sock = _DatagramPublisher(self._outbox)
        self._announce()
        sync_inbox = f"{self.prefix}.s.{self.server_id}.names"
        self._subs.append(await nc.subscribe(sync_inbox, cb=self._on_names))
        self._outbox.put(f"{self.prefix}.names.sync", b"{}", sync_inbox)    # who is called what
        await nc.flush(timeout=CONNECT_TIMEOUT_S)
        # First contact last: after a round of announcements this server knows who owns which
        # room (else it could take a room someone else holds, and hand it over again at once).
        await asyncio.sleep(1.5 * self.claim_period_s)
        self._subs.append(await nc.subscribe(f"{self.prefix}.open", queue=SERVER_QUEUE,
                                             cb=self._on_open))
        await nc.flush(timeout=CONNECT_TIMEOUT_S)
        self._sweeper = asyncio.create_task(self._sweep())
        self._announcer = asyncio.create_task(self._announce_loop())
        self.started_at = self._loop.time()

    async def stop(self) -> None:
        if self._announcer is not None:
            self._announcer.cancel()
            self._announcer = None
        for sub in self._subs:
            await _quiet_unsubscribe(sub)
        self._subs = []
        self._udp_sock = None                      # (the base class would remove a UDP reader)
        await super().stop()                       # every member's stream gets its EOF
        for stream in list(self._streams.values()):
            stream.writer.close()
        if self._nc is not None:
            self.claims.clear()
            self._announce(stopping=True)           # the others may take our rooms at once
            await self._outbox.flush(1.0)
            try:
                await asyncio.wait_for(self._nc.close(), 2.0)
            except Exception:
                pass
            self._nc = None

    # --- first contact and ownership ---------------------------------------------------------
    async def _on_open(self, msg) -> None:
        self._open(msg, forwarded=False)

    async def _on_forwarded_open(self, msg) -> None:
        self._open(msg, forwarded=True)

    def _open(self, msg, forwarded: bool) -> None:
        try:
            req = json.loads(msg.data)
            room, inbox, name = req["room"], req["inbox"], req["stream"]
            if not (isinstance(room, str) and P.ROOM_RE.fullmatch(room)):
                raise ValueError("bad room name")
            if not (isinstance(inbox, str) and inbox.startswith(f"{self.prefix}.c.")
                    and len(inbox) <= 128 and _SUBJECT_RE.fullmatch(inbox)):
                raise ValueError("bad inbox subject")
            if not (isinstance(name, str) and _STREAM_RE.fullmatch(name)):
                raise ValueError("stream must be 32 hex digits")
        except (ValueError, KeyError, TypeError) as exc:
            self._count("control_errors", "bad_open")
            if msg.reply:
                self._outbox.put(msg.reply, json.dumps({"error": f"bad open request: {exc}"}).encode())
            return
        if not forwarded:
            owner = self.place(room)
            if owner != self.server_id:
                self._count("control", "opens_forwarded")
                self._outbox.put(f"{self.prefix}.s.{owner}.open", msg.data, msg.reply)
                return
        self._claim(room)
        old = self._streams.pop(name, None)
        if old is not None:
            old.writer.close()
        reader = asyncio.StreamReader()
        writer = StreamOverNats(self._outbox, inbox, "", reader,
                                on_close=lambda: self._forget_stream(name, reader))
        self._streams[name] = _Stream(room, reader, writer, P.FrameReader())
        self._count("control", "opens")
        if msg.reply:
            me = f"{self.prefix}.s.{self.server_id}"
            self._outbox.put(msg.reply, json.dumps({"server": self.server_id, "ctl": f"{me}.ctl",
                                                    "up": f"{me}.up"}).encode())
        asyncio.ensure_future(self._on_connection(reader, writer))

    def _forget_stream(self, name: str, reader) -> None:
        stream = self._streams.get(name)
        if stream is not None and stream.reader is reader:
            del self._streams[name]

    def owner_of(self, room: str) -> str | None:
        """The server id owning room (the earliest live claim), or None."""
        now = self._loop.time()
        best = None
        if room in self.claims:
            best = (self.claims[room], self.server_id)
        for sid, (rooms, heard) in self.peers.items():
            since = rooms.get(room)
            if since is not None and now - heard <= self.claim_ttl_s:
                if best is None or (since, sid) < best:
                    best = (since, sid)
        return best[1] if best else None

    def place(self, room: str) -> str:
        """Who should serve room: its owner, else the live server with the fewest rooms."""
        owner = self.owner_of(room)
        if owner is not None:
            return owner
        now = self._loop.time()
        load = {sid: len(rooms) for sid, (rooms, heard) in self.peers.items()
                if now - heard <= self.claim_ttl_s}
        load[self.server_id] = len(self.claims)
        return min(load, key=lambda sid: (load[sid], hashlib.blake2b(f"{room}/{sid}".encode(),
                                                                     digest_size=8).digest()))

    def _claim(self, room: str) -> None:
        if room not in self.claims:
            self.claims[room] = time.time_ns() // 1_000_000
            self._announce()

    def _announce(self, stopping: bool = False) -> None:
        body = {"server": self.server_id, "rooms": dict(self.claims), "stopping": stopping,
                "members": sum(len(r.members) for r in self.rooms.values())}
        self._outbox.put(f"{self.prefix}.claims", json.dumps(body).encode())

    async def _announce_loop(self) -> None:
        while True:
            await asyncio.sleep(self.claim_period_s)
            busy = set(self.rooms) | {s.room for s in self._streams.values()}
            for room in [r for r in self.claims if r not in busy]:
                del self.claims[room]
            now = self._loop.time()
            for sid in [s for s, (_r, heard) in self.peers.items() if now - heard > self.claim_ttl_s]:
                del self.peers[sid]
            self._announce()

    async def _on_claims(self, msg) -> None:
        try:
            body = json.loads(msg.data)
            sid, rooms = str(body["server"]), body["rooms"]
            if not isinstance(rooms, dict):
                raise TypeError("rooms must be an object")
        except (ValueError, KeyError, TypeError):
            self._count("control_errors", "bad_claims")
            return
        if sid == self.server_id:
            return
        if body.get("stopping"):
            self.peers.pop(sid, None)
            return
        self.peers[sid] = (rooms, self._loop.time())
        for room in [r for r in rooms if r in self.claims]:
            if (rooms[room], sid) < (self.claims[room], self.server_id):
                self._hand_over(room, sid)

    def _hand_over(self, room: str, owner: str) -> None:
        """Another server claimed room first: close our streams for it; the clients reconnect
        and reach the owner."""
        del self.claims[room]
        r = self.rooms.get(room)
        members = list(r.members.values()) if r else []
        for m in members:
            self._remove(m, "moved", tell_room=False)
        for stream in [s for s in self._streams.values() if s.room == room]:
            stream.writer.close()
        self._count("control", "rooms_handed_over")
        self.log(f"room {room!r} belongs to server {owner}; handed over {len(members)} member(s)")

    # --- display names across room servers ---------------------------------------------------
    def _claim_name(self, name: str, key: bytes) -> None:
        norm = I.normalize_name(name)
        known = self._name_keys.get(norm)
        super()._claim_name(name, key)
        if known != key and self._outbox is not None:
            self._outbox.put(f"{self.prefix}.names", json.dumps(
                {"server": self.server_id, "names": {norm: I.b64(key)}}).encode())

    async def _on_names(self, msg) -> None:
        """Names other room servers have seen: learned unless this server knows the name."""
        try:
            body = json.loads(msg.data)
            if body["server"] == self.server_id:
                return
            entries = [(str(n), I.unb64(k, I.KEY_BYTES)) for n, k in body["names"].items()]
        except (ValueError, KeyError, TypeError, AttributeError):
            self._count("control_errors", "bad_names")
            return
        learned = 0
        for norm, key in entries:
            if norm not in self._name_keys and len(self._name_keys) < NAME_REGISTRY_MAX:
                self._name_keys[norm] = key
                learned += 1
        self._count("control", "names_learned", learned)

    async def _on_names_sync(self, msg) -> None:
        """A starting room server asks what this one knows (sent in chunks to its inbox)."""
        if not msg.reply or msg.reply == f"{self.prefix}.s.{self.server_id}.names":
            return
        items = list(self._name_keys.items())
        for i in range(0, len(items), NAMES_PER_MESSAGE):
            chunk = {n: I.b64(k) for n, k in items[i:i + NAMES_PER_MESSAGE]}
            self._outbox.put(msg.reply, json.dumps({"server": self.server_id,
                                                    "names": chunk}).encode())

    # --- control streams and datagrams ------------------------------------------------------
    async def _on_ctl(self, msg) -> None:
        stream = self._streams.get(msg.subject.rpartition(".")[2])
        if stream is None:          # closed meanwhile, or a guess: never answered (a client
            self._count("control_errors", "unknown_stream")   # that lost its stream times out)
            return
        if stream.frames is not None and msg.data:
            try:
                for m in stream.frames.feed(msg.data):
                    if m.get("type") == "hello":
                        stream.frames = None
                        if m.get("room") != stream.room:
                            self._count("control_errors", "wrong_room")
                            stream.writer.write(P.encode_message({
                                "type": "error", "code": "bad_request",
                                "message": f"this stream was opened for room {stream.room!r}"}))
                            stream.writer.close()
                            return
                        break
            except P.ProtocolError:
                stream.frames = None                  # the room server's own checks will answer
        feed(stream.reader, msg.data)

    async def _on_up(self, msg) -> None:
        if not msg.reply:
            self.counters["drops"]["no_reply_subject"] += 1
            return
        self._on_datagram(msg.data, msg.reply)

    def stats(self) -> dict:
        out = super().stats()
        out["server_id"] = self.server_id
        out["claims"] = sorted(self.claims)
        out["publish_errors"] = self._outbox.errors if self._outbox else 0
        return out


class NatsServerThread(ServerThread):
    """A ``NatsServer`` on its own event-loop thread (like ``ServerThread``)."""

    def __init__(self, servers: list[str], **server_kwargs):
        self.server = NatsServer(servers, **server_kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="xrdemo-nats-server",
                                        daemon=True)

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._thread.is_alive():
            async def stop_all():
                await self.server.stop()
                await _cancel_nats_tasks()

            try:
                asyncio.run_coroutine_threadsafe(stop_all(), self._loop).result(timeout_s)
            except Exception:
                pass
        super().stop(timeout_s)

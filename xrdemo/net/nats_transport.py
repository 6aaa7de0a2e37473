"""Meeting rooms over NATS: the same control frames and datagrams as TCP/UDP, on NATS subjects.

The room logic stays in ``server.Server`` and ``client.NetClient``; this module only swaps their
transport, so everything they do (joins, seats, liveness, reconnects, validation, drop counters)
works unchanged over a NATS server or cluster. Subjects (``P`` = the prefix, ``xrdemo``):

- ``proto.open`` (request, queue group ``xrdemo-servers``): a client opens a control stream for a
  room: JSON ``{"room", "inbox", "stream"}`` (``stream``: 32 random hex digits, the stream's
  secret name). One room server receives it; if another server owns the room (or should take a
  new one) it forwards the request to ``proto.s.<id>.open``. The owner answers
  ``{"server": id, "ctl": ..., "up": ...}``.
- ``proto.s.<id>.ctl.<stream>``: client -> server control bytes, exactly what the TCP stream would
  carry (4-byte length + JSON frames). An empty message ends the stream (EOF). Only the client
  and the room servers see ``<stream>`` (guests may not subscribe to ``proto.open`` or ``proto.s.>``),
  so nobody else can write into someone's stream, even knowing their inbox.
- ``proto.c.<token>.<n>`` (the client's inbox, new per connection): server -> client control bytes;
  empty = the server closed the stream.
- ``proto.s.<id>.up``: client -> server datagrams (10-byte header + payload); the reply subject is
  the client's datagram subject, which plays the role of the UDP source address.
- ``proto.d.<token>``: server -> client datagrams (8-byte header + payload), one per recipient.
- ``proto.claims``: every room server announces the rooms it owns (twice a second, and at once on a
  new claim; an empty list when it stops). Each room has one owner: the earliest claim wins, a
  server that finds itself second hands its members over (they reconnect to the owner). A new
  room goes to the live server with the fewest rooms.
- ``proto.names``: the room servers share which key each display name belongs to (identity.py): a
  server announces each name it sees with a new key, and a starting server asks the others
  (``proto.names.sync``) for what they know, so a name taken on one room server is taken on all.

This module has what both ends share (connecting, ordered publishing, a control stream carried
by NATS messages) and ``NatsClient``, a ``NetClient`` whose control stream and datagram socket
are NATS subjects. The room server side (``NatsServer``, ownership of rooms, shared names) is in
``nats_server.py``. Both need the ``nats-py`` package.
"""

from __future__ import annotations

import asyncio
import collections
import json
import secrets

from . import protocol as proto
from .client import NetClient

PREFIX = "xrdemo"
CONNECT_TIMEOUT_S = 3.0             # reaching the NATS server
PENDING_BYTES = 256 * 1024          # outgoing bytes nats-py may hold while reconnecting


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
    ``what:`` when None) when none answers within timeout_s, or ``"{what}: the NATS server
    refused the user name or password (why)"`` when it answered with a refusal."""
    nats = import_nats(what or f"NATS at {where_of(servers)}")
    last_error = []

    async def on_error(exc):
        last_error.append(exc)
        del last_error[:-16]

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
        # The server's own refusal ("Authorization Violation") says more than the connection
        # reset that may follow it on the next attempt.
        refusals = [e for e in last_error if "authorization" in str(e).lower()]
        cause = refusals[-1] if refusals else last_error[-1] if last_error else exc
        text = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
        text = (f"the NATS server refused the user name or password ({text})" if refusals
                else f"no NATS server answers ({text})")
        raise ConnectionError(f"{what}: {text}" if what else text) from None


def where_of(servers: list[str]) -> str:
    """NATS server URLs for messages, comma-separated, passwords hidden."""
    return proto.redact_nats_url(",".join(servers))


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
        first = servers[0][len(proto.NATS_SCHEME):] if servers else "?"
        host, _, port = first.rpartition("@")[2].rpartition(":")
        super().__init__(host or first, int(port) if port.isdigit() else proto.NATS_DEFAULT_PORT,
                         room, name, **kw)
        self.servers = list(servers)
        self.where = where_of(servers)      # error messages: "cannot join nats://h:4222/room: ..."
        self.prefix = prefix
        self._token = secrets.token_hex(8)
        self._nc = None
        self._outbox: Outbox | None = None
        self.server_id = ""                  # the room server that owns our room (last open)
        self._fanout_sub = None              # a private room's fan-out subject (NatsServer._make_room)
        self._fanout = ""

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
            await quiet_unsubscribe(sub)
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
            self._loop.create_task(quiet_unsubscribe(sub))

        writer = StreamOverNats(self._outbox, f"{ctl}.{stream}", inbox, reader, on_close)
        return reader, writer

    async def _open(self, want_seat):
        """Join as NetClient does; in a private room, also listen on the room's fan-out subject
        (its sealed datagrams come once for everyone, fanned out by NATS)."""
        welcome = await super()._open(want_seat)
        fanout = welcome.get("fanout")
        fanout = fanout if isinstance(fanout, str) and fanout.startswith(f"{self.prefix}.d.room.") else ""
        if fanout != self._fanout:
            if self._fanout_sub is not None:
                await quiet_unsubscribe(self._fanout_sub)
                self._fanout_sub = None
            self._fanout = fanout
            if fanout:
                async def on_room(msg):
                    if not msg.headers:
                        self._on_room_datagram(msg.data)

                self._fanout_sub = await self._nc.subscribe(fanout, cb=on_room)
        return welcome

    @property
    def stats(self) -> dict:
        """NetClient's counters, plus ``publish_errors`` (messages nats-py refused)."""
        out = super().stats
        out["publish_errors"] = self._outbox.errors if self._outbox is not None else 0
        return out

    async def _shutdown(self) -> None:
        self._sock = None                   # (the base class would remove a UDP socket's reader)
        await super()._shutdown()
        if self._supervisor is not None:    # cancelled there: let a reconnect attempt unwind
            await asyncio.wait([self._supervisor], timeout=1.0)
        if self._outbox is not None:
            await self._outbox.flush(0.5)
        if self._nc is not None:
            try:
                await asyncio.wait_for(self._nc.close(), 1.0)
            except Exception:
                pass
        await cancel_nats_tasks()


async def cancel_nats_tasks(timeout_s: float = 1.0) -> None:
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


async def quiet_unsubscribe(sub) -> None:
    try:
        await sub.unsubscribe()
    except Exception:
        pass

"""Room servers on NATS: ``NatsServer`` is the meeting server (``server.Server``) with NATS as its
transport, and several of them share the rooms of one NATS server or cluster.

The subjects and the bytes on them are described in ``nats_transport.py``. Here:

- Control streams: each ``proto.open`` a room server accepts becomes an asyncio ``StreamReader``
  (fed from ``proto.s.<id>.ctl.<stream>``) and a ``StreamOverNats`` writer (to the client's inbox),
  handed to ``Server._on_connection`` exactly as a TCP connection would be: challenges, signed
  hellos, seats, pings and leaves are the server's own code. Until the hello has passed, what
  comes in is peeked at: a hello for another room than the stream was opened for is refused.
- Datagrams: ``proto.s.<id>.up`` goes to ``Server._on_datagram`` with the NATS reply subject as the
  "address"; a stand-in for the UDP socket publishes what the server sends.
- Ownership: claims (``proto.claims``, twice a second), the earliest claim wins, a new room goes to
  the live server with the fewest rooms; a server first listens for first contacts after one
  round of claims. A server that loses a room hands its people over (they reconnect).
- Names: which key each display name belongs to is shared (``proto.names``, ``proto.names.sync``).

``NatsServerThread`` runs a ``NatsServer`` on its own event-loop thread (tests, benchmarks).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass

from . import identity as I
from . import protocol as proto
from .nats_transport import (CONNECT_TIMEOUT_S, PREFIX, Outbox, StreamOverNats, cancel_nats_tasks,
                             connect_nats, feed, quiet_unsubscribe, where_of)
from . import names as N
from .server import Server, ServerThread

SERVER_QUEUE = "xrdemo-servers"     # queue group of the room servers for first contact
CLAIM_PERIOD_S = 0.5                # room servers announce their rooms this often
CLAIM_TTL_S = 2.0                   # a server not heard from for this long owns nothing
NAMES_PER_MESSAGE = 4096            # name -> key entries per message when a new server catches up
_SUBJECT_RE = re.compile(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*")
_STREAM_RE = re.compile(r"[0-9a-f]{32}")


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
    frames: proto.FrameReader | None       # peeks at what comes in until the hello has passed


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
            await quiet_unsubscribe(sub)
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
            if not (isinstance(room, str) and proto.ROOM_RE.fullmatch(room)):
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
        self._streams[name] = _Stream(room, reader, writer, proto.FrameReader())
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
        new = [k for k in N.name_keys(name) if k not in self._name_keys]
        super()._claim_name(name, key)
        if new and self._outbox is not None:
            self._outbox.put(f"{self.prefix}.names", json.dumps(
                {"server": self.server_id, "names": {k: I.b64(key) for k in new}}).encode())

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
            learned += self.names.learn(norm, key)
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
                            stream.writer.write(proto.encode_message({
                                "type": "error", "code": "bad_request",
                                "message": f"this stream was opened for room {stream.room!r}"}))
                            stream.writer.close()
                            return
                        break
            except proto.ProtocolError:
                stream.frames = None                  # the room server's own checks will answer
        feed(stream.reader, msg.data)

    async def _on_up(self, msg) -> None:
        if not msg.reply:
            self.counters["drops"]["no_reply_subject"] += 1
            return
        self._on_datagram(msg.data, msg.reply)

    def _make_room(self, name: str):
        """A private room's sealed datagrams are published once, on a subject of the room's own
        (a secret name) that its members subscribe to, and NATS fans them out: no per-recipient
        copy (they carry no server MAC: the sender-key seal authenticates header and payload)."""
        room = super()._make_room(name)
        if room.private:
            room.fanout = f"{self.prefix}.d.room.{secrets.token_hex(16)}"
        return room

    def stats(self) -> dict:
        out = super().stats()
        out["server_id"] = self.server_id
        out["claims"] = sorted(self.claims)
        out["peers"] = len(self.peers)
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
                await cancel_nats_tasks()

            try:
                asyncio.run_coroutine_threadsafe(stop_all(), self._loop).result(timeout_s)
            except Exception:
                pass
        super().stop(timeout_s)

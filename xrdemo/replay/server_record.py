"""Server-side recordings (``xrdemo serve --record DIR``): one file per room session.

``ServerRecorder`` is the meeting server's observer: the server tells it who joined and left,
profile changes, and every pose and voice datagram it accepted for forwarding (with the sender's
seat), on the server's event loop. A room session starts with its first member and ends when
the room empties (or the server stops); its file is ``DIR/<room>-<UTC start>.xrrec``.

The file uses the participant recordings' records (records.py): a STATE for the room (seat -1:
nobody's own view; the server does not know the clients' table settings, so the default table
for that many seats), EVENT / NAMES / NETSTATE records when the room changes, as a receiving
participant would have handled them, and POSE / VOICE datagrams stamped with the server's
arrival time. A ``joined`` EVENT carries the person's signed join (``id``: public key, the
server's challenge, the ephemeral key, the signature), so a replay checks who was there itself
(``verify_signed_join``) instead of trusting the file. ``xrdemo replay`` plays it from any seat.
"""

from __future__ import annotations

import base64
import queue
import re
import threading
import time
from pathlib import Path

from . import records as R
from .capture import base_meta, config_to_dict
from .fileformat import RecordingWriter

KIND_POSE, KIND_VOICE = 1, 2
KIND_SEALED_POSE, KIND_SEALED_VOICE = 6, 7       # private rooms (net/sender_keys.py)
CIPHERTEXT_ONLY = ("a private room: poses and voices are encrypted under the members' sender keys, "
                   "which the server never had")


class _RoomSession:
    """What the loop thread keeps of a room being recorded (its file lives on the writer thread)."""

    def __init__(self, path: Path, capacity: int):
        self.path = path
        self.capacity = capacity
        self.names = [""] * capacity
        self.members: set = set()
        self.records = 0


class ServerRecorder:
    """Records every room a server hosts into ``folder`` (see the module docstring).

    where: the server's address for the meta block. log: f(str) for one line per file.
    private: the server hosts private rooms (``serve --private-rooms``): the files say so in
    their meta block (``ciphertext_only``) and hold the sealed datagrams as SEALED records.

    One writer thread serves every room: the observer calls (on the server's event loop) only
    encode records and queue them; opening, compressing, writing and closing files happen on
    that thread, so a room that opens or closes never stalls the loop, and a thousand rooms cost
    one thread and one open file each (not a thread each). ``close()`` finishes every file and
    stops the thread; ``sync()`` waits until everything queued so far is on disk.
    """

    def __init__(self, folder, where: str = "", log=None, private: bool = False):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise FileNotFoundError(f"--record {self.folder}: no such folder")
        self.where = where
        self.private = bool(private)
        self.log = log or (lambda _m: None)
        self.rooms: dict[str, _RoomSession] = {}
        self.files: list[Path] = []
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._writers: dict = {}          # writer thread only: room -> (RecordingWriter, path)
        self._meta_cache: dict = {}       # writer thread only: capacity -> (cfg, its dict, meta block)
        self._thread = threading.Thread(target=self._run, name="xrdemo-server-recording", daemon=True)
        self._thread.start()

    def _path(self, room: str) -> Path:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        base = re.sub(r"[^A-Za-z0-9_.-]", "_", room)
        path = self.folder / f"{base}-{stamp}.xrrec"
        k = 2
        while path.exists():
            path = self.folder / f"{base}-{stamp}-{k}.xrrec"
            k += 1
        return path

    def _open(self, room: str, capacity: int) -> _RoomSession:
        """A room's first member: its file is made on the writer thread (naming it, the meta
        block and the first STATE record cost about a millisecond: not the loop's)."""
        session = _RoomSession(None, capacity)
        self.rooms[room] = session
        session.records += 1
        self._queue.put(("open", room, capacity, time.monotonic_ns()))
        return session

    def _make_file(self, room: str, capacity: int, t_ns: int):
        """(writer thread) Create a room's file with its meta block and first STATE record."""
        from dataclasses import replace

        from ..config import Config
        from ..net.protocol import PROTOCOL_VERSION

        path = self._path(room)
        cached = self._meta_cache.get(capacity)
        if cached is None:                    # user, host and config made once per capacity
            cfg = Config()
            cfg = replace(cfg, meeting=replace(cfg.meeting, people=capacity, seat=0))
            cached = self._meta_cache[capacity] = (cfg, config_to_dict(cfg), base_meta(
                "server", cfg, server=self.where, seat=-1, capacity=capacity, protocol=PROTOCOL_VERSION))
        cfg, cfg_doc, meta = cached
        if self.private:
            meta = dict(meta, ciphertext_only=CIPHERTEXT_ONLY)
        meta = dict(meta, room=room, t0_ns=t_ns,
                    created_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        writer = RecordingWriter(path, meta, frame_types=R.FRAME_TYPES)
        self.files.append(path)
        writer.add(R.STATE, t_ns, R.encode_json({
            "config": cfg_doc, "networked": True, "capacity": capacity, "seat": -1,
            "names": [""] * capacity, "present": [False] * capacity}))
        self.log(f"recording room {room!r} to {path}")
        return writer, path

    def _add(self, room: str, session: _RoomSession, rtype: int, t_ns: int, body: bytes) -> None:
        session.records += 1
        self._queue.put(("add", room, rtype, t_ns, body))

    # --- the writer thread -------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            op = self._queue.get()
            what = op[0]
            try:
                if what == "add":
                    entry = self._writers.get(op[1])
                    if entry is not None and entry[0] is not None:
                        entry[0].add(op[2], op[3], op[4])
                elif what == "open":
                    _, room, capacity, t_ns = op
                    try:
                        self._writers[room] = self._make_file(room, capacity, t_ns)
                    except (OSError, ValueError) as exc:
                        self.log(f"cannot record room {room!r}: {exc}")
                        self._writers[room] = (None, None)
                elif what == "close":
                    _, room, records = op
                    writer, path = self._writers.pop(room, (None, None))
                    if writer is not None:
                        self.log(f"room {room!r} ended: {_finish(writer, path, records)}")
                elif what == "sync":
                    op[1].set()
                elif what == "stop":
                    for room, (writer, path) in list(self._writers.items()):
                        if writer is not None:
                            self.log(f"room {room!r} ended: {_finish(writer, path, None)}")
                    self._writers.clear()
                    op[1].set()
                    return
            except Exception as exc:          # a recording must never take the server down
                self.log(f"recording error: {exc}")

    def sync(self, timeout_s: float = 10.0) -> None:
        """Wait until everything queued so far has been handled by the writer thread."""
        if self._thread.is_alive():
            done = threading.Event()
            self._queue.put(("sync", done))
            done.wait(timeout_s)

    # --- the server's observer interface ---------------------------------------------------------
    def joined(self, room: str, capacity: int, seat: int, name: str, profile: dict,
               signed_join: dict | None = None) -> None:
        session = self.rooms.get(room) or self._open(room, capacity)
        now = time.monotonic_ns()
        event = {"type": "joined", "seat": seat, "name": name}
        if signed_join:
            event["id"] = signed_join
        self._add(room, session, R.EVENT, now, R.encode_json(event))
        if 0 <= seat < session.capacity:
            session.names[seat] = name
            session.members.add(seat)
        self._add(room, session, R.NAMES, now, R.encode_json(session.names))
        self._add(room, session, R.NETSTATE, now, R.encode_json({"shapes": {str(seat): _shape_of(profile)},
                                                                 "in_room": sorted(session.members)}))

    def profile(self, room: str, seat: int, profile: dict) -> None:
        session = self.rooms.get(room)
        if session is None:
            return
        now = time.monotonic_ns()
        self._add(room, session, R.EVENT, now, R.encode_json({"type": "profile", "seat": seat}))
        self._add(room, session, R.NETSTATE, now, R.encode_json({"shapes": {str(seat): _shape_of(profile)}}))

    def left(self, room: str, seat: int, reason: str, room_empty: bool) -> None:
        session = self.rooms.get(room)
        if session is None:
            return
        now = time.monotonic_ns()
        self._add(room, session, R.EVENT, now, R.encode_json({"type": "left", "seat": seat, "reason": reason}))
        if 0 <= seat < session.capacity:
            session.names[seat] = ""
        session.members.discard(seat)
        self._add(room, session, R.NAMES, now, R.encode_json(session.names))
        self._add(room, session, R.NETSTATE, now, R.encode_json({"forget": [seat], "unshape": [seat],
                                                                 "in_room": sorted(session.members)}))
        if room_empty:
            self._close_room(room)

    def datagram(self, room: str, kind: int, seat: int, seq: int, t_ms: int, payload: bytes) -> None:
        session = self.rooms.get(room)
        if session is None:
            return
        if kind in (KIND_SEALED_POSE, KIND_SEALED_VOICE):      # a private room: ciphertext as it came
            self._add(room, session, R.SEALED, time.monotonic_ns(),
                      R.encode_datagram(seat, seq, t_ms, bytes([kind]) + payload))
            return
        if kind not in (KIND_POSE, KIND_VOICE):
            return
        rtype = R.POSE if kind == KIND_POSE else R.VOICE
        self._add(room, session, rtype, time.monotonic_ns(), R.encode_datagram(seat, seq, t_ms, payload))

    def _close_room(self, room: str) -> None:
        session = self.rooms.pop(room, None)
        if session is not None:
            self._queue.put(("close", room, session.records))

    def close(self, timeout_s: float = 30.0) -> None:
        """Finish every room's file and stop the writer thread (the server is stopping; normally
        the rooms have emptied and their files are finished already)."""
        self.rooms.clear()
        if self._thread.is_alive():
            done = threading.Event()
            self._queue.put(("stop", done))
            done.wait(timeout_s)


def _finish(writer: RecordingWriter, path: Path, records) -> str:
    """Close one room's file; one line for the log (never raises)."""
    try:
        writer.close()
    except OSError as exc:
        return f"recording stopped early: {exc} (the part written before plays)"
    what = f"{records} records (poses, voice, events)" if records is not None else "its records"
    return f"recorded {what} to {path} (play it with: xrdemo replay {path})"


def _shape_of(profile) -> str | None:
    """The base64 hand shape in a member's profile, checked; None when absent or malformed."""
    raw = profile.get("shape") if isinstance(profile, dict) else None
    if not isinstance(raw, str):
        return None
    try:
        from ..net import posecodec as PC

        PC.decode_shape(base64.b64decode(raw, validate=True))
    except ValueError:
        return None
    return raw


def verify_signed_join(protocol: int, room: str, name: str, signed) -> str | None:
    """The fingerprint of the key that signed this join of ``name`` to ``room`` (the statement
    the server's challenge was signed over, net.identity), or None when the signature does not
    check out or is missing."""
    from ..net import identity as I

    try:
        key = I.unb64(signed["key"], I.KEY_BYTES)
        statement = I.join_statement(int(protocol), I.unb64(signed["challenge"], I.CHALLENGE_BYTES), room, name,
                                     str(signed["client_id"]), I.unb64(signed["eph"], I.KEY_BYTES))
        sig = I.unb64(signed["sig"], I.SIG_BYTES)
    except (KeyError, TypeError, ValueError):
        return None
    return I.fingerprint(key) if I.verify_join(key, sig, statement) else None

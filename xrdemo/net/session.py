"""A networked meeting as the app sees it: join a room, send this person, receive everyone else.

``NetMeeting`` ties the transport (``client.NetClient``), the pose codec and per-person pose
buffers (``posecodec``, ``posebuffer``) and the voice path (``voice``) together:

- ``connect()`` joins ``HOST:PORT/ROOM`` and learns the seat and the room's capacity;
  ``make_state(cfg)`` builds the meeting (one seat per place in the room, nobody scripted).
- Every frame: ``send_pose(...)`` (at most ``pose_hz`` a second), ``poll(now_ns)`` (roster changes
  and received datagrams: poses into their buffers, voice frames to ``voice_sink``), then
  ``remote_input(now_ns)`` gives the core a ``RemoteInput`` for that time; ``present`` and
  ``names`` say who is in the room.
- Voice from this machine: ``send_voice(mono, t_ms)`` (microphone blocks of any length; 20 ms
  Opus frames go out as they fill).

Times: ``now_ns`` is this machine's ``time.monotonic_ns()``; what goes on the wire is
milliseconds of the same clock (``t_ms``). Each receiver maps a sender's clock to its own.
"""

from __future__ import annotations

import base64
import threading
import time

import numpy as np

from ..core import scene as S
from . import posecodec as PC
from .client import NetClient
from .posebuffer import PoseBuffer
from .protocol import is_nats_url, parse_join_url, parse_nats_url, redact_nats_url
from .voice import VoiceSender

STALE = "stale"


STATUS_KINDS = ("openxr", "desktop", "headless")


def clean_status(raw) -> dict:
    """The known, well-typed part of a status object (see NetMeeting.set_status)."""
    if not isinstance(raw, dict):
        return {}
    out = {k: raw[k] for k in ("muted", "hand", "recording") if isinstance(raw.get(k), bool)}
    if raw.get("kind") in STATUS_KINDS:
        out["kind"] = raw["kind"]
    return out


def unique_names(names) -> tuple:
    """Names by seat with repeats numbered in seat order: ("Ada", "", "Ada") -> ("Ada", "", "Ada (2)")."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name:
            seen[name] = seen.get(name, 0) + 1
            out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
        else:
            out.append(name)
    return tuple(out)


def status_notes(status: dict) -> str:
    """A status dict as the words a name tag adds ("reconnecting...", "muted", "hand up")."""
    return ", ".join(w for key, w in (("reconnecting", "reconnecting..."), ("muted", "muted"),
                                       ("hand", "hand up")) if status.get(key))


def now_ms(now_ns: int | None = None) -> int:
    """This machine's monotonic clock in wire milliseconds (uint32, wraps)."""
    return ((time.monotonic_ns() if now_ns is None else now_ns) // 1_000_000) & 0xFFFFFFFF


class NetMeeting:
    """One participant's connection to a networked meeting (see the module docstring).

    url: ``HOST[:PORT]/ROOM`` (the embedded server) or ``nats://HOST[:PORT]/ROOM`` (a room
    server reached through NATS, ``xrdemo serve --nats``). name: display name.
    voice_sink: ``f(seat, seq, t_ms, payload, arrival_ns)`` for received Opus frames (called on
    the network thread; must be cheap); None lets them go (no sound here). pose_hz: most pose
    updates sent per second.
    identity / known_people: this user's ``identity.Identity`` and ``KnownPeople`` (default: a
    new key and trust in memory only; ``net.room_link.join_room`` passes the user's own).
    """

    def __init__(self, url: str, name: str, *, log=print, voice_sink=None, pose_hz: float = 60.0,
                 client_id: str | None = None, want_seat: int | None = None,
                 identity=None, known_people=None):
        who = dict(client_id=client_id, want_seat=want_seat, identity=identity,
                   known_people=known_people)
        if is_nats_url(url):                # a room carried over NATS (nats_transport.py)
            from .nats_transport import NatsClient

            servers, self.room = parse_nats_url(url)
            self.host, self.port = servers[0], 0
            self.url = f"{redact_nats_url(','.join(servers))}/{self.room}"
            self.client = NatsClient(servers, self.room, name, **who)
        else:
            self.host, self.port, self.room = parse_join_url(url)
            self.url = f"{self.host}:{self.port}/{self.room}"
            self.client = NetClient(self.host, self.port, self.room, name, **who)
        self.name = name
        self.log = log
        self.voice_sink = voice_sink
        self.min_interval_ns = int(1e9 / pose_hz)
        self.seat = -1
        self.capacity = 0
        self.buffers: dict[int, PoseBuffer] = {}
        self.shapes: dict[int, PC.HandShape | None] = {}
        self.status: dict[int, str] = {}
        self._in_room: frozenset = frozenset()     # seats of the others, as the roster says
        self._lock = threading.Lock()
        self._last_pose_ns = None
        self._credit = 1.0
        self._voice = VoiceSender()
        self._shape_sent = None
        self._status: dict = {}
        self._pose_seq: dict[int, int] = {}
        self.pose_loss = 0.0
        """Share of the others' pose updates lost on the way, recently (0..1)."""
        self.decode_errors = 0
        self.remote: S.RemoteInput | None = None

    # --- joining ---------------------------------------------------------------------------
    def connect(self, timeout_s: float = 5.0) -> None:
        """Join the room (raises ConnectionError / RoomFull with a clear message)."""
        self.client.on_datagram = self._on_datagram
        try:
            info = self.client.connect(timeout_s=timeout_s)
            seat, capacity = int(info["seat"]), int(info["capacity"])
            if not 1 <= capacity <= S.MAX_PEOPLE or not 0 <= seat < capacity:
                raise ConnectionError(f"cannot join {self.url}: the server offered seat {seat} of "
                                      f"{capacity} (this version seats 1 to {S.MAX_PEOPLE})")
        except BaseException:
            self.client.close()             # no thread or socket outlives a failed join
            raise
        self.seat, self.capacity = seat, capacity
        self.remote = S.RemoteInput.empty(self.capacity)
        self._in_room = frozenset(s for s in self.client.roster if s != self.seat)
        self.log(f"network: joined {self.url} as {self.name!r} in seat {self.seat} "
                 f"({len(self.client.roster)} of {self.capacity} seats taken)")

    def room_shape(self):
        """This room as ``meetings.RoomShape`` (capacity, this seat, names, who is present), for
        ``meetings.meeting_state(cfg, room)``."""
        from ..meetings import RoomShape

        return RoomShape(self.capacity, self.seat, tuple(self.names()), self.present())

    def names(self) -> tuple:
        """Display names by seat ("" for empty seats), unique in the room: when two people have
        the same name (the same person in two windows), the later seats read "Ada (2)", "Ada (3)"
        — by seat order, so everyone in the room shows the same names."""
        out = [""] * self.capacity
        for seat, member in self.client.roster.items():
            if 0 <= seat < self.capacity:
                out[seat] = member.name
        if 0 <= self.seat < self.capacity:
            out[self.seat] = self.name
        return unique_names(out)

    def verified(self) -> np.ndarray:
        """(capacity,) int8 by seat: 1 the person's signed join checked out (this user: always),
        0 not verified or empty, -1 flagged (a name this user knows with another key)."""
        v = np.zeros(self.capacity, np.int8)
        for seat, member in self.client.roster.items():
            if 0 <= seat < self.capacity:
                v[seat] = member.verified
        if 0 <= self.seat < self.capacity:
            v[self.seat] = 1
        return v

    def present(self) -> np.ndarray:
        """(capacity,) bool: taken seats (this person's included)."""
        p = np.zeros(self.capacity, bool)
        for seat in self.client.roster:
            if 0 <= seat < self.capacity:
                p[seat] = True
        if 0 <= self.seat < self.capacity:
            p[self.seat] = True
        return p

    # --- sending ---------------------------------------------------------------------------
    def send_pose(self, head_pos, head_rot, joints, hand_valid, level: float, whisper: int,
                  now_ns: int | None = None, gaze=None, vergence_deg: float = 0.0, face=None) -> bool:
        """Send this person's pose (at most pose_hz a second). joints (2, 26, 3) metres stage,
        hand_valid (2,) bool, level 0..1, whisper: seat whispered to or -1. gaze: (3,) unit line of
        sight in the head frame from an eye tracker, or None; vergence_deg: angle between the eyes'
        lines of sight; face: (20,) face-tracker expression weights, or None. True when sent."""
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        # A credit of updates that grows at pose_hz (at most 1.5 banked): a 72 Hz frame loop
        # sends 60 of its 72 frames at 60 Hz, not every other one.
        if self._last_pose_ns is not None:
            self._credit = min(self._credit + (now_ns - self._last_pose_ns) / self.min_interval_ns, 1.5)
        self._last_pose_ns = now_ns
        if self._credit < 1.0 or not self.client.connected:
            return False
        self._credit -= 1.0
        joints = np.asarray(joints, float)
        valid = np.asarray(hand_valid, bool)
        if valid.all() and self._shape_sent is None:
            shape = PC.shape_from_joints(joints)
            self._shape_sent = shape
            self._send_profile()
        sample = PC.PoseSample(head_pos=np.asarray(head_pos, float), head_rot=np.asarray(head_rot, float),
                               joints=joints, hand_valid=valid, level=float(level), whisper=int(whisper),
                               gaze=gaze, vergence_deg=float(vergence_deg), face=face)
        self.client.send_pose(PC.encode_pose(sample, self._shape_sent), now_ms(now_ns))
        return True

    def send_voice(self, mono: np.ndarray, t_ms: int | None = None) -> int:
        """Microphone samples (48 kHz mono float32, any length, in order) -> Opus frames sent.
        t_ms: the wire time of the first sample (default: now minus their duration)."""
        mono = np.asarray(mono, np.float32)
        if t_ms is None:
            t_ms = (now_ms() - len(mono) * 1000 // 48000) & 0xFFFFFFFF
        frames = self._voice.push(mono, t_ms)
        for seq, t, payload in frames:
            self.send_voice_frame(seq, t, payload)
        return len(frames)

    def send_voice_frame(self, seq: int, t_ms: int, payload: bytes) -> bool:
        """One encoded 20 ms Opus frame: to the room, or while whispering (``client.whisper_partner``)
        to the partner alone, encrypted end to end. False when not sent."""
        if not self.client.connected:
            return False
        partner = self.client.whisper_partner
        if partner is None:
            return bool(self.client.send_voice(seq, t_ms, payload))
        return bool(self.client.send_whisper(partner, seq, t_ms, payload))

    # --- receiving -------------------------------------------------------------------------
    def _on_datagram(self, d) -> None:
        """Network thread: poses into their buffers; voice to the sink."""
        if d.seat not in self._in_room:     # not (or no longer) in the room: no ghosts
            return
        if d.kind in ("voice", "whisper"):
            sink = self.voice_sink
            if sink is not None:
                sink(d.seat, d.seq, d.t_ms, d.payload, d.arrival_ns)
            return
        if d.kind != "pose":
            return
        self._count_pose_loss(d.seat, d.seq)
        try:
            sample = PC.decode_pose(d.payload, self.shapes.get(d.seat))
        except ValueError:
            self.decode_errors += 1
            return
        with self._lock:
            buf = self.buffers.get(d.seat)
            if buf is None:
                buf = self.buffers[d.seat] = PoseBuffer()
            buf.push(sample, d.t_ms, d.arrival_ns)

    LOSS_WEIGHT = 0.02
    """How much each pose update moves the loss estimate (~the last 50 updates count)."""

    def _count_pose_loss(self, seat: int, seq: int) -> None:
        """Pose updates carry a counter: a gap in it is updates lost on the way (network thread)."""
        last = self._pose_seq.get(seat)
        self._pose_seq[seat] = seq
        if last is None:
            return
        gap = (seq - last - 1) % 65536
        if gap > 1000:                        # a restarted sender or a reordering, not a loss
            return
        w = self.LOSS_WEIGHT
        for _ in range(min(gap, 50)):
            self.pose_loss = (1 - w) * self.pose_loss + w
        self.pose_loss *= (1 - w)

    def poll(self) -> list:
        """Roster changes since the last call (events from the client), applied here."""
        events = self.client.events()
        for ev in events:
            kind = ev.get("type") if isinstance(ev, dict) else getattr(ev, "type", None)
            seat = ev.get("seat") if isinstance(ev, dict) else getattr(ev, "seat", None)
            if kind == "left" and seat is not None:
                with self._lock:
                    self.buffers.pop(seat, None)
                self.shapes.pop(seat, None)
            if kind in ("joined", "profile") and seat is not None:
                self._learn_shape(seat)
            if kind == "reconnected":
                # Our seat may have changed (someone took it meanwhile), and profiles may have
                # changed while we were away: learn them afresh.
                self.seat = self.client.seat
                self.shapes.clear()
            if kind == "identity_mismatch":
                self.log(f"network: WARNING {ev.get('name')!r} in seat {seat} has key {ev.get('fingerprint')}, "
                         f"but you met {ev.get('name')!r} before with key {ev.get('known')}: "
                         "not the same person (or they made a new key); shown as not verified")
        roster = self.client.roster
        self._in_room = frozenset(s for s in roster if s != self.seat and 0 <= s < self.capacity)
        with self._lock:
            for seat in [s for s in self.buffers if s not in self._in_room]:
                del self.buffers[seat]
        for seat in list(roster):
            if seat not in self.shapes:
                self._learn_shape(seat)
        return events

    # --- meeting status: muted, hand raised, platform, recording -----------------------------
    def set_status(self, **status) -> bool:
        """This person's meeting status for the others (``muted``, ``hand``: bool; ``kind``:
        "openxr" / "desktop" / "headless"; ``recording``: bool), carried in the profile (a small
        JSON object on the control channel) and sent only when it changes. True when sent."""
        new = clean_status({**self._status, **status})
        if new == self._status:
            return False
        self._status = new
        self._send_profile()
        return True

    def statuses(self) -> list[dict]:
        """Each seat's status as its member last said it ({} for empty seats or none said);
        only known keys with values of the right type are kept (a member may send anything)."""
        out = [{} for _ in range(self.capacity)]
        for seat, member in self.client.roster.items():
            profile = getattr(member, "profile", None) or {}
            if 0 <= seat < self.capacity and isinstance(profile, dict):
                out[seat] = clean_status(profile.get("status"))
        if 0 <= self.seat < self.capacity:
            out[self.seat] = dict(self._status)
        return out

    def room_statuses(self) -> list[dict]:
        """``statuses()`` plus "reconnecting": True for people in the room whose poses stopped
        coming (the pose buffers' state at the previous read)."""
        statuses = self.statuses()
        for seat, stream in self.status.items():
            if 0 <= seat < len(statuses) and seat != self.seat and stream in ("holding", "stale") \
                    and seat in self._in_room:
                statuses[seat] = {**statuses[seat], "reconnecting": True}
        return statuses

    def tag_notes(self) -> tuple:
        """Per seat, the words a name tag adds: "reconnecting..." (their poses stopped coming, from
        the previous read), "muted", "hand up" — or ""."""
        return tuple(status_notes(st) for st in self.room_statuses())

    def _send_profile(self) -> None:
        profile = {}
        if self._shape_sent is not None:
            profile["shape"] = base64.b64encode(PC.encode_shape(self._shape_sent)).decode("ascii")
        if self._status:
            profile["status"] = self._status
        self.client.set_profile(profile)

    def _learn_shape(self, seat: int) -> None:
        member = self.client.roster.get(seat)
        profile = getattr(member, "profile", None) or {}
        raw = profile.get("shape") if isinstance(profile, dict) else None
        shape = None
        if isinstance(raw, str):
            try:
                shape = PC.decode_shape(base64.b64decode(raw, validate=True))
            except ValueError:
                self.decode_errors += 1
        self.shapes[seat] = shape

    def remote_input(self, now_ns: int | None = None) -> S.RemoteInput:
        """Everyone else in the room at local time now_ns (monotonic), for ``core.scene.step``.

        A person whose stream went stale (no packets for ~1 s) is left out (not drawn frozen)."""
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        rem = self.remote
        rem.present[:] = False
        rem.verified = self.verified()
        with self._lock:
            items = list(self.buffers.items())
        for seat, buf in items:
            with self._lock:
                sample, status = buf.at(now_ns)
            self.status[seat] = status
            if sample is None or status == STALE or seat == self.seat:
                continue
            rem.present[seat] = True
            rem.head_pos[seat] = sample.head_pos
            rem.head_rot[seat] = sample.head_rot
            rem.joints[seat] = sample.joints
            rem.hand_valid[seat] = sample.hand_valid
            rem.level[seat] = sample.level
            if rem.gaze_valid is not None:
                rem.gaze_valid[seat] = sample.gaze is not None
                rem.face_valid[seat] = sample.face is not None
                if sample.gaze is not None:
                    rem.gaze[seat] = sample.gaze
                    rem.vergence_deg[seat] = sample.vergence_deg
                if sample.face is not None:
                    rem.face[seat] = sample.face
        return rem

    def stats(self) -> dict:
        return {**self.client.stats, "pose_decode_errors": self.decode_errors}

    def close(self) -> None:
        self.client.close()


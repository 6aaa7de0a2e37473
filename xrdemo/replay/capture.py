"""Recording a meeting as a participant saw it (``xrdemo run --record FILE``).

``Recorder`` writes the records (``records.py``) into a recording file; the frame loop calls
``state(...)`` when it builds the meeting and ``frame(...)`` after every ``core.step``.

In a networked meeting, ``RecordingNetMeeting`` (a ``NetMeeting``) also records what the network
delivered and how the receiver handled it, so that a replay reproduces the remote people exactly:
pose datagrams are queued on the network thread and decoded into the pose buffers on the frame
thread, at the start of ``remote_input`` (where the live code would read them anyway), and written
in that order; voice frames are written as they arrive; handling the room's events (hand shapes
learned, streams reset, the seat) and the display names are written as their effects. Poses and
voice this participant sends are recorded too (flag ``SENT``), so a replay from another seat can
hear and see them.
"""

from __future__ import annotations

import base64
import collections
import functools
import getpass
import socket
import threading
import time
from dataclasses import asdict
from pathlib import Path


from . import records as R
from .fileformat import RecordingWriter
from ..net import posecodec as PC
from ..net.session import NetMeeting


def base_meta(kind: str, cfg=None, **extra) -> dict:
    """The meta block common to every recording: who, when, with which xrdemo and config."""
    from .. import __version__

    try:
        user = getpass.getuser()
    except Exception:
        user = ""
    meta = {"format": "xrdemo-recording", "kind": kind, "xrdemo_version": __version__,
            "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "recorded_by": {"user": user, "host": socket.gethostname()},
            "clock": "monotonic_ns", "pose_codec": 1}
    if cfg is not None:
        meta["config"] = config_to_dict(cfg)
        meta["seed"] = cfg.meeting.seed
    meta.update(extra)
    return meta


def config_to_dict(cfg) -> dict:
    """A Config as plain JSON data (config.config_from_dict reads it back)."""
    return asdict(cfg)


class Recorder:
    """Writes one recording. Records added before the file is open are kept and written first.

    The file opens with ``open(meta)``, or at the first ``state(...)``: then its meta block is
    ``meta`` (what joining the room said: room, server, seat...) plus the meeting's configuration,
    seed and names. path: the file (its folder must exist). Thread-safe: the network thread adds
    voice records.
    """

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.parent.exists():
            raise FileNotFoundError(f"folder {self.path.parent} does not exist (for --record {self.path})")
        if self.path.is_dir():
            raise ValueError(f"--record {self.path} is a folder; give a file name such as "
                             f"{self.path / 'meeting.xrrec'}")
        self.writer: RecordingWriter | None = None
        self.meta: dict = {"t0_ns": time.monotonic_ns()}
        self._early: list = []
        self._lock = threading.Lock()
        self.frames = 0
        self.records = 0

    def open(self, meta: dict) -> None:
        """Create the file with this meta block (``t0_ns``: when the recorder was made, unless
        given)."""
        meta = {**self.meta, **meta}
        with self._lock:
            self.writer = RecordingWriter(self.path, meta, frame_types=R.FRAME_TYPES, background=True)
            early, self._early = self._early, []
        for rtype, t_ns, body in early:
            self.writer.add(rtype, t_ns, body)

    def add(self, rtype: int, t_ns: int, body: bytes) -> None:
        self.records += 1
        writer = self.writer
        if writer is None:
            with self._lock:
                if self.writer is None:
                    self._early.append((rtype, t_ns, body))
                    return
                writer = self.writer
        writer.add(rtype, t_ns, body)

    def state(self, state, cfg, net=None, t_ns: int | None = None) -> None:
        """The meeting was (re)built from cfg (and, in a room, from what ``net`` said). The first
        call opens the file."""
        doc = {"config": config_to_dict(cfg), "networked": net is not None}
        ppl = state.people
        if net is not None:
            doc.update(capacity=int(net.capacity), seat=int(state.local), names=list(ppl.names),
                       present=None if ppl.present is None else [bool(p) for p in ppl.present])
            in_room = getattr(net, "_in_room", None)        # whose datagrams the receiver takes
            if in_room is not None:
                doc["in_room"] = sorted(int(s) for s in in_room)
        if self.writer is None:
            self.open({**base_meta("participant", cfg, seat=int(state.local), capacity=len(ppl),
                                   names=list(ppl.names)), **self.meta})
        self.add(R.STATE, time.monotonic_ns() if t_ns is None else t_ns, R.encode_json(doc))

    def frame(self, step_t_ns: int, inputs, remote_level=None, t_ns: int | None = None,
              drawn: bool = True) -> None:
        """One frame: the LocalInput core.step got at display time step_t_ns. remote_level: the
        remote voice levels step got, when the loop replaced the network's (else None). t_ns: the
        recording clock (default now, monotonic). drawn: False when this frame's picture was not
        drawn (a replay of this seat then holds the previous picture too)."""
        t_ns = time.monotonic_ns() if t_ns is None else t_ns
        rec = R.FrameRecord.from_inputs(t_ns, step_t_ns, inputs, remote_level, drawn=drawn)
        self.add(R.FRAME, t_ns, R.encode_frame(rec))
        self.frames += 1

    def close(self) -> str:
        """Finish the file. Returns one line for the log: what was recorded, or what went wrong
        (never raises: a failed recording must not end the meeting badly)."""
        with self._lock:
            writer, self.writer = self.writer, None
        if writer is not None:
            try:
                writer.close()
            except OSError as exc:
                return f"recording stopped early: {exc} (the part written before plays)"
        what = f"{self.frames} frames" if self.frames else f"{self.records} records (poses, voice, events)"
        return f"recorded {what} to {self.path} (play it with: xrdemo replay {self.path})"


class RecordingNetMeeting(NetMeeting):
    """A NetMeeting that records what it receives and sends (see the module docstring)."""

    def __init__(self, url: str, name: str, *, recorder: Recorder, **kwargs):
        super().__init__(url, name, **kwargs)
        self.recorder = recorder
        self._deferred: collections.deque = collections.deque()
        self._recorded_names = None
        self._recorded_verified = None
        self._wrap_sends()

    def _wrap_sends(self) -> None:
        client, rec = self.client, self.recorder
        send_pose, send_voice = client.send_pose, client.send_voice

        def recorded_pose(payload, t_ms):
            sent = send_pose(payload, t_ms)
            if sent:
                rec.add(R.POSE, time.monotonic_ns(), R.encode_datagram(max(self.seat, 0), 0, t_ms, payload, R.SENT))
            return sent

        def recorded_voice(seq, t_ms, payload):
            sent = send_voice(seq, t_ms, payload)
            if sent:
                rec.add(R.VOICE, time.monotonic_ns(), R.encode_datagram(max(self.seat, 0), seq, t_ms, payload, R.SENT))
            return sent

        client.send_pose, client.send_voice = recorded_pose, recorded_voice

    def connect(self, timeout_s: float = 5.0) -> None:
        super().connect(timeout_s)
        self.recorder.meta.update(room=self.room, server=self.url, name=self.name)

    # --- receiving: everything that changes the pose buffers happens on the frame thread -------
    def _on_datagram(self, d) -> None:
        if d.kind == "pose":
            self._deferred.append(d)
            return
        if d.kind == "voice" and d.seat in self._in_room:
            self.recorder.add(R.VOICE, d.arrival_ns, R.encode_datagram(d.seat, d.seq, d.t_ms, d.payload))
        super()._on_datagram(d)

    def poll(self) -> list:
        shapes, buffers, seat, in_room = dict(self.shapes), set(self.buffers), self.seat, self._in_room
        events = super().poll()
        rec = self.recorder
        now = time.monotonic_ns()
        for ev in events:
            rec.add(R.EVENT, now, R.encode_json(ev if isinstance(ev, dict) else {"type": str(ev)}))
        change = netstate_change(shapes, self.shapes, buffers, set(self.buffers), seat, self.seat)
        if self._in_room != in_room:
            change["in_room"] = sorted(self._in_room)
        if change:
            rec.add(R.NETSTATE, now, R.encode_json(change))
        return events

    def close(self) -> None:
        """Leave the room; the recording notes when (so it ends after the last frame it holds)."""
        self.recorder.add(R.EVENT, time.monotonic_ns(), R.encode_json({"type": "closed"}))
        super().close()

    def verified(self):
        verified = super().verified()
        as_list = [int(v) for v in verified]
        if as_list != self._recorded_verified:
            self._recorded_verified = as_list
            self.recorder.add(R.VERIFIED, time.monotonic_ns(), R.encode_json(as_list))
        return verified

    def statuses(self) -> list:
        statuses = super().statuses()
        if statuses != getattr(self, "_recorded_statuses", None):
            self._recorded_statuses = [dict(st) for st in statuses]
            self.recorder.add(R.EVENT, time.monotonic_ns(), R.encode_json({"type": "statuses",
                                                                            "statuses": statuses}))
        return statuses

    def names(self) -> tuple:
        names = super().names()
        if names != self._recorded_names:
            self._recorded_names = names
            self.recorder.add(R.NAMES, time.monotonic_ns(), R.encode_json(list(names)))
        return names

    def remote_input(self, now_ns: int | None = None):
        now_ns = time.monotonic_ns() if now_ns is None else now_ns
        deferred, rec = self._deferred, self.recorder
        while deferred:
            d = deferred.popleft()
            rec.add(R.POSE, d.arrival_ns, R.encode_datagram(d.seat, d.seq, d.t_ms, d.payload))
            super()._on_datagram(d)
        rem = super().remote_input(now_ns)
        rec.add(R.READ, now_ns, b"")
        return rem


_MISSING = object()


def netstate_change(shapes_before: dict, shapes_after: dict, buffers_before: set, buffers_after: set,
                    seat_before: int, seat_after: int) -> dict:
    """The NETSTATE document for what one poll changed ({} when nothing did)."""
    out: dict = {}
    changed = {}
    for s, shape in shapes_after.items():
        if shapes_before.get(s, _MISSING) is not shape:
            changed[str(s)] = None if shape is None else base64.b64encode(PC.encode_shape(shape)).decode("ascii")
    if changed:
        out["shapes"] = changed
    gone = sorted(s for s in shapes_before if s not in shapes_after)
    if gone:
        out["unshape"] = gone
    dropped = sorted(buffers_before - buffers_after)
    if dropped:
        out["forget"] = dropped
    if seat_after != seat_before:
        out["seat"] = seat_after
    return out


def recording_meeting(recorder: Recorder):
    """A NetMeeting factory for ``netloop.join_room(make_meeting=...)``: the participant joins
    as usual (their identity and all) and the meeting is recorded by ``recorder``."""
    return functools.partial(RecordingNetMeeting, recorder=recorder)


def open_local(recorder: Recorder, cfg, t0_ns: int | None = None) -> None:
    """Start the recording of a meeting with no network (scripted people only; the file opens
    at the first ``state``). t0_ns: the clock's start when it is not the monotonic clock (a
    headless recording's simulated time)."""
    recorder.meta["room"] = None
    if t0_ns is not None:
        recorder.meta.update(t0_ns=int(t0_ns), clock="simulated_ns")



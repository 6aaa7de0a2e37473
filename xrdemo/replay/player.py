"""Replaying a recording: the meeting rebuilt frame by frame, exactly as it was lived.

``Replayer(reader).frames()`` yields ``ReplayFrame`` s: the core state and FrameScene after each
recorded frame. For a participant's recording it runs the same code the live loop ran — the
meeting built from the STATE record, ``RoomLink.before_step`` over a ``ReplayRoom`` (the receiving
half of a ``NetMeeting``, fed the recorded datagrams in the recorded order), the recorded local
input, ``core.step`` at the recorded display time — so for the recording seat the frames are
equal, array for array, to the live run's. A server recording has no participant frames: frames
are made at a fixed rate on the recording's clock, with every seat driven by the network.

Seeking: the core's state (conversation, gaze, blinks) depends on everything before, so a replay
from ``--start S`` fast-forwards: it steps the core through every frame before S without
rendering or decoding voice. ``ReplayFrame.before_start`` marks those frames.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import numpy as np

from . import records as R
from .fileformat import RecordingError, RecordingReader
from ..config import config_from_dict
from ..core import scene as S
from ..net import posecodec as PC
from ..net.client import Datagram as NetDatagram
from ..net.session import NetMeeting

NS = 1_000_000_000


@dataclass
class ReplayFrame:
    """One replayed frame. t_ns: the recording clock (monotonic of the recorder); step_t_ns: the
    display time core.step got; inputs: the LocalInput (None for server recordings); voice: the
    voice datagrams recorded since the previous frame (records.Datagram); drawn: False when the
    recording participant's picture of this frame was not drawn (its previous one was shown).

    ``state`` is the replay's live MeetingState, as in the live loop: the next frame's reading
    of the room updates its names and taken seats, and the core advances its presence state in
    place. Read what you need of it before asking for the next frame; ``scene`` stays as it is.
    """

    index: int
    t_ns: int
    step_t_ns: int
    state: S.MeetingState
    scene: object
    inputs: S.LocalInput | None
    voice: list
    before_start: bool = False
    drawn: bool = True


class ReplayRoom(NetMeeting):
    """The receiving half of a NetMeeting with no transport: ``RoomLink`` reads it like a live
    one (``poll``, ``names``, ``remote_input``) while the replay feeds it recorded records.

    Poses are decoded and pushed into the pose buffers by NetMeeting's own code, in the order
    they were recorded: at the start of ``remote_input``, as the recording participant did, or,
    with ``immediate`` (a server recording: a live receiver pushes them as they arrive), at once.
    """

    def __init__(self, capacity: int, seat: int, immediate: bool = False):  # no transport
        self.capacity, self.seat = int(capacity), int(seat)
        self.buffers, self.shapes, self.status = {}, {}, {}
        self._lock = threading.Lock()
        self.decode_errors = 0
        self._pose_seq, self.pose_loss = {}, 0.0
        self._statuses = [{} for _ in range(self.capacity)]
        self.voice_sink = None
        self._voice_kept = []
        self.remote = S.RemoteInput.empty(self.capacity)
        self._in_room: frozenset = frozenset()
        self._verified = np.zeros(self.capacity, np.int8)
        self._names = ("",) * self.capacity
        self._events: list = []
        self._poses: list = []
        self.immediate = immediate

    # fed by the replay
    def queue_pose(self, d: R.Datagram) -> None:
        dg = NetDatagram("pose", d.seat, d.seq, d.t_ms, d.payload, d.t_ns)
        if self.immediate:
            NetMeeting._on_datagram(self, dg)
        else:
            self._poses.append(dg)

    def add_event(self, event: dict) -> None:
        if event.get("type") == "statuses":            # what the members said of themselves
            from ..net.session import clean_status

            got = event.get("statuses")
            if isinstance(got, list):
                self._statuses = [clean_status(st) for st in got[:self.capacity]]
                self._statuses += [{}] * (self.capacity - len(self._statuses))
            return
        self._events.append(event)

    def statuses(self) -> list:
        return [dict(st) for st in self._statuses]

    def set_names(self, names) -> None:
        self._names = tuple(str(n) for n in names)

    def set_verified(self, verified) -> None:
        self._verified = np.asarray(verified, np.int8).reshape(self.capacity)

    def apply_netstate(self, doc: dict) -> None:
        """What handling the room's events changed (capture.netstate_change), applied."""
        with self._lock:
            for seat in doc.get("forget", ()):
                self.buffers.pop(int(seat), None)
        for seat in doc.get("unshape", ()):
            self.shapes.pop(int(seat), None)
        for seat, raw in (doc.get("shapes") or {}).items():
            self.shapes[int(seat)] = None if raw is None else PC.decode_shape(_b64(raw))
        if "in_room" in doc:
            self._in_room = frozenset(int(s) for s in doc["in_room"])
        if "seat" in doc:
            self.seat = int(doc["seat"])

    # read by RoomLink
    def poll(self) -> list:
        events, self._events = self._events, []
        return events

    def names(self) -> tuple:
        return self._names

    def verified(self) -> np.ndarray:
        return self._verified.copy()

    def present(self) -> np.ndarray:
        return np.array([bool(n) for n in self._names], bool)

    def remote_input(self, now_ns: int | None = None) -> S.RemoteInput:
        poses, self._poses = self._poses, []
        for d in poses:
            NetMeeting._on_datagram(self, d)
        return NetMeeting.remote_input(self, now_ns)

    def send_pose(self, *args, **kwargs) -> bool:
        return False

    def send_voice(self, *args, **kwargs) -> int:
        return 0

    def stats(self) -> dict:
        return {"pose_decode_errors": self.decode_errors}

    def close(self) -> None:
        pass


def _b64(text: str) -> bytes:
    import base64

    return base64.b64decode(text, validate=True)


def state_from_record(doc: dict) -> tuple:
    """(MeetingState, Config) as the STATE record says the live run built it."""
    from ..meetings import RoomShape, meeting_state

    cfg = config_from_dict(doc["config"], source="the recording's config")
    if not doc.get("networked"):
        return meeting_state(cfg), cfg
    present = doc.get("present")
    room = RoomShape(int(doc["capacity"]), int(doc["seat"]), tuple(doc.get("names") or ()),
                     None if present is None else np.asarray(present, bool))
    return meeting_state(cfg, room), cfg


class Replayer:
    """Plays a recording's records through the core (see the module docstring).

    reader: an open RecordingReader. start_s: seconds from the recording's start; frames before
    it are computed (the state needs them) but marked ``before_start``. tick_hz: the frame rate
    for recordings without participant frames (server recordings).
    """

    def __init__(self, reader: RecordingReader, start_s: float = 0.0, tick_hz: float = 30.0, log=None):
        self.reader = reader
        self.meta = reader.meta
        self.kind = self.meta.get("kind", "participant")
        self.start_ns = reader.t0_ns + int(round(start_s * NS))
        self.tick_ns = int(round(NS / tick_hz))
        self.log = log or (lambda _m: None)
        self.state: S.MeetingState | None = None
        self.cfg = None
        self.room: ReplayRoom | None = None
        self.link = None
        self.frames_made = 0
        self._rem: S.RemoteInput | None = None     # the room as the last READ found it
        self.fingerprints: dict[int, str | None] = {}
        """Server recordings: seat -> fingerprint of the key whose signed join checked out."""

    @property
    def seat(self) -> int:
        """The recording participant's seat (-1: a server recording, nobody's own view)."""
        return -1 if self.state is None else int(self.state.local)

    def _on_state(self, doc: dict) -> None:
        from ..net.room_link import RoomLink

        self.state, self.cfg = state_from_record(doc)
        if doc.get("networked"):
            if self.room is None:
                self.room = ReplayRoom(int(doc["capacity"]), int(doc["seat"]), immediate=self.kind == "server")
                self.room.set_names(doc.get("names") or ())
                self.link = RoomLink(self.room, log=self.log)
            else:
                self.link.reset()              # the live loop resets its link after a rebuild
            if "in_room" in doc:
                self.room.apply_netstate({"in_room": doc["in_room"]})

    def frames(self):
        """Every frame of the intact parts of the recording, in order (a damaged chunk is skipped
        and noted in the reader's ``problems``; the replay goes on after it)."""
        voice: list = []
        next_tick = None
        for rec in self.reader.records(skip_damaged=True):
            t = rec.rtype
            try:
                if self.kind == "server" and self.state is not None and t != R.STATE:
                    if next_tick is None:          # (the first join is in before the first frame)
                        next_tick = self.reader.t0_ns + self.tick_ns
                    while next_tick <= rec.t_ns:
                        yield self._tick(next_tick, voice)
                        voice = []
                        next_tick += self.tick_ns
                if t == R.STATE:
                    self._on_state(R.decode_json(rec.body))
                elif t == R.FRAME:
                    if self.state is None:
                        raise ValueError("a frame before the meeting's STATE record")
                    yield self._frame(R.decode_frame(rec.t_ns, rec.body), voice)
                    voice = []
                elif t in (R.POSE, R.VOICE):
                    d = R.decode_datagram(t, rec.t_ns, rec.body)
                    if t == R.VOICE:
                        voice.append(d)
                    elif not d.sent and self.room is not None:
                        self.room.queue_pose(d)
                elif self.room is None:
                    continue
                elif t == R.READ:
                    self._rem = self.link.before_step(self.state, rec.t_ns)
                elif t == R.VERIFIED:
                    self.room.set_verified(R.decode_json(rec.body))
                elif t == R.EVENT:
                    event = R.decode_json(rec.body)
                    self.room.add_event(event)
                    if self.kind == "server":
                        self._check_identity(event)
                elif t == R.NAMES:
                    self.room.set_names(R.decode_json(rec.body))
                elif t == R.NETSTATE:
                    self.room.apply_netstate(R.decode_json(rec.body))
            except (ValueError, KeyError, TypeError) as exc:
                # A record that does not make sense (CRC-valid but wrong): say so, stop there.
                self.reader.damage = RecordingError(self.reader.path, None,
                                                    f"a {R.TYPE_NAMES.get(t, t)} record at "
                                                    f"{(rec.t_ns - self.reader.t0_ns) / NS:.3f} s is "
                                                    f"malformed ({exc})")
                return

    def _check_identity(self, event: dict) -> None:
        """Server recordings: a join's signature is checked here, not taken from the file; who
        checks out is shown verified (✓), who does not, not (?)."""
        from .server_record import verify_signed_join

        seat = event.get("seat")
        if not isinstance(seat, int) or not 0 <= seat < self.room.capacity:
            return
        verified = self.room.verified()
        if event.get("type") == "joined":
            fp = verify_signed_join(self.meta.get("protocol", 0), str(self.meta.get("room", "")),
                                    str(event.get("name", "")), event.get("id"))
            verified[seat] = 1 if fp else 0
            self.fingerprints[seat] = fp
        elif event.get("type") == "left":
            verified[seat] = 0
            self.fingerprints.pop(seat, None)
        self.room.set_verified(verified)

    def _frame(self, fr: R.FrameRecord, voice: list) -> ReplayFrame:
        inputs = fr.local_input()
        if self.link is not None:
            if self._rem is None:
                raise ValueError("a frame in a room before the room was read")
            inputs.remote = self._rem
            if fr.remote_level is not None:
                inputs.remote.level[:] = fr.remote_level
        self.state, scene = S.step(self.state, inputs, fr.step_t_ns)
        self.frames_made += 1
        return ReplayFrame(self.frames_made - 1, fr.t_ns, fr.step_t_ns, self.state, scene, inputs, voice,
                           before_start=fr.t_ns < self.start_ns, drawn=not fr.not_drawn)

    def _tick(self, t_ns: int, voice: list) -> ReplayFrame:
        inputs = S.LocalInput()
        if self.link is not None:
            inputs.remote = self.link.before_step(self.state, t_ns)
        self.state, scene = S.step(self.state, inputs, t_ns - self.reader.t0_ns)
        self.frames_made += 1
        return ReplayFrame(self.frames_made - 1, t_ns, t_ns - self.reader.t0_ns, self.state, scene, None,
                           voice, before_start=t_ns < self.start_ns)


def scene_for_seat(frame: ReplayFrame, seat: int):
    """The FrameScene seen from ``seat``: the recorded one for the recording seat, else the same
    meeting with that seat's head hidden instead."""
    if seat == frame.state.local:
        return frame.scene
    return S.build_frame_scene(replace(frame.state, local=seat, draw_local_head=False))


def view_pose(frame: ReplayFrame, seat: int):
    """(position (3,), orientation (4,)) of the eyes of ``seat`` at this frame: the tracked head
    the platform reported for the recording seat, else that person's head as the meeting has it."""
    inp = frame.inputs
    if seat == frame.state.local and inp is not None and inp.head_pos is not None and inp.head_rot is not None:
        return np.asarray(inp.head_pos, float), np.asarray(inp.head_rot, float)
    ppl = frame.state.people
    return ppl.head_pos[seat].copy(), ppl.head_rot[seat].copy()

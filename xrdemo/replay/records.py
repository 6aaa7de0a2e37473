"""What a meeting recording holds: the record types and their bodies (see docs/replay.md).

Every record has a type (u8) and a time (``t_ns``, the recording machine's monotonic clock); the
container (``fileformat.py``) stores them. Bodies, little-endian:

- ``STATE`` (1), JSON: the meeting was (re)built: ``config`` (the Config as a dict), ``networked``,
  and for a room ``capacity``, ``seat``, ``names``, ``present``.
- ``FRAME`` (2): one frame of the recording participant, as ``core.step`` got it: ``step_t_ns
  i64`` then fields ``id u8 | dtype u8 | ndim u8 | dims u16* | data`` (``FRAME_FIELDS``; unknown
  ids are skipped). ``t_ns`` is the clock the network buffers were read at.
- ``POSE`` (3) / ``VOICE`` (4): one datagram as the network delivered it: ``seat u8 | flags u8 |
  seq u16 | t_ms u32 | payload`` (the pose codec's or Opus bytes); ``t_ns`` is its arrival (or,
  with flag ``SENT``, when the recording participant sent it).
- ``EVENT`` (5), JSON: joined / left / profile / reconnecting ... (``type`` plus fields).
- ``NAMES`` (6), JSON list: display names by seat as the participant saw them from then on.
- ``NETSTATE`` (7), JSON: what handling the room's events changed in the receiver: ``shapes``
  (seat -> base64 hand shape or null), ``unshape``, ``forget`` (seats whose pose stream was
  reset), ``in_room`` (the seats whose datagrams are taken), ``seat``.
- ``VERIFIED`` (8), JSON list: who is verified by seat (1 / 0 / -1) as the participant saw it from then on.
- ``READ`` (9), empty: the frame loop read the room (``RoomLink.before_step``) here; ``t_ns`` is
  the time the pose buffers were sampled at.
- ``SEALED`` (10), a datagram body whose payload starts with its datagram kind (6 sealed pose,
  7 sealed voice): what a private room's server forwarded, encrypted under a sender key the
  server never had (``net/sender_keys.py``); server recordings of private rooms only, which
  nothing can play (their meta says ``ciphertext_only``).
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field, fields

import numpy as np

STATE, FRAME, POSE, VOICE, EVENT, NAMES, NETSTATE, VERIFIED, READ = 1, 2, 3, 4, 5, 6, 7, 8, 9
SEALED = 10
TYPE_NAMES = {STATE: "state", FRAME: "frame", POSE: "pose", VOICE: "voice", EVENT: "event",
              NAMES: "names", NETSTATE: "netstate", VERIFIED: "verified", READ: "read", SEALED: "sealed"}
FRAME_TYPES = (FRAME,)
SENT = 1
"""Datagram flag: sent by the recording participant (its own pose or voice), not received."""

_DATAGRAM = struct.Struct("<BBHI")
_STEP_T = struct.Struct("<q")
_FIELD = struct.Struct("<BBB")

# dtype codes of frame fields; NARROW is float64 data stored losslessly as float32.
_F64, _F32, _BOOL, _NARROW = 1, 2, 3, 4
_DTYPES = {_F64: np.dtype("<f8"), _F32: np.dtype("<f4"), _BOOL: np.dtype("u1"), _NARROW: np.dtype("<f4")}

FRAME_FIELDS = ("head_pos", "head_rot", "joints", "valid", "radii", "eye_dir", "voice_level",
                "mic_level", "remote_level", "face", "voice_mouth", "not_drawn")
"""Frame field names by id (1-based). remote_level (N,): the remote people's voice levels as
core.step got them, when the frame loop replaced what the network said (the live audio's levels
move the lips). face (20,): the local face tracker's weights; voice_mouth (N, 5): the mouth
weights from the voice (both LocalInput fields; absent in files made before them). not_drawn ()
bool, stored only when true: the participant's picture of this frame was not drawn (a headless
participant that fell behind real time repeated its previous picture instead)."""
_INPUT_FIELDS = tuple(name for name in FRAME_FIELDS if name not in ("remote_level", "not_drawn"))
"""The fields that are LocalInput's own."""


def encode_json(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_json(body: bytes):
    return json.loads(body.decode("utf-8"))


@dataclass
class Datagram:
    """A pose or voice datagram as recorded. kind: POSE or VOICE; t_ns: arrival (or send) time."""

    kind: int
    t_ns: int
    seat: int
    seq: int
    t_ms: int
    payload: bytes
    flags: int = 0

    @property
    def sent(self) -> bool:
        return bool(self.flags & SENT)


def encode_datagram(seat: int, seq: int, t_ms: int, payload: bytes, flags: int = 0) -> bytes:
    return _DATAGRAM.pack(seat & 0xFF, flags & 0xFF, seq & 0xFFFF, t_ms & 0xFFFFFFFF) + bytes(payload)


def decode_datagram(kind: int, t_ns: int, body: bytes) -> Datagram:
    if len(body) < _DATAGRAM.size:
        raise ValueError(f"a {TYPE_NAMES[kind]} record of {len(body)} bytes is shorter than its header")
    seat, flags, seq, t_ms = _DATAGRAM.unpack_from(body)
    return Datagram(kind, t_ns, seat, seq, t_ms, bytes(body[_DATAGRAM.size:]), flags)


@dataclass
class FrameRecord:
    """One frame of the recording participant: what ``core.step`` got (see LocalInput) and when.

    t_ns: when it was recorded (the record's time). step_t_ns: the display time passed to step.
    Arrays keep their dtype; None = not given that frame.
    """

    t_ns: int
    step_t_ns: int
    head_pos: np.ndarray | None = None
    head_rot: np.ndarray | None = None
    joints: np.ndarray | None = None
    valid: np.ndarray | None = None
    radii: np.ndarray | None = None
    eye_dir: np.ndarray | None = None
    voice_level: np.ndarray | None = None
    mic_level: float | None = None
    remote_level: np.ndarray | None = None
    face: np.ndarray | None = None
    voice_mouth: np.ndarray | None = None
    not_drawn: bool = False
    extra: dict = field(default_factory=dict)
    """Fields with ids this version does not know (kept as raw arrays by id)."""

    @staticmethod
    def from_inputs(t_ns: int, step_t_ns: int, inputs, remote_level=None, drawn: bool = True) -> "FrameRecord":
        """From a core.scene.LocalInput (its ``remote`` is not stored: the network records are).
        drawn: whether the participant's picture of this frame was drawn."""
        rec = FrameRecord(int(t_ns), int(step_t_ns), remote_level=_copy(remote_level), not_drawn=not drawn)
        for name in _INPUT_FIELDS:
            value = getattr(inputs, name, None)
            setattr(rec, name, value if name == "mic_level" or value is None else _copy(value))
        return rec

    def local_input(self):
        """A core.scene.LocalInput with this frame's fields (``remote`` still to be filled)."""
        from ..core.scene import LocalInput

        return LocalInput(**{name: getattr(self, name) for name in _INPUT_FIELDS})


def _copy(value):
    return None if value is None else np.array(value, copy=True)


def _dtype_code(a: np.ndarray) -> tuple[int, np.ndarray]:
    if a.dtype == np.bool_:
        return _BOOL, a.astype(np.uint8)
    if a.dtype == np.float32:
        return _F32, a.astype("<f4")
    a = np.asarray(a, np.float64)
    narrow = a.astype(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        if np.array_equal(narrow.astype(np.float64), a, equal_nan=True):
            return _NARROW, narrow.astype("<f4")
    return _F64, a.astype("<f8")


def encode_frame(rec: FrameRecord) -> bytes:
    parts = [_STEP_T.pack(rec.step_t_ns)]
    for fid, name in enumerate(FRAME_FIELDS, start=1):
        value = getattr(rec, name)
        if value is None or (name == "not_drawn" and not value):
            continue
        a = np.asarray(value)
        if a.ndim > 4 or any(d > 0xFFFF for d in a.shape):
            raise ValueError(f"frame field {name} of shape {a.shape} cannot be stored")
        code, stored = _dtype_code(a)
        parts.append(_FIELD.pack(fid, code, a.ndim) + struct.pack(f"<{a.ndim}H", *a.shape))
        parts.append(stored.tobytes())
    return b"".join(parts)


def decode_frame(t_ns: int, body: bytes) -> FrameRecord:
    if len(body) < _STEP_T.size:
        raise ValueError("a frame record shorter than its header")
    (step_t,) = _STEP_T.unpack_from(body)
    rec = FrameRecord(t_ns, step_t)
    pos = _STEP_T.size
    while pos < len(body):
        if len(body) - pos < _FIELD.size:
            raise ValueError("a frame field header runs past the record")
        fid, code, ndim = _FIELD.unpack_from(body, pos)
        pos += _FIELD.size
        if code not in _DTYPES or ndim > 4 or len(body) - pos < 2 * ndim:
            raise ValueError(f"frame field {fid}: unknown dtype {code} or bad shape")
        shape = struct.unpack_from(f"<{ndim}H", body, pos)
        pos += 2 * ndim
        dt = _DTYPES[code]
        n = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        if len(body) - pos < n:
            raise ValueError(f"frame field {fid} runs past the record")
        a = np.frombuffer(body, dt, count=n // dt.itemsize, offset=pos).reshape(shape).copy()
        pos += n
        if code == _BOOL:
            a = a.astype(bool)
        elif code == _NARROW:
            a = a.astype(np.float64)
        elif code == _F64:
            a = a.astype(np.float64)
        else:
            a = a.astype(np.float32)
        if 1 <= fid <= len(FRAME_FIELDS):
            name = FRAME_FIELDS[fid - 1]
            if name == "mic_level":
                a = float(a)
            elif name == "not_drawn":
                a = bool(np.asarray(a).any())
            setattr(rec, name, a)
        else:
            rec.extra[fid] = a
    return rec


def frame_fields_equal(a: FrameRecord, b: FrameRecord) -> bool:
    """Every field bit-equal (None matches only None) — for tests and checks."""
    for f in fields(FrameRecord):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if f.name == "extra":
            continue
        if x is None or y is None:
            if x is not y:
                return False
        elif isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            if np.asarray(x).dtype != np.asarray(y).dtype or not np.array_equal(x, y, equal_nan=True):
                return False
        elif x != y:
            return False
    return True

"""Pose codec: a person's head, both hands, gaze, face, speaking level and whisper seat in <= 96 bytes.

Every packet is a keyframe (no deltas, so a lost packet costs nothing but itself). The payload is a
big-endian bit stream, zero-padded to whole bytes:

- header: format version (2 bits), hand valid left/right (2), whisper seat + 1 (6), level (6),
  and from format 2 on: gaze sent (1), face sent (1);
- head position: 3 x 15 bits, 0.5 mm steps over +-8.192 m of stage space;
- head rotation: smallest-three quaternion, 2 + 3 x 11 bits;
- gaze, when sent (format 2): head-frame yaw and pitch and the vergence angle, 8 + 8 + 5 bits;
- face, when sent (format 2): the 20 expression weights, 5 bits each (``facecodec.py``);
- per valid hand (left first; an untracked hand costs nothing):
  wrist-frame origin relative to the decoded head position (3 x 12 bits over +-1.2 m),
  wrist-frame rotation (smallest-three, 2 + 3 x 10 bits),
  every finger bone as flexion and abduction relative to its parent bone (see ``_ANGLE_TABLE``),
  bone lengths coming from the sender's ``HandShape`` (sent once, reliably, at join).

Quantisation is closed-loop: the encoder quantises each quantity against what the decoder will
rebuild (the decoded head position, the decoded wrist frame, the decoded parent bone) and aims each
bone from its decoded start at the true joint, so errors do not accumulate along a finger.
The wrist frame is a rigid fit (Kabsch) of the hand's near-rigid joints (wrist, palm, metacarpal
bases, index and middle knuckles) to the shape, so it works from joint positions alone.
Pure numpy + stdlib; no clocks, no sockets.

Why one long module (~650 lines): encoder and decoder are one bit layout read and written in
step; splitting them would put the same field table in two places.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from xrdemo.core import hands as H
from xrdemo.core import pose as P

from . import facecodec as F

MAX_PAYLOAD = 96
"""Bytes; every encode_pose result fits (the transport adds its own header). 80 without gaze
and face; with both, 96 (a 114-byte datagram up, 112 down, MAC included)."""

FORMAT_VERSION = 2
"""Written by encode_pose. Format 1 (no gaze or face flags) is still decoded: recordings keep the
payloads as sent."""
WHISPER_MAX = 62
"""Highest seat a whisper can name (whisper is -1 for none, else 0..WHISPER_MAX)."""

_HEAD_POS_RANGE = 8.192         # metres either side of the stage origin
_HEAD_POS_BITS = 15
_HEAD_ROT_BITS = 11             # per smallest-three component
_WRIST_POS_RANGE = 1.2          # metres either side of the head
_WRIST_POS_BITS = 12
_WRIST_ROT_BITS = 10
_LEVEL_BITS = 6
_WHISPER_BITS = 6

ANCHOR_JOINTS = np.array([H.WRIST, H.PALM, 2, 6, 11, 16, 21, 7, 12])
"""Near-rigid joints (wrist, palm, the five chain bases, index and middle knuckles) that define the
wrist frame; the first seven are also placed rigidly by the decoder."""
_RIGID_COUNT = 7                 # anchors the decoder places rigidly (the knuckles are bones)
_HAND_MIRROR = np.array([[-1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])   # per hand: left hands mirror x

# Finger chains padded to 5 joints (the thumb has 4); bone index into hands.BONES per (finger, depth).
_CHAINS = np.array([list(c) + [-1] * (5 - len(c)) for c in H.FINGER_CHAINS])
_CHAIN_BONE = np.full((5, 4), -1)
for _f, _chain in enumerate(H.FINGER_CHAINS):
    for _d in range(len(_chain) - 1):
        _CHAIN_BONE[_f, _d] = next(i for i, (a, b) in enumerate(H.BONES)
                                   if a == _chain[_d] and b == _chain[_d + 1])
_CHILD = np.where(_CHAIN_BONE >= 0, _CHAINS[:, 1:], 0)      # (5, 4) joint each bone ends at
_ACTIVE = _CHAIN_BONE >= 0                                     # (5, 4)

# Quantisation of each bone's direction in its parent bone's frame, degrees: (flex lo, flex hi,
# flex bits, abd lo, abd hi, abd bits) per finger (thumb, index, middle, ring, little) and depth
# (metacarpal first). Zero bits: the angle is not sent and decodes as `lo`. Knuckle and thumb
# bones get anatomical ranges; the last two bones of every chain get the whole sphere, so that
# whatever a tracker reports there (hyperextended, bent sideways, glitched) still round-trips.
# Index and middle metacarpals are rigid: the shape's anchors place their knuckles.
_FULL = (-180, 180, 7, -90, 90, 6)
_PROXIMAL = (-40, 120, 7, -30, 30, 6)
_NONE = (0, 0, 0, 0, 0, 0)
_ANGLE_TABLE = np.array([
    [(-40, 60, 7, -50, 40, 7), (-40, 100, 7, -30, 30, 5), _FULL, _NONE],     # thumb (3 bones)
    [_NONE, _PROXIMAL, _FULL, _FULL],                                         # index
    [_NONE, _PROXIMAL, _FULL, _FULL],                                         # middle
    [(-6, 24, 4, 0, 0, 0), _PROXIMAL, _FULL, _FULL],                          # ring
    [(-6, 24, 4, 0, 0, 0), _PROXIMAL, _FULL, _FULL],                          # little
], dtype=np.float64)
_RIGID_METACARPALS = np.array([1, 2])    # fingers whose knuckle is an anchor (ANCHOR_JOINTS 7, 8)
_FLEX_LO, _FLEX_HI = np.radians(_ANGLE_TABLE[..., 0]), np.radians(_ANGLE_TABLE[..., 1])
_ABD_LO, _ABD_HI = np.radians(_ANGLE_TABLE[..., 3]), np.radians(_ANGLE_TABLE[..., 4])
_ANGLE_LO = np.stack([_FLEX_LO, _ABD_LO], -1)                 # (5, 4, 2) radians
_ANGLE_HI = np.stack([_FLEX_HI, _ABD_HI], -1)
_ANGLE_BITS = np.stack([_ANGLE_TABLE[..., 2], _ANGLE_TABLE[..., 5]], -1).astype(np.int64)
_ANGLE_SENT = _ANGLE_BITS > 0                                  # (5, 4, 2)
_ANGLE_LEVELS = (1 << _ANGLE_BITS) - 1
_ANGLE_STEP = (_ANGLE_HI - _ANGLE_LO) / np.maximum(_ANGLE_LEVELS, 1)
_SENT_INDEX = np.flatnonzero(_ANGLE_SENT.reshape(-1))          # sent angles in (5, 4, 2) order
_SENT_STEP = _ANGLE_STEP.reshape(-1)[_SENT_INDEX]
_ANGLE_LO_FLAT = _ANGLE_LO.reshape(-1)
_SENT_MATRIX = np.zeros((len(_SENT_INDEX), _ANGLE_LO_FLAT.size))  # codes -> angle offsets
_SENT_MATRIX[np.arange(len(_SENT_INDEX)), _SENT_INDEX] = _SENT_STEP
_ACTIVE_FLAT = np.flatnonzero(_ACTIVE.reshape(-1))              # bones in (5, 4) order
_CHILD_FLAT = _CHILD.reshape(-1)[_ACTIVE_FLAT]                  # the joint each bone ends at


def _chain_base_frames() -> np.ndarray:
    """(5, 3, 3) rotation of each finger chain's base, right-hand wrist frame (zero flex/abd)."""
    _, rot = H.forward_kinematics(np.zeros((1, 5, 4)), np.zeros((1, 5)))
    return P.quat_to_matrix(rot[0, _CHAINS[:, 0]])


_BASE_FRAMES = _chain_base_frames()
_MIRROR = np.array([-1.0, 1.0, 1.0])                           # right-hand local <-> left hand


def _assembly_matrix() -> np.ndarray:
    """(26, 9 + 20): local joints from [anchors (9, 3); bone +Z vectors times length (20, 3)].

    Rigid joints copy their anchor; a finger joint is its chain base minus every bone above it
    (bones run along their frame's -Z), bones in (finger, depth) order.
    """
    m = np.zeros((H.JOINT_COUNT, len(ANCHOR_JOINTS) + 20))
    for a, j in enumerate(ANCHOR_JOINTS[:_RIGID_COUNT]):
        m[j, a] = 1.0
    for f in range(5):
        for d in range(4):
            if _ACTIVE[f, d]:
                j = _CHILD[f, d]
                m[j] = 0.0
                m[j, 2 + f] = 1.0
                m[j, len(ANCHOR_JOINTS) + f * 4 + np.arange(d + 1)] = -1.0
    return m


_ASSEMBLY = _assembly_matrix()


# --- public types ---------------------------------------------------------------------------------

@dataclass
class PoseSample:
    """One person's tracked state at one display time (stage space, metres)."""

    head_pos: np.ndarray      # (3,) metres, T_stage_head translation (the point between the eyes)
    head_rot: np.ndarray      # (4,) x, y, z, w
    joints: np.ndarray        # (2, 26, 3) metres; hand 0 left, 1 right (core/hands.py joint order)
    hand_valid: np.ndarray    # (2,) bool; joints of an untracked hand are ignored
    level: float = 0.0        # 0..1 speaking level (voice energy)
    whisper: int = -1         # seat the sender whispers to (-1: none)
    gaze: np.ndarray | None = None   # (3,) unit line of sight, head frame (-Z ahead); None: no eye tracker
    vergence_deg: float = 0.0        # angle between the two eyes' lines of sight (0: parallel)
    face: np.ndarray | None = None   # (20,) 0..1 core/expressions.py weights; None: no face tracker


@dataclass(frozen=True)
class HandShape:
    """A person's hand geometry, per hand (0 left, 1 right), in the right-hand wrist frame.

    anchors: (2, 9, 3) metres, the ANCHOR_JOINTS (left hands mirrored to right-hand coordinates).
    bone_lengths: (2, 19) metres, in hands.BONES order.
    """

    anchors: np.ndarray
    bone_lengths: np.ndarray

    def chains(self):
        """(base frames (2, 5, 3, 3), bone lengths (2, 5, 4) per finger and depth, 0 where the
        thumb has no bone) of the finger chains; computed once."""
        cached = self.__dict__.get("_chains")
        if cached is None:
            cached = _chain_frames(np.asarray(self.anchors, np.float64), self.bone_lengths)
            object.__setattr__(self, "_chains", cached)
        return cached


def _typical_shape() -> HandShape:
    pos, _ = H.forward_kinematics(np.zeros((1, 5, 4)), np.zeros((1, 5)))
    anchors = np.broadcast_to(pos[0, ANCHOR_JOINTS], (2, len(ANCHOR_JOINTS), 3)).copy()
    lengths = np.broadcast_to(H.BONE_LENGTHS, (2, len(H.BONES))).copy()
    return HandShape(anchors, lengths)


TYPICAL_SHAPE = _typical_shape()
"""The hand of core/hands.py, used when no shape was sent or received."""


# --- the wrist frame --------------------------------------------------------------------------------

def _fit_quats(joints: np.ndarray, anchors: np.ndarray, is_left: np.ndarray):
    """Rigid fit of shape anchors to observed joints (Horn's quaternion method, no scale).

    joints: (K, 26, 3) stage; anchors: (K, 9, 3) right-hand wrist frame; is_left: (K,) bool.
    Returns q_stage_wrist (K, 4) and the centroids of the mirrored anchors and of the observed
    anchors (K, 3) each; with R from q, p_stage = R @ (mirror * p_local) + t where
    t = obs_c - R @ ref_c, mirror flipping x for left hands.
    """
    ref = anchors * np.where(is_left[:, None, None], _MIRROR, 1.0)
    obs = joints[:, ANCHOR_JOINTS]
    ref_c = ref.mean(axis=1)
    obs_c = obs.mean(axis=1)
    s = np.swapaxes(ref - ref_c[:, None], 1, 2) @ (obs - obs_c[:, None])   # (K, 3, 3): sum ref_a obs_b
    xx, xy, xz = s[:, 0, 0], s[:, 0, 1], s[:, 0, 2]
    yx, yy, yz = s[:, 1, 0], s[:, 1, 1], s[:, 1, 2]
    zx, zy, zz = s[:, 2, 0], s[:, 2, 1], s[:, 2, 2]
    n = np.empty((len(s), 4, 4))                   # Horn's matrix, (x, y, z, w) order
    n[:, 3, 3] = xx + yy + zz
    n[:, 0, 0] = xx - yy - zz
    n[:, 1, 1] = -xx + yy - zz
    n[:, 2, 2] = -xx - yy + zz
    n[:, 3, 0] = n[:, 0, 3] = yz - zy
    n[:, 3, 1] = n[:, 1, 3] = zx - xz
    n[:, 3, 2] = n[:, 2, 3] = xy - yx
    n[:, 0, 1] = n[:, 1, 0] = xy + yx
    n[:, 0, 2] = n[:, 2, 0] = zx + xz
    n[:, 1, 2] = n[:, 2, 1] = yz + zy
    q = np.linalg.eigh(n)[1][:, :, -1]             # eigenvector of the largest eigenvalue
    return q, ref_c, obs_c


def _fit_frames(joints: np.ndarray, anchors: np.ndarray, is_left: np.ndarray):
    """R_stage_wrist (K, 3, 3) and t_stage_wrist (K, 3) of the rigid fit (see _fit_quats)."""
    q, ref_c, obs_c = _fit_quats(joints, anchors, is_left)
    rot = P.quat_to_matrix(q)
    return rot, obs_c - (rot @ ref_c[..., None])[..., 0]


def _to_local(joints, rot, t, is_left):
    """Stage joints (K, J, 3) -> right-hand wrist-frame coordinates (K, J, 3)."""
    local = np.einsum("kji,knj->kni", rot, joints - t[:, None, :])
    return local * np.where(is_left[:, None, None], _MIRROR, 1.0)


def _to_stage(local, rot, t, is_left):
    """Right-hand wrist-frame coordinates (K, J, 3) -> stage joints (K, J, 3)."""
    m = local * np.where(is_left[:, None, None], _MIRROR, 1.0)
    return np.einsum("kij,knj->kni", rot, m) + t[:, None, :]


# --- scalar and quaternion quantisers -------------------------------------------------------------

def _quantise(x, lo: float, hi: float, bits: int) -> np.ndarray:
    """Codes (int64) of x on 2**bits levels spanning lo..hi, clamped (NaN -> 0)."""
    levels = (1 << bits) - 1
    scaled = (np.asarray(x, np.float64) - lo) * (levels / (hi - lo))
    scaled = np.where(scaled == scaled, scaled, 0.0)
    return np.clip(np.rint(scaled), 0, levels).astype(np.int64)


def _dequantise(code, lo: float, hi: float, bits: int) -> np.ndarray:
    return lo + np.asarray(code, np.float64) * ((hi - lo) / ((1 << bits) - 1))


_S3 = 1.0 / math.sqrt(2.0)                       # smallest-three components lie in +-1/sqrt(2)


def _quat_codes(q: np.ndarray, bits: int) -> np.ndarray:
    """Smallest-three codes (N, 4) of quaternions (N, 4): the index of the dropped (largest)
    component, then the other three. Plain Python per quaternion (N is 1-3)."""
    levels = (1 << bits) - 1
    scale = levels / (2 * _S3)
    out = []
    for row in np.asarray(q, np.float64).tolist():
        norm = math.sqrt(sum(v * v for v in row))
        mags = [abs(v) for v in row]
        big = mags.index(max(mags))
        sign = 1.0 / norm if row[big] >= 0 else -1.0 / norm
        out.append([big] + [min(max(round((row[i] * sign + _S3) * scale), 0), levels)
                            for i in range(4) if i != big])
    return np.array(out, np.int64)


_OTHERS = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])


def _quat_decode(codes: np.ndarray, bits: int) -> np.ndarray:
    """Quaternions (N, 4) from smallest-three codes (N, 4); ValueError if the codes cannot be one.

    Plain Python per quaternion: N is 1-3, where numpy's per-call cost would dominate.
    """
    step = 2 * _S3 / ((1 << bits) - 1)
    slack = 4 * step
    out = []
    for big, a, b, c in np.asarray(codes).tolist():
        q = [a * step - _S3, b * step - _S3, c * step - _S3]
        sq = [v * v for v in q]
        w_sq = 1.0 - sq[0] - sq[1] - sq[2]
        # The dropped component is the largest, so it is >= 1/2 and >= every other one (give
        # or take a quantisation step); anything else is not a quaternion we sent.
        if w_sq < 0.25 - slack or max(sq) > w_sq + slack:
            raise ValueError("pose payload: invalid quaternion")
        q.insert(big, math.sqrt(w_sq))
        norm = math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
        out.append([v / norm for v in q])
    return np.array(out)


# --- fingers --------------------------------------------------------------------------------------

def _chain_frames(anchors: np.ndarray, lengths: np.ndarray):
    """Base frames (K, 5, 3, 3) of the finger chains and bone lengths (K, 5, 4) for a shape.

    The typical base frames, except that index and middle frames turn (minimally) to aim their
    -Z at the shape's knuckle anchors, with the metacarpal as long as that distance, so those
    rigid metacarpals need no bits.
    """
    k = anchors.shape[0]
    frame = np.broadcast_to(_BASE_FRAMES, (k, 5, 3, 3)).copy()
    lengths = np.array(lengths, np.float64)
    f = _RIGID_METACARPALS
    v = anchors[:, 7:9] - anchors[:, 2 + f]                           # (K, 2, 3) base -> knuckle
    lengths[:, _CHAIN_BONE[f, 0]] = np.linalg.norm(v, axis=-1)
    chain_lengths = np.where(_ACTIVE, lengths[:, np.maximum(_CHAIN_BONE, 0)], 0.0)
    a = -frame[:, f][..., 2]                                          # current -Z
    b = P.normalize(v)
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1)
    cos = np.sum(a * b, axis=-1)
    turn = P.quat_from_axis_angle(P.normalize(axis), np.arctan2(sin, cos))
    frame[:, f] = P.quat_to_matrix(turn) @ frame[:, f]
    return frame, chain_lengths


def _walk_fingers(frames: np.ndarray, lengths: np.ndarray, bases: np.ndarray, rotation_at,
                  local: np.ndarray) -> None:
    """Rebuild the finger joints of K hands, depth by depth, into `local` (K, 26, 3).

    frames (K, 5, 3, 3) and lengths (K, 5, 4) from HandShape.chains(); bases (K, 5, 3) the chain
    base joints. rotation_at(depth, start (K, 5, 3), frame (K, 5, 3, 3)) returns each finger's
    bone rotation (K, 5, 3, 3) relative to its parent at that depth (the encoder measures and
    quantises it there, the decoder looks it up), so both sides run exactly this reconstruction.
    """
    frame = frames
    start = bases
    for depth in range(4):
        frame = frame @ rotation_at(depth, start, frame)
        start = start - frame[..., :, 2] * lengths[:, :, depth, None]    # along the bone's -Z
        act = _ACTIVE[:, depth]
        local[:, _CHILD[act, depth]] = start[:, act]


# Per depth (4, 5, 2): lowest angle, codes per radian (0 when not sent), top code, radians per code.
_DEPTH_LO = np.moveaxis(_ANGLE_LO, 1, 0).copy()
_DEPTH_SCALE = np.moveaxis(np.where(_ANGLE_SENT, _ANGLE_LEVELS / np.where(_ANGLE_SENT, _ANGLE_HI - _ANGLE_LO, 1.0),
                                    0.0), 1, 0).copy()
_DEPTH_TOP = np.moveaxis(_ANGLE_LEVELS, 1, 0).astype(np.float64)
_DEPTH_STEP = np.moveaxis(_ANGLE_STEP, 1, 0).copy()


def _measure_codes(target_local: np.ndarray, collected: list):
    """rotation_at for the encoder: quantise the angles from each decoded start toward the true
    joint, append the codes (K, 5, 2) (float) to `collected`, return the rotation the decoder
    will rebuild from them."""
    def rotation_at(depth, start, frame):
        v = target_local[:, _CHILD[:, depth]] - start                  # (K, 5, 3)
        u = (v[..., None, :] @ frame)[..., 0, :]                       # in the bone's parent frame
        ang = np.empty(u.shape[:-1] + (2,))
        ang[..., 0] = np.arctan2(-u[..., 1], -u[..., 2])               # flexion
        ang[..., 1] = np.arcsin(np.clip(-u[..., 0] / np.sqrt((u * u).sum(-1) + 1e-300), -1.0, 1.0))
        codes = np.clip(np.rint((ang - _DEPTH_LO[depth]) * _DEPTH_SCALE[depth]), 0.0, _DEPTH_TOP[depth])
        collected.append(codes)
        ang = _DEPTH_LO[depth] + codes * _DEPTH_STEP[depth]
        return H.bone_rotation(ang[..., 0], ang[..., 1])
    return rotation_at


# --- bit layout -----------------------------------------------------------------------------------

_HEADER_WIDTHS = [2, 2, _WHISPER_BITS, _LEVEL_BITS]            # format 1
_HEADER_WIDTHS_2 = _HEADER_WIDTHS + [1, 1]                        # format 2: + gaze, face flags
_HEAD_WIDTHS = [_HEAD_POS_BITS] * 3 + [2] + [_HEAD_ROT_BITS] * 3
_FINGER_WIDTHS = [int(b) for b in _ANGLE_BITS[_ANGLE_SENT]]        # finger-major, depth, flex/abd
_HAND_WIDTHS = [_WRIST_POS_BITS] * 3 + [2] + [_WRIST_ROT_BITS] * 3 + _FINGER_WIDTHS


def _layout(valid_left: bool, valid_right: bool, gaze: bool = False, face: bool = False,
            version: int = FORMAT_VERSION) -> np.ndarray:
    hands = int(valid_left) + int(valid_right)
    if version == 1:
        return np.array(_HEADER_WIDTHS + _HEAD_WIDTHS + _HAND_WIDTHS * hands, np.int64)
    return np.array(_HEADER_WIDTHS_2 + _HEAD_WIDTHS + F.GAZE_WIDTHS * gaze + F.FACE_WIDTHS * face
                    + _HAND_WIDTHS * hands, np.int64)


_FLAGS = [(a, b, g, f) for a in (False, True) for b in (False, True) for g in (False, True)
          for f in (False, True)]
_LAYOUTS = {key: _layout(*key) for key in _FLAGS}                # format 2
_LAYOUTS_1 = {(a, b): _layout(a, b, version=1) for a in (False, True) for b in (False, True)}
_MAXW = 16


def _pack(fields: np.ndarray, widths: np.ndarray) -> bytes:
    """Big-endian bit stream of fields (N,) non-negative ints < 2**widths, zero-padded to bytes."""
    shifts = np.arange(_MAXW - 1, -1, -1)
    bits = (np.asarray(fields, np.int64)[:, None] >> shifts) & 1
    mask = shifts[None, :] < widths[:, None]
    return np.packbits(bits[mask].astype(np.uint8)).tobytes()


def _unpack(data: bytes, widths: np.ndarray) -> np.ndarray:
    """Fields (N,) int64 of a _pack bit stream; ValueError if its padding bits are not zero."""
    total, starts, weights = _unpack_table(widths)
    stream = np.unpackbits(np.frombuffer(data, np.uint8))
    if stream[total:].any():
        raise ValueError("pose payload: non-zero padding")
    return np.add.reduceat(stream[:total] * weights, starts)     # each field: its bits x 2^place


_UNPACK_TABLES: dict = {}


def _unpack_table(widths: np.ndarray):
    """(total bits, field starts (N,), each bit's place value (total,) int64) of a layout; made
    once per layout array."""
    cached = _UNPACK_TABLES.get(id(widths))
    if cached is not None and cached[0] is widths:
        return cached[1]
    w = [int(v) for v in widths]
    if min(w, default=1) < 1:
        raise ValueError("pose layout: every field needs at least one bit")
    table = (sum(w), np.concatenate([[0], np.cumsum(w)[:-1]]).astype(np.intp),
             np.concatenate([np.left_shift(1, np.arange(v - 1, -1, -1, dtype=np.int64)) for v in w]))
    _UNPACK_TABLES[id(widths)] = (widths, table)
    return table


def payload_size(valid_left: bool = True, valid_right: bool = True, gaze: bool = False,
                 face: bool = False) -> int:
    """Bytes of an encoded pose with the given hands tracked, gaze and face sent or not."""
    return (int(_LAYOUTS[bool(valid_left), bool(valid_right), bool(gaze), bool(face)].sum()) + 7) // 8


assert payload_size(True, True, True, True) <= MAX_PAYLOAD, payload_size(True, True, True, True)


# --- encode / decode ------------------------------------------------------------------------------

def _head_pos_codes(pos):
    return _quantise(pos, -_HEAD_POS_RANGE, _HEAD_POS_RANGE, _HEAD_POS_BITS)


def _head_pos_value(codes):
    return _dequantise(codes, -_HEAD_POS_RANGE, _HEAD_POS_RANGE, _HEAD_POS_BITS)


def encode_pose(sample: PoseSample, shape: HandShape | None = None) -> bytes:
    """Quantise one PoseSample into at most MAX_PAYLOAD bytes.

    shape: the sender's HandShape (TYPICAL_SHAPE when None; the receiver must decode with the
    same shape). A hand whose joints are not all finite is sent as untracked; a gaze that is not a
    finite non-zero direction, or face weights that are not 20 numbers without NaN, are not sent
    (the receiver then infers them). The level and the weights are clamped to 0..1 (NaN -> 0). ValueError if the head pose is not finite or whisper is outside
    -1..WHISPER_MAX.
    """
    shape = TYPICAL_SHAPE if shape is None else shape
    head_pos = np.asarray(sample.head_pos, np.float64).reshape(3)
    head_rot = np.asarray(sample.head_rot, np.float64).reshape(4)
    if not (np.all(np.isfinite(head_pos)) and np.all(np.isfinite(head_rot))
            and np.linalg.norm(head_rot) > 1e-6):
        raise ValueError("encode_pose: head pose must be finite with a non-zero quaternion")
    whisper = int(sample.whisper)
    if not -1 <= whisper <= WHISPER_MAX:
        raise ValueError(f"encode_pose: whisper seat {whisper} outside -1..{WHISPER_MAX}")
    joints = np.asarray(sample.joints, np.float64).reshape(2, H.JOINT_COUNT, 3)
    valid = np.asarray(sample.hand_valid, bool).reshape(2) & np.all(np.isfinite(joints), axis=(1, 2))
    level = float(sample.level)
    level = 0.0 if not math.isfinite(level) else min(max(level, 0.0), 1.0)

    gaze = F.gaze_ok(sample.gaze, sample.vergence_deg)
    face = F.face_ok(sample.face)
    pos_codes = _head_pos_codes(head_pos)
    fields = [np.array([FORMAT_VERSION, valid[0] * 2 + valid[1], whisper + 1,
                        round(level * ((1 << _LEVEL_BITS) - 1)), gaze, face], np.int64),
              pos_codes, _quat_codes(head_rot[None], _HEAD_ROT_BITS)[0]]
    if gaze:
        fields.append(np.array(F.gaze_codes(sample.gaze, sample.vergence_deg), np.int64))
    if face:
        fields.append(F.face_codes(sample.face))
    idx = np.flatnonzero(valid)
    if len(idx):
        fields.append(_encode_hands(joints[idx], idx == 0, shape, idx,
                                    _head_pos_value(pos_codes)).reshape(-1))
    return _pack(np.concatenate(fields), _LAYOUTS[bool(valid[0]), bool(valid[1]), gaze, face])


def _encode_hands(joints, is_left, shape: HandShape, idx, head_pos) -> np.ndarray:
    """Hand fields (K, per-hand field count) for K valid hands, closed-loop against the decoder."""
    anchors = shape.anchors[idx]
    frames, lengths = shape.chains()
    q, ref_c, obs_c = _fit_quats(joints, anchors, is_left)
    q_codes = _quat_codes(q, _WRIST_ROT_BITS)
    rot_hat = P.quat_to_matrix(_quat_decode(q_codes, _WRIST_ROT_BITS))
    t = obs_c - (rot_hat @ ref_c[..., None])[..., 0]          # best origin for the sent rotation
    t_codes = _quantise(t - head_pos, -_WRIST_POS_RANGE, _WRIST_POS_RANGE, _WRIST_POS_BITS)
    t_hat = head_pos + _dequantise(t_codes, -_WRIST_POS_RANGE, _WRIST_POS_RANGE, _WRIST_POS_BITS)
    target = _to_local(joints, rot_hat, t_hat, is_left)
    collected = []
    _walk_fingers(frames[idx], lengths[idx], anchors[:, 2:7], _measure_codes(target, collected),
                  np.empty_like(target))
    finger = np.stack(collected, axis=2).astype(np.int64)                # (K, 5, 4, 2)
    return np.concatenate([t_codes, q_codes, finger[:, _ANGLE_SENT]], axis=1)


def decode_pose(payload: bytes, shape: HandShape | None = None) -> PoseSample:
    """Rebuild a PoseSample from encode_pose bytes (with the sender's shape, or TYPICAL_SHAPE).

    ValueError on anything that is not a pose payload of this format (wrong length, version,
    padding or impossible values). Untracked hands decode as zeros; gaze and face are None when
    not sent (always in format 1).
    """
    shape = TYPICAL_SHAPE if shape is None else shape
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise ValueError("pose payload must be bytes")
    data = bytes(payload)
    if len(data) < 1:
        raise ValueError("pose payload is empty")
    version, valid_bits = data[0] >> 6, (data[0] >> 4) & 3
    valid = np.array([bool(valid_bits & 2), bool(valid_bits & 1)])
    if version == 1:
        gaze = face = False
        widths = _LAYOUTS_1[bool(valid[0]), bool(valid[1])]
    elif version == 2:
        if len(data) < 3:
            raise ValueError(f"pose payload: {len(data)} bytes, too short for a format-2 header")
        gaze, face = bool(data[2] & 0x80), bool(data[2] & 0x40)
        widths = _LAYOUTS[bool(valid[0]), bool(valid[1]), gaze, face]
    else:
        raise ValueError(f"pose payload: format {version}, expected 1 or {FORMAT_VERSION}")
    expected = (int(widths.sum()) + 7) // 8
    if len(data) != expected:
        raise ValueError(f"pose payload: {len(data)} bytes, expected {expected}")
    fields = _unpack(data, widths)
    at = len(_HEADER_WIDTHS) + (2 if version >= 2 else 0)
    whisper_code, level_code = fields[2:4]
    head_pos = _head_pos_value(fields[at:at + 3])
    head_rot = _quat_decode(fields[None, at + 3:at + 7], _HEAD_ROT_BITS)[0]
    at += len(_HEAD_WIDTHS)
    gaze_dir, vergence, weights = None, 0.0, None
    if gaze:
        gaze_dir, vergence = F.gaze_value(fields[at:at + 3])
        at += 3
    if face:
        weights = F.face_value(fields[at:at + len(F.FACE_WIDTHS)])
        at += len(F.FACE_WIDTHS)
    n_head = at
    joints = np.zeros((2, H.JOINT_COUNT, 3))
    idx = np.flatnonzero(valid)
    if len(idx):
        per_hand = fields[n_head:].reshape(len(idx), len(_HAND_WIDTHS))
        joints[idx] = _decode_hands(per_hand, idx == 0, shape, idx, head_pos)
    return PoseSample(head_pos=head_pos, head_rot=head_rot, joints=joints, hand_valid=valid,
                      level=float(level_code) / ((1 << _LEVEL_BITS) - 1), whisper=int(whisper_code) - 1,
                      gaze=gaze_dir, vergence_deg=float(vergence), face=weights)


def _decode_hands(fields, is_left, shape: HandShape, idx, head_pos) -> np.ndarray:
    """Stage joints (K, 26, 3) from per-hand fields (K, per-hand field count).

    The same reconstruction as _walk_fingers, batched: every bone rotation at once, then the four
    depths' frames, then each chain's joints as a running sum of its bones.
    """
    k = fields.shape[0]
    t_hat = head_pos + _dequantise(fields[:, :3], -_WRIST_POS_RANGE, _WRIST_POS_RANGE, _WRIST_POS_BITS)
    rot_hat = P.quat_to_matrix(_quat_decode(fields[:, 3:7], _WRIST_ROT_BITS))
    angles = (_ANGLE_LO_FLAT + fields[:, 7:] @ _SENT_MATRIX).reshape(k, 5, 4, 2)
    rotations = H.bone_rotation(angles[..., 0], angles[..., 1])          # (K, 5, 4, 3, 3)
    frames, lengths = shape.chains()
    frame = frames[idx]
    parts = np.empty((k, len(ANCHOR_JOINTS) + 20, 3))                   # anchors, then bones
    parts[:, :len(ANCHOR_JOINTS)] = np.asarray(shape.anchors)[idx]
    bones = parts[:, len(ANCHOR_JOINTS):].reshape(k, 5, 4, 3)
    for depth in range(4):
        frame = frame @ rotations[:, :, depth]
        bones[:, :, depth] = frame[..., 2]                              # +Z; bones run along -Z
    bones *= lengths[idx][..., None]
    local = _ASSEMBLY @ parts                                           # (K, 26, 3)
    local *= _HAND_MIRROR[idx][:, None, :]
    return local @ np.swapaxes(rot_hat, -1, -2) + t_hat[:, None, :]


def wrist_rotation(joints: np.ndarray, is_left: np.ndarray, shape: HandShape | None = None) -> np.ndarray:
    """R_stage_wrist (K, 3, 3) of hands (K, 26, 3) by the codec's rigid fit (for tests and tools)."""
    shape = TYPICAL_SHAPE if shape is None else shape
    is_left = np.asarray(is_left, bool)
    anchors = shape.anchors[np.where(is_left, 0, 1)]
    return _fit_frames(np.asarray(joints, np.float64), anchors, is_left)[0]


# --- hand shapes ----------------------------------------------------------------------------------

def shape_from_joints(joints: np.ndarray) -> HandShape:
    """The HandShape of tracked hands: joints (2, 26, 3) or (F, 2, 26, 3) frames (median over F).

    Each frame's hand is placed in a wrist frame (rotation fitted to the typical hand, origin at
    its wrist joint); the anchors are its near-rigid joints there and the bone lengths its
    measured bones. Use frames where both hands are tracked; a hand with non-finite joints in
    every frame keeps the typical shape.
    """
    j = np.asarray(joints, np.float64)
    if j.shape[-3:] != (2, H.JOINT_COUNT, 3):
        raise ValueError(f"shape_from_joints: joints must be (F, 2, 26, 3) or (2, 26, 3), got {j.shape}")
    j = j.reshape(-1, 2, H.JOINT_COUNT, 3)
    frames = j.shape[0]
    flat = j.reshape(-1, H.JOINT_COUNT, 3)
    is_left = np.tile([True, False], frames)
    good = np.all(np.isfinite(flat), axis=(1, 2))
    anchors = np.array(TYPICAL_SHAPE.anchors)
    lengths = np.array(TYPICAL_SHAPE.bone_lengths)
    if good.any():
        typ = TYPICAL_SHAPE.anchors[np.where(is_left[good], 0, 1)]
        rot, t = _fit_frames(flat[good], typ, is_left[good])
        local = _to_local(flat[good], rot, t, is_left[good])
        local -= local[:, H.WRIST:H.WRIST + 1]          # the wrist joint is the frame's origin
        bones = np.linalg.norm(local[:, H.BONES[:, 1]] - local[:, H.BONES[:, 0]], axis=-1)
        hand = np.where(is_left[good], 0, 1)
        for h in (0, 1):
            sel = hand == h
            if sel.any():
                anchors[h] = np.median(local[sel][:, ANCHOR_JOINTS], axis=0)
                lengths[h] = np.median(bones[sel], axis=0)
    return HandShape(anchors, lengths)


_SHAPE_MAGIC = b"HS"
_SHAPE_VERSION = 1
_SHAPE_UNIT = 1e-5               # metres per int16 step (10 micrometres; +-0.327 m)
_SHAPE_STRUCT = struct.Struct(">2sB" + "h" * (2 * (len(ANCHOR_JOINTS) * 3 + len(H.BONES))))


def encode_shape(shape: HandShape) -> bytes:
    """Bytes of a HandShape (to send reliably at join, e.g. base64 in the profile). 187 bytes."""
    values = np.concatenate([np.asarray(shape.anchors, np.float64).reshape(-1),
                             np.asarray(shape.bone_lengths, np.float64).reshape(-1)])
    codes = np.clip(np.rint(values / _SHAPE_UNIT), -32768, 32767).astype(int)
    return _SHAPE_STRUCT.pack(_SHAPE_MAGIC, _SHAPE_VERSION, *codes.tolist())


def decode_shape(data: bytes) -> HandShape:
    """HandShape from encode_shape bytes; ValueError on wrong size, magic, version or values."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError("hand shape must be bytes")
    data = bytes(data)
    if len(data) != _SHAPE_STRUCT.size:
        raise ValueError(f"hand shape: {len(data)} bytes, expected {_SHAPE_STRUCT.size}")
    magic, version, *codes = _SHAPE_STRUCT.unpack(data)
    if magic != _SHAPE_MAGIC or version != _SHAPE_VERSION:
        raise ValueError("hand shape: not a version-1 hand shape")
    values = np.array(codes, np.float64) * _SHAPE_UNIT
    n_anchor = 2 * len(ANCHOR_JOINTS) * 3
    anchors = values[:n_anchor].reshape(2, len(ANCHOR_JOINTS), 3)
    lengths = values[n_anchor:].reshape(2, len(H.BONES))
    if np.any(lengths < 0.002) or np.any(lengths > 0.2) or np.any(np.abs(anchors) > 0.25):
        raise ValueError("hand shape: bone lengths or anchors outside a plausible hand")
    return HandShape(anchors, lengths)

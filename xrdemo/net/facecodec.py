"""Eye gaze and facial expressions in the pose update: quantisers for posecodec's bit stream.

- gaze (21 bits): one line of sight in the head frame (-Z ahead, +Y up, +X right) as yaw and pitch,
  8 bits each over +-60 degrees (0.47 degree steps; eyes rotate at most ~45 degrees in the head),
  and the vergence angle between the two eyes' lines of sight, 5 bits over 0..16 degrees
  (0.52 degree steps; 16 degrees is a fixation ~23 cm away, 0 is parallel eyes);
- face (100 bits): the 20 weights of core/expressions.py, 5 bits each over 0..1 (steps of 1/31).

Both are optional per packet (a flag in posecodec's header): a person with no eye tracker sends no
gaze (the receiver infers one), with no face tracker no weights. Pure numpy + stdlib.
"""

from __future__ import annotations

import math

import numpy as np

from xrdemo.core.expressions import EXPRESSION_COUNT

GAZE_RANGE_DEG = 60.0
GAZE_ANGLE_BITS = 8
VERGENCE_MAX_DEG = 16.0
VERGENCE_BITS = 5
FACE_BITS = 5

GAZE_WIDTHS = [GAZE_ANGLE_BITS, GAZE_ANGLE_BITS, VERGENCE_BITS]
FACE_WIDTHS = [FACE_BITS] * EXPRESSION_COUNT

_ANGLE_TOP = (1 << GAZE_ANGLE_BITS) - 1
_VERGE_TOP = (1 << VERGENCE_BITS) - 1
_FACE_TOP = (1 << FACE_BITS) - 1


def gaze_ok(direction, vergence_deg) -> bool:
    """Whether a gaze can be sent: a finite, non-zero direction (3,) and a finite vergence."""
    if direction is None:
        return False
    d = np.asarray(direction, np.float64).reshape(-1)
    return d.size == 3 and bool(np.all(np.isfinite(d))) and float(d @ d) > 1e-12 \
        and math.isfinite(float(vergence_deg))


def face_ok(weights) -> bool:
    """Whether expression weights can be sent: (EXPRESSION_COUNT,) with no NaN."""
    if weights is None:
        return False
    w = np.asarray(weights, np.float64).reshape(-1)
    return w.size == EXPRESSION_COUNT and not bool(np.any(np.isnan(w)))


def gaze_codes(direction, vergence_deg: float) -> list:
    """[yaw, pitch, vergence] codes of a head-frame direction (3,) (any length) and a vergence
    angle in degrees (clamped to the ranges; gaze_ok must hold)."""
    x, y, z = (float(v) for v in np.asarray(direction, np.float64).reshape(3))
    yaw = math.degrees(math.atan2(x, -z))                     # + right
    pitch = math.degrees(math.atan2(y, math.hypot(x, z)))     # + up
    def angle(a):
        return min(max(round((a + GAZE_RANGE_DEG) * _ANGLE_TOP / (2 * GAZE_RANGE_DEG)), 0), _ANGLE_TOP)
    verge = min(max(round(float(vergence_deg) * _VERGE_TOP / VERGENCE_MAX_DEG), 0), _VERGE_TOP)
    return [angle(yaw), angle(pitch), verge]


def gaze_value(codes) -> tuple[np.ndarray, float]:
    """(unit direction (3,) head frame, vergence degrees) of gaze_codes."""
    yaw_c, pitch_c, verge_c = (int(c) for c in codes)
    step = 2 * GAZE_RANGE_DEG / _ANGLE_TOP
    yaw = math.radians(-GAZE_RANGE_DEG + yaw_c * step)
    pitch = math.radians(-GAZE_RANGE_DEG + pitch_c * step)
    d = np.array([math.sin(yaw) * math.cos(pitch), math.sin(pitch), -math.cos(yaw) * math.cos(pitch)])
    return d, verge_c * VERGENCE_MAX_DEG / _VERGE_TOP


def face_codes(weights) -> np.ndarray:
    """(EXPRESSION_COUNT,) int64 codes of weights clamped to 0..1."""
    w = np.clip(np.asarray(weights, np.float64).reshape(EXPRESSION_COUNT), 0.0, 1.0)
    return np.rint(w * _FACE_TOP).astype(np.int64)


def face_value(codes) -> np.ndarray:
    """(EXPRESSION_COUNT,) float32 weights 0..1 of face_codes."""
    return (np.asarray(codes, np.float64) / _FACE_TOP).astype(np.float32)

"""Where each person's expression weights and eye direction come from, best source first.

Faces: a face tracker's weights (the local person's ``LocalInput.face``, a remote person's
``RemoteInput.face`` where ``face_valid``) replace everything; otherwise the voice's mouth shapes
(``core/visemes.py``: five mouth weights per person, from the audio the listener hears) replace the
mouth columns of the behaviour-driven baseline (``scene.procedural_expressions``); otherwise the
baseline stays. Eyes: a remote person's eye tracker (``RemoteInput.gaze``, head frame) replaces
the inferred gaze. Pure numpy; (N, ...) arrays, one row per seat.
"""

from __future__ import annotations

import numpy as np

from . import pose as P
from .expressions import EXPRESSION_COUNT, INDEX
from .visemes import MOUTH_COLUMNS

SOURCE_BEHAVIOUR, SOURCE_VOICE, SOURCE_TRACKER = 0, 1, 2
"""What drives a face (``combine_expressions``' second result)."""

_LIP_SHAPES = MOUTH_COLUMNS[:4]                  # the lip columns (the jaw is MOUTH_COLUMNS[4])
_JAW = INDEX["jaw_open"]


def combine_expressions(baseline: np.ndarray, *, local: int = -1, local_face=None, remote=None,
                        mouth: np.ndarray | None = None, mouth_valid: np.ndarray | None = None):
    """(weights (N, EXPRESSION_COUNT) float32, source (N,) int) for this frame.

    baseline: (N, EXPRESSION_COUNT) behaviour-driven weights (not modified). local: the local
    person's row (-1: none); local_face: (EXPRESSION_COUNT,) their face tracker's weights or None.
    NaN columns of local_face keep what voice and behaviour give.
    remote: a RemoteInput or None (rows with present & face_valid take its face). mouth: (N, 5)
    voice mouth weights in VISEME_GROUPS order, mouth_valid (N,) bool the rows that have them
    (default: all rows of mouth): their lip columns are replaced and the jaw is the larger of the
    baseline's and the voice's.
    """
    w = np.array(baseline, np.float32, copy=True)
    n = len(w)
    source = np.full(n, SOURCE_BEHAVIOUR, np.int8)
    if mouth is not None:
        m = np.asarray(mouth, np.float32)
        rows = np.ones(n, bool) if mouth_valid is None else np.asarray(mouth_valid, bool)
        w[np.ix_(rows, _LIP_SHAPES)] = m[rows][:, :4]
        w[rows, _JAW] = np.maximum(w[rows, _JAW], m[rows, 4])
        source[rows] = SOURCE_VOICE
    if remote is not None and remote.face_valid is not None:
        rows = np.asarray(remote.present, bool) & np.asarray(remote.face_valid, bool)
        w[rows] = remote.face[rows]
        source[rows] = SOURCE_TRACKER
    if local_face is not None and 0 <= local < n:
        f = np.asarray(local_face, np.float32).reshape(EXPRESSION_COUNT)
        seen = np.isfinite(f)                   # NaN: a column this tracker cannot see
        if seen.any():
            w[local, seen] = f[seen]
            source[local] = SOURCE_TRACKER
    np.clip(w, 0.0, 1.0, out=w)
    return w, source


def remote_gaze(inferred: np.ndarray, remote, head_rot: np.ndarray) -> np.ndarray:
    """(N, 3) stage-space unit gaze: ``inferred`` (N, 3) with the rows of remote people who send
    an eye tracker's gaze (present & gaze_valid) replaced by it, turned by their head rotation
    head_rot (N, 4) x, y, z, w (the head the scene draws them with)."""
    out = np.array(inferred, np.float64, copy=True)
    if remote is None or remote.gaze_valid is None:
        return out
    rows = np.asarray(remote.present, bool) & np.asarray(remote.gaze_valid, bool)
    if rows.any():
        out[rows] = P.quat_rotate(np.asarray(head_rot, np.float64)[rows], np.asarray(remote.gaze)[rows])
    return out


def gaze_in_head(head_rot, eye_dir_stage) -> np.ndarray | None:
    """(3,) unit line of sight in the head frame (what the pose update sends) from a stage-space
    gaze direction (3,) and the head rotation (4,); None when there is no gaze."""
    if eye_dir_stage is None:
        return None
    d = np.asarray(eye_dir_stage, np.float64).reshape(3)
    q = np.asarray(head_rot, np.float64).reshape(4)
    inv = np.array([-q[0], -q[1], -q[2], q[3]])
    local = P.quat_rotate(inv, d)
    n = float(np.linalg.norm(local))
    return local / n if n > 1e-9 else None

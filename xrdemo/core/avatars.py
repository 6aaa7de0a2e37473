"""What people look like: skin tones, hair, heads with eyes that converge, seated bodies, contact
shadows. Pure numpy; builds the instance arrays of a FrameScene from the people's state.

- Faces (``face_instances``): one instance per drawn head (frame.FaceInstances): the head pose,
  skin and hair colours, the gaze in the head with the distance of what it rests on (another
  head, or 1.5 m; the vertex shader turns each eye there, so they converge), and the 20
  expression weights.
- Bodies (``body_instances``): shoulders and chest as two ellipsoids (unit-sphere instances),
  seated: the hips stay in the chair, the spine runs from them to the base of the neck, so the
  chest leans and turns with the head (a share of the head's turn, as the spine takes up part of
  it); clothing is the person's UI colour. No arms: guessed arms break presence.
- Skin tones (``skin_tones``): seeded per person from a range of natural skin colours.
"""

from __future__ import annotations

import numpy as np

from . import pose as P
from .frame import FaceInstances

# sRGB skin tones spanning light to deep (values in the range of published skin-colour
# measurements, e.g. the Monk skin tone scale's swatches; our own pick, no data copied), hair
# colours and iris darkness. Converted to linear below.
_SKIN_SRGB = np.array([
    [246, 222, 203], [237, 200, 170], [226, 182, 148], [208, 158, 120], [186, 133, 98],
    [160, 108, 76], [130, 84, 58], [100, 64, 44], [78, 50, 36],
], float) / 255.0
_HAIR_LINEAR = np.array([
    [0.012, 0.010, 0.009], [0.030, 0.018, 0.010], [0.080, 0.045, 0.020], [0.40, 0.28, 0.13],
    [0.20, 0.06, 0.025], [0.30, 0.29, 0.28], [0.05, 0.035, 0.025],
])


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, float)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


SKIN_TONES = srgb_to_linear(_SKIN_SRGB)
"""(9, 3) linear RGB skin tones, light to deep."""


def skin_tones(n: int, seed: int):
    """Seeded looks for n people: (skin (n, 4) float32 [rgb, iris darkness], hair (n, 4) float32
    [rgb, opacity 1]). Each person gets a skin tone from SKIN_TONES (slightly varied), a hair
    colour that goes with it, and an iris from light to dark."""
    rng = np.random.default_rng([int(seed), 1400])
    # Tones go round a shuffled list, so a meeting shows the range rather than a cluster.
    tone = rng.permutation(len(SKIN_TONES))[np.arange(n) % len(SKIN_TONES)]
    skin = SKIN_TONES[tone] * rng.uniform(0.93, 1.07, (n, 1)) * rng.uniform(0.97, 1.03, (n, 3))
    deep = tone / (len(SKIN_TONES) - 1)
    light_hair = rng.random(n) < 0.45 * (1.0 - deep)
    hair_idx = np.where(light_hair, rng.integers(2, 6, n), rng.integers(0, 3, n))
    hair = _HAIR_LINEAR[hair_idx] * rng.uniform(0.85, 1.15, (n, 1))
    iris = np.clip(deep + rng.uniform(-0.4, 0.6, n), 0.0, 1.0)
    s = np.concatenate([skin, iris[:, None]], axis=1).astype(np.float32)
    h = np.concatenate([hair, np.ones((n, 1))], axis=1).astype(np.float32)
    return s, h


GAZE_DEFAULT_M = 1.5
"""Metres along the gaze the eyes converge on when the person looks at nobody in particular."""


def eye_gaze(R_head, gaze, target, out=None) -> np.ndarray:
    """(M, 4) float32: the gaze in the head frame (unit x, y, z) and how far away what it rests on
    is (w, metres; GAZE_DEFAULT_M when the person looks at nothing in particular). The vertex
    shader turns each eye toward that point, so both converge (vergence) on the GPU.

    R_head (M, 3, 3), gaze (M, 3) unit stage direction, target (M,) distance in metres (<= 0.05:
    none). out: an (M, 4) float32 array or view to write into (returned)."""
    if out is None:
        out = np.empty((len(gaze), 4), np.float32)
    out[:, :3] = (gaze[:, None, :] @ R_head)[:, 0]                    # R^T g
    out[:, 3] = np.where(target > 0.05, target, GAZE_DEFAULT_M)
    return out


def eye_angles(eye_gaze_rows, eye_offsets) -> np.ndarray:
    """(M, 4) yaw, pitch of the left and right eye in the head (radians; yaw > 0 to the left, pitch
    > 0 up), as shaders/head.vert computes them from ``eye_gaze`` rows (M, 4) and the eye centres
    (2, 3): each eye turns to the point the gaze rests on."""
    g = np.asarray(eye_gaze_rows, float)
    point = g[:, None, :3] * g[:, None, 3:4]                           # (M, 1, 3)
    d = point - eye_offsets[None]
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    out = np.empty((len(g), 4))
    out[:, 0::2] = np.arctan2(-d[..., 0], -d[..., 2])
    out[:, 1::2] = np.arcsin(np.clip(d[..., 1], -1.0, 1.0))
    return out


_IDENTITIES: dict = {}


def _identity_rows(m: int) -> np.ndarray:
    """A fresh (m, 4, 4) float32 array whose last rows are (0, 0, 0, 1) (copied from a cache)."""
    t = _IDENTITIES.get(m)
    if t is None:
        t = _IDENTITIES[m] = np.zeros((m, 4, 4), np.float32)
        t[:, 3, 3] = 1.0
    return t.copy()


def face_instances(keep, head_pos, R_head, skin, hair, eyes, expressions) -> FaceInstances:
    """FaceInstances for the people ``keep`` (indices or a bool mask) of (N, ...) arrays."""
    m = head_pos[keep]
    t = _identity_rows(len(m))
    t[:, :3, :3] = R_head[keep]
    t[:, :3, 3] = m
    return FaceInstances(transforms=t, skin=skin[keep], hair=hair[keep], eyes=eyes[keep],
                         expressions=np.asarray(expressions, np.float32)[keep])


HIP_IN_SEAT = np.array([0.0, -0.60, 0.13])
"""Where the hips sit in the seat's frame, relative to the seated eye point (metres)."""
NECK_BASE_IN_HEAD = np.array([0.0, -0.165, 0.075])
"""The base of the neck in the head frame (metres): where the spine meets the head."""
CHEST_RADII = np.array([0.138, 0.0, 0.105])
"""Half width and half depth of the chest (its half height follows the spine's length)."""
SHOULDER_RADII = np.array([0.205, 0.085, 0.098])
LAP_RADII = np.array([0.15, 0.07, 0.23])
"""Hips and thighs, reaching forward from the chair (under the table)."""
SPINE_TURN_SHARE = 0.35
"""Share of the head's turn (away from the seat's facing) the chest takes."""
BODY_SPHERES = 3


def body_instances(seat_pos, R_seat, head_pos, R_head, clothing):
    """Seated chest, shoulders and lap: (transforms (N, 3, 4, 4) float32, colours (N, 3, 4) float32).

    seat_pos (N, 3) seated eye points, R_seat (N, 3, 3) seat-facing rotations, head_pos (N, 3),
    R_head (N, 3, 3), clothing (N, 3) linear RGB. Instance 0 is the chest, 1 the shoulders,
    2 the lap (hips and thighs).
    """
    return body_transforms(seat_pos + R_seat @ HIP_IN_SEAT, R_seat[:, :, 2], head_pos, R_head), body_colors(clothing)


def body_colors(clothing) -> np.ndarray:
    """(N, 3, 4) float32 colours of the chest, shoulders and lap (clothing (N, 3) linear RGB)."""
    c = np.ones((len(clothing), BODY_SPHERES, 4), np.float32)
    c[:, 0, :3] = clothing
    c[:, 1, :3] = np.asarray(clothing) * 0.92
    c[:, 2, :3] = 0.2 * np.asarray(clothing) + (0.035, 0.04, 0.055)   # trousers: dark, muted
    return c


_RADII_SCALE = np.array([[[CHEST_RADII[0], 0.0, CHEST_RADII[2]]], [SHOULDER_RADII], [LAP_RADII]])   # (3, 1, 3)


def lap_transforms(hip, seat_back) -> np.ndarray:
    """(N, 4, 4) the lap (hips and thighs) of each seat: level, along the seat's forward axis,
    reaching from the hips toward the table. Constant per seat (computed once per meeting)."""
    n = len(hip)
    seat_back = np.asarray(seat_back, float)
    seat_right = np.stack([seat_back[:, 2], np.zeros(n), -seat_back[:, 0]], axis=1)
    t = np.zeros((n, 4, 4))
    t[:, 3, 3] = 1.0
    t[:, :3, 0] = seat_right * LAP_RADII[0]
    t[:, :3, 1] = (0.0, LAP_RADII[1], 0.0)
    t[:, :3, 2] = seat_back * LAP_RADII[2]
    t[:, :3, 3] = hip - 0.16 * seat_back + (0.0, 0.015, 0.0)
    return t


_ONES3 = np.ones(3)
_CROSS = np.zeros((9, 3))
"""cross(a, b) = outer(a, b).reshape(9) @ _CROSS (each component a signed sum of two products)."""
for _i, _j, _k in ((1, 2, 0), (2, 0, 1), (0, 1, 2)):
    _CROSS[3 * _i + _j, _k] = 1.0
    _CROSS[3 * _j + _i, _k] = -1.0


_BODY_COLUMNS = np.zeros((8, 6))
"""(8, 6): the chest's and the shoulders' transform columns (x, y, z, position each) from the
rows (x, up, z, spine, neck, hip) of body_transforms: the axes scaled by the radii (the chest's
half height is 0.52 of the spine: its y column is 0.52 spine), the chest centred at
hip + 0.44 spine, the shoulders at neck + 0.012 z - 0.10 up."""
_BODY_COLUMNS[0, 0], _BODY_COLUMNS[1, 3], _BODY_COLUMNS[2, 2] = CHEST_RADII[0], 0.52, CHEST_RADII[2]
_BODY_COLUMNS[3, 3], _BODY_COLUMNS[3, 5] = 0.44, 1.0
_BODY_COLUMNS[4, 0], _BODY_COLUMNS[5, 1], _BODY_COLUMNS[6, 2] = SHOULDER_RADII
_BODY_COLUMNS[7, 1], _BODY_COLUMNS[7, 2], _BODY_COLUMNS[7, 4] = -0.10, 0.012, 1.0


def body_template(hip, seat_back) -> np.ndarray:
    """(N, 3, 4, 4) float32: body_transforms' constant parts (the laps, the last rows), to copy."""
    t = np.zeros((len(hip), BODY_SPHERES, 4, 4), np.float32)
    t[:, :2, 3, 3] = 1.0
    t[:, 2] = lap_transforms(hip, seat_back)
    return t


def body_transforms(hip, seat_back, head_pos, R_head, lap=None, back_rest=None, template=None,
                    out=None) -> np.ndarray:
    """(N, 3, 4, 4) float32 chest, shoulder and lap transforms. hip (N, 3): where the hips sit
    (constant per seat); seat_back (N, 3): the seat's +Z (backward) axis, level; head as in
    body_instances; back_rest: (1 - SPINE_TURN_SHARE) * seat_back and template:
    body_template(hip, seat_back), when the caller keeps them (constant per seat; lap is not used
    then). out: a (N, 3, 4, 4) float32 array to write into (returned).

    The spine runs from the hips to the base of the neck; the chest turns a share of the head's
    turn. Every column of the chest's and the shoulders' transforms is a constant mix of the rows
    (x, up, z, spine, neck, hip): one product (_BODY_COLUMNS)."""
    n = len(hip)
    rows = np.empty((6, n, 3))                    # x, up, z, spine, neck, hip: products over all at once
    rows[5] = hip
    neck = rows[4]
    np.matmul(R_head.reshape(3 * n, 3), NECK_BASE_IN_HEAD, out=neck.reshape(3 * n))
    neck += head_pos
    spine = rows[3]
    np.subtract(neck, hip, out=spine)
    length = np.sqrt((spine * spine) @ _ONES3)
    up = rows[1]
    np.divide(spine, length[:, None], out=up)
    back = SPINE_TURN_SHARE * R_head[:, :, 2]
    back += (1.0 - SPINE_TURN_SHARE) * seat_back if back_rest is None else back_rest
    x = rows[0]
    np.matmul((up[:, :, None] * back[:, None, :]).reshape(n, 9), _CROSS, out=x)     # up x back
    x /= np.sqrt((x * x) @ _ONES3)[:, None]
    np.matmul((x[:, :, None] * up[:, None, :]).reshape(n, 9), _CROSS, out=rows[2])   # x x up
    if template is None:
        template = body_template(hip, seat_back)
        if lap is not None:
            template[:, 2] = lap
    if out is None:
        out = template.copy()
    else:
        out[...] = template
    columns = (_BODY_COLUMNS @ rows.reshape(6, 3 * n)).reshape(2, 4, n, 3)   # (body, column, person, xyz)
    out[:, :2, :3, :] = columns.transpose(2, 0, 3, 1)
    return out

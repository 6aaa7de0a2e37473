"""A low-poly human head made by code, with blend shapes for core/expressions.py's 20 weights.

Pure numpy. ``head_mesh()`` returns the one head every person is drawn with (instanced):

- vertices (V, 8) float32: position (3, metres, head frame), normal (3), part id, aux;
- indices (I,) uint32, counter-clockwise front faces;
- deltas (EXPRESSION_COUNT, V, 3) float32: each expression's displacement of every vertex at
  weight 1 (the vertex shader adds sum_k w_k * deltas[k]).

The head frame is the pose the core gives a head: origin between the eyes, +X to the person's
right, +Y up, -Z where they face. Parts (``PART``): skull (hair drawn on it by the fragment
shader), face (cheeks, jaw and chin), nose, ears, neck, eyes (sclera, iris and pupil drawn by the
fragment shader from the eye's own direction; the vertex shader turns them to the gaze), upper and
lower lids (spherical shells the vertex shader rotates about the eye: blinks, following the eye's
pitch, widening and the cheek raise), brows, lips and the mouth's inside (with teeth). Lids and
eyes are moved by the shader from the weights and eye angles; every other expression is a blend
shape computed here from the rest geometry (regions and a jaw hinge), so no asset file is needed.
697 vertices, 982 triangles (many of them degenerate at the poles): llvmpipe is vertex-bound.
"""

from __future__ import annotations

import numpy as np

from ..core import expressions as E
from ..core.scene import EYE_OFFSETS, EYE_RADIUS

PART = {name: i for i, name in enumerate((
    "skull", "face", "nose", "ear", "neck", "eye_left", "eye_right", "lid_upper_left",
    "lid_lower_left", "lid_upper_right", "lid_lower_right", "brow", "lip", "mouth"))}
"""Part ids (vertex attribute), shared with shaders/head.vert and head.frag."""

LID_RADIUS = EYE_RADIUS * 1.09
JAW_HINGE = np.array([0.0, -0.025, 0.06])
JAW_OPEN_RAD = np.radians(13.0)
UPPER_LIP = (np.array([0.0, -0.0497, -0.0335]), np.array([0.021, 0.0042, 0.0055]))
LOWER_LIP = (np.array([0.0, -0.0588, -0.0325]), np.array([0.019, 0.0050, 0.0058]))
MOUTH_CENTER = np.array([0.0, -0.0542, -0.0352])


def _ellipsoid(center, radii, rings, segs, part, theta=(0.0, np.pi), aux=None):
    """An ellipsoid (or a latitude band of one): positions, normals, aux (default: latitude 0..1),
    indices."""
    th = np.linspace(theta[0], theta[1], rings + 1)
    ph = np.linspace(0.0, 2.0 * np.pi, segs + 1)
    t, p = np.meshgrid(th, ph, indexing="ij")
    unit = np.stack([np.sin(t) * np.cos(p), np.cos(t), -np.sin(t) * np.sin(p)], -1).reshape(-1, 3)
    r = np.asarray(radii, float)
    pos = unit * r + center
    nrm = unit / r
    nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
    idx = _grid(rings, segs)
    lat = ((t - theta[0]) / max(theta[1] - theta[0], 1e-9)).reshape(-1)
    aux = lat if aux is None else np.full(len(pos), float(aux))
    return pos, nrm, np.full(len(pos), part, float), aux, idx


def _lid(center, upper: bool, part: int, rings=2, segs=6):
    """A spherical shell patch over the front of an eye, its edge on the eye's horizon (elevation
    0) and reaching 80° up (upper) or down (lower), ±75° to the sides. aux = 0 at the edge."""
    el = np.linspace(0.0, np.radians(80.0), rings + 1) * (1 if upper else -1)
    az = np.linspace(-np.radians(75.0), np.radians(75.0), segs + 1)
    e, a = np.meshgrid(el, az, indexing="ij")
    unit = np.stack([np.cos(e) * np.sin(a), np.sin(e), -np.cos(e) * np.cos(a)], -1).reshape(-1, 3)
    pos = unit * LID_RADIUS + center
    idx = _grid(rings, segs)
    if not upper:
        idx = idx.reshape(-1, 3)[:, ::-1].reshape(-1)
    aux = (np.abs(e) / np.radians(80.0)).reshape(-1)
    return pos, unit.copy(), np.full(len(pos), part, float), aux, idx


def _disc(center, rx, ry, segs, part):
    """A flat ellipse facing -Z: the inside of the mouth."""
    a = np.linspace(0.0, 2.0 * np.pi, segs, endpoint=False)
    ring = np.stack([rx * np.cos(a), ry * np.sin(a), np.zeros_like(a)], -1) + center
    pos = np.concatenate([center[None], ring])
    nrm = np.tile([0.0, 0.0, -1.0], (len(pos), 1))
    i = np.arange(segs)
    idx = np.stack([np.zeros(segs, int), 1 + (i + 1) % segs, 1 + i], -1).reshape(-1)
    return pos, nrm, np.full(len(pos), part, float), np.zeros(len(pos)), idx


def _grid(rows, cols):
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    a = r * (cols + 1) + c
    b = a + cols + 1
    return np.stack([a, b, a + 1, a + 1, b, b + 1], -1).reshape(-1)


def _smooth(e0, e1, x):
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _parts():
    eye_l, eye_r = EYE_OFFSETS[0] + [0, 0, 0.006], EYE_OFFSETS[1] + [0, 0, 0.006]
    parts = [
        _ellipsoid(np.array([0.0, 0.030, 0.075]), [0.075, 0.090, 0.090], 8, 12, PART["skull"]),
        _ellipsoid(np.array([0.0, -0.045, 0.030]), [0.058, 0.055, 0.060], 7, 12, PART["face"]),
        _ellipsoid(np.array([0.0, -0.017, -0.024]), [0.0075, 0.019, 0.011], 3, 5, PART["nose"]),
        _ellipsoid(np.array([0.0, -0.033, -0.034]), [0.0125, 0.0085, 0.0095], 4, 6, PART["nose"]),
        _ellipsoid(np.array([-0.072, -0.008, 0.078]), [0.010, 0.027, 0.017], 3, 5, PART["ear"]),
        _ellipsoid(np.array([0.072, -0.008, 0.078]), [0.010, 0.027, 0.017], 3, 5, PART["ear"]),
        _ellipsoid(np.array([0.0, -0.125, 0.085]), [0.050, 0.085, 0.048], 3, 8, PART["neck"],
                   theta=(0.25 * np.pi, 0.9 * np.pi)),
        _ellipsoid(eye_l, [EYE_RADIUS] * 3, 5, 8, PART["eye_left"]),
        _ellipsoid(eye_r, [EYE_RADIUS] * 3, 5, 8, PART["eye_right"]),
        _lid(eye_l, True, PART["lid_upper_left"]), _lid(eye_l, False, PART["lid_lower_left"]),
        _lid(eye_r, True, PART["lid_upper_right"]), _lid(eye_r, False, PART["lid_lower_right"]),
        _ellipsoid(np.array([-0.032, 0.024, -0.006]), [0.018, 0.0042, 0.0048], 3, 6, PART["brow"]),
        _ellipsoid(np.array([0.032, 0.024, -0.006]), [0.018, 0.0042, 0.0048], 3, 6, PART["brow"]),
        _ellipsoid(*UPPER_LIP, 3, 8, PART["lip"], aux=0.0),
        _ellipsoid(*LOWER_LIP, 3, 8, PART["lip"], aux=1.0),
        _disc(MOUTH_CENTER, 0.0175, 0.0048, 12, PART["mouth"]),
    ]
    return parts, (eye_l, eye_r)


EYE_CENTERS = np.array([EYE_OFFSETS[0] + [0, 0, 0.006], EYE_OFFSETS[1] + [0, 0, 0.006]])
"""(2, 3) the eyes' centres in the head frame (left, right), metres: where they turn about."""


def head_mesh():
    """-> (vertices (V, 8) float32, indices (I,) uint32, deltas (20, V, 3) float32)."""
    parts, _ = _parts()
    pos, nrm, part, aux, idx, base = [], [], [], [], [], 0
    for p, n, k, a, i in parts:
        pos.append(p)
        nrm.append(n)
        part.append(k)
        aux.append(a)
        idx.append(np.asarray(i) + base)
        base += len(p)
    pos, nrm, part, aux = (np.concatenate(x) for x in (pos, nrm, part, aux))
    face = (part == PART["face"]) | (part == PART["skull"])
    # The mouth is a shallow cavity: skin behind the lips steps back, so the inside shows cleanly.
    cavity = face & (np.abs(pos[:, 0]) < 0.024) & (pos[:, 1] < -0.045) & (pos[:, 1] > -0.066) & (pos[:, 2] < 0.0)
    pos[cavity, 2] += 0.006 * (1.0 - (pos[cavity, 0] / 0.024) ** 2)
    # Brows follow the forehead's curve: their outer ends sweep back.
    brow = part == PART["brow"]
    pos[brow, 2] += 2.0 * np.maximum(np.abs(pos[brow, 0]) - 0.02, 0.0) ** 2
    pos[brow, 1] -= 0.12 * np.maximum(0.03 - np.abs(pos[brow, 0]), 0.0)
    verts = np.concatenate([pos, nrm, part[:, None], aux[:, None]], axis=1).astype(np.float32)
    return verts, np.concatenate(idx).astype(np.uint32), _deltas(pos, part, aux).astype(np.float32)


def _deltas(pos, part, aux):
    """(20, V, 3) each expression's displacement at weight 1, from regions of the rest head."""
    n = len(pos)
    d = np.zeros((E.EXPRESSION_COUNT, n, 3))
    x, y, z = pos[:, 0], pos[:, 1], pos[:, 2]
    lip = part == PART["lip"]
    lower = lip & (aux > 0.5)
    upper = lip & ~lower
    mouth = part == PART["mouth"]
    face = part == PART["face"]
    skin = face | (part == PART["skull"])
    # jaw_open: the chin, the lower lip and the bottom of the mouth's inside turn about the hinge.
    w = np.zeros(n)
    w[skin] = _smooth(-0.048, -0.062, y[skin]) * (z[skin] < 0.07)
    w[lower] = 1.0
    w[mouth] = np.clip((MOUTH_CENTER[1] + 0.0015 - y[mouth]) / 0.0063, 0.0, 1.0)
    c, s = np.cos(-JAW_OPEN_RAD), np.sin(-JAW_OPEN_RAD)
    r = pos - JAW_HINGE
    rot = np.stack([r[:, 0], c * r[:, 1] - s * r[:, 2], s * r[:, 1] + c * r[:, 2]], -1)
    d[E.INDEX["jaw_open"]] = w[:, None] * (rot - r)
    # The lower lip and the mouth's inside drop with the chin but stay in front of the skin.
    drop = np.array([0.0, -0.0165, 0.002])
    d[E.INDEX["jaw_open"], lower] = drop
    d[E.INDEX["jaw_open"], mouth] = w[mouth, None] * drop
    # The lips' own shapes. side: 0 at the middle, 1 at the corners.
    side = np.clip(np.abs(x) / 0.021, 0.0, 1.0)
    lips = lip | mouth
    mid_y = -0.0545
    d[E.INDEX["lips_closed"], upper] = [0.0, -0.0018, 0.0008]
    d[E.INDEX["lips_closed"], lower] = [0.0, 0.0030, 0.0008]
    d[E.INDEX["lips_closed"], mouth, 1] = (mid_y - y[mouth]) * 0.8
    for name, fwd, pinch, opening in (("lip_funnel", -0.005, -0.28, 0.0022), ("lip_pucker", -0.0065, -0.38, -0.0008)):
        k = E.INDEX[name]
        d[k, lips, 0] = pinch * x[lips]
        d[k, lips, 2] = fwd * (1.0 - 0.5 * side[lips])
        d[k, upper, 1] = opening
        d[k, lower, 1] = -opening
        d[k, mouth, 1] = np.sign(y[mouth] - mid_y) * abs(opening) * (opening > 0)
    k = E.INDEX["lip_stretch"]
    d[k, lips, 0] = 0.28 * x[lips]
    d[k, lips, 2] = 0.0025 * side[lips]
    d[k, upper, 1] = 0.0006
    k = E.INDEX["lower_lip_tuck"]
    d[k, lower] = [0.0, 0.0045, 0.0055]
    # Smiles lift and widen the corners on one side and raise that cheek a little; frowns drop them.
    cheek = face & (y > -0.055) & (y < -0.012)
    for name, sgn in (("smile_left", -1.0), ("smile_right", 1.0)):
        k = E.INDEX[name]
        this = (x * sgn) > 0
        corner = lips & this
        wc = side[corner]
        d[k, corner, 0] = sgn * 0.004 * wc
        d[k, corner, 1] = 0.0045 * wc ** 1.5
        d[k, corner, 2] = 0.0025 * wc
        ch = cheek & this
        wk = np.exp(-(((x[ch] - sgn * 0.036) / 0.02) ** 2 + ((y[ch] + 0.032) / 0.02) ** 2))
        d[k, ch, 1] = 0.0025 * wk
        d[k, ch, 2] = -0.0015 * wk
    k = E.INDEX["frown"]
    d[k, lips, 1] = -0.004 * side[lips] ** 1.5
    d[k, lips, 2] = 0.001 * side[lips]
    # Brows: the inner ends (toward the nose) and the outer ends lift; lowering pulls them in.
    brow = part == PART["brow"]
    inner = np.clip(1.0 - (np.abs(x) - 0.015) / 0.034, 0.0, 1.0)
    k = E.INDEX["brow_inner_up"]
    d[k, brow, 1] = 0.009 * inner[brow] ** 1.2
    for name, sgn in (("brow_outer_up_left", -1.0), ("brow_outer_up_right", 1.0)):
        sel = brow & (x * sgn > 0)
        d[E.INDEX[name], sel, 1] = 0.008 * (1.0 - inner[sel]) ** 1.0
    for name, sgn in (("brow_down_left", -1.0), ("brow_down_right", 1.0)):
        sel = brow & (x * sgn > 0)
        k = E.INDEX[name]
        d[k, sel, 1] = -0.0035 - 0.0015 * inner[sel]
        d[k, sel, 0] = -sgn * 0.0025 * inner[sel]
        d[k, sel, 2] = -0.0012
    # Cheek raise: the cheek rises under the eye (the lower lid rises with it in the shader).
    for name, sgn in (("cheek_raise_left", -1.0), ("cheek_raise_right", 1.0)):
        ch = cheek & (x * sgn > 0)
        wk = np.exp(-(((x[ch] - sgn * 0.034) / 0.02) ** 2 + ((y[ch] + 0.022) / 0.018) ** 2))
        k = E.INDEX[name]
        d[k, ch, 1] = 0.003 * wk
        d[k, ch, 2] = -0.002 * wk
    return d

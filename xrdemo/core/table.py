"""The table: calibrate it from fingertip touches, and detect hands touching it.

Calibration (:func:`calibrate_table`): fingertip samples taken while the user touches a real table
give its plane (RANSAC on still samples, then least squares on the inliers — the smallest singular
vector of the centred inliers) and its outline (the minimum-area rectangle around the touched
footprint: edge direction, centre, half extents). Samples from hands still moving (speed above
``max_speed``, from given velocities or from finite differences of time-ordered samples) are
dropped before fitting, and RANSAC rejects outliers (a finger in the air, a knuckle on the edge).

Contacts (:func:`contact_step`): fingertip and palm heights above the table surface, with hysteresis
(touch below ``enter_m``, release above ``exit_m``) and only over the table's footprint, give
touch-down/lift-off events (haptic pulses) and a per-joint intensity 0..1 (contact glow/shadow that
grows as the hand approaches).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pose import matrix_to_quat

CONTACT_JOINTS = (0, 5, 10, 15, 20, 25)
"""XR_EXT_hand_tracking joints checked for contact: palm, then thumb, index, middle, ring, little tips."""
CONTACT_RADII = np.array([0.012, 0.008, 0.007, 0.007, 0.007, 0.006])
"""Approximate joint radii (m): the palm centre sits ~12 mm above the skin it rests on."""


@dataclass
class TableGeometry:
    """A rectangular table top. centre (3,) m on the surface; normal (3,) unit up; x_axis (3,) unit
    along the long edge; half_extents (2,) m along x_axis and along z_axis = x_axis × normal."""

    centre: np.ndarray
    normal: np.ndarray
    x_axis: np.ndarray
    half_extents: np.ndarray

    def __post_init__(self):
        self.centre = np.asarray(self.centre, float)
        self.normal = np.asarray(self.normal, float)
        self.x_axis = np.asarray(self.x_axis, float)
        self.half_extents = np.asarray(self.half_extents, float)
        self.z_axis = np.cross(self.x_axis, self.normal)
        # Columns: height, along x, along z — one matrix product gives all three coordinates.
        self.axes = np.stack([self.normal, self.x_axis, self.z_axis], axis=1)

    def pose(self):
        """T_stage_table: position (3,), quaternion (4,), +Y = normal, +X = long edge."""
        m = np.stack([self.x_axis, self.normal, self.z_axis], axis=1)
        return self.centre.copy(), matrix_to_quat(m)


@dataclass
class TableCalibration:
    table: TableGeometry
    inliers: np.ndarray       # (M,) bool: samples used for the final fit
    rms_m: float              # plane residual over the inliers
    used: int


def _plane_lsq(p: np.ndarray):
    c = p.mean(axis=0)
    _, _, vt = np.linalg.svd(p - c, full_matrices=False)
    n = vt[-1]
    return c, n


def _speeds(points, times, velocities, window_s: float = 0.2, min_dt_s: float = 0.06,
            gap_s: float = 0.1):
    """Fingertip speed per sample, m/s: from velocities when given, else the median, over the other
    samples of the same touch (samples closer than gap_s in time) between min_dt_s and window_s
    away, of displacement / time. Jitter averages out over the longer baselines, and a single wild
    sample (an outlier) spoils only its own estimate, not its neighbours'."""
    if velocities is not None:
        return np.linalg.norm(np.asarray(velocities, float), axis=1)
    if times is None:
        return np.zeros(len(points))
    order = np.argsort(times, kind="stable")
    p, t = points[order], np.asarray(times, float)[order]
    seg = np.concatenate([[0], np.cumsum(np.diff(t) > gap_s)])
    sp = np.zeros(len(p))
    for k in range(len(p)):
        dt = np.abs(t - t[k])
        near = (seg == seg[k]) & (dt >= min_dt_s) & (dt <= window_s)
        if near.any():
            sp[k] = np.median(np.linalg.norm(p[near] - p[k], axis=1) / dt[near])
    out = np.empty_like(sp)
    out[order] = sp
    return out


def calibrate_table(points, times=None, velocities=None, rng: np.random.Generator | None = None,
                    max_speed: float = 0.15, threshold_m: float = 0.006, iterations: int = 300,
                    up=(0.0, 1.0, 0.0)) -> TableCalibration:
    """Fit the table from fingertip touch samples.

    points: (M, 3) m; times: (M,) s (optional); velocities: (M, 3) m/s (optional, preferred).
    Raises ValueError when fewer than 6 still samples remain or no plane fits.
    """
    p = np.asarray(points, float)
    rng = rng or np.random.default_rng(0)
    still = _speeds(p, times, velocities) <= max_speed
    q = p[still]
    if len(q) < 6:
        raise ValueError(f"table calibration needs at least 6 still touch samples, got {len(q)}")
    best, best_count = None, -1
    m = len(q)
    for _ in range(iterations):
        a, b, c = q[rng.choice(m, 3, replace=False)]
        n = np.cross(b - a, c - a)
        nn = np.linalg.norm(n)
        if nn < 1e-9:
            continue
        n /= nn
        inl = np.abs((q - a) @ n) < threshold_m
        cnt = int(inl.sum())
        if cnt > best_count:
            best, best_count = inl, cnt
    if best is None or best_count < 3:
        raise ValueError("no plane fits the touch samples")
    inl = best
    for _ in range(3):  # refine: least squares on inliers, re-select with a robust scale
        c, n = _plane_lsq(q[inl])
        r = np.abs((q - c) @ n)
        mad = np.median(r[inl]) * 1.4826
        inl = r < max(3.0 * mad, 0.5 * threshold_m)
        if inl.sum() < 3:
            raise ValueError("table calibration: too few inliers after refinement")
    c, n = _plane_lsq(q[inl])
    if n @ np.asarray(up, float) < 0:
        n = -n
    r = (q[inl] - c) @ n
    table = _footprint_rectangle(q[inl], c, n, up)
    mask = np.zeros(len(p), bool)
    mask[np.nonzero(still)[0][inl]] = True
    return TableCalibration(table, mask, float(np.sqrt(np.mean(r * r))), int(inl.sum()))


def _convex_hull(xy: np.ndarray) -> np.ndarray:
    """Andrew's monotone chain. (M, 2) -> (H, 2) counter-clockwise."""
    pts = np.unique(xy, axis=0)
    if len(pts) < 3:
        return pts

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for pt in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], pt) <= 0:
            lower.pop()
        lower.append(pt)
    for pt in pts[::-1]:
        while len(upper) >= 2 and cross(upper[-2], upper[-1], pt) <= 0:
            upper.pop()
        upper.append(pt)
    return np.array(lower[:-1] + upper[:-1])


def _footprint_rectangle(p: np.ndarray, c: np.ndarray, n: np.ndarray, up) -> TableGeometry:
    """Minimum-area rectangle (over hull edge directions) around the in-plane footprint."""
    ref = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    u = ref - (ref @ n) * n
    u /= np.linalg.norm(u)
    v = np.cross(n, u)
    xy = np.stack([(p - c) @ u, (p - c) @ v], axis=1)
    hull = _convex_hull(xy)
    best = None
    edges = np.roll(hull, -1, axis=0) - hull if len(hull) >= 2 else np.array([[1.0, 0.0]])
    for e in edges:
        ln = np.hypot(*e)
        if ln < 1e-9:
            continue
        ex = e / ln
        ey = np.array([-ex[1], ex[0]])
        a, b = xy @ ex, xy @ ey
        area = (a.max() - a.min()) * (b.max() - b.min())
        if best is None or area < best[0]:
            best = (area, ex, ey, a, b)
    _, ex, ey, a, b = best
    ext = np.array([a.max() - a.min(), b.max() - b.min()]) / 2.0
    mid = ex * (a.max() + a.min()) / 2.0 + ey * (b.max() + b.min()) / 2.0
    if ext[1] > ext[0]:  # x along the long edge
        ex, ey, ext = ey, -ex, ext[::-1]
    x_axis = ex[0] * u + ex[1] * v
    centre = c + mid[0] * u + mid[1] * v
    return TableGeometry(centre, n, x_axis, ext)


@dataclass
class ContactConfig:
    enter_m: float = 0.004     # touch when the joint's skin is within 4 mm of the surface (or below)
    exit_m: float = 0.012      # release above 12 mm
    glow_m: float = 0.05       # intensity ramps up from 5 cm
    margin_m: float = 0.01     # footprint margin beyond the edges


@dataclass
class ContactFrame:
    contact: np.ndarray        # (H, J) bool
    intensity: np.ndarray      # (H, J) 0..1
    down: np.ndarray           # (E, 2) int (hand, joint slot) touch-downs this frame
    up: np.ndarray             # (E, 2) int lift-offs this frame
    haptic: np.ndarray         # (H,) 0..1 pulse amplitude this frame


def contact_step(contact: np.ndarray, joints: np.ndarray, valid: np.ndarray, table: TableGeometry,
                 cfg: ContactConfig | None = None, radii: np.ndarray = CONTACT_RADII) -> ContactFrame:
    """Contacts of (H, J, 3) joint positions (the CONTACT_JOINTS, m) with the table.

    contact: (H, J) bool previous state; valid: (H,) bool hands tracked/visible (None: all);
    radii (J,) m.
    """
    cfg = cfg or ContactConfig()
    limits = table.__dict__.get("_limits")       # the footprint with its margin, cached per table
    if limits is None or limits[0] != cfg.margin_m or limits[1] is not table.half_extents:
        limits = table._limits = (cfg.margin_m, table.half_extents,
                                  (table.half_extents + cfg.margin_m)[:, None], np.ascontiguousarray(table.axes.T))
    n_hands, n_joints = joints.shape[:2]
    # (3, H J) rows: height, x, z of every joint (row-major: each row one contiguous array)
    c = limits[3] @ (joints.reshape(-1, 3) - table.centre).T
    h = c[0].reshape(n_hands, n_joints) - radii
    ext = np.abs(c[1:]) <= limits[2]
    ok = (ext[0] & ext[1]).reshape(n_hands, n_joints)
    if valid is not None:
        ok &= valid[:, None]
    ok &= h > -0.15                                    # far below: under the table
    # Joints off the table count as infinitely far above it: no contact, no glow.
    h = np.where(ok, h, np.inf)
    new = h < np.where(contact, cfg.exit_m, cfg.enter_m)
    intensity = np.minimum(np.maximum(1.0 - h * (1.0 / cfg.glow_m), 0.0), 1.0)
    np.maximum(intensity, new, out=intensity)          # 1 while touching
    haptic = np.zeros(joints.shape[0])
    if np.count_nonzero(new != contact):
        down = np.argwhere(new & ~contact)
        up = np.argwhere(contact & ~new)
        haptic[down[:, 0]] = 1.0
    else:
        down = up = _NO_EVENTS
    return ContactFrame(new, intensity, down, up, haptic)


_NO_EVENTS = np.zeros((0, 2), int)

"""Line the virtual table up with a real one: touch the real table, and the meeting moves to it.

The runtime tracks in *stage* space; the meeting lives in *room* space (table centre at the
origin, top at ``table.height``). A TableAlignment is T_room_stage: applied to every pose of a
FrameInput (views, head, hands, controllers, gaze), it puts the virtual table top exactly where the
fingertips found the real one, so a hand put down meets a real surface.

Calibration: while ``TouchCollector`` runs, the index fingertips of tracked hands are sampled
with their times; ``core.table.calibrate_table`` fits the plane robustly (outliers and moving
fingers rejected) and the touched footprint gives the centre and the long edge.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .core import pose as P
from .core.table import TableGeometry, calibrate_table

INDEX_TIP = 10
MAX_TILT_DEG = 10.0
"""A fitted table plane more than this far from level is refused (a wall, a knee, a bad fit)."""
MIN_TOUCHES = 12
"""Fewest fingertip samples a fit is tried with (about three half-second touches)."""
MIN_TABLE_SIDE_M, MAX_TABLE_SIDE_M = 0.5, 4.0
"""A touched footprint outside these sides keeps the configured table's size."""


def tilt_deg(normal: np.ndarray) -> float:
    """Degrees between a plane's normal (3,) and straight up."""
    n = P.normalize(np.asarray(normal, float))
    return float(np.degrees(np.arccos(np.clip(abs(n[1]), -1.0, 1.0))))



@dataclass
class TableAlignment:
    """T_room_stage: position (3,) metres and orientation (4,) quaternion; identity = no change.

    table_height: the real table's height above the stage floor (metres), which the virtual
    table should take. rms_m and samples describe the fit it came from.
    """

    position: np.ndarray
    orientation: np.ndarray
    table_height: float
    rms_m: float = 0.0
    samples: int = 0
    half_extents: np.ndarray | None = None
    """(2,) metres along the real table's long edge (room X) and across it (room Z), from the
    touched footprint; None for an alignment saved before sizes were kept."""

    @staticmethod
    def identity(table_height: float) -> "TableAlignment":
        return TableAlignment(np.zeros(3), P.IDENTITY_QUAT.copy(), float(table_height))

    @staticmethod
    def from_table(geom: TableGeometry, rms_m: float = 0.0, samples: int = 0,
                   head_stage: np.ndarray | None = None) -> "TableAlignment":
        """The alignment that maps the measured table (stage space) onto the virtual one.

        The virtual table's centre is (0, h, 0) in room space with h the real top's height over
        the stage floor; its +X follows the measured long edge, its +Y the measured normal. The
        long edge has two directions; the one that puts the wearer's head (``head_stage``, when
        known) on the room's +Z side — where seat 0 is — is chosen.
        """
        n = P.normalize(geom.normal)
        x = P.normalize(geom.x_axis - (geom.x_axis @ n) * n)
        if head_stage is not None and np.cross(x, n) @ (np.asarray(head_stage, float) - geom.centre) < 0:
            x = -x
        z = np.cross(x, n)
        R_stage_table = np.stack([x, n, z], axis=1)
        h = float(geom.centre[1])
        t_room_table = np.array([0.0, h, 0.0])
        R_room_stage = R_stage_table.T                      # R_room_table = I
        t_room_stage = t_room_table - R_room_stage @ geom.centre
        return TableAlignment(t_room_stage, P.matrix_to_quat(R_room_stage), h, rms_m, samples,
                              np.asarray(geom.half_extents, float).copy())

    def points(self, p: np.ndarray) -> np.ndarray:
        """Stage points (..., 3) in room space."""
        return P.transform_points(self.position, self.orientation, p)

    def rotations(self, q: np.ndarray) -> np.ndarray:
        """Stage orientations (..., 4) in room space."""
        return P.quat_mul(np.broadcast_to(self.orientation, np.shape(q)), q)

    def apply(self, frame):
        """A copy of a platform FrameInput with every pose in room space."""
        from .platform.carry import carry_frame

        return carry_frame(frame, self.position, self.orientation)

    def apply_to_config(self, cfg):
        """``cfg`` with the virtual table on the real one: its height, and (when the touched
        footprint gives a plausible size) a rectangular table of the real one's size."""
        from dataclasses import replace as dc_replace

        table = dc_replace(cfg.table, height=float(np.clip(self.table_height, 0.4, 1.3)))
        if self.half_extents is not None:
            w, d = 2 * self.half_extents
            if MIN_TABLE_SIDE_M <= d <= w <= MAX_TABLE_SIDE_M:
                table = dc_replace(table, shape="rect", width=float(w), depth=float(d))
        return dc_replace(cfg, table=table)

    def size_text(self) -> str:
        if self.half_extents is None:
            return "size unknown"
        w, d = 2 * self.half_extents
        return f"{w:.2f} x {d:.2f} m"

    # -- persistence ------------------------------------------------------------------------
    def to_json(self) -> str:
        doc = {"version": 1, "position": self.position.tolist(),
               "orientation": self.orientation.tolist(), "table_height": self.table_height,
               "rms_m": self.rms_m, "samples": self.samples}
        if self.half_extents is not None:
            doc["half_extents"] = self.half_extents.tolist()
        return json.dumps(doc, indent=2)

    @staticmethod
    def from_json(text: str, source: str = "alignment") -> "TableAlignment":
        try:
            d = json.loads(text)
            if d.get("version") != 1:
                raise ValueError(f"unsupported version {d.get('version')!r}")
            pos = np.asarray(d["position"], float).reshape(3)
            q = np.asarray(d["orientation"], float).reshape(4)
            h = float(d["table_height"])
            ext = d.get("half_extents")
            ext = None if ext is None else np.asarray(ext, float).reshape(2)
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{source}: not a table alignment ({exc})") from None
        if not (np.all(np.isfinite(pos)) and np.isfinite(h) and abs(np.linalg.norm(q) - 1) < 1e-3
                and (ext is None or np.all(np.isfinite(ext)))):
            raise ValueError(f"{source}: table alignment has invalid numbers")
        q = q / np.linalg.norm(q)
        tilt = tilt_deg(P.quat_rotate(P.quat_conj(q), np.array([0.0, 1.0, 0.0])))
        if tilt > MAX_TILT_DEG:
            raise ValueError(f"{source}: the saved table is tilted {tilt:.0f} degrees from level "
                             f"(more than {MAX_TILT_DEG:g}); not a table top")
        return TableAlignment(pos, q, h, float(d.get("rms_m", 0)), int(d.get("samples", 0)), ext)


def default_alignment_path() -> Path:
    """Where a calibration is kept between runs (the user's config directory)."""
    base = os.environ.get("XDG_CONFIG_HOME") or (os.environ.get("APPDATA") if os.name == "nt" else None)
    base = Path(base) if base else Path.home() / ".config"
    return base / "xrdemo" / "table-alignment.json"


class TouchCollector:
    """Collects index-fingertip samples from tracked hands for table calibration.

    ``add(frame)`` each frame (stage space); ``fit()`` when done. Each sample carries its hand's
    velocity (from that hand's previous sample), so fingers still moving are left out of the fit.
    Samples outside plausible table heights (0.4–1.3 m above the floor) are not taken.
    """

    def __init__(self):
        self.points: list[np.ndarray] = []
        self.velocities: list[np.ndarray] = []
        self._last: dict[int, tuple[float, np.ndarray]] = {}

    def add(self, frame) -> None:
        h = frame.hands
        t = frame.predicted_display_time_ns * 1e-9
        for hand in (0, 1):
            if not h.valid[hand, INDEX_TIP]:
                self._last.pop(hand, None)
                continue
            p = np.asarray(h.positions[hand, INDEX_TIP], float)
            last = self._last.get(hand)
            self._last[hand] = (t, p)
            if last is None or t <= last[0] or not 0.4 <= p[1] <= 1.3:
                continue
            self.points.append(p)
            self.velocities.append((p - last[1]) / (t - last[0]))

    def fit(self, head_stage: np.ndarray | None = None) -> TableAlignment:
        """Fit the touched table; ValueError (clear) when there is not enough to go on or the
        plane is not level enough to be a table top. head_stage: the wearer's head (stage), which
        settles which side of the table they are on."""
        if len(self.points) < MIN_TOUCHES:
            raise ValueError(f"table calibration saw {len(self.points)} fingertip samples (at least "
                             f"{MIN_TOUCHES} needed); touch the real table with your index fingers at "
                             "several places (corners and edges)")
        cal = calibrate_table(np.array(self.points), velocities=np.array(self.velocities))
        tilt = tilt_deg(cal.table.normal)
        if tilt > MAX_TILT_DEG:
            raise ValueError(f"the touched surface is tilted {tilt:.0f} degrees from level (at most "
                             f"{MAX_TILT_DEG:g} for a table top); touch the flat top of the table")
        return TableAlignment.from_table(cal.table, cal.rms_m, int(cal.used), head_stage)

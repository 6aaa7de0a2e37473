"""The meeting room's fixed parts: the table, the seats around it, the floor and walls.

Stage space: origin on the floor under the table's centre, +Y up, metres. Seat k faces the table
centre; seat 0 is on +Z (so its occupant looks along -Z, OpenXR's forward).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import pose as P
from .frame import MeshInstances

SEATED_EYE_HEIGHT = 1.20
"""Metres above the floor of a seated adult's eyes (typical 1.15-1.25)."""

PENDANT_HEIGHT = 2.35
"""Metres above the floor of the lamp over the table (the renderer's warm point light)."""

SEAT_CLEARANCE = 0.42
"""Metres from the table's edge to a seated person's eyes, along the seat's facing direction."""


@dataclass(frozen=True)
class Table:
    """A meeting table.

    shape: "round" or "rect". radius: metres (round). width (x) and depth (z): metres (rect).
    height: metres from the floor to the top surface. color: linear RGB.
    """

    shape: str = "round"
    radius: float = 0.9
    width: float = 2.4
    depth: float = 1.2
    height: float = 0.74
    thickness: float = 0.04
    color: tuple = (0.50, 0.33, 0.19)

    def __post_init__(self):
        if self.shape not in ("round", "rect"):
            raise ValueError(f"table shape must be 'round' or 'rect', not {self.shape!r}")
        for name in ("radius", "width", "depth", "height", "thickness"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"table {name} must be a positive number of metres, not {value!r}")


@dataclass(frozen=True)
class Room:
    """The room around the table: width (x) and depth (z) and height, metres; linear RGB colours."""

    width: float = 7.0
    depth: float = 6.0
    height: float = 2.9
    floor_color: tuple = (0.13, 0.09, 0.065)
    wall_color: tuple = (0.25, 0.27, 0.31)
    chair_color: tuple = (0.09, 0.095, 0.11)


MIN_SEAT_SPACING = 0.62
"""Metres between neighbours' eyes below which a table is grown to fit its people."""


def fit_table(table: Table, n: int) -> Table:
    """The same table, enlarged if n people would sit closer than MIN_SEAT_SPACING."""
    from dataclasses import replace

    if table.shape == "round":
        need = MIN_SEAT_SPACING * n / (2.0 * np.pi) - SEAT_CLEARANCE
        return replace(table, radius=need) if need > table.radius else table
    ends = 2 if n >= 6 else 0
    per_side = (n - ends + 1) // 2
    need = MIN_SEAT_SPACING * per_side
    return replace(table, width=need) if need > table.width else table


def seat_layout(table: Table, n: int):
    """Eye positions (n, 3) and facing yaws (n,) of n seated people around the table.

    Yaw follows pose.quat_from_yaw_pitch_roll: 0 faces -Z. A round table spaces seats evenly;
    a rectangular table puts them along its two long sides first, then at the ends.
    """
    if n < 1:
        raise ValueError("a meeting needs at least one person")
    if table.shape == "round":
        ang = 2.0 * np.pi * np.arange(n) / n
        r = table.radius + SEAT_CLEARANCE
        xz = np.stack([r * np.sin(ang), r * np.cos(ang)], axis=-1)
    else:
        xz = _rect_seats(table, n)
    pos = np.stack([xz[:, 0], np.full(n, SEATED_EYE_HEIGHT), xz[:, 1]], axis=-1)
    yaw = np.arctan2(pos[:, 0], pos[:, 2])   # facing the centre: forward = -(x, z)/|.|
    return pos, yaw


def _rect_seats(table: Table, n: int) -> np.ndarray:
    ends = 2 if n >= 6 else 0
    sides = n - ends
    near = (sides + 1) // 2
    far = sides - near
    pts = []
    for count, z_sign in ((near, 1.0), (far, -1.0)):
        if count:
            xs = (np.arange(count) + 0.5) / count * table.width - table.width / 2
            pts += [[x, z_sign * (table.depth / 2 + SEAT_CLEARANCE)] for x in xs]
    if ends:
        pts += [[table.width / 2 + SEAT_CLEARANCE, 0.0], [-table.width / 2 - SEAT_CLEARANCE, 0.0]]
    return np.array(pts, dtype=np.float64)


def table_top_center(table: Table) -> np.ndarray:
    """(3,) the centre of the table's top surface, stage space."""
    return np.array([0.0, table.height, 0.0])


def _scaled(t, q, s):
    m = P.pose_to_matrix(np.asarray(t, float), np.asarray(q, float))
    m[..., :3, :3] *= np.asarray(s, float)[..., None, :]
    return m


def room_shell(table: Table) -> dict[str, int]:
    """How many of room_meshes' first instances of each kind are the room shell (floor, walls,
    ceiling, window, whiteboard, picture, skirting, rug, lamp): what passthrough leaves out,
    keeping the table and the chairs."""
    return {"box": 14 + (table.shape != "round"), "cylinder": 2 + (table.shape == "round")}


def room_meshes(table: Table, room: Room, seat_pos: np.ndarray, seat_yaw: np.ndarray):
    """Static instances (by mesh kind) for floor, walls, table and chairs; the room shell comes
    first in each kind (``room_shell``).

    Returns {"box": MeshInstances, "cylinder": MeshInstances}; built once per meeting.
    """
    boxes_m, boxes_c, cyl_m, cyl_c = [], [], [], []
    ident = P.IDENTITY_QUAT
    w, d, h = room.width / 2, room.depth / 2, room.height
    floor = np.array(room.floor_color)
    wall = np.array(room.wall_color)
    boxes_m.append(_scaled([0, -0.05, 0], ident, [w, 0.05, d]))
    boxes_c.append(floor)
    for center, half in (([0, h / 2, -d], [w, h / 2, 0.05]), ([0, h / 2, d], [w, h / 2, 0.05]),
                         ([-w, h / 2, 0], [0.05, h / 2, d]), ([w, h / 2, 0], [0.05, h / 2, d])):
        boxes_m.append(_scaled(center, ident, half))
        boxes_c.append(wall)
    boxes_m.append(_scaled([0, h, 0], ident, [w, 0.02, d]))   # ceiling
    boxes_c.append(wall * 0.6)
    # Things on the walls give the room scale and a sense of place: a window with daylight behind
    # the far wall, a whiteboard on the left, a picture on the right, skirting boards.
    win_h = min(1.3, 0.5 * h)
    boxes_m.append(_scaled([0, 0.9 + win_h / 2, -d + 0.06], ident, [min(1.6, 0.3 * w), win_h / 2, 0.01]))
    boxes_c.append(np.array([0.62, 0.78, 0.95]))
    boxes_m.append(_scaled([0, 0.9 + win_h / 2, -d + 0.055], ident, [min(1.6, 0.3 * w) + 0.05, win_h / 2 + 0.05, 0.01]))
    boxes_c.append(np.array([0.85, 0.85, 0.82]))
    boxes_m.append(_scaled([-w + 0.06, 1.45, 0.0], ident, [0.01, 0.5, min(1.1, 0.3 * d)]))
    boxes_c.append(np.array([0.88, 0.89, 0.90]))
    boxes_m.append(_scaled([w - 0.06, 1.55, -0.3], ident, [0.01, 0.35, 0.5]))
    boxes_c.append(np.array([0.55, 0.22, 0.12]))
    for center, half in (([0, 0.05, -d + 0.06], [w, 0.05, 0.01]), ([0, 0.05, d - 0.06], [w, 0.05, 0.01]),
                         ([-w + 0.06, 0.05, 0], [0.01, 0.05, d]), ([w - 0.06, 0.05, 0], [0.01, 0.05, d])):
        boxes_m.append(_scaled(center, ident, half))
        boxes_c.append(np.array([0.10, 0.09, 0.08]))
    # A soft rug under the table reads as "meeting area" and helps depth perception.
    rug = np.array([0.10, 0.13, 0.17])
    top_y = table.height - table.thickness / 2
    tcol = np.array(table.color)
    # The pendant lamp over the table (the renderer's warm light sits at its shade).
    cyl_m.append(_scaled([0, PENDANT_HEIGHT + 0.06, 0], ident, [0.22, 0.06, 0.22]))
    cyl_c.append(np.array([0.95, 0.85, 0.65]))
    cyl_m.append(_scaled([0, (PENDANT_HEIGHT + h) / 2, 0], ident, [0.006, (h - PENDANT_HEIGHT) / 2, 0.006]))
    cyl_c.append(np.array([0.05, 0.05, 0.05]))
    if table.shape == "round":
        cyl_m.append(_scaled([0, 0.003, 0], ident, [table.radius + 1.0, 0.003, table.radius + 1.0]))
        cyl_c.append(rug)
        cyl_m.append(_scaled([0, top_y, 0], ident, [table.radius, table.thickness / 2, table.radius]))
        cyl_c.append(tcol)
        cyl_m.append(_scaled([0, top_y / 2, 0], ident, [0.09, top_y / 2, 0.09]))
        cyl_c.append(tcol * 0.6)
        cyl_m.append(_scaled([0, 0.02, 0], ident, [0.45, 0.02, 0.45]))
        cyl_c.append(tcol * 0.6)
    else:
        boxes_m.append(_scaled([0, 0.003, 0], ident, [table.width / 2 + 1.0, 0.003, table.depth / 2 + 1.0]))
        boxes_c.append(rug)
        boxes_m.append(_scaled([0, top_y, 0], ident, [table.width / 2, table.thickness / 2, table.depth / 2]))
        boxes_c.append(tcol)
        for sx in (-1, 1):
            for sz in (-1, 1):
                boxes_m.append(_scaled([sx * (table.width / 2 - 0.1), top_y / 2, sz * (table.depth / 2 - 0.1)],
                                       ident, [0.035, top_y / 2, 0.035]))
                boxes_c.append(tcol * 0.6)
    chair = np.array(room.chair_color)
    for p, yaw in zip(seat_pos, seat_yaw):
        q = P.quat_from_yaw_pitch_roll(yaw)
        back = P.quat_rotate(q, np.array([0.0, 0.0, 0.18]))
        base = np.array([p[0], 0.0, p[2]]) + back
        boxes_m.append(_scaled(base + [0, 0.46, 0], q, [0.23, 0.035, 0.22]))
        boxes_c.append(chair)
        boxes_m.append(_scaled(base + P.quat_rotate(q, np.array([0, 0.68, 0.21])), q, [0.21, 0.17, 0.025]))
        boxes_c.append(chair)
        boxes_m.append(_scaled(base + [0, 0.22, 0], q, [0.03, 0.22, 0.03]))
        boxes_c.append(chair * 2)

    def pack(ms, cs):
        if not ms:
            return MeshInstances.empty()
        cs = np.asarray(cs, np.float32)
        return MeshInstances(np.asarray(ms, np.float32),
                             np.concatenate([cs, np.ones((len(cs), 1), np.float32)], axis=1))

    return {"box": pack(boxes_m, boxes_c), "cylinder": pack(cyl_m, cyl_c)}

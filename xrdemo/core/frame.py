"""The data handed from the core to the renderer: what to draw (FrameScene) and from where (View).

Everything is numpy arrays in stage space (metres, +Y up, -Z forward). The renderer only draws
these; it decides nothing. Instance counts vary with the number of people, draw calls do not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MESH_KINDS = ("sphere", "box", "cylinder")
"""Unit meshes drawn by 4x4 instance transforms: sphere (radius 1), box (-1..1 cube), cylinder
(radius 1, y from -1 to 1, capped)."""


LIGHT_DIR = np.array([0.3, 0.9, 0.4])
"""(3,) the default direction toward the key light (read-only; FrameScene's default is a copy)."""
CLEAR_COLOR = np.array([0.02, 0.025, 0.03, 1.0])
"""(4,) the default linear RGBA the views clear to (read-only, like LIGHT_DIR)."""
LIGHT_DIR.flags.writeable = False
CLEAR_COLOR.flags.writeable = False


@dataclass
class View:
    """One eye or window view.

    position: (3,) metres, stage space; orientation: (4,) quaternion x,y,z,w (T_stage_view);
    fov: (angle_left, angle_right, angle_up, angle_down) radians, as OpenXR's XrFovf.
    """

    position: np.ndarray
    orientation: np.ndarray
    fov: tuple[float, float, float, float]


@dataclass
class MeshInstances:
    """Instances of one unit mesh. transforms: (M, 4, 4) float32 model matrices; colors: (M, 4) linear RGBA."""

    transforms: np.ndarray
    colors: np.ndarray

    @staticmethod
    def empty() -> "MeshInstances":
        return MeshInstances(np.zeros((0, 4, 4), np.float32), np.zeros((0, 4), np.float32))

    def __len__(self) -> int:
        return int(self.transforms.shape[0])


@dataclass
class Capsules:
    """Capsules from a to b (a sphere when a == b).

    a, b: (M, 3) float32 metres; radius: (M,) float32 metres; colors: (M, 4) linear RGBA, alpha
    fades hands that lose tracking.
    """

    a: np.ndarray
    b: np.ndarray
    radius: np.ndarray
    colors: np.ndarray

    @staticmethod
    def empty() -> "Capsules":
        z3 = np.zeros((0, 3), np.float32)
        return Capsules(z3, z3.copy(), np.zeros((0,), np.float32), np.zeros((0, 4), np.float32))

    def __len__(self) -> int:
        return int(self.a.shape[0])


@dataclass
class Labels:
    """Name tags: camera-facing text tags.

    positions: (M, 3) float32 metres, the centre of each tag; texts: M strings; colors: (M, 4)
    linear RGBA of each tag's background (the text is white); height: metres, tag height.
    """

    positions: np.ndarray
    texts: tuple
    colors: np.ndarray
    height: float = 0.055

    @staticmethod
    def empty() -> "Labels":
        return Labels(np.zeros((0, 3), np.float32), (), np.zeros((0, 4), np.float32))

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class FaceInstances:
    """People's heads, one instance each (drawn with one mesh and blend shapes, render/face_mesh.py).

    transforms: (M, 4, 4) float32 T_stage_head (rotation, uniform scale, translation).
    skin: (M, 4) float32 linear RGB skin, a = iris darkness 0..1. hair: (M, 4) float32 linear RGB
    hair, a = opacity. eyes: (M, 4) float32 the gaze in the head frame (unit x, y, z; -z ahead)
    and w = metres to what it rests on: each eye turns to that point (they converge), on the GPU.
    expressions: (M, EXPRESSION_COUNT) float32 weights 0..1, core/expressions.py's order.
    """

    transforms: np.ndarray
    skin: np.ndarray
    hair: np.ndarray
    eyes: np.ndarray
    expressions: np.ndarray

    @staticmethod
    def empty() -> "FaceInstances":
        from .expressions import EXPRESSION_COUNT

        z4 = np.zeros((0, 4), np.float32)
        return FaceInstances(np.zeros((0, 4, 4), np.float32), z4, z4.copy(), z4.copy(),
                             np.zeros((0, EXPRESSION_COUNT), np.float32))

    def __len__(self) -> int:
        return int(self.transforms.shape[0])


@dataclass
class FrameScene:
    """Everything drawn in one frame.

    capsules: hands (bones and joints). meshes: unit-mesh instances by kind (MESH_KINDS): bodies,
    table, chairs, room. faces: people's heads with their expressions. labels: name tags.
    light_dir: (3,) unit vector toward the key light. clear_color: (4,) linear RGBA. stats: counts
    for tests and metrics. shell: see the field.
    """

    capsules: Capsules = field(default_factory=Capsules.empty)
    meshes: dict[str, MeshInstances] = field(
        default_factory=lambda: {k: MeshInstances.empty() for k in MESH_KINDS}
    )
    labels: Labels = field(default_factory=Labels.empty)
    faces: FaceInstances = field(default_factory=FaceInstances.empty)
    light_dir: np.ndarray = field(default_factory=LIGHT_DIR.copy)
    clear_color: np.ndarray = field(default_factory=CLEAR_COLOR.copy)
    stats: dict = field(default_factory=dict)
    shell: dict = field(default_factory=dict)
    """Mesh kind -> how many of its first instances are the room shell (walls, floor, ceiling,
    window, lamp): left out when passthrough shows the real room instead."""

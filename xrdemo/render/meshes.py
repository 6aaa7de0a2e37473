"""Low-poly unit meshes for instanced drawing (pure numpy).

Each function returns (vertices (V, C) float32, indices (I,) uint32) with counter-clockwise
front faces. llvmpipe is vertex-bound, so these stay small.
"""

from __future__ import annotations

import numpy as np


def uv_sphere(rings: int = 8, segments: int = 14):
    """Unit sphere: vertices (V, 6) = position, normal."""
    theta = np.linspace(0.0, np.pi, rings + 1)            # from +Y down to -Y
    phi = np.linspace(0.0, 2.0 * np.pi, segments + 1)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    pos = np.stack([np.sin(t) * np.cos(p), np.cos(t), -np.sin(t) * np.sin(p)], -1).reshape(-1, 3)
    idx = _grid_indices(rings, segments)
    return np.concatenate([pos, pos], 1).astype(np.float32), idx


def capsule_halves(rings_per_half: int = 3, segments: int = 10):
    """Unit sphere split at its equator into two hemispheres for capsules.

    Vertices (V, 4) = unit position (= normal), end flag (0 at a, 1 at b). The equator appears
    twice (once per end) and the band between the copies becomes the capsule's side.
    """
    top = np.linspace(0.0, np.pi / 2, rings_per_half + 1)
    bottom = np.linspace(np.pi / 2, np.pi, rings_per_half + 1)
    theta = np.concatenate([top, bottom])                  # equator duplicated
    end = np.concatenate([np.ones_like(top), np.zeros_like(bottom)])
    phi = np.linspace(0.0, 2.0 * np.pi, segments + 1)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    e, _ = np.meshgrid(end, phi, indexing="ij")
    pos = np.stack([np.sin(t) * np.cos(p), np.cos(t), -np.sin(t) * np.sin(p)], -1).reshape(-1, 3)
    idx = _grid_indices(len(theta) - 1, segments)
    return np.concatenate([pos, e.reshape(-1, 1)], 1).astype(np.float32), idx


def box():
    """Cube from -1 to 1: vertices (24, 6) = position, face normal."""
    verts = []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            n = np.zeros(3)
            n[axis] = sign
            u = np.zeros(3)
            u[(axis + 1) % 3] = 1.0
            v = np.cross(n, u)
            for a, b in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                verts.append(np.concatenate([n + a * u + b * v, n]))
    idx = []
    for f in range(6):
        o = 4 * f
        idx += [o, o + 1, o + 2, o, o + 2, o + 3]
    return np.array(verts, np.float32), np.array(idx, np.uint32)


def cylinder(segments: int = 32):
    """Capped cylinder of radius 1 from y = -1 to 1: vertices (V, 6) = position, normal."""
    phi = np.linspace(0.0, 2.0 * np.pi, segments + 1)
    c, s = np.cos(phi), -np.sin(phi)
    side = []
    for y in (1.0, -1.0):
        side.append(np.stack([c, np.full_like(c, y), s, c, np.zeros_like(c), s], -1))
    side = np.concatenate(side)
    idx = []
    n = segments + 1
    for i in range(segments):
        idx += [i, i + n, i + 1, i + 1, i + n, i + n + 1]
    verts = [side]
    base = len(side)
    for y in (1.0, -1.0):
        center = np.array([[0.0, y, 0.0, 0.0, y, 0.0]])
        ring = np.stack([c, np.full_like(c, y), s, np.zeros_like(c), np.full_like(c, y),
                         np.zeros_like(c)], -1)
        verts += [center, ring]
        for i in range(segments):
            a, b = base + 1 + i, base + 2 + i
            idx += [base, a, b] if y > 0 else [base, b, a]
        base += 1 + len(ring)
    return np.concatenate(verts).astype(np.float32), np.array(idx, np.uint32)


def _grid_indices(rows: int, cols: int) -> np.ndarray:
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    a = r * (cols + 1) + c
    b = a + cols + 1
    tris = np.stack([a, b, a + 1, a + 1, b, b + 1], -1)
    return tris.reshape(-1).astype(np.uint32)

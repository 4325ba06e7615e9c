"""Picking on a height field: where does a viewing ray first meet the surface ``z = h(x, y)``?

Pure NumPy (no GL), used by :class:`widgets.surface_view3d.SurfaceView3D` to turn the mouse
position into the input point under the cursor. The height field is the one drawn: nodes
``h[j, i]`` at ``(gx[i], gy[j])``, bilinear in between.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = ["bilinear", "ray_box", "ray_heightfield"]


def bilinear(gx: np.ndarray, gy: np.ndarray, h: np.ndarray, x, y) -> np.ndarray:
    """Bilinear interpolation of ``h`` (ny, nx) on the grid ``gx × gy`` at points ``(x, y)``
    (clamped to the grid; ``gx``, ``gy`` ascending)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    i = np.clip(np.searchsorted(gx, x) - 1, 0, len(gx) - 2)
    j = np.clip(np.searchsorted(gy, y) - 1, 0, len(gy) - 2)
    tx = np.clip((x - gx[i]) / (gx[i + 1] - gx[i]), 0.0, 1.0)
    ty = np.clip((y - gy[j]) / (gy[j + 1] - gy[j]), 0.0, 1.0)
    return ((1 - ty) * ((1 - tx) * h[j, i] + tx * h[j, i + 1])
            + ty * ((1 - tx) * h[j + 1, i] + tx * h[j + 1, i + 1]))


def ray_box(origin, direction, lo, hi) -> Optional[tuple[float, float]]:
    """Parameters ``(t0, t1)``, ``0 ≤ t0 ≤ t1``, of the ray ``o + t·d`` inside the box
    ``[lo, hi]`` (slab method); None when it misses."""
    o, d = np.asarray(origin, dtype=float), np.asarray(direction, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ta, tb = (np.asarray(lo) - o) / d, (np.asarray(hi) - o) / d
    flat = d == 0                                   # parallel to a slab: inside it or never
    if np.any(flat & ((o < np.asarray(lo)) | (o > np.asarray(hi)))):
        return None
    t0 = np.max(np.where(flat, -np.inf, np.minimum(ta, tb)))
    t1 = np.min(np.where(flat, np.inf, np.maximum(ta, tb)))
    t0 = max(float(t0), 0.0)
    return (t0, float(t1)) if t1 >= t0 else None


def ray_heightfield(origin, direction, gx, gy, h, samples: int = 2048,
                    refine: int = 30) -> Optional[np.ndarray]:
    """First point where the ray ``o + t·d`` (``t ≥ 0``) crosses the height field.

    Parameters
    ----------
    origin, direction : array_like, shape (3,)
        The ray (``direction`` need not be normalised).
    gx, gy : ndarray, shapes (nx,), (ny,)
        Ascending node coordinates. ``h`` : ndarray (ny, nx) of heights.
    samples : int
        Ray samples inside the grid's bounding box (a crossing between two samples is found
        unless the ray enters and leaves the surface in between).
    refine : int
        Bisection steps on the first crossing.

    Returns
    -------
    ndarray of shape (3,) or None
        ``(x, y, z)`` on the surface, or None when the ray misses it.
    """
    gx, gy, h = np.asarray(gx, float), np.asarray(gy, float), np.asarray(h, float)
    o, d = np.asarray(origin, float), np.asarray(direction, float)
    pad = 1e-9 * (1.0 + float(np.ptp(h)))              # a flat field is a box of height 0
    span = ray_box(o, d, (gx[0], gy[0], float(h.min()) - pad),
                   (gx[-1], gy[-1], float(h.max()) + pad))
    if span is None:
        return None
    t = np.linspace(span[0], span[1], max(2, int(samples)))

    def gap(tt):
        p = o[:, None] + d[:, None] * np.atleast_1d(tt)
        return p[2] - bilinear(gx, gy, h, p[0], p[1])

    g = gap(t)
    side = np.sign(g[0]) if g[0] != 0 else 1.0
    cross = np.flatnonzero(np.sign(g) != side)
    if g[0] == 0:
        return o + t[0] * d
    if not len(cross):
        return None
    a, b = t[cross[0] - 1], t[cross[0]]
    for _ in range(int(refine)):                  # bisection on the bracket [a, b]
        m = 0.5 * (a + b)
        a, b = (m, b) if np.sign(gap(m)[0]) == side else (a, m)
    return o + 0.5 * (a + b) * d

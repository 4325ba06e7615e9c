"""Small planar geometry helpers for the particle canvas (NumPy only).

* :func:`isolines` — vectorised marching squares: the level sets of a function sampled on a
  regular grid, as line segments in data coordinates.
* :func:`clip_line` — the line ``{x : a·x = y}`` clipped to a rectangle.
* :func:`dashes` — a segment cut into dashes (vertex pairs for a ``connect="segments"`` line).

Grid convention (shared with :class:`widgets.particle_canvas.ParticleCanvas`): ``values[j, i]``
is the function at ``x = linspace(*xlim, rx)[i]``, ``y = linspace(*ylim, ry)[j]``, i.e. the
grid nodes include the edges of ``xlim × ylim``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["clip_line", "dashes", "isolines"]

# Edges of a cell: 0 bottom (v00→v10), 1 right (v10→v11), 2 top (v01→v11), 3 left (v00→v01).
# Case index = b00 | b10 << 1 | b11 << 2 | b01 << 3 with b = (value >= level).
_PAIRS = {
    (0, 3): (1, 14), (0, 1): (2, 13), (1, 3): (3, 12), (1, 2): (4, 11),
    (0, 2): (6, 9), (2, 3): (7, 8),
}
# Saddles: the pairs drawn when the cell centre is above / below the level.
_SADDLES = {5: (((0, 1), (2, 3)), ((0, 3), (1, 2))),
            10: (((0, 3), (1, 2)), ((0, 1), (2, 3)))}


def _edge_points(v, level, xs, ys):
    """Crossing points on the four edges of every cell, shape (4, ry-1, rx-1, 2)."""
    v00, v10, v01, v11 = v[:-1, :-1], v[:-1, 1:], v[1:, :-1], v[1:, 1:]
    x0, x1 = xs[None, :-1], xs[None, 1:]
    y0, y1 = ys[:-1, None], ys[1:, None]

    def frac(a, b):
        """Where the level crosses the edge a → b, as a fraction in [0, 1]."""
        d = b - a
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(d != 0, (level - a) / np.where(d != 0, d, 1.0), 0.5)
        return np.clip(t, 0.0, 1.0)

    pts = np.empty((4,) + v00.shape + (2,))
    t = frac(v00, v10)
    pts[0, ..., 0], pts[0, ..., 1] = x0 + t * (x1 - x0), y0
    t = frac(v10, v11)
    pts[1, ..., 0], pts[1, ..., 1] = x1, y0 + t * (y1 - y0)
    t = frac(v01, v11)
    pts[2, ..., 0], pts[2, ..., 1] = x0 + t * (x1 - x0), y1
    t = frac(v00, v01)
    pts[3, ..., 0], pts[3, ..., 1] = x0, y0 + t * (y1 - y0)
    return pts


def _level_segments(v, level, xs, ys):
    """Segments (K, 2, 2) of one level set by marching squares."""
    b = v >= level
    case = (b[:-1, :-1] * 1 + b[:-1, 1:] * 2 + b[1:, 1:] * 4 + b[1:, :-1] * 8)
    case = np.where(np.isfinite(v[:-1, :-1] + v[:-1, 1:] + v[1:, :-1] + v[1:, 1:]), case, 0)
    if not np.any((case > 0) & (case < 15)):
        return np.zeros((0, 2, 2))
    pts = _edge_points(v, level, xs, ys)
    centre_high = 0.25 * (v[:-1, :-1] + v[:-1, 1:] + v[1:, :-1] + v[1:, 1:]) >= level
    out = []
    for (ea, eb), cases in _PAIRS.items():
        mask = np.isin(case, cases)
        for saddle, (high, low) in _SADDLES.items():
            if (ea, eb) in high:
                mask |= (case == saddle) & centre_high
            if (ea, eb) in low:
                mask |= (case == saddle) & ~centre_high
        if mask.any():
            out.append(np.stack([pts[ea][mask], pts[eb][mask]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2, 2))


def isolines(values, levels, xlim, ylim):
    """Level sets of a gridded function as line segments (marching squares).

    Parameters
    ----------
    values : array_like, shape (ry, rx)
        Function values on the grid nodes (see the module docstring); non-finite cells are
        skipped.
    levels : float or sequence of float
        Contour levels.
    xlim, ylim : (float, float)
        Extent of the grid nodes.

    Returns
    -------
    ndarray, shape (K, 2, 2), float32
        Segment endpoints ``[k, end, (x, y)]``; linear interpolation along cell edges,
        saddles resolved by the cell-centre mean.
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 2 or min(v.shape) < 2:
        raise ValueError(f"values must be a 2-D grid of at least 2×2, got {v.shape}")
    xs = np.linspace(float(xlim[0]), float(xlim[1]), v.shape[1])
    ys = np.linspace(float(ylim[0]), float(ylim[1]), v.shape[0])
    segs = [_level_segments(v, float(lv), xs, ys) for lv in np.atleast_1d(levels)]
    return np.concatenate(segs).astype(np.float32) if segs else np.zeros((0, 2, 2), np.float32)


def clip_line(a, y, xlim, ylim):
    """Endpoints of the line ``{x : a·x = y}`` inside a rectangle (Liang–Barsky).

    Parameters
    ----------
    a : array_like, shape (2,)
        Normal vector (not necessarily unit).
    y : float
        Offset.
    xlim, ylim : (float, float)
        The rectangle.

    Returns
    -------
    ndarray, shape (2, 2), or None
        The two endpoints, or None when ``a`` is zero / non-finite or the line misses the box.
    """
    a = np.asarray(a, dtype=float).reshape(2)
    nrm2 = float(a @ a)
    if not np.isfinite(nrm2) or nrm2 == 0 or not np.isfinite(y):
        return None
    p0 = a * (float(y) / nrm2)
    d = np.array([-a[1], a[0]]) / np.sqrt(nrm2)
    big = 1e3 * (abs(xlim[1] - xlim[0]) + abs(ylim[1] - ylim[0]) + np.linalg.norm(p0) + 1.0)
    t0, t1 = -big, big
    for k, (lo, hi) in enumerate((sorted(xlim), sorted(ylim))):
        if d[k] == 0:
            if not lo <= p0[k] <= hi:
                return None
            continue
        ta, tb = sorted(((lo - p0[k]) / d[k], (hi - p0[k]) / d[k]))
        t0, t1 = max(t0, ta), min(t1, tb)
    if t1 <= t0:
        return None
    return np.stack([p0 + t0 * d, p0 + t1 * d])


def dashes(p, q, n=40, duty=0.6):
    """Cut the segment ``p → q`` into ``n`` dashes.

    Parameters
    ----------
    p, q : array_like, shape (D,)
        Endpoints.
    n : int
        Number of dashes.
    duty : float
        Drawn fraction of each dash period.

    Returns
    -------
    ndarray, shape (2 n, D), float32
        Vertex pairs, one per dash (for a line visual with ``connect="segments"``); every
        vertex lies on the segment.
    """
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    start = np.arange(n) / n
    t = np.stack([start, start + duty / n], axis=1).reshape(-1, 1)
    return (p + t * (q - p)).astype(np.float32)

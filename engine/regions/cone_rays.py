"""Corner rays of given pattern cones in gate space R³ (2-D data with bias), pattern by pattern.

:func:`engine.regions.cells.cell_cones_iter` finds the rays of *all* ~n² cells of the data's
arrangement (SCIENCE.md §2.2), which only pays off when the program uses (nearly) all of them.
For a few hundred sampled patterns this module slices each cone ``K = {u : (2D − 1)∘(X̃u) ≥ 0}``
with the plane ``{u : ĝ·u = 1}`` through its own gate ``g`` (strictly inside ``K`` for a
sampled gate); the slice is the convex polygon ``{(s, t) : a_i·(ĝ + s e₁ + t e₂) ≥ 0}``, an
intersection of ``n`` half-planes (Qhull), and its vertices are the cone's corner rays. The
result is the same :class:`engine.regions.cells.CellCones` as the arrangement route, so the
exact vectorised projections (:func:`engine.regions.cells.project_cells`) apply.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial import HalfspaceIntersection, QhullError

from engine.regions.cells import CellCones, _order_3d

__all__ = ["pattern_cones"]


def _slice_rays(Ak: np.ndarray, g: np.ndarray) -> np.ndarray | None:
    """Corner rays (k, 3) of ``{u : Ak u ≥ 0}`` from an interior gate ``g``; None if the
    cone is not pointed or ``g`` is not strictly inside."""
    if not np.linalg.norm(g) > 0:
        return None
    c = g / np.linalg.norm(g)
    e1 = np.cross(c, [1.0, 0, 0] if abs(c[0]) < 0.9 else [0, 1.0, 0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(c, e1)
    An = Ak / np.linalg.norm(Ak, axis=1, keepdims=True)
    off = An @ c
    if off.min() <= 1e-9:
        return None
    hs = np.column_stack([-(An @ e1), -(An @ e2), -off])
    try:
        verts = HalfspaceIntersection(hs, np.zeros(2)).intersections
    except (QhullError, ValueError):
        return None
    if not np.isfinite(verts).all() or np.abs(verts).max() > 1e8:
        return None                                   # unbounded slice: not pointed
    rays = c[None, :] + verts[:, :1] * e1[None, :] + verts[:, 1:] * e2[None, :]
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    close = np.linalg.norm(rays[:, None] - rays[None], axis=2) <= 1e-12
    return rays[~np.tril(close, -1).any(axis=1)]      # merge (near) duplicate vertices


def pattern_cones(A: np.ndarray, D: np.ndarray, G: np.ndarray | None) -> CellCones | None:
    """Corner-ray cones of the patterns ``D`` (P, n) from their gates ``G`` (P, 3).

    Returns None (callers fall back to NNLS projections) unless ``A`` is (n, 3), every gate
    lies strictly inside its cone and every cone is pointed.
    """
    if G is None or A.shape[1] != 3 or len(D) == 0:
        return None
    S = np.where(D, 1.0, -1.0)
    nz = np.linalg.norm(A, axis=1) > 0
    found = []
    for k in range(len(D)):
        rays = _slice_rays((S[k][:, None] * A)[nz], G[k])
        if rays is None or len(rays) < 3:
            return None
        found.append(rays)
    counts = np.array([len(r) for r in found])
    out = np.zeros((len(D), counts.max(), 3))
    for k, r in enumerate(found):
        out[k, :len(r)] = r
        out[k, len(r):] = r[0]
    return _order_3d(out, counts)

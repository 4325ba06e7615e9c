"""Pattern cones as pointed polyhedral cones given by their corner rays (gate space R² or R³).

The cone ``K_i = {u : (2D_i − I)X̃u ≥ 0}`` of a pattern is the closure of its cell in the
data's arrangement (SCIENCE.md §2.2-2.3). In ``R³`` it is a pointed cone whose extreme rays
are the arrangement vertices on its boundary (the rays ``x̃_i × x̃_j`` met during exact
enumeration, :func:`engine.regions.patterns.gates_and_rays_3d`); in ``R²`` it is the wedge
between two boundary directions. Knowing the rays, the Euclidean projection onto ``K_i`` is
exact and vectorised: the nearest of the candidates {the point itself if inside, its
projection on each facet plane when that lands in the facet, each ray, 0}. This gives the prox
of ``λ‖u‖ + I_K(u)``: ``shrink_λ(Π_K(z))`` (for a cone, ``max_{u∈K,‖u‖≤1} zᵀu = ‖Π_K z‖``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generator, Optional

import numpy as np

from engine.regions.patterns import (ZERO_TOL, augment, gates_and_rays_3d, pattern_keys,
                                     patterns_from_gates)

__all__ = ["CellCones", "cell_cones_iter", "project_cells"]


@dataclass
class CellCones:
    """Pointed cones by corner rays. ``rays`` (P, k, p) unit; ``normals`` (P, f, p) unit
    inward facet normals (zero rows are padding); for p = 3 the facet between ``rays[j]``
    and the next ray has normal ``normals[j]`` and edge tests ``e1[j] = n × r_j``,
    ``e2[j] = r_{j+1} × n`` (a point ``z`` projected on the facet plane lies in the facet
    iff ``e1·z ≥ 0`` and ``e2·z ≥ 0``); ``valid`` (P, f) marks real facets."""
    rays: np.ndarray
    normals: np.ndarray
    e1: Optional[np.ndarray]
    e2: Optional[np.ndarray]
    valid: np.ndarray

    def subset(self, idx) -> "CellCones":
        pick = lambda a: None if a is None else a[idx]            # noqa: E731
        return CellCones(self.rays[idx], self.normals[idx], pick(self.e1), pick(self.e2),
                         self.valid[idx])

    def stacked(self) -> np.ndarray:
        """``[normals, rays, e1, e2]`` stacked (P, ·, p): one batched product per call."""
        parts = [self.normals, self.rays] + ([self.e1, self.e2] if self.e1 is not None else [])
        return np.ascontiguousarray(np.concatenate(parts, axis=1))


def _incidences_2d(A: np.ndarray):
    """(gate, ray) incidences of the arcs of a central line arrangement in ``R²``."""
    norms = np.linalg.norm(A, axis=1)
    P2 = A[norms > ZERO_TOL * max(1.0, norms.max(initial=0.0))]
    base = np.arctan2(P2[:, 0], -P2[:, 1]) % np.pi
    theta = np.sort(np.concatenate([base, base + np.pi]))
    theta = theta[np.concatenate([[True], np.diff(theta) > ZERO_TOL])]
    if len(theta) > 1 and theta[-1] - theta[0] > 2 * np.pi - ZERO_TOL:
        theta = theta[:-1]
    nxt = np.concatenate([theta[1:], [theta[0] + 2 * np.pi]])
    if len(theta) < 3:                      # half-planes (one line) are not pointed
        return None, None
    mid = 0.5 * (theta + nxt)
    unit = lambda a: np.stack([np.cos(a), np.sin(a)], axis=1)   # noqa: E731
    return np.concatenate([unit(mid), unit(mid)]), np.concatenate([unit(theta), unit(nxt)])


def _group_rays(cell_of: np.ndarray, R: np.ndarray, n_cells: int):
    """Padded (P, k, p) ray lists per cell from incidences ``(cell_of[j], R[j])``."""
    order = np.argsort(cell_of, kind="stable")
    cell_of, R = cell_of[order], R[order] / np.linalg.norm(R[order], axis=1, keepdims=True)
    counts = np.bincount(cell_of, minlength=n_cells)
    k = int(counts.max(initial=1))
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.arange(len(cell_of)) - start[cell_of]
    out = np.repeat(R[start[np.minimum(np.arange(n_cells), len(R) - 1)]][:, None, :] * 0, k, 1)
    out[cell_of, slot] = R
    return out, counts


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a × b`` over the last axis (length 3; cheaper than ``np.cross`` on small arrays)."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def _order_3d(rays: np.ndarray, counts: np.ndarray) -> CellCones:
    """Cyclic order, inward facet normals and edge tests of 3-D cones."""
    P, k, _ = rays.shape
    mask = np.arange(k)[None, :] < counts[:, None]
    c = (rays * mask[..., None]).sum(axis=1)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    e1 = _cross(c, np.where(np.abs(c[:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]]))
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = _cross(c, e1)
    ang = np.arctan2(np.einsum("pkd,pd->pk", rays, e2), np.einsum("pkd,pd->pk", rays, e1))
    order = np.argsort(np.where(mask, ang, np.inf), axis=1)
    rows = np.arange(P)[:, None]
    rays = rays[rows, order]
    nxt_idx = np.where(np.arange(k)[None, :] + 1 < counts[:, None], np.arange(k)[None, :] + 1, 0)
    nxt = rays[rows, nxt_idx]
    normals = _cross(rays, nxt)
    normals *= np.sign(np.einsum("pkd,pd->pk", normals, c))[..., None]
    nn = np.linalg.norm(normals, axis=2, keepdims=True)
    valid = mask & (nn[..., 0] > ZERO_TOL)
    normals = np.where(valid[..., None], normals / np.maximum(nn, 1e-300), 0.0)
    rays = np.where(mask[..., None], rays, rays[:, :1])
    return CellCones(rays, normals, _cross(normals, rays), _cross(nxt, normals), valid)


def _wedges(rays: np.ndarray) -> CellCones:
    """2-D wedges from ``rays[:, 0]`` counter-clockwise to ``rays[:, 1]``."""
    r1, r2 = rays[:, 0], rays[:, 1]
    n1 = np.stack([-r1[:, 1], r1[:, 0]], axis=1)
    n2 = np.stack([r2[:, 1], -r2[:, 0]], axis=1)
    return CellCones(rays[:, :2], np.stack([n1, n2], axis=1), None, None,
                     np.ones((len(rays), 2), dtype=bool))


def cell_cones_iter(X: np.ndarray, D: np.ndarray, bias: bool = True) -> Generator:
    """Corner rays of the cones of the patterns ``D`` (P, n); returns None if unavailable.

    Unavailable: gate dimension not 2 or 3, non-pointed cells (all points on one line, or
    one boundary line), or a pattern that is not a full-dimensional cell of the arrangement.
    """
    A = augment(X, bias)
    if A.shape[1] not in (2, 3) or len(D) == 0:
        return None
    As = A / max(np.abs(A).max(), 1e-300)
    G, R = (yield from gates_and_rays_3d(As)) if A.shape[1] == 3 else _incidences_2d(As)
    if R is None:
        return None
    _, inv = np.unique(np.concatenate([pattern_keys(D), pattern_keys(
        patterns_from_gates(As, G))]), return_inverse=True)
    want, have = inv[:len(D)], inv[len(D):]
    lookup = np.full(inv.max() + 1, -1)
    lookup[want] = np.arange(len(D))
    cell_of = lookup[have]
    hit = cell_of >= 0
    rays, counts = _group_rays(cell_of[hit], R[hit], len(D))
    if (counts < A.shape[1]).any():
        return None
    if A.shape[1] == 2:
        return _wedges(rays)
    return _order_3d(rays, counts)


def project_cells(cones: CellCones, Z: np.ndarray, stacked=None) -> np.ndarray:
    """Exact Euclidean projections of the rows of ``Z`` (g, p) onto the cones (g of them).

    ``stacked`` = ``cones.stacked()`` may be passed to save its construction.
    """
    M = cones.stacked() if stacked is None else stacked
    vals = np.matmul(M, Z[:, :, None])[..., 0]
    f, k = cones.normals.shape[1], cones.rays.shape[1]
    nz, t = vals[:, :f], np.maximum(vals[:, f:f + k], 0.0)
    zz = np.einsum("gp,gp->g", Z, Z)
    rows = np.arange(len(Z))
    j = np.argmax(t, axis=1)
    tj = t[rows, j]
    best = zz - tj * tj                                        # best ray (or 0 when tj = 0)
    out = tj[:, None] * cones.rays[rows, j]
    if cones.e1 is not None:                                   # facet candidates (p = 3)
        ok = cones.valid & (nz < 0) & (vals[:, f + k:2 * f + k] >= 0) & (vals[:, 2 * f + k:] >= 0)
        d2 = np.where(ok, nz * nz, np.inf)
        jf = np.argmin(d2, axis=1)
        better = d2[rows, jf] < best
        sel = rows[better]
        out[sel] = Z[sel] - nz[sel, jf[sel], None] * cones.normals[sel, jf[sel]]
    inside = (nz >= 0).all(axis=1)
    out[inside] = Z[inside]
    return out

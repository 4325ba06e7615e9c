"""Activation patterns of a data matrix: exact enumeration for d ≤ 3, gate sampling otherwise.

A pattern is ``D = diag(1[X g ≥ 0])`` for a gate ``g`` (SCIENCE.md §2.2). For rank-2 data
(2-D inputs without bias) the ``2n`` cells are the arcs between the boundary directions
``±x_j^⊥``; for rank-3 data (2-D inputs with a bias, or batch-norm's whitened ``Ũ``, §7.2.2)
every cell has a vertex ``x_i × x_j`` and the ``n² − n + 2`` patterns are the sign vectors
there with the two zero entries filled every way (§2.2).
"""
from __future__ import annotations

import numpy as np

__all__ = ["enumerate_patterns", "sample_patterns", "boundary_rays"]


def _perp(x: np.ndarray) -> np.ndarray:
    return np.stack([-x[:, 1], x[:, 0]], axis=1)


def boundary_rays(X: np.ndarray) -> np.ndarray:
    """Unit directions where a data hyperplane ``x_j·u = 0`` meets another (d = 2: ``±x_j^⊥``;
    d = 3: ``±x_i × x_j``): the 1-D faces of the gate arrangement, shape ``(k, d)``."""
    d = X.shape[1]
    if d == 2:
        rays = _perp(X)
    else:
        i, j = np.triu_indices(len(X), 1)
        rays = np.cross(X[i], X[j])
    rays = np.concatenate([rays, -rays])
    norms = np.linalg.norm(rays, axis=1)
    return rays[norms > 1e-12] / norms[norms > 1e-12, None]


def _patterns_2d(X: np.ndarray) -> np.ndarray:
    rays = boundary_rays(X)
    angles = np.sort(np.unique(np.round(np.arctan2(rays[:, 1], rays[:, 0]), 12)))
    mids = (angles + np.roll(angles, -1)) / 2
    mids[-1] = (angles[-1] + angles[0] + 2 * np.pi) / 2
    gates = np.stack([np.cos(mids), np.sin(mids)], axis=1)
    return X @ gates.T >= 0


def _patterns_3d(X: np.ndarray) -> np.ndarray:
    n = len(X)
    i, j = np.triu_indices(n, 1)
    g = np.cross(X[i], X[j])
    rows = []
    for sign in (1.0, -1.0):
        base = (X @ (sign * g).T) > 0                     # (n, pairs)
        for a in (False, True):
            for b in (False, True):
                filled = base.copy()
                filled[i, np.arange(len(i))] = a
                filled[j, np.arange(len(j))] = b
                rows.append(filled)
    return np.concatenate(rows, axis=1)


def enumerate_patterns(X: np.ndarray) -> np.ndarray:
    """Every activation pattern of ``X`` (rows in general position), as a boolean ``(n, P)``
    matrix whose columns are ``1[X g ≥ 0]`` (SCIENCE.md §2.2); the all-zero pattern dropped.

    ``P = 2n`` (or ``2n − 1`` without the zero pattern) for d = 2 and ``n² − n + 2`` for d = 3.
    """
    X = np.asarray(X, dtype=float)
    if X.shape[1] not in (2, 3):
        raise ValueError(f"exact pattern enumeration needs d = 2 or 3, not {X.shape[1]}")
    pats = _patterns_2d(X) if X.shape[1] == 2 else _patterns_3d(X)
    pats = np.unique(pats.T, axis=0).T
    return pats[:, pats.any(axis=0)]


def sample_patterns(X: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` gates ``g ~ N(0, I_d)``; their distinct non-zero patterns ``1[X g ≥ 0]``,
    shape ``(n, P ≤ count)`` (scnn's sampling, SCIENCE.md §2.2 and §6.6)."""
    gates = rng.standard_normal((X.shape[1], int(count)))
    pats = np.unique((X @ gates >= 0).T, axis=0).T
    return pats[:, pats.any(axis=0)]

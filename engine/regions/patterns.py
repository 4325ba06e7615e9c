"""Activation patterns of a data set: exact enumeration (gate dimension ≤ 3) and sampling.

A pattern is ``D = 1[X̃ g ≥ 0] ∈ {0,1}^n`` for a gate ``g`` (SCIENCE.md §2.2; PE arXiv
2002.10553 eq. (3)); ``X̃ = [X, 1]`` with a bias. The distinct patterns are the cells of the
central arrangement of the planes ``{g : x̃_i·g = 0}`` in gate space.

* Gate space ``R^3`` (2-D data with bias): every cell of a rank-3 central arrangement is a
  pointed cone, so it touches a ray ``g_ij = x̃_i × x̃_j``. Around a ray through exactly two
  planes the four local cells are the four sign choices of ``(i, j)``; around a ray shared by
  more planes (collinear or duplicate points) the local cells are those of the 2-D central
  arrangement of the shared planes, enumerated by angle. Rank-2 data (all points on one
  line) is the same case with every plane through one ray.
* Gate space ``R^2`` (2-D data without bias, or 1-D data with bias): the cells are the arcs
  between consecutive boundary directions ``±x_i^⊥``.

Each returned pattern comes with a gate strictly inside its cell, and the pattern *is*
``1[X̃ g ≥ 0]`` evaluated at that gate, so every pattern is realised (KAT §2.9.1). Counts in
general position: ``n² − n + 2`` with bias, ``2n`` without. Only full-dimensional cells are
listed (gates on a boundary give a neighbouring cell's pattern, except at degenerate rays,
whose extra patterns the convex program does not need: every cone ``K_i`` is a cell closure).
"""
from __future__ import annotations

from typing import Generator

import numpy as np

from engine.core import Progress, drain

__all__ = ["augment", "enumerate_patterns", "enumerate_patterns_iter", "sample_patterns",
           "patterns_from_gates", "unique_patterns", "pattern_keys", "gates_and_rays_3d",
           "ZERO_TOL"]

ZERO_TOL = 1e-9       # |x̃·g| below this (unit vectors) counts as "on the plane"
_PAIR_CHUNK = 4096    # ray pairs per vectorised chunk


def augment(X: np.ndarray, bias: bool = True) -> np.ndarray:
    """``X̃ = [X, 1]`` (float64, C-contiguous) when ``bias``, else a float64 copy of ``X``."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (n, d), got shape {X.shape}")
    return np.ascontiguousarray(np.hstack([X, np.ones((len(X), 1))]) if bias else X.copy())


def patterns_from_gates(A: np.ndarray, G: np.ndarray) -> np.ndarray:
    """``D[k] = 1[A g_k ≥ 0]``: the patterns (P, n) of the gates ``G`` (P, p), chunked."""
    out = np.empty((len(G), len(A)), dtype=bool)
    AT = np.ascontiguousarray(A.T)
    for s in range(0, len(G), _PAIR_CHUNK):
        g = G[s:s + _PAIR_CHUNK]
        M = g[:, :1] * AT[0]
        for c in range(1, AT.shape[0]):
            M += g[:, c:c + 1] * AT[c]
        np.greater_equal(M, 0.0, out=out[s:s + _PAIR_CHUNK])
    return out


def pattern_keys(D: np.ndarray) -> np.ndarray:
    """One hashable, sortable key per pattern row (packed bits as a void scalar)."""
    packed = np.ascontiguousarray(np.packbits(D, axis=1))
    return packed.view(np.dtype((np.void, packed.shape[1])))[:, 0]


def unique_patterns(D: np.ndarray, G: np.ndarray, drop_zero: bool = False):
    """Distinct rows of ``D`` in a deterministic (lexicographic) order with one gate each."""
    _, first = np.unique(pattern_keys(D), return_index=True)
    D, G = D[first], G[first]
    if drop_zero:
        keep = D.any(axis=1)
        D, G = D[keep], G[keep]
    return D, G


def _unit_rows(A: np.ndarray):
    """Unit rows of ``A`` and the mask of rows that are not (numerically) zero."""
    norms = np.linalg.norm(A, axis=1)
    nz = norms > ZERO_TOL * max(1.0, norms.max(initial=0.0))
    U = np.zeros_like(A)
    U[nz] = A[nz] / norms[nz, None]
    return U, nz


def _distinct_planes(U: np.ndarray, nz: np.ndarray) -> np.ndarray:
    """Indices of one representative per distinct plane (``u`` and ``−u`` are one plane)."""
    reps: list[int] = []
    for i in np.flatnonzero(nz):
        if not reps or np.min(1.0 - np.abs(U[reps] @ U[i])) > ZERO_TOL:
            reps.append(int(i))
    return np.asarray(reps, dtype=np.int64)


def _arc_gates(P2: np.ndarray) -> np.ndarray:
    """Unit directions (k, 2) inside each cell of the central line arrangement ``{p·h = 0}``.

    ``P2`` (m, 2) are the normals (zero rows ignored). Boundary directions ``±p^⊥`` are sorted
    by angle, merged within tolerance, and the midpoints of the arcs between them returned.
    """
    norms = np.linalg.norm(P2, axis=1)
    P2 = P2[norms > ZERO_TOL * max(1.0, norms.max(initial=0.0))]
    if len(P2) == 0:
        return np.array([[1.0, 0.0]])
    base = np.arctan2(P2[:, 0], -P2[:, 1]) % np.pi          # direction of p^⊥ in [0, π)
    theta = np.sort(np.concatenate([base, base + np.pi]))
    keep = np.concatenate([[True], np.diff(theta) > ZERO_TOL])
    theta = theta[keep]
    if len(theta) > 1 and theta[-1] - theta[0] > 2 * np.pi - ZERO_TOL:
        theta = theta[:-1]
    nxt = np.concatenate([theta[1:], [theta[0] + 2 * np.pi]])
    mid = 0.5 * (theta + nxt)
    return np.stack([np.cos(mid), np.sin(mid)], axis=1)


def _safe_eps(S: np.ndarray, AH: np.ndarray, zero: np.ndarray) -> np.ndarray:
    """Largest-safe offsets ``ε`` so that ``g + εh`` keeps every off-plane sign of ``g``.

    ``S`` (k, n) = ``A g``, ``AH`` (k, n) = ``A h``, ``zero`` marks the planes through ``g``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(zero | (np.abs(AH) < 1e-300), np.inf, np.abs(S) / np.abs(AH))
    return np.minimum(0.5 * ratio.min(axis=1), 1.0)


def _simple_ray_gates(A, U, reps, I, J, G) -> np.ndarray:
    """Gates of the four cells around each simple ray ``g = u_i × u_j`` (two planes only)."""
    c = np.einsum("kp,kp->k", U[reps[I]], U[reps[J]])
    det = 1.0 - c * c                                           # Gram of (u_i, u_j)
    S, zero = G @ A.T, np.abs(G @ U.T) <= ZERO_TOL
    out = []
    for si in (-1.0, 1.0):
        for sj in (-1.0, 1.0):
            a, b = (si - c * sj) / det, (sj - c * si) / det     # h·u_i = si, h·u_j = sj
            H = a[:, None] * U[reps[I]] + b[:, None] * U[reps[J]]
            eps = _safe_eps(S, H @ A.T, zero)
            out.append(G + eps[:, None] * H)
    return np.concatenate(out)


def _degenerate_ray_gates(A, U, g, zero) -> np.ndarray:
    """Gates of the cells around a ray ``g`` lying on several planes (``zero`` marks them)."""
    e1 = np.cross(g, [1.0, 0.0, 0.0])
    if np.linalg.norm(e1) < 0.5:
        e1 = np.cross(g, [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(g, e1)
    E = np.stack([e1, e2])                                     # basis of g^⊥
    dirs = _arc_gates(U[zero] @ E.T)
    H = dirs @ E
    S, AH = np.broadcast_to(A @ g, (len(H), len(A))), H @ A.T
    eps = _safe_eps(S, AH, np.broadcast_to(zero, S.shape))
    return g[None, :] + eps[:, None] * H


def gates_and_rays_3d(A: np.ndarray) -> Generator:
    """Interior gates of every cell of the central plane arrangement of ``A`` (n, 3).

    Returns ``(G, R)``: gate ``G[k]`` lies in a cell next to the ray ``R[k]`` (a corner of that
    cell); every (cell, corner ray) incidence appears exactly once. ``R`` is None when the
    arrangement has fewer than two distinct planes (cells without corners).
    """
    U, nz = _unit_rows(A)
    reps = _distinct_planes(U, nz)
    if len(reps) <= 1:
        g = U[reps[0]] if len(reps) else np.array([0.0, 0.0, 1.0])
        return np.stack([g, -g]), None
    I, J = np.triu_indices(len(reps), k=1)
    gates, rays = [], []
    for start in range(0, len(I), _PAIR_CHUNK):
        i, j = I[start:start + _PAIR_CHUNK], J[start:start + _PAIR_CHUNK]
        G = np.cross(U[reps[i]], U[reps[j]])
        G /= np.linalg.norm(G, axis=1, keepdims=True)
        zero = np.abs(G @ U[reps].T) <= ZERO_TOL
        n_zero = zero.sum(axis=1)
        simple = n_zero == 2
        gates.append(_simple_ray_gates(A, U, reps, i[simple], j[simple], G[simple]))
        rays.append(np.tile(G[simple], (4, 1)))
        for k in np.flatnonzero(~simple):
            on = np.flatnonzero(zero[k])
            if on[0] == i[k] and on[1] == j[k]:                # each shared ray once
                full = np.abs(U @ G[k]) <= ZERO_TOL
                gates.append(_degenerate_ray_gates(A, U, G[k], full))
                rays.append(np.tile(G[k], (len(gates[-1]), 1)))
        yield Progress(min(1.0, (start + _PAIR_CHUNK) / len(I)), "enumerating patterns")
    G, R = np.concatenate(gates), np.concatenate(rays)
    return np.concatenate([G, -G]), np.concatenate([R, -R])


def _gates_low(A: np.ndarray) -> np.ndarray:
    """Interior gates of the cells in gate space ``R^1`` or ``R^2``."""
    if A.shape[1] == 1:
        return np.array([[1.0], [-1.0]])
    return _arc_gates(A)


def enumerate_patterns_iter(X: np.ndarray, bias: bool = True) -> Generator:
    """Progress generator of :func:`enumerate_patterns`; returns ``(D, G)``."""
    A = augment(X, bias)
    p = A.shape[1]
    if len(A) == 0:
        raise ValueError("enumerate_patterns needs at least one data point")
    if not np.isfinite(A).all():
        raise ValueError("X contains NaN or infinite values")
    if p > 3:
        raise ValueError(f"exact enumeration needs gate dimension ≤ 3 (d + bias = {p}); "
                         "use sample_patterns for higher-dimensional data")
    scale = np.abs(A).max()
    As = A / scale if scale > 0 else A
    G = (yield from gates_and_rays_3d(As))[0] if p == 3 else _gates_low(As)
    D = patterns_from_gates(As, G)
    return unique_patterns(D, G)


def enumerate_patterns(X: np.ndarray, bias: bool = True, return_gates: bool = False):
    """All activation patterns ``1[X̃ g ≥ 0]`` of the data (SCIENCE.md §2.2), exactly.

    Parameters
    ----------
    X : array (n, d)
        Data, ``d + bias ≤ 3`` (2-D data with or without bias, 1-D data). Duplicate and
        collinear points are handled exactly.
    bias : bool
        Append a column of ones (gate space ``R^{d+1}``).
    return_gates : bool
        Also return one gate per pattern, strictly inside its cell.

    Returns
    -------
    D : bool array (P, n)
        The distinct patterns (cells of the arrangement), lexicographic order; includes the
        all-zero and all-one patterns. ``P = n² − n + 2`` (bias) or ``2n`` (no bias) for
        points in general position (Cover; PE §2).
    G : float array (P, d + bias), only with ``return_gates``
        ``D[k] == 1[X̃ G[k] ≥ 0]`` exactly.
    """
    D, G = drain(enumerate_patterns_iter(X, bias))
    return (D, G) if return_gates else D


def sample_patterns(X: np.ndarray, n_gates: int, seed: int, bias: bool = True,
                    return_gates: bool = False):
    """Patterns of ``n_gates`` random Gaussian gates (scnn ``activations.py``; MSP §3).

    Gates ``g_k ~ N(0, I)`` from ``numpy.random.default_rng(seed)``; duplicate patterns and
    the all-zero pattern are dropped. Random sampling misses thin cells (SCIENCE.md §2.2),
    so the convex program over sampled patterns is a restriction (optimum ≥ ``p_c``).

    Returns
    -------
    D : bool array (P, n), and G : (P, d + bias) with ``return_gates``.
    """
    if int(n_gates) < 1:
        raise ValueError(f"n_gates must be ≥ 1, got {n_gates}")
    A = augment(X, bias)
    G = np.random.default_rng(seed).standard_normal((int(n_gates), A.shape[1]))
    D, G = unique_patterns(patterns_from_gates(A, G), G, drop_zero=True)
    return (D, G) if return_gates else D

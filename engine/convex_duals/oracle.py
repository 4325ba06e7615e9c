"""The cone-constrained PCA oracle ``max_{‖u‖ ≤ 1} ‖Λᵀ relu(X u)‖₂`` (SCIENCE.md §7.0).

The maximiser lies in the relative interior of one face of the gate arrangement, where
``relu(Xu) = D X u`` and the objective is the quadratic form ``uᵀ Xᵀ D Λ Λᵀ D X u``; a local
maximum of a quadratic form on a sphere is its top eigenvector. So the candidates are the top
eigenvectors (either sign) of every cell's form, of every cell's form restricted to each data
plane ``x_j·u = 0`` (d = 3), and the arrangement's rays; the true objective is evaluated at all
of them and the best kept. Exact for d ≤ 3 (§7.0: O(n^{d−1}) per pattern).

For whitened data (``X Xᵀ = I``, n ≤ d, §7.1.5) ``relu(Xu)`` ranges over the non-negative part
of the unit ball, and the oracle is non-negative PCA, solved exactly by enumerating supports.
"""
from __future__ import annotations

import itertools

import numpy as np

from engine.convex_duals.atoms import Atom
from engine.convex_duals.patterns import boundary_rays

__all__ = ["atom_value", "best_atom", "best_nonneg_direction", "cell_atom", "nonneg_atom",
           "cell_generators"]


def atom_value(X: np.ndarray, R: np.ndarray, U: np.ndarray) -> np.ndarray:
    """``‖Rᵀ relu(X u)‖₂`` for every column ``u`` of ``U`` (shape ``(d, k)``)."""
    return np.linalg.norm(R.T @ np.maximum(X @ U, 0.0), axis=0)


def _top_eigvecs(M: np.ndarray) -> np.ndarray:
    """Top eigenvector of each symmetric matrix in the stack ``M`` (shape ``(k, d, d)``)."""
    _, vecs = np.linalg.eigh(M)
    return vecs[:, :, -1]


def _cell_forms(X: np.ndarray, R: np.ndarray, patterns: np.ndarray) -> np.ndarray:
    """``Xᵀ D_i R Rᵀ D_i X`` for every pattern column, shape ``(P, d, d)``."""
    A = np.einsum("np,nc,nd->pcd", patterns.astype(float), R, X)   # (P, c, d) = Rᵀ D_i X
    return np.einsum("pcd,pce->pde", A, A)


def _plane_candidates(X: np.ndarray, forms: np.ndarray) -> np.ndarray:
    """Top eigenvectors of every cell form restricted to every plane ``x_j·u = 0`` (d = 3)."""
    cands = []
    for x in X:
        q, _ = np.linalg.qr(np.column_stack([x, np.eye(3)]))
        basis = q[:, 1:3]                                      # orthonormal basis of x^⊥
        small = np.einsum("da,pde,eb->pab", basis, forms, basis)
        cands.append(_top_eigvecs(small) @ basis.T)
    return np.concatenate(cands)


def best_direction(X: np.ndarray, R: np.ndarray, patterns: np.ndarray
                   ) -> tuple[np.ndarray, float]:
    """The unit ``u`` maximising ``‖Rᵀ relu(X u)‖₂`` and that maximum (d = 2 or 3, exact).

    Parameters
    ----------
    X : (n, d) array
    R : (n, c) array
        Residual (dual variable Λ, SCIENCE.md §7.0).
    patterns : (n, P) bool array
        Every activation pattern of ``X``
        (:func:`~engine.convex_duals.patterns.enumerate_patterns`).
    """
    X = np.asarray(X, float)
    R = np.asarray(R, float).reshape(len(X), -1)
    forms = _cell_forms(X, R, patterns)
    cands = [_top_eigvecs(forms), boundary_rays(X)]
    if X.shape[1] == 3:
        cands.append(_plane_candidates(X, forms))
    U = np.concatenate(cands)
    U = np.concatenate([U, -U]).T
    values = atom_value(X, R, U)
    k = int(np.argmax(values))
    return U[:, k] / np.linalg.norm(U[:, k]), float(values[k])


def best_nonneg_direction(R: np.ndarray) -> tuple[np.ndarray, float]:
    """``max_{q ≥ 0, ‖q‖ ≤ 1} ‖Rᵀ q‖₂`` by enumerating supports (n ≤ 12): the oracle for
    whitened data, where ``relu(Xu)`` with ``‖u‖ ≤ 1`` is every such ``q`` (SCIENCE.md §7.1.5).
    Returns the maximising ``q`` and the maximum."""
    R = np.asarray(R, float).reshape(R.shape[0], -1)
    n = len(R)
    G = R @ R.T
    best_q, best = np.zeros(n), 0.0
    for size in range(1, n + 1):
        for support in itertools.combinations(range(n), size):
            idx = list(support)
            vals, vecs = np.linalg.eigh(G[np.ix_(idx, idx)])
            v = vecs[:, -1] * (1.0 if vecs[:, -1].sum() >= 0 else -1.0)
            if v.min() < -1e-12 or vals[-1] <= best:
                continue
            best = float(vals[-1])
            best_q = np.zeros(n)
            best_q[idx] = np.maximum(v, 0.0)
    return best_q, float(np.sqrt(best))


def cell_generators(X: np.ndarray, u: np.ndarray, rays: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Generators of a closed cell of the gate arrangement that contains ``u``: the
    arrangement rays ``r`` with ``(2D − I) X r ≥ 0`` for ``D = 1[X u ≥ 0]`` (a polyhedral
    cone is the conic hull of its extreme rays). Returns ``(G, F)``: ``G`` of shape
    ``(d, r)`` and ``F = D X G`` (``relu(X G a) = F a`` for every ``a ≥ 0``)."""
    tol = 1e-9 * max(1.0, float(np.abs(X).max()))
    active = X @ u > -tol * np.linalg.norm(u)
    sign = np.where(active, 1.0, -1.0)
    inside = ((sign[:, None] * (X @ rays.T)) >= -tol).all(axis=0)
    G = rays[inside].T
    return G, active[:, None] * (X @ G)


def cell_atom(X: np.ndarray, u: np.ndarray, rays: np.ndarray) -> Atom:
    """The :class:`~engine.convex_duals.atoms.Atom` of direction ``u`` in a closed cell."""
    from scipy.optimize import nnls
    G, F = cell_generators(X, u, rays)
    a, _ = nnls(G, u)
    return Atom(G, F, a / np.linalg.norm(G @ a))


def best_atom(X: np.ndarray, R: np.ndarray, patterns: np.ndarray,
              rays: np.ndarray) -> tuple[Atom, float]:
    """:func:`best_direction` as an atom of its closed cell (``rays`` from
    :func:`~engine.convex_duals.patterns.boundary_rays`), for column generation."""
    u, value = best_direction(X, R, patterns)
    return cell_atom(X, u, rays), value


def nonneg_atom(X: np.ndarray, R: np.ndarray) -> tuple[Atom, float]:
    """The oracle for whitened ``X`` (``X Xᵀ = I``): ``u = Xᵀ q`` with the non-negative
    ``q`` of :func:`best_nonneg_direction`; its cell is the whole orthant (``F = I``)."""
    q, value = best_nonneg_direction(R)
    return Atom(X.T.copy(), np.eye(len(X)), q), value

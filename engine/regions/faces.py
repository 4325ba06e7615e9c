"""Faces of the ReLU cones ``K_g = {u : (2D_g − I)X̃u ≥ 0}`` at a point (SCIENCE.md §2.3).

The Newton polish (:mod:`engine.regions.polish`) works on the face of each group's cone that
contains the group's current vector: an orthonormal basis of the span of that face (the null
space of the constraints tight there). For 2-D data with a bias (``p = 3``) the faces are the
interior (``I``), a facet (the plane ⟂ one row ``a``) or a ray (``û``), computed vectorised;
otherwise by an SVD of the tight rows (cached per tight set).
"""
from __future__ import annotations

import numpy as np

__all__ = ["face_bases", "Geometry", "row_norms", "TIGHT"]

TIGHT = 1e-9        # |a·u| ≤ TIGHT‖a‖‖u‖: constraint a·u ≥ 0 is tight


def row_norms(M: np.ndarray) -> np.ndarray:
    """Row norms (a cheaper ``np.linalg.norm(M, axis=1)``: these programs are tiny, so the
    per-call overhead of NumPy dominates)."""
    return np.sqrt(np.einsum("ij,ij->i", M, M))


def _null_basis(rows: np.ndarray, p: int) -> np.ndarray:
    """Orthonormal basis (p, k) of the null space of ``rows`` (SVD; all of ``R^p`` if none)."""
    if len(rows) == 0:
        return np.eye(p)
    _, s, Vt = np.linalg.svd(rows, full_matrices=True)
    rank = int((s > 1e-10 * s.max()).sum())
    return Vt[rank:].T


class Geometry:
    """Row norms, unit rows, tightness thresholds and pairwise ``sin²`` of the rows of
    ``X̃`` — what the face tests need, computed once per polish."""

    def __init__(self, A: np.ndarray):
        self.A, self.an = A, row_norms(A)
        self.An = A / np.maximum(self.an, 1e-300)[:, None]
        self.tol_an = np.where(self.an > 0, TIGHT * self.an, -1.0)     # zero rows: never tight
        self._sin2 = None
        self.faces = {}         # tight set (packed bits) → null-space basis (p > 3)

    @property
    def sin2(self) -> np.ndarray:
        """``‖â_i × â_j‖²`` (n, n)."""
        if self._sin2 is None:
            self._sin2 = np.maximum(1.0 - (self.An @ self.An.T) ** 2, 0.0)
        return self._sin2


def _bases_3d(U, geo: Geometry):
    """Vectorised face bases for ``p = 3``: interior (I), facet (plane ⟂ a), ray (``û``)."""
    g = len(U)
    un = row_norms(U)
    tight = np.abs(U @ geo.A.T) <= un[:, None] * geo.tol_an[None, :]
    out, dims = np.tile(np.eye(3), (g, 1, 1)), np.full(g, 3)
    h = np.flatnonzero(tight.any(axis=1))
    if len(h) == 0:
        return out, dims
    th = tight[h]
    j = np.argmax(th, axis=1)
    ray = (th & (geo.sin2[j] > 1e-14)).any(axis=1)                    # a second facet
    uh = U[h] / un[h, None]
    out[h] = 0.0
    out[h[ray], :, 0], dims[h[ray]] = uh[ray], 1
    fac = ~ray
    a, u = geo.An[j[fac]], uh[fac]
    b = u - np.einsum("gp,gp->g", u, a)[:, None] * a
    b /= np.maximum(row_norms(b), 1e-300)[:, None]
    out[h[fac], :, 0], dims[h[fac]] = b, 2
    out[h[fac], :, 1] = np.stack([a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1],
                                  a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
                                  a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]], 1)
    return out, dims


def face_bases(A, S, U, geo: Geometry | None = None):
    """Padded face bases (g, p, p) of the nonzero rows of ``U`` and their dimensions (g,).

    ``S`` (g, n) ``2D − 1`` or None (gated: identity bases). ``geo``: cached geometry of A.
    """
    g, p = U.shape
    if S is None:
        return np.broadcast_to(np.eye(p), (g, p, p)).copy(), np.full(g, p)
    if p == 3:
        return _bases_3d(U, geo if geo is not None else Geometry(A))
    geo = geo if geo is not None else Geometry(A)
    out, dims = np.zeros((g, p, p)), np.zeros(g, dtype=int)
    # |a·u| ≤ TIGHT‖a‖‖u‖; the face's span is the null space of the tight rows, whatever
    # their signs, so it is cached per tight set (the polish revisits faces)
    tight = np.abs(U @ A.T) <= TIGHT * row_norms(U)[:, None] * geo.an[None, :]
    keys = np.packbits(tight, axis=1)
    for i in range(g):
        key = keys[i].tobytes()
        B = geo.faces.get(key)
        if B is None:
            B = geo.faces[key] = _null_basis(A[tight[i]], p)
        out[i, :, :B.shape[1]] = B
        dims[i] = B.shape[1]
    return out, dims

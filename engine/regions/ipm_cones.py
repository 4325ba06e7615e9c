"""Dual barrier of the ReLU program (SCIENCE.md §2.3): the gated barrier of
:mod:`engine.regions.ipm` with exact cone projections.

The ReLU dual constraints are ``‖Π_{K_g}(c_g)‖ ≤ λ`` (``c_g = σ_g X̃ᵀD_gρ``). With the barrier
``−log s_g``, ``s_g = λ² − ‖Π_K(c_g)‖²``, everything is as for the gated program with ``c``
replaced by its projection ``π = Π_K(c)``: ``h(c) = ‖Π_K(c)‖² = dist(c, K°)²`` is convex with
the Lipschitz gradient ``2π``, and on the face of ``K`` holding ``π`` (span projector ``P``) it
is ``‖Pc‖²`` — so the (generalised) Hessian of a group is ``w P + w²ππᵀ`` (``w = 2/s``) and
Newton's method is the semismooth one (Qi–Sun 1993), exact within a face. Groups whose ``c``
is in the polar cone (``π = 0``) contribute nothing. Steps are chosen on the faces' quadratic
model ``‖π + αP dc‖²`` and verified at the next point (:func:`engine.regions.ipm.follow_path`).

On the path ``u_g = w_g π_g / t`` lies in its cone (``π ∈ K``), so the primal point and its
basic version (:func:`engine.regions.ipm.basic_primal`) are feasible for the ReLU program.
The projections use the cones' corner rays (:class:`engine.regions.cells.CellCones`): the
nearest of {the point (inside), its projection on a facet plane when it lands in the facet,
each ray, 0} is the candidate of largest norm (each is an orthogonal projection onto a
subspace: ``‖c − π‖² = ‖c‖² − ‖π‖²``).
"""
from __future__ import annotations

import numpy as np

from engine.regions.ipm import _Barrier, _factor, follow_path

__all__ = ["relu_barrier"]

REL_GAP_RELU = 1e-6     # (1e-5 leaves some degenerate programs a wrong support: 20+ iterations)


class _ConeBarrier(_Barrier):
    """``ψ_t`` of the ReLU dual, ``s_g = λ² − ‖Π_{K_g}(c_g)‖²`` (exact cone projections of
    :mod:`engine.regions.cells`; ``c_g = σ_g X̃ᵀD_gρ``, ``D`` carries the signs ``σ``).

    ``h(c) = ‖Π_K(c)‖² = dist(c, K°)²`` is convex with the Lipschitz gradient ``2Π_K(c)``; on
    the face of ``K`` that holds ``Π_K(c)`` (span projector ``P``) it is ``‖Pc‖²``, so the
    gradient is the gated one with ``c`` replaced by ``π = Π_K(c)`` and the (generalised)
    Hessian of a group is ``w P + w²ππᵀ`` — semismooth Newton (Qi–Sun 1993), exact within a face.
    Groups whose ``c`` lies in the polar cone (``π = 0``) contribute nothing."""

    exact = False       # the faces' model: steps are checked at the next point

    def __init__(self, A, y, D, lam, cones, stacked=None):
        super().__init__(A, y, D, lam)
        self.cones, self.stacked = cones, cones.stacked() if stacked is None else stacked
        self.f, self.k = cones.normals.shape[1], cones.rays.shape[1]
        self.facets = cones.e1 is not None                        # p = 3 (2-D wedges: rays)
        self.width = 1 + self.k + (self.f if self.facets else 0)
        self.rows, self.Dabs = np.arange(len(D)), np.abs(D)
        k, f, p = self.k, self.f if self.facets else 0, A.shape[1]       # candidate columns:
        self.a_col = np.concatenate([[1.0], np.zeros(k), np.ones(f)])   # inside, rays, facets
        self.b_col = np.concatenate([[0.0], np.ones(k), -np.ones(f)])
        parts = [np.zeros((len(D), 1, p)), cones.rays] + ([cones.normals] if f else [])
        self.units = np.concatenate(parts, axis=1).reshape(-1, p)     # (G·width, p) flat
        self.offsets = self.rows * self.width
        self._gamma = np.zeros((len(D), self.width))      # γ of the candidates (column 0: 0)

    def _candidates(self, C):
        """Facet values ``n·c``, ray coefficients ``max(r·c, 0)`` and the squared norms of the
        feasible candidate projections (G, 1 + k (+ f)): inside, rays, facets."""
        V = np.matmul(self.stacked, C[:, :, None])[:, :, 0]
        f, k = self.f, self.k
        nz, tr = V[:, :f], np.maximum(V[:, f:f + k], 0.0)
        cc = np.einsum("gp,gp->g", C, C)
        cand = np.empty((len(C), self.width))
        cand[:, 0] = np.where(nz.min(axis=1) >= 0, cc, 0.0)
        np.multiply(tr, tr, out=cand[:, 1:k + 1])
        if self.facets:             # padding facets have zero normals: ``n·c < 0`` is False
            ok = (nz < 0) & (np.minimum(V[:, f + k:2 * f + k], V[:, 2 * f + k:]) >= 0)
            cand[:, k + 1:] = np.where(ok, cc[:, None] - nz * nz, 0.0)
        return nz, tr, cand

    def _project(self, C):
        """``π = Π_K(c)`` and the faces holding them, as the span projectors
        ``P = aI + b êêᵀ``: inside ``(1, 0)``, ray ``r̂`` ``(0, 1)``, facet of normal ``n̂``
        ``(1, −1)``, apex ``(0, 0)``; returns ``(π, a, b, ê)`` with ``π = ac + bγê``
        (``γ``: the ray coefficient ``r̂·c``, or the facet value ``n̂·c``)."""
        nz, tr, cand = self._candidates(C)
        j = cand.argmax(axis=1)
        flat = self.offsets + j                                   # (row, j) in flat arrays
        live = cand.ravel().take(flat) > 0                        # else the apex
        a, b = self.a_col.take(j) * live, self.b_col.take(j) * live
        gam = self._gamma
        gam[:, 1:self.k + 1] = tr
        if self.facets:
            gam[:, self.k + 1:] = nz
        gamma = gam.ravel().take(flat)
        e = self.units.take(flat, axis=0)
        return a[:, None] * C + (b * gamma)[:, None] * e, a, b, e

    def newton(self, rho, C, t):
        """As the gated one, with ``Σ_g F_g(w_gP_g + w_g²π_gπ_gᵀ)F_gᵀ`` assembled from the
        faces: ``(X̃X̃ᵀ) ∘ (Dᵀdiag(wa)D) + Eᵀdiag(wb)E + VᵀV``, rows ``E_g = F_gê_g``,
        ``V_g = w_gF_gπ_g``."""
        Pi, a, b, e = self._face = self._project(C)
        s = self.lam2 - np.einsum("gp,gp->g", Pi, Pi)
        self._C, self._s, self._pi = C, s, Pi
        if not s.min() > 0:
            return s, None, None, None
        w = 2.0 / s
        Z = (w[:, None] * Pi) @ self.A.T
        V = self.Dabs * Z
        E = self.Dabs * (e @ self.A.T)
        H = (self.K * (self.Dabs.T @ ((w * a)[:, None] * self.Dabs))
             + E.T @ ((w * b)[:, None] * E) + V.T @ V)
        H.reshape(-1)[self.diag] += t * self.n
        gB = np.einsum("gn,gn->n", self.D, Z)
        return s, gB, _factor(H), t * (self.n * rho - self.y) + gB

    def model(self, dC):
        """On the current faces ``Π_K(c + α dc) = π + αP dc``: the gated model with ``π``;
        where every ``π`` is 0 (the start ``ρ = 0``: that model is constant) the gated
        slacks ``λ² − ‖c + α dc‖²``, a lower bound (``‖Π_K(c)‖ ≤ ‖c‖``), choose the step."""
        if not self._pi.any():
            sc = self.lam2 - np.einsum("gp,gp->g", self._C, self._C)
            if sc.min() > 0:
                return self._C, dC, sc
        _, a, b, e = self._face
        PdC = a[:, None] * dC + (b * np.einsum("gp,gp->g", e, dC))[:, None] * e
        return self._pi, PdC, self._s

    def primal(self, C, t) -> np.ndarray:
        Pi = self._project(C)[0]
        s = self.lam2 - np.einsum("gp,gp->g", Pi, Pi)
        return (2.0 / (t * s))[:, None] * Pi


def relu_barrier(A: np.ndarray, y: np.ndarray, DS: np.ndarray, lam: float, cones,
                 rel_gap: float = REL_GAP_RELU, max_newton: int = 200, stacked=None):
    """Barrier path following on the ReLU dual (module docstring).

    Parameters
    ----------
    A : (n, p) X̃. y : (n,). DS : (G, n) ``σ_g D_g``. lam : λ > 0.
    cones : :class:`engine.regions.cells.CellCones` of the G groups (``stacked``: their
        ``cones.stacked()`` when already known).

    Returns
    -------
    ``(ρ, U, ok)`` as :func:`engine.regions.ipm.gated_barrier`, ``u_g ∈ K_g``.
    """
    return follow_path(_ConeBarrier(A, y, DS, lam, cones, stacked), rel_gap, max_newton)

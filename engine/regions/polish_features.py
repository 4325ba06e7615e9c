"""The face-restricted program of the Newton polish through its features (SCIENCE.md §2.3,
§2.10).

:mod:`engine.regions.polish` minimises, on the identified faces ``u_g = B_g z_g``,

``φ(z) = (1/(2n))‖Mz − y‖² + λ Σ_g ‖z_g‖``, ``M = [σ_g D_g X̃ B_g]`` (n, g·p, padded),

with Hessian ``∇²φ = MᵀM/n + blockdiag(β_g Π_g)``, ``β_g = λ/‖z_g‖`` and
``Π_g = I − ẑ_gẑ_gᵀ`` on the free coordinates of group ``g``. Its 2-D class (``_Reduced``)
stores the padded Gram ``MᵀM/n``; for d > 2 data (p = d + 1 up to 21, hundreds of groups)
that (g·p)² matrix dominated the solve (built, copied and factored at every Newton step,
while most coordinates sit on low-dimensional faces and ``n`` is small). This class keeps
the features ``M`` (n, g·p) instead: values and differences cost ``O(n·g·p)``, and the Newton
system ``H d = −∇φ`` on the ``K`` free coordinates is solved either densely (``MᵀM`` over
the free columns, ``O(nK² + K³)``) or — when ``n`` is the smaller size — through the
``n``-dimensional residual space (SCIENCE.md §2.10, derived here):

with ``d_g = r_g ẑ_g + t_g`` (``t_g ⟂ ẑ_g``), ``m_g = M_g ẑ_g`` (radial features),
``T_g = M_g Π_g`` (tangential features), ``w = M d/n`` and ``γ_g = ẑ_g·∇_gφ``, the tangential
rows give ``t_g = −Π_g(∇_gφ + M_gᵀw)/β_g`` and the radial rows ``m_gᵀw = −γ_g``; eliminating
``t`` leaves

``(nI + Σ_g T_gT_gᵀ/β_g) w = Σ_g m_g r_g − Σ_g T_g∇_gφ/β_g``,

an ``n × n`` SPD system (Cholesky, the Woodbury/Schur complement of the block-diagonal part),
and the ``g × g`` radial system ``(m_gᵀ K⁻¹ m_h) r = mᵀK⁻¹h − γ``: ``O(n²K + n³ + g²n)``
instead of ``O(K³)``. Both paths solve the same system (tests compare them).
"""
from __future__ import annotations

import copy

import numpy as np
from scipy.linalg import cho_factor, cho_solve, LinAlgError
from scipy.linalg.lapack import dgesv

__all__ = ["FaceFeatures", "penalty_deltas"]

RIDGE = 1e-13       # relative diagonal shift of singular (tied-support) Newton systems


def _solve(H: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``H⁻¹ rhs`` (LAPACK ``dgesv``), least squares if ``H`` is singular."""
    _, _, x, info = dgesv(H, rhs)
    return x if info == 0 else np.linalg.lstsq(H, rhs, rcond=1e-12)[0]


def _ridge(H: np.ndarray) -> None:
    """In place: ``H += RIDGE·max(1, max diag H)·I`` (the 2-D polish's regularisation)."""
    diag = H.reshape(-1)[::len(H) + 1]
    diag += RIDGE * max(1.0, float(diag.max(initial=0.0)))


class FaceFeatures:
    """``φ`` on padded face coordinates ``z`` (g, p) through the features ``M`` (module
    docstring); the same interface as :class:`engine.regions.polish._Reduced`.

    Parameters
    ----------
    A : (n, p) X̃. y : (n,). DS : (g, n) ``σ_g D_g`` of the active groups.
    bases : (g, p, p) orthonormal face bases padded with zero columns; dims : (g,) their
    dimensions. lam : λ > 0. an : (n,) row norms of ``A`` (the line search's cone tests).
    """

    identity = False

    def __init__(self, A, y, DS, bases, dims, lam: float, an: np.ndarray):
        self.A, self.y, self.DS, self.lam, self.an = A, y, DS, lam, an
        self.n, self.p = A.shape
        self.c = 0.5 * float(y @ y) / self.n
        self._set(bases, dims, self._features(DS, bases))

    def _features(self, DS, bases) -> np.ndarray:
        """``σ_g D_g X̃ B_g`` (g, n, p)."""
        return (DS[:, :, None] * self.A[None]) @ bases

    def _set(self, bases, dims, F) -> None:
        """Bases, masks and the features ``M`` over the free coordinates (n, K) from the
        per-group ``F`` (g, n, p); ``grp``/``off``: each free column's group, each group's
        first free column."""
        self.bases, self.g = bases, len(bases)
        self.mask = np.arange(self.p)[None, :] < dims[:, None]
        self.F = F
        self.free = np.flatnonzero(self.mask.ravel())
        self.frozen = ~self.mask.ravel()
        self.any_frozen = bool(self.frozen.any())
        self.grp = np.repeat(np.arange(self.g), dims)
        self.off = np.concatenate([[0], np.cumsum(dims)[:-1]])
        self.M = F[self.grp, :, self.free - self.grp * self.p].T      # (n, K), a view
        # positions (in the free coordinates) of the entries of each group's diagonal block
        pos = np.full(self.g * self.p, -1)
        pos[self.free] = np.arange(len(self.free))
        pos = pos.reshape(self.g, self.p)
        both = self.mask[:, :, None] & self.mask[:, None, :]
        self._blk = (np.flatnonzero(both.ravel()),
                     np.broadcast_to(pos[:, :, None], both.shape)[both],
                     np.broadcast_to(pos[:, None, :], both.shape)[both])

    def refresh(self, raw, active, changed, bases, dims) -> "FaceFeatures":
        """In place: new faces for the groups ``changed`` (their features recomputed)."""
        self.F[changed] = self._features(self.DS[changed], bases[changed])
        self._set(bases, dims, self.F)
        return self

    def subset(self, keep: np.ndarray) -> "FaceFeatures":
        """The same program without the groups ``~keep`` (dropped at 0, faces unchanged)."""
        new = copy.copy(self)
        new.DS = self.DS[keep]
        new._set(self.bases[keep], self.mask[keep].sum(axis=1), self.F[keep])
        return new

    def _residual(self, z) -> np.ndarray:
        return self.M @ z.ravel()[self.free] - self.y

    def value(self, z) -> float:
        r = self._residual(z)
        quad = 0.5 * float(r @ r) / self.n
        return quad + self.lam * float(np.sqrt(np.einsum("gk,gk->g", z, z)).sum())

    def values(self, Z) -> np.ndarray:
        """``φ`` at a stack of points ``Z`` (k, g, p)."""
        R = Z.reshape(len(Z), -1)[:, self.free] @ self.M.T - self.y[None]
        quad = 0.5 * np.einsum("kn,kn->k", R, R) / self.n
        return quad + self.lam * np.sqrt(np.einsum("kgp,kgp->kg", Z, Z)).sum(axis=1)

    def deltas(self, z, Dz) -> np.ndarray:
        """``φ(z + Δ_k) − φ(z)`` as a difference (``r·MΔ/n + ‖MΔ‖²/(2n)`` and
        ``Σ(‖z+Δ‖² − ‖z‖²)/(‖z+Δ‖ + ‖z‖)``): accurate relative to the change
        (:meth:`engine.regions.polish._Reduced.deltas`)."""
        r = self._residual(z)
        MD = Dz.reshape(len(Dz), -1)[:, self.free] @ self.M.T
        quad = (MD @ r + 0.5 * np.einsum("kn,kn->k", MD, MD)) / self.n
        return quad + self.lam * penalty_deltas(z, Dz)

    def directional(self, z, d) -> tuple[float, float]:
        """``(∇f(z)·d, dᵀ∇²f d)`` of the quadratic part ``f`` (the line search's model)."""
        Md = self.M @ d.ravel()[self.free]
        return float(self._residual(z) @ Md) / self.n, float(Md @ Md) / self.n

    def step(self, z, direction: bool = True):
        """Gradient (flat) and Newton direction (flat) at ``z`` (all groups nonzero)."""
        nrm = np.sqrt(np.einsum("gk,gk->g", z, z))
        zh = z / nrm[:, None]
        grad = self.lam * zh.ravel()
        grad[self.free] += self.M.T @ self._residual(z) / self.n
        if self.any_frozen:
            grad[self.frozen] = 0.0
        if not direction:
            return grad, None
        K = len(self.free)
        n, g = self.n, self.g
        dense_cost = n * K * K + K ** 3 / 3
        schur_cost = n * n * K + n ** 3 / 3 + n * n * g + n * g * g + g ** 3 / 3
        if dense_cost <= schur_cost:
            return grad, self.newton_dense(zh, nrm, grad)
        return grad, self.newton_schur(zh, nrm, grad)

    def newton_dense(self, zh, nrm, grad) -> np.ndarray:
        """Newton direction from ``MᵀM/n + blockdiag(β_gΠ_g)`` over the free coordinates."""
        H = self.M.T @ self.M / self.n
        P = (np.eye(self.p)[None] - zh[:, :, None] * zh[:, None, :]) \
            * (self.lam / nrm)[:, None, None]
        sel, rows, cols = self._blk
        H[rows, cols] += P.ravel()[sel]
        _ridge(H)
        d = np.zeros_like(grad)
        d[self.free] = _solve(H, -grad[self.free])
        return d

    def newton_schur(self, zh, nrm, grad) -> np.ndarray:
        """The same direction through the ``n × n`` residual-space system (module docstring),
        on the free coordinates (per-group sums by ``np.add.reduceat``)."""
        n, grp, off = self.n, self.grp, self.off
        zf, gf = zh.ravel()[self.free], grad[self.free]
        inv_beta = nrm / self.lam
        m = np.add.reduceat(self.M * zf, off, axis=1)                    # radial (n, g)
        T = self.M - m[:, grp] * zf                                       # tangential (n, K)
        L = T * np.sqrt(inv_beta)[grp]
        Kmat = L @ L.T
        Kmat.reshape(-1)[::n + 1] += n
        h = T @ (gf * inv_beta[grp])
        gamma = np.add.reduceat(zf * gf, off)
        try:
            fac = cho_factor(Kmat, check_finite=False)
        except LinAlgError:                   # not SPD in floating point: dense fallback
            return self.newton_dense(zh, nrm, grad)
        sol = cho_solve(fac, np.column_stack([m, h]), check_finite=False)
        Km, Kh = sol[:, :-1], sol[:, -1]
        S = m.T @ Km
        _ridge(S)
        r = _solve(S, m.T @ Kh - gamma)
        V = gf + self.M.T @ (Km @ r - Kh)
        t = -(V - zf * np.add.reduceat(zf * V, off)[grp]) * inv_beta[grp]
        d = np.zeros_like(grad)
        d[self.free] = r[grp] * zf + t
        return d

    def unpack(self, z):
        """``u_g = B_g z_g``."""
        return np.einsum("gpk,gk->gp", self.bases, z)


def penalty_deltas(z: np.ndarray, Dz: np.ndarray) -> np.ndarray:
    """``Σ_g ‖z_g + Δ_g‖ − ‖z_g‖`` for each candidate change ``Δ = Dz[k]``, written as
    ``Σ(‖z+Δ‖² − ‖z‖²)/(‖z+Δ‖ + ‖z‖)``: accurate relative to the change, not to ``‖z‖``."""
    n0 = np.sqrt(np.einsum("gk,gk->g", z, z))
    Zn = z[None] + Dz
    n1 = np.sqrt(np.einsum("kgp,kgp->kg", Zn, Zn))
    num = 2.0 * np.einsum("gp,kgp->kg", z, Dz) + np.einsum("kgp,kgp->kg", Dz, Dz)
    with np.errstate(divide="ignore", invalid="ignore"):
        pen = np.where(n0 + n1 > 0, num / (n0 + n1), 0.0)
    return pen.sum(axis=1)

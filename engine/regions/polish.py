"""Newton polish of a working-set solution on its identified faces (MSP §4 accuracy aid).

Proximal methods identify, after finitely many steps, which groups are zero and on which face
of its cone each nonzero group lies (Lewis–Wright partial smoothness). Fixing that face —
``u_g = B_g z_g`` with ``B_g`` an orthonormal basis of the null space of the cone constraints
tight at ``u_g`` (``B_g = I`` for interior groups and all gated groups) — the problem becomes
the smooth (for ``z_g ≠ 0``) function

``φ(z) = (1/(2n))‖Mz − y‖² + λ Σ_g ‖z_g‖``, ``M = [σ_g D_g X̃ B_g]``,

with ``∇φ = Mᵀ(Mz − y)/n + λ z_g/‖z_g‖`` and ``∇²φ = MᵀM/n + λ (I − ẑ_gẑ_gᵀ)/‖z_g‖``. Damped
Newton steps (minimum-norm solves: the solution set can be a face of dimension > 0) with a
backtracking line search that keeps every group in its cone converge quadratically when the
identification is right; the result is only accepted by the caller if the duality-gap
certificate improves, so a wrong identification costs time, never correctness.
"""
from __future__ import annotations

import numpy as np

__all__ = ["polish"]

TIGHT = 1e-9


def _face_basis(a_rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Orthonormal basis (p, k) of the null space of the constraints tight at ``u``."""
    p = len(u)
    vals = a_rows @ u
    scale = np.linalg.norm(a_rows, axis=1) * np.linalg.norm(u)
    tight = a_rows[np.abs(vals) <= TIGHT * np.maximum(scale, 1e-300)]
    if len(tight) == 0:
        return np.eye(p)
    _, s, Vt = np.linalg.svd(tight, full_matrices=True)
    rank = int((s > 1e-10 * s.max()).sum())
    return Vt[rank:].T


def _feasible(A, S_rows, U, tol=1e-12) -> bool:
    """All groups satisfy ``S∘(A u) ≥ −tol·‖a‖‖u‖`` (S_rows None: no cones)."""
    if S_rows is None:
        return True
    M = S_rows * (U @ A.T)
    scale = np.linalg.norm(U, axis=1)[:, None] * np.linalg.norm(A, axis=1)[None, :]
    return bool((M >= -tol * np.maximum(scale, 1e-300)).all())


class _Reduced:
    """``φ`` on padded face coordinates ``z`` (g, p); unused coordinates are frozen at 0."""

    def __init__(self, A, y, DS, bases, lam):
        g, p = bases.shape[0], bases.shape[1]
        self.y, self.lam, self.bases, self.g, self.p = y, lam, bases, g, p
        self.mask = np.linalg.norm(bases, axis=1) > 0                      # (g, p)
        cols = np.einsum("np,gpk->gkn", A, bases) * DS[:, None, :]        # (g, p, n)
        self.M = cols.reshape(g * p, -1).T                                 # (n, g·p)
        self.gram = self.M.T @ self.M / len(y)
        self.Mty = self.M.T @ y / len(y)
        ii, jj = np.meshgrid(np.arange(p), np.arange(p), indexing="ij")
        self.rows = (np.arange(g)[:, None, None] * p + ii).ravel()
        self.cols = (np.arange(g)[:, None, None] * p + jj).ravel()

    def value(self, z):
        r = self.M @ z.ravel() - self.y
        return 0.5 * float(r @ r) / len(self.y) + self.lam * float(np.linalg.norm(z, axis=1).sum())

    def step(self, z):
        """Gradient (flat) and damped Newton direction (flat) at ``z``."""
        nrm = np.linalg.norm(z, axis=1)
        zh = z / nrm[:, None]
        g = self.gram @ z.ravel() - self.Mty + self.lam * zh.ravel()
        P = (np.eye(self.p)[None] - zh[:, :, None] * zh[:, None, :]) / nrm[:, None, None]
        P *= (self.mask[:, :, None] & self.mask[:, None, :])
        H = self.gram.copy()
        np.add.at(H, (self.rows, self.cols), self.lam * P.ravel())
        frozen = ~self.mask.ravel()
        H[frozen, frozen] += 1.0
        g[frozen] = 0.0
        H[np.diag_indices_from(H)] += 1e-12 * max(1.0, float(np.abs(np.diag(H)).max()))
        try:
            d = np.linalg.solve(H, -g)
        except np.linalg.LinAlgError:
            d = np.linalg.lstsq(H, -g, rcond=1e-12)[0]
        return g, d

    def unpack(self, z):
        return np.einsum("gpk,gk->gp", self.bases, z)


def _bases(A, S, U, active):
    """Padded face bases (g_act, p, p) and the face dimension of each active group."""
    p = A.shape[1]
    out = np.zeros((len(active), p, p))
    dims = np.zeros(len(active), dtype=int)
    for i, g in enumerate(active):
        B = np.eye(p) if S is None else _face_basis(S[g][:, None] * A, U[g])
        out[i, :, :B.shape[1]] = B
        dims[i] = B.shape[1]
    return out, dims


def _max_step(A, S_act, bases, z, d, tight_tol=TIGHT):
    """Largest ``α ≤ 1`` before a group reaches 0 or a cone constraint becomes tight.

    Returns ``(α, drop)`` where ``drop`` marks groups whose norm (nearly) vanishes at ``α``.
    """
    zd, dd = np.einsum("gk,gk->g", z, d), np.einsum("gk,gk->g", d, d)
    zz = np.einsum("gk,gk->g", z, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        a_min = np.where(dd > 0, -zd / dd, np.inf)
        near0 = (a_min > 0) & (zz - zd * zd / np.where(dd > 0, dd, 1.0) <= 1e-12 * zz)
    alpha = min(1.0, float(a_min[near0].min(initial=np.inf)))
    if S_act is not None:
        c0 = S_act * (np.einsum("gpk,gk->gp", bases, z) @ A.T)
        c1 = S_act * (np.einsum("gpk,gk->gp", bases, d) @ A.T)
        scale = np.sqrt(zz)[:, None] * np.linalg.norm(A, axis=1)[None, :]
        free = c0 > tight_tol * scale
        with np.errstate(divide="ignore", invalid="ignore"):
            hit = np.where(free & (c1 < 0), -c0 / c1, np.inf)
        alpha = min(alpha, float(hit.min(initial=np.inf)))
    drop = near0 & (a_min <= alpha * (1 + 1e-12))
    return alpha, drop


def _line_search(red, A, S_act, z, d, f, slope):
    """Armijo backtracking from the largest admissible step; returns ``(z, f, ok, changed)``.

    ``changed``: the step ended on a smaller face (a group dropped or a constraint tight).
    """
    alpha, drop = _max_step(A, S_act, red.bases, z, d)
    first, capped = True, alpha < 1.0
    while alpha > 1e-12:
        zn = z + alpha * d
        if first and drop.any():
            zn[drop] = 0.0
        if _feasible(A, S_act, red.unpack(zn)):
            fn = red.value(zn)
            if fn <= f + 1e-4 * alpha * slope:
                return zn, fn, True, first and capped
        alpha, first = alpha * 0.5, False
    return z, f, False, False


def _setup(A, y, DS, S, U, lam):
    """Active groups, their face bases and the reduced problem (None if nothing active)."""
    active = np.flatnonzero(np.linalg.norm(U, axis=1) > 0)
    if len(active) == 0:
        return None
    bases, dims = _bases(A, S, U, active)
    U[active[dims == 0]] = 0.0
    active, bases = active[dims > 0], bases[dims > 0]
    if len(active) == 0:
        return None
    red = _Reduced(A, y, DS[active], bases, lam)
    return active, red, np.einsum("gpk,gp->gk", bases, U[active])


def polish(A, y, DS, S, U, lam, max_iter: int = 60):
    """Newton-polished copy of ``U`` (g, p) on its faces (module docstring).

    Steps are capped where a group reaches zero (it is dropped) or a cone constraint becomes
    tight (the group moves to the smaller face), as in an active-set method.

    Parameters
    ----------
    A : (n, p) X̃. y : (n,). DS : (g, n) ``σ_g D_g``. S : (g, n) ``2D − 1`` or None (gated).
    U : (g, p) current (feasible) group variables. lam : λ > 0.
    """
    U = U.copy()
    if lam <= 0:
        return U
    setup = _setup(A, y, DS, S, U, lam)
    for _ in range(max_iter):
        if setup is None:
            break
        active, red, z = setup
        S_act = None if S is None else S[active]
        f = red.value(z)
        g, d = red.step(z)
        slope = float(g @ d)
        if slope >= -1e-15 * max(1.0, abs(f)):
            break
        z, f, ok, changed = _line_search(red, A, S_act, z, d.reshape(z.shape), f, slope)
        U[active] = red.unpack(z)
        if not ok:
            break
        setup = _setup(A, y, DS, S, U, lam) if changed else (active, red, z)
    return U


def reduce_support(A, DS, U, max_iter: int = 100_000):
    """Carathéodory reduction to at most ``n + 1`` nonzero groups (PE Theorem 1, ``m* ≤ n+1``).

    With more active groups than ``n + 1``, the features ``f_g = σ_g D_g X̃ u_g`` and norms
    ``‖u_g‖`` admit ``c ≠ 0`` with ``Σ c_g f_g = 0`` and ``Σ c_g ‖u_g‖ = 0``; rescaling
    ``u_g ← (1 + t c_g) u_g`` (positive factors keep every cone constraint) leaves the fit and
    the penalty unchanged and, at the first ``t`` with ``1 + t c_g = 0``, removes a group.
    """
    U = U.copy()
    n = DS.shape[1]
    for _ in range(max_iter):
        act = np.flatnonzero(np.linalg.norm(U, axis=1) > 0)
        if len(act) <= n + 1:
            break
        F = DS[act] * (U[act] @ A.T)
        M = np.vstack([F.T, np.linalg.norm(U[act], axis=1)[None, :]])
        c = np.linalg.svd(M, full_matrices=True)[2][-1]
        if not (c < 0).any():
            c = -c
        with np.errstate(divide="ignore"):
            ratio = np.where(c < 0, -1.0 / c, np.inf)
        j = int(np.argmin(ratio))
        U[act] *= np.maximum(1.0 + ratio[j] * c, 0.0)[:, None]
        U[act[j]] = 0.0
    return U

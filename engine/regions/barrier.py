"""Primal barrier (interior-point) method for the restricted ReLU program (SCIENCE.md §2.3).

The working-set program over groups ``g`` (pattern ``D_g``, sign ``σ_g``, data ``A = X̃``)

    min  (1/(2n))‖Σ_g σ_g D_g A u_g − y‖² + λ Σ_g t_g
    s.t. (2D_g − 1) ∘ (A u_g) ≥ 0,   ‖u_g‖ ≤ t_g

is solved by path following on ``τ·F − Σ log slack − Σ_g log(t_g² − ‖u_g‖²)`` (Boyd &
Vandenberghe, *Convex Optimization*, §11.3; barrier parameter ``ν = G(n + 2)``, so a centred
point is ``ν/τ``-optimal). Each Newton system is block-diagonal (one ``(p+1)×(p+1)`` block per
group: the barrier Hessians) plus the rank-``n`` fit Hessian ``(τ/n) MᵀM``; it is solved with
the Woodbury identity, so a step costs ``O(G n² p)`` instead of ``O((Gp)³)``.

At a centred point the residual ``ρ = (y − ŷ)/n`` is dual feasible for every working-set group
(stationarity gives ``c_g = σ_g AᵀD_gρ = z_g − AᵀS_gμ`` with ``μ ≥ 0`` and ``‖z_g‖ < λ``, so
``‖Π_{K_g}(c_g)‖ < λ``), the dual point a working-set certificate needs.

Status (issue #18): not wired into :func:`engine.regions.fit_convex`. Measured on the d > 2
benchmark instances, this *primal* barrier needs 100–400 Newton steps (after each increase of
``τ`` the first steps are short, and variables that must grow do so by at most ~2× per full
step), so as a warm start of the active set it was no faster than the active set alone at
n = 100, d = 6 and 5× slower at n = 150, d = 10; a primal-dual (Nesterov–Todd) variant with
the same Woodbury-structured Newton system is the intended next step.
"""
from __future__ import annotations

from typing import Generator

import numpy as np

from engine.core import Progress

__all__ = ["interior_points", "barrier_solve"]

MU = 12.0               # barrier parameter growth per centring
CENTRED = 1e-6          # Newton decrement²/2 at which a centring stops
MAX_NEWTON = 400        # Newton steps in all (reached at n = 200, d = 20: see Status above)


def interior_points(A: np.ndarray, D: np.ndarray, gates=None) -> np.ndarray | None:
    """A point strictly inside each cone ``K = {u : (2D − 1) ∘ (A u) > 0}`` (rows of the
    result, unit norm), from the pattern's gate when known, else the least-squares solution
    of ``(2D − 1) ∘ (A u) = 1``; ``None`` if some cone has no such point found."""
    S = np.where(D, 1.0, -1.0)
    if gates is not None:
        U = np.asarray(gates, dtype=np.float64).copy()
    else:
        U = np.stack([np.linalg.lstsq(s[:, None] * A, np.ones(len(A)), rcond=None)[0]
                      for s in S])
    norms = np.linalg.norm(U, axis=1)
    if not (norms > 0).all():
        return None
    U /= norms[:, None]
    if not ((S * (U @ A.T)).min(axis=1) > 0).all():
        return None
    return U


def start_point(A, U_prev, interior, scale: float):
    """A strictly feasible ``(U, t)``: ``0.9 U_prev + 0.1·scale·interior`` (``U_prev`` may be
    zero) and ``t = 1.1‖u‖``; the convex combination of a cone point and an interior point is
    interior."""
    U = 0.9 * U_prev + 0.1 * scale * interior
    return U, 1.1 * np.linalg.norm(U, axis=1) + 1e-12


class _Barrier:
    """Value, gradient and Newton step of ``τF + φ`` for one working set."""

    def __init__(self, A, y, DS, S, lam):
        self.A, self.y, self.DS, self.S, self.lam = A, y, DS, S, lam
        self.n = len(y)
        self.nu = DS.shape[0] * (self.n + 2)

    def parts(self, U, t):
        """``(F, slack, w, r)`` or ``None`` outside the domain."""
        Z = U @ self.A.T
        slack = self.S * Z
        w = t * t - np.einsum("gp,gp->g", U, U)
        if not (slack.min(initial=1.0) > 0 and w.min(initial=1.0) > 0 and (t > 0).all()):
            return None
        r = np.einsum("gn,gn->n", self.DS, Z) - self.y
        F = 0.5 * float(r @ r) / self.n + self.lam * float(t.sum())
        return F, slack, w, r

    def value(self, U, t, tau):
        p = self.parts(U, t)
        if p is None:
            return np.inf
        F, slack, w, _ = p
        return tau * F - float(np.log(slack).sum()) - float(np.log(w).sum())

    def newton(self, U, t, tau):
        """Newton direction ``(dU, dt)`` and the decrement² ``−gᵀΔ``."""
        A, n = self.A, self.n
        F, slack, w, r = self.parts(U, t)
        inv = 1.0 / slack
        gU = tau * ((self.DS * (r / n)) @ A) - (self.S * inv) @ A + 2.0 * U / w[:, None]
        gt = tau * self.lam - 2.0 * t / w
        Binv = _block_inverse(self._blocks(U, t, w, inv))
        g = np.concatenate([gU, gt[:, None]], axis=1)
        c = np.sqrt(tau / n)
        h = np.einsum("gij,gj->gi", Binv, g)                                 # B⁻¹g
        L = c * (self.DS[:, :, None] * A[None])                              # (G, n, p)
        R = L @ Binv[:, :-1, :-1]                                            # (G, n, p)
        G, p = U.shape
        cap = np.eye(n) + R.transpose(1, 0, 2).reshape(n, G * p) @ \
            L.transpose(1, 0, 2).reshape(n, G * p).T
        z = np.linalg.solve(cap, (L @ h[:, :-1, None]).sum(axis=0)[:, 0])
        delta = -h + np.einsum("gij,gj->gi", Binv[:, :, :-1], (z @ L))
        return delta[:, :-1], delta[:, -1], float(-(g * delta).sum())

    def _blocks(self, U, t, w, inv):
        """Per-group Hessian blocks of the barrier terms, ``(G, p+1, p+1)``."""
        G, p = U.shape
        B = np.zeros((G, p + 1, p + 1))
        B[:, :p, :p] = ((inv * inv)[:, :, None] * self.A[None]).transpose(0, 2, 1) @ self.A
        w2 = w * w
        B[:, :p, :p] += (2.0 / w)[:, None, None] * np.eye(p)
        B[:, :p, :p] += 4.0 * U[:, :, None] * U[:, None, :] / w2[:, None, None]
        B[:, :p, p] = B[:, p, :p] = -4.0 * t[:, None] * U / w2[:, None]
        B[:, p, p] = (4.0 * t * t - 2.0 * w) / w2
        return B


def _block_inverse(B: np.ndarray) -> np.ndarray:
    """Inverses of SPD blocks, Jacobi-scaled first (barrier Hessians are badly scaled: the
    ``1/slack²`` of nearly active constraints next to O(1) entries)."""
    s = 1.0 / np.sqrt(np.einsum("gii->gi", B))
    Bs = s[:, :, None] * B * s[:, None, :]
    try:
        inv = np.linalg.inv(Bs)
    except np.linalg.LinAlgError:
        inv = np.linalg.pinv(Bs, hermitian=True)
    return s[:, :, None] * inv * s[:, None, :]


def _step(bar, U, t, tau, dU, dt, dec2):
    """Backtracking line search (feasibility, then Armijo); returns the new ``(U, t)``."""
    phi0 = bar.value(U, t, tau)
    dS = bar.S * (dU @ bar.A.T)
    slack = bar.S * (U @ bar.A.T)
    neg = dS < 0
    alpha = min(1.0, 0.99 * float((-slack[neg] / dS[neg]).min(initial=np.inf)))
    for _ in range(60):
        Un, tn = U + alpha * dU, t + alpha * dt
        if bar.value(Un, tn, tau) <= phi0 - 0.25 * alpha * dec2:
            return Un, tn
        alpha *= 0.5
    return U, t


def barrier_solve(A, y, DS, S, lam, U, t, gap: float, tau: float | None = None) -> Generator:
    """Path following from the strictly feasible ``(U, t)`` until ``ν/τ ≤ gap·F`` (``gap``
    relative to the objective ``F``); returns
    ``(U, t, tau, newton_steps)`` (yields :class:`Progress` once per centring)."""
    bar = _Barrier(A, y, DS, S, lam)
    if tau is None:
        tau = bar.nu / max(bar.parts(U, t)[0], 1e-12)
    steps = 0
    while True:
        while steps < MAX_NEWTON:
            dU, dt, dec2 = bar.newton(U, t, tau)
            steps += 1
            if not np.isfinite(dec2) or dec2 / 2 <= CENTRED:
                break
            U_new, t_new = _step(bar, U, t, tau, dU, dt, dec2)
            if U_new is U:
                break
            U, t = U_new, t_new
        yield Progress(0.0, f"barrier: gap bound {bar.nu / tau:.1e}, {steps} Newton steps")
        if bar.nu / tau <= gap * bar.parts(U, t)[0] or steps >= MAX_NEWTON:
            return U, t, tau, steps
        tau *= MU

"""The tractable relaxation of the copositive program for any input dimension d (SCIENCE.md
§7.1.4), on sampled activation patterns, solved by ADMM with a duality-gap certificate.

For the sampled patterns ``D_i`` (cones ``𝒦_i = {u : K_i u ≥ 0}``, ``K_i = (2D_i − I)X``) the
lifted primal SDP of §7.1.4 is::

    min  ½‖Σ_i D_i X Z_i − Y‖² + (β/2) Σ_i (tr A_i + tr B_i)
    s.t. M_i = [[A_i, Z_i], [Z_iᵀ, B_i]] ⪰ 0,   F_i A_i F_iᵀ ≥ 0 (elementwise),

where ``F_i`` holds only the facet rows of ``K_i`` (§7.6's budget rule: a redundant row
``k = λᵀF``, ``λ ≥ 0``, adds nothing, since ``k A k'ᵀ = λᵀ(F A Fᵀ)λ' ≥ 0``). ADMM splits the
blocks from the PSD cone and ``F A Fᵀ`` from the non-negative orthant; the ``Z`` step is one
Woodbury solve shared by all blocks, the ``A`` step is diagonal in the eigenbasis of ``FᵀF``.

Certificate: with ``Λ`` the residual ``Y − Σ D_i X Z_i`` and ``N_i ≥ 0`` the multipliers of
``F A Fᵀ ≥ 0``, the dual constraint of block i is ``λ_max(Xᵀ D_i ΛΛᵀ D_i X + F_iᵀ N_i F_i)
≤ β²`` (the relaxed form of §7.1.4's copositivity); scaling ``(Λ, N)`` by ``min(1, β/ĝ)`` and
``min(1, β/ĝ)²`` makes it feasible, and ``½‖Y‖² − ½‖Λ − Y‖²`` is then a lower bound on the
relaxation. The gap to the primal value is the certificate.

What the value bounds (§7.1.9 pitfalls): the relaxation over the *sampled* patterns is a lower
bound on the objective of every network whose neurons use only those patterns; sampling makes
it a restriction of the full program, so it is no bound on the global p* either way — except
that when every active block has rank 1 the read-off network attains it (§7.1.4), so it is
then that network's objective, an upper bound on p*.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generator

import numpy as np
import torch

from engine.core import Progress

__all__ = ["facet_rows", "RelaxationProblem", "RelaxationSolution", "solve_relaxation"]


def facet_rows(K: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """The rows of ``K`` that define facets of ``{u : K u ≥ 0}`` (unit length): a row in the
    conic hull of the rows kept so far is dropped (Farkas: it is implied by them)."""
    from scipy.optimize import nnls
    rows = K / np.maximum(np.linalg.norm(K, axis=1, keepdims=True), 1e-300)
    keep = list(range(len(rows)))
    for j in range(len(rows)):
        others = [k for k in keep if k != j]
        if not others:
            continue
        _, resid = nnls(rows[others].T, rows[j])
        if resid <= tol:
            keep.remove(j)
    return rows[keep]


@dataclass
class RelaxationProblem:
    """Data of the relaxation: ``X`` (n, d), ``Y`` (n, c), ``beta``, ``patterns`` (n, P) bool,
    and the facet rows ``F`` (P, f, d) of every cone, zero-padded to a common count ``f``."""
    X: np.ndarray
    Y: np.ndarray
    beta: float
    patterns: np.ndarray
    F: np.ndarray

    @classmethod
    def build(cls, X, Y, beta, patterns) -> "RelaxationProblem":
        X, Y = np.asarray(X, float), np.asarray(Y, float).reshape(len(X), -1)
        pats = np.asarray(patterns, bool)
        facets = [facet_rows((2.0 * pats[:, i, None] - 1.0) * X) for i in range(pats.shape[1])]
        f = max(len(r) for r in facets)
        F = np.zeros((len(facets), f, X.shape[1]))
        for i, r in enumerate(facets):
            F[i, :len(r)] = r
        return cls(X, Y, float(beta), pats, F)

    @property
    def sizes(self) -> tuple[int, int, int, int]:
        """``(n, d, c, P)``."""
        return (*self.X.shape, self.Y.shape[1], self.patterns.shape[1])

    def fit(self, Z: np.ndarray) -> np.ndarray:
        """``Σ_i D_i X Z_i`` for ``Z`` of shape (P, d, c)."""
        return np.einsum("ni,nd,idc->nc", self.patterns.astype(float), self.X, Z)

    def objective(self, M: np.ndarray) -> float:
        """The primal objective at blocks ``M`` (P, d + c, d + c)."""
        d = self.X.shape[1]
        R = self.fit(M[:, :d, d:]) - self.Y
        return float(0.5 * np.sum(R ** 2) + 0.5 * self.beta * np.einsum("ijj->", M))

    def dual_bound(self, Lam: np.ndarray, N: np.ndarray) -> float:
        """``½‖Y‖² − ½‖sΛ − Y‖²`` at the feasible scaling ``s = min(1, β/ĝ)`` of ``(Λ, N)``,
        ``ĝ² = max_i λ_max(Xᵀ D_i ΛΛᵀ D_i X + F_iᵀ N_i F_i)``, ``N ≥ 0`` (module docstring)."""
        A = np.einsum("ni,nc,nd->icd", self.patterns.astype(float), Lam, self.X)
        G = np.einsum("icd,ice->ide", A, A) + np.einsum("ifd,ifg,ige->ide", self.F,
                                                          np.maximum(N, 0.0), self.F)
        g2 = float(np.linalg.eigvalsh(G)[:, -1].max())
        s = min(1.0, self.beta / np.sqrt(g2)) if g2 > 0 else 1.0
        return float(0.5 * np.sum(self.Y ** 2) - 0.5 * np.sum((s * Lam - self.Y) ** 2))


@dataclass
class RelaxationSolution:
    """The relaxation's optimum: ``blocks`` (P, d + c, d + c) PSD, its ``objective``, the
    certified ``lower_bound`` and the iterations taken; ``violation`` is the largest
    ``−(F A Fᵀ)`` entry left at the PSD iterate (≥ 0)."""
    blocks: np.ndarray
    objective: float
    lower_bound: float
    iterations: int
    violation: float

    @property
    def gap(self) -> float:
        """Duality gap ``objective − lower_bound`` (≥ 0)."""
        return max(self.objective - self.lower_bound, 0.0)


def _psd(M: np.ndarray) -> np.ndarray:
    """Projection of every block onto the PSD cone; a block whose negative is positive
    definite (a batched Cholesky test, cheaper than ``eigh``) projects to 0."""
    _, info = torch.linalg.cholesky_ex(torch.from_numpy(-M))
    out = np.zeros_like(M)
    some = np.flatnonzero(info.numpy() != 0)
    if some.size:
        w, V = np.linalg.eigh(M[some])
        out[some] = (V * np.maximum(w, 0.0)[:, None, :]) @ np.transpose(V, (0, 2, 1))
    return out


class _Admm:
    """The ADMM iteration (scaled form) of the module docstring, with over-relaxation 1.6 and
    residual balancing of ρ."""

    def __init__(self, prob: RelaxationProblem, rho: float, sigma: float = 1.0):
        self.p, self.sigma = prob, sigma
        n, d, c, P = prob.sizes
        self.d, self.c = d, c
        self.K = np.einsum("ni,nd->nid", prob.patterns.astype(float), prob.X).reshape(n, P * d)
        self.KKt = self.K @ self.K.T
        self.Ft = np.transpose(prob.F, (0, 2, 1))
        lam, self.Q = np.linalg.eigh(self.Ft @ prob.F)
        self.Qt = np.transpose(self.Q, (0, 2, 1))
        self.KtY = self.K.T @ prob.Y
        self.denom = 1.0 + sigma * lam[:, :, None] * lam[:, None, :]
        k = d + c
        self.Mt = np.zeros((P, k, k))               # PSD copy
        self.U = np.zeros((P, k, k))                # its scaled multiplier
        f = prob.F.shape[1]
        self.Nt = np.zeros((P, f, f))               # non-negative copy of F A Fᵀ
        self.T = np.zeros((P, f, f))
        self.set_rho(rho)

    def set_rho(self, rho: float) -> None:
        self.rho = rho
        self.inner_inv = np.linalg.inv(self.KKt + 2 * rho * np.eye(len(self.KKt)))

    def _z_step(self, VZ: np.ndarray) -> np.ndarray:
        P, d, c = VZ.shape[0], self.d, self.c
        b = self.KtY + 2 * self.rho * VZ.reshape(P * d, c)
        y = self.inner_inv @ (self.K @ b)
        return ((b - self.K.T @ y) / (2 * self.rho)).reshape(P, d, c)

    def _a_step(self, VA: np.ndarray, W: np.ndarray) -> np.ndarray:
        rhs = VA + self.sigma * (self.Ft @ W @ self.p.F) \
            - (self.p.beta / (2 * self.rho)) * np.eye(self.d)
        return self.Q @ ((self.Qt @ rhs @ self.Q) / self.denom) @ self.Qt

    def step(self) -> float:
        """One iteration; returns the primal residual."""
        d, F = self.d, self.p.F
        V, W = self.Mt - self.U, self.Nt - self.T
        M = np.empty_like(V)
        A = self._a_step(V[:, :d, :d], W)
        Z = self._z_step(V[:, :d, d:])
        M[:, :d, :d], M[:, :d, d:] = A, Z
        M[:, d:, :d] = np.transpose(Z, (0, 2, 1))
        M[:, d:, d:] = V[:, d:, d:] - (self.p.beta / (2 * self.rho)) * np.eye(self.c)
        FAF = F @ A @ self.Ft
        Mr = 1.6 * M + (1 - 1.6) * self.Mt
        Nr = 1.6 * FAF + (1 - 1.6) * self.Nt
        old = self.Mt
        self.Mt = _psd(Mr + self.U)
        self.Nt = np.maximum(Nr + self.T, 0.0)
        self.U += Mr - self.Mt
        self.T += Nr - self.Nt
        self.dual_res = self.rho * np.linalg.norm(self.Mt - old)
        return float(np.sqrt(np.sum((M - self.Mt) ** 2)
                             + self.sigma * np.sum((FAF - self.Nt) ** 2)))

    def state(self) -> np.ndarray:
        """The iteration's state ``(M̃, U, Ñ, T)`` as one vector (ADMM is a map of it)."""
        return np.concatenate([self.Mt.ravel(), self.U.ravel(), self.Nt.ravel(),
                               self.T.ravel()])

    def set_state(self, x: np.ndarray) -> None:
        parts, k = [], 0
        for arr in (self.Mt, self.U, self.Nt, self.T):
            parts.append(x[k:k + arr.size].reshape(arr.shape))
            k += arr.size
        self.Mt, self.U, self.Nt, self.T = parts

    def rebalance(self, primal: float) -> None:
        """Residual balancing (Boyd et al. 2011 §3.4.1): ρ ×/÷ 2 when one residual is ten
        times the other; the scaled multipliers are rescaled with it."""
        factor = 2.0 if primal > 10 * self.dual_res else 0.5 if self.dual_res > 10 * primal \
            else 1.0
        if factor != 1.0:
            self.U /= factor
            self.T /= factor
            self.set_rho(self.rho * factor)

    def certificate(self) -> tuple[float, float, float]:
        """``(objective, dual lower bound, violation)`` at the PSD iterate."""
        p, d = self.p, self.d
        Lam = p.Y - p.fit(self.Mt[:, :d, d:])
        N = -2 * p.beta * self.rho * self.sigma * self.T
        FAF = np.einsum("ifd,ide,ige->ifg", p.F, self.Mt[:, :d, :d], p.F)
        return p.objective(self.Mt), p.dual_bound(Lam, N), float(max(0.0, -FAF.min()))


def solve_relaxation(prob: RelaxationProblem, *, tol: float = 1e-5, max_iters: int = 4000,
                     check_every: int = 50) -> Generator[Progress, None, RelaxationSolution]:
    """Solve the relaxation by ADMM until the certified gap is below ``tol·max(1, |p|)`` and
    the largest ``−F A Fᵀ`` entry below ``tol·max(1, Σ tr M_i)`` (or ``max_iters``); yields a
    Progress at every check. Returns :class:`RelaxationSolution` (its lower bound the best
    one seen; the lower bound is valid whatever the iterate, §7.0's scaling argument)."""
    admm = _Admm(prob, rho=2 * max(prob.beta, 1e-3), sigma=4.0)
    low = -np.inf
    for it in range(1, max_iters + 1):
        primal = admm.step()
        if it % check_every and it != max_iters:
            continue
        obj, bound, viol = admm.certificate()
        low = max(low, bound)
        sol = RelaxationSolution(admm.Mt.copy(), obj, low, it, viol)
        size = max(1.0, float(np.einsum("ijj->", sol.blocks)))
        if sol.gap <= tol * max(1.0, abs(obj)) and viol <= tol * size:
            break
        admm.rebalance(primal)
        yield Progress(min(it / max_iters, 0.99), f"relaxation: duality gap {sol.gap:.2e}")
    return sol

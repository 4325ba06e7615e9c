"""Augmented Lagrangian for the constrained ReLU program (SCIENCE.md §2.3, §2.6; MSP §4.2).

``min (1/(2n))‖Σ_g σ_g D_g X̃ u_g − y‖² + λ Σ_g ‖u_g‖  s.t.  (2D_g − I) X̃ u_g ≥ 0``

is solved over a working set of groups by the method of multipliers: each sub-problem
``f + (δ/2)‖relu(γ/δ − S∘Z)‖² + λΣ‖u_g‖`` by R-FISTA (:mod:`engine.regions.fista`), then
``γ ← relu(γ − δ S∘Z)``; ``δ`` doubles whenever the largest violation fails to shrink by 4×
(Bertsekas' rule; scnn starts at ``δ = 1000/n`` and tunes it in a window, MSP §4.2). The final
iterate is made exactly feasible by projecting each group on its cone
(:func:`engine.regions.cones.project_cone`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generator

import numpy as np

from engine.regions.cones import project_cone
from engine.regions.fista import Clock, fista
from engine.regions.programs import GroupData

__all__ = ["ALState", "solve_relu_al", "project_groups"]


@dataclass
class ALState:
    """Warm-start state carried across working-set rounds: multipliers, δ, step."""
    gamma: np.ndarray
    delta: float
    step: float
    n_iter: int = 0
    history: list = field(default_factory=list)

    def grow(self, extra: int, n: int) -> None:
        """Zero multipliers for ``extra`` groups appended to the working set."""
        self.gamma = np.vstack([self.gamma, np.zeros((extra, n))])


def initial_state(n_groups: int, n: int, A: np.ndarray, method: str = "al") -> ALState:
    """``γ = 0``, ``δ = 10/n``, first step ``1/L`` of one group's fit (+ penalty).

    scnn starts at ``δ = 1000/n``; with the exact final projection and the Newton polish a
    softer penalty (better-conditioned sub-problems) converges faster here.
    """
    delta = 10.0 / n
    lip = float(np.linalg.svd(A, compute_uv=False)[0] ** 2)        # ‖A‖₂²
    step = 1.0 / (delta * lip + lip / n) if method == "al" else n / lip
    return ALState(np.zeros((n_groups, n)), delta, step)


def solve_relu_al(gd: GroupData, U: np.ndarray, lam: float, state: ALState, *, tol: float,
                  constraint_tol: float, max_iter: int, clock: Clock) -> Generator:
    """Method of multipliers on the working set ``gd`` from ``U``; returns ``(U, converged)``.

    ``tol`` bounds the min-norm subgradient of each sub-problem, ``constraint_tol`` the
    largest violation ``max relu(−S∘Z)`` (relative to ``max|Z|``).
    """
    viol_prev, converged = np.inf, False
    for outer in range(200):
        g_over_d = state.gamma / state.delta
        res = yield from fista(U, lambda V: gd.al_smooth(V, g_over_d, state.delta), lam,
                               step=state.step, tol=tol,
                               max_iter=max(1, max_iter - state.n_iter), clock=clock,
                               label=f"ReLU AL (δ = {state.delta:.3g})")
        U, state.step = res.U, res.step
        state.n_iter += res.n_iter
        SZ = gd.S * (U @ gd.A.T)
        viol = float(np.maximum(-SZ, 0.0).max(initial=0.0))
        scale = max(float(np.abs(SZ).max(initial=0.0)), 1e-300)
        state.gamma = np.maximum(state.gamma - state.delta * SZ, 0.0)
        state.history.append(_objective(gd, U, lam))
        if (viol <= constraint_tol * scale and res.converged) or state.n_iter >= max_iter:
            converged = viol <= constraint_tol * scale and res.converged
            break
        if viol > 0.25 * viol_prev:
            state.delta *= 2.0
            state.step /= 2.0
        viol_prev = viol
    return U, converged


def _objective(gd: GroupData, U: np.ndarray, lam: float) -> float:
    _, r = gd.fit(U)
    return 0.5 * float(r @ r) / gd.n + lam * float(np.linalg.norm(U, axis=1).sum())


def project_groups(A: np.ndarray, D: np.ndarray, U: np.ndarray) -> np.ndarray:
    """Each nonzero row ``u_g`` replaced by ``Π_{K_g}(u_g)`` (exactly feasible, §2.4)."""
    out = np.zeros_like(U)
    for g in np.flatnonzero(np.linalg.norm(U, axis=1) > 0):
        out[g] = project_cone(A, D[g], U[g])
    return out

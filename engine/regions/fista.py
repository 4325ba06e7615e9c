"""R-FISTA: accelerated proximal gradient with restarts for group-lasso problems.

``min_U f(U) + λ Σ_i ‖U_i‖₂`` (rows ``U_i`` are the groups), SCIENCE.md §2.6 / MSP (arXiv
2202.01331) §4 and scnn ``private/methods/optimization_procedures``:

* prox = block soft-thresholding ``U_i ← max(0, 1 − ηλ/‖U_i‖) U_i``;
* textbook momentum ``t_{k+1} = (1 + √(1 + 4t_k²))/2``;
* backtracking on the quadratic upper bound (factor 0.8) and "Lassplore" growth ×1.25
  when the local curvature is below ``1/(5η)``;
* gradient-mapping restart (O'Donoghue–Candès): ``t = 1, V = U`` when
  ``⟨U_{k+1} − U_k, V_k − U_{k+1}⟩ > 0``;
* stop when the largest group norm of the minimum-norm subgradient is ≤ ``tol``.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Generator

import numpy as np

from engine.core import Progress

__all__ = ["group_soft_threshold", "min_norm_subgradient", "fista", "FistaResult", "Clock"]

REPORT_SECONDS = 0.04


class Clock:
    """True every ``REPORT_SECONDS`` of wall time (progress / cancellation points);
    :meth:`expired` once the wall-clock ``deadline`` (``time.perf_counter`` value) is past."""

    def __init__(self, deadline: float = math.inf):
        self.last = time.perf_counter()
        self.deadline = deadline

    def expired(self) -> bool:
        return time.perf_counter() >= self.deadline

    def due(self) -> bool:
        now = time.perf_counter()
        if now - self.last >= REPORT_SECONDS:
            self.last = now
            return True
        return False


@dataclass
class FistaResult:
    """``U`` at exit, iterations used, whether ``tol`` was met, last step and subgradient."""
    U: np.ndarray
    n_iter: int
    converged: bool
    step: float
    subgradient: float


def group_soft_threshold(Z: np.ndarray, thresh: float) -> np.ndarray:
    """Prox of ``thresh Σ_i ‖Z_i‖``: ``max(0, 1 − thresh/‖Z_i‖) Z_i`` row-wise."""
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(norms > thresh, 1.0 - thresh / norms, 0.0)
    return Z * scale


def min_norm_subgradient(U: np.ndarray, G: np.ndarray, lam: float) -> float:
    """``max_i ‖s_i‖`` of the min-norm subgradient ``s ∈ ∇f(U) + λ∂Σ‖U_i‖``."""
    norms = np.linalg.norm(U, axis=1, keepdims=True)
    active = norms[:, 0] > 0
    S = np.empty_like(G)
    S[active] = G[active] + lam * U[active] / norms[active]
    gn = np.linalg.norm(G[~active], axis=1, keepdims=True)
    S[~active] = G[~active] * np.maximum(0.0, 1.0 - lam / np.maximum(gn, 1e-300))
    return float(np.linalg.norm(S, axis=1).max(initial=0.0))


def _backtrack(smooth, prox, lam, V, fv, gv, eta):
    """One proximal step from ``V`` with backtracking; returns ``(U, f, g, η, curvature)``."""
    for _ in range(60):
        U = prox(V - eta * gv, eta * lam)
        diff = U - V
        f, g = smooth(U)
        lin = float(np.vdot(gv, diff))
        sq = float(np.vdot(diff, diff))
        quad = sq / (2 * eta) if eta > 0 else math.inf     # η underflowed: any step passes
        if f <= fv + lin + quad + 1e-14 * abs(fv):
            curv = 2.0 * (f - fv - lin) / sq if sq > 0 else 0.0
            return U, f, g, eta, curv
        eta *= 0.8
    return U, f, g, eta, math.inf


def fista(U0: np.ndarray, smooth: Callable, lam: float, *, step: float, tol: float,
          max_iter: int, clock: Clock, label: str = "FISTA",
          prox: Callable | None = None) -> Generator:
    """R-FISTA on ``f + λΣ‖U_i‖`` (+ cone indicators via ``prox``); a progress generator.

    Parameters
    ----------
    U0 : (g, p) start. smooth : ``U ↦ (f(U), ∇f(U))``. lam : group-lasso weight.
    step : first step size. tol : stop when the largest group norm of a subgradient is ≤ tol
        (:func:`min_norm_subgradient` without ``prox``; with ``prox`` the subgradient
        ``∇f(U⁺) − ∇f(V) + (V − U⁺)/η ∈ ∂F(U⁺)`` read off the prox step).
    prox : ``(Z, t) ↦ prox_{t h}(Z)`` of the non-smooth part; default group soft-threshold.

    Returns
    -------
    FistaResult
    """
    custom = prox is not None
    prox = prox or group_soft_threshold
    U, (fu, gu) = U0, smooth(U0)
    V, fv, gv, t, eta = U, fu, gu, 1.0, step
    sub = np.inf if custom else min_norm_subgradient(U, gu, lam)
    for k in range(1, max_iter + 1):
        if sub <= tol:
            return FistaResult(U, k - 1, True, eta, sub)
        U_new, fu, gu, eta_used, curv = _backtrack(smooth, prox, lam, V, fv, gv, eta)
        if custom:
            S = gu - gv + (V - U_new) / eta_used
            sub = float(np.linalg.norm(S, axis=1).max(initial=0.0))
        else:
            sub = min_norm_subgradient(U_new, gu, lam)
        eta = eta_used
        if float(np.vdot(U_new - U, V - U_new)) > 0:           # gradient-mapping restart
            t, V, fv, gv = 1.0, U_new, fu, gu
        else:
            t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
            V = U_new + ((t - 1.0) / t_new) * (U_new - U)
            t = t_new
            fv, gv = smooth(V)
        U = U_new
        if curv * eta * 5.0 < 1.0:
            eta *= 1.25
        if clock.due():
            yield Progress(0.0, f"{label}: iteration {k}, subgradient {sub:.2e}")
    return FistaResult(U, max_iter, sub <= tol, eta, sub)

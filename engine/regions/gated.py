"""Gated-ReLU convex program (SCIENCE.md §2.5; MSP arXiv 2202.01331 eq. (5)).

``min_u (1/(2n))‖Σ_i D_i X̃ u_i − y‖² + λ Σ_i ‖u_i‖₂`` — an unconstrained group lasso with
fixed gates, solved by R-FISTA (:mod:`engine.regions.fista`). With ``λ = 0`` it is ordinary
least squares on the features ``[D_1 X̃, ..., D_P X̃]`` (scnn's ``LeastSquaresSolver``); the
minimum-norm solution is computed through the kernel ``K = (DᵀD) ∘ (X̃X̃ᵀ)`` (n × n):
``α = K⁺y``, ``u_i = X̃ᵀ(D_i ∘ α)``, ``ŷ = Kα``.
"""
from __future__ import annotations

from typing import Generator

import numpy as np

from engine.regions.fista import Clock, fista
from engine.regions.programs import GroupData

__all__ = ["solve_gated", "least_squares_gated"]


def solve_gated(gd: GroupData, U: np.ndarray, lam: float, step: float, *, tol: float,
                max_iter: int, clock: Clock) -> Generator:
    """R-FISTA on the working set ``gd``; returns the :class:`FistaResult`."""
    return (yield from fista(U, gd.fit_smooth, lam, step=step, tol=tol, max_iter=max_iter,
                             clock=clock, label="gated ReLU FISTA"))


def least_squares_gated(A: np.ndarray, D: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Minimum-norm least-squares gated weights ``U`` (P, p) for ``λ = 0``."""
    Df = D.astype(np.float64)
    K = (Df.T @ Df) * (A @ A.T)
    alpha = np.linalg.lstsq(K, y, rcond=1e-12)[0]
    return (Df * alpha[None, :]) @ A

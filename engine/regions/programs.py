"""The smooth parts of the convex programs over a working set of groups (SCIENCE.md §2.3-2.5).

A *group* is a pattern ``D_k`` and a sign ``σ = ±1`` (``+1``: ``v_k``, ``−1``: ``w_k`` of PE's
program; the gated program uses ``σ = +1`` only). With ``U`` (g, p) the group variables and
``Z = U X̃ᵀ``, the prediction is ``ŷ = Σ_g σ_g D_g ∘ Z_g`` and the fit is
``(1/(2n))‖ŷ − y‖²`` (scnn scaling). The ReLU program adds the augmented-Lagrangian term of the
cone constraints ``s_g ∘ Z_g ≥ 0`` (``s = 2D − 1``), scnn's AL (MSP §4.2):
``(δ/2) Σ_g ‖relu(γ_g/δ − s_g ∘ Z_g)‖²``, multiplier update ``γ ← relu(γ − δ s ∘ Z)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

__all__ = ["GroupData", "fit_value", "predict"]


@dataclass
class GroupData:
    """Data of a working set: ``A = X̃`` (n, p), ``y``, ``DS = σ D`` (g, n), ``S = 2D − 1``."""
    A: np.ndarray
    y: np.ndarray
    DS: np.ndarray
    S: Optional[np.ndarray]

    @classmethod
    def build(cls, A, y, D: np.ndarray, sigma: np.ndarray, constrained: bool) -> "GroupData":
        """From bool patterns ``D`` (g, n) and signs ``sigma`` (g,)."""
        Df = D.astype(np.float64)
        S = (2.0 * Df - 1.0) if constrained else None
        return cls(A, y, sigma[:, None] * Df, S)

    @property
    def n(self) -> int:
        return len(self.y)

    def fit(self, U: np.ndarray):
        """``(Z, r)``: ``Z = U Aᵀ`` and the residual ``r = ŷ − y``."""
        Z = U @ self.A.T
        return Z, np.einsum("gn,gn->n", self.DS, Z) - self.y

    def fit_smooth(self, U: np.ndarray):
        """``f = (1/(2n))‖r‖²`` and its gradient ``(1/n)(DS ∘ r) A``."""
        _, r = self.fit(U)
        return 0.5 * float(r @ r) / self.n, ((self.DS * r) @ self.A) / self.n

    def al_smooth(self, U: np.ndarray, gamma_over_delta: np.ndarray, delta: float):
        """Fit plus AL penalty ``(δ/2)‖relu(γ/δ − S∘Z)‖²`` and the gradient."""
        Z, r = self.fit(U)
        E = np.maximum(gamma_over_delta - self.S * Z, 0.0)
        f = 0.5 * float(r @ r) / self.n + 0.5 * delta * float(np.vdot(E, E))
        G = (self.DS * (r / self.n) - delta * (self.S * E)) @ self.A
        return f, G

    def violation(self, U: np.ndarray) -> np.ndarray:
        """``relu(−S∘Z)`` (g, n): cone-constraint violations."""
        return np.maximum(-(self.S * (U @ self.A.T)), 0.0)


def predict(A: np.ndarray, D: np.ndarray, sigma: np.ndarray, U: np.ndarray) -> np.ndarray:
    """``ŷ = Σ_g σ_g D_g ∘ (A u_g)`` for bool patterns ``D`` (g, n)."""
    if len(U) == 0:
        return np.zeros(len(A))
    return np.einsum("gn,gn->n", np.where(D, sigma[:, None], 0.0), U @ A.T)


def fit_value(A, D, sigma, U, y, lam) -> float:
    """Convex objective ``(1/(2n))‖ŷ − y‖² + λ Σ_g ‖u_g‖`` (scnn scaling)."""
    r = predict(A, D, sigma, U) - y
    return 0.5 * float(r @ r) / len(y) + lam * float(np.linalg.norm(U, axis=1).sum())

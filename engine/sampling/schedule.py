"""Noise schedules: linear-β DDPM (VP) with respacing, and the geometric VE schedule.

SCIENCE.md §3.1. Time indices are 1-based as in the papers: ``x_T`` is (almost) pure noise,
``x_0`` the data; ``ᾱ_0 = 1`` by convention, ``ᾱ_t = Π_{s≤t} (1 - β_s)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Schedule", "T_DEFAULT", "ve_sigmas", "ddim_coordinates"]

T_DEFAULT = 1000


@dataclass(frozen=True)
class Schedule:
    """Discrete VP schedule ``ᾱ_t``, ``t = 0..T`` (float64, CPU).

    Attributes
    ----------
    alpha_bar : ndarray (T + 1,)
        ``ᾱ_0 = 1``, ``ᾱ_t = Π_{s≤t}(1 - β_s)``.
    """
    alpha_bar: np.ndarray

    @classmethod
    def linear(cls, T: int = T_DEFAULT, beta_min: float = 1e-4,
               beta_max: float = 0.02) -> "Schedule":
        """DDPM's linear ``β_t`` from ``beta_min`` to ``beta_max`` over ``T`` steps (HO 2020)."""
        betas = np.linspace(beta_min, beta_max, T, dtype=np.float64)
        return cls(np.concatenate([[1.0], np.cumprod(1.0 - betas)]))

    @property
    def T(self) -> int:
        return len(self.alpha_bar) - 1

    def ab(self, t: int) -> float:
        """``ᾱ_t`` as a Python float."""
        return float(self.alpha_bar[int(t)])

    def grid(self, n_steps: int) -> np.ndarray:
        """Respaced time indices ``[T, ..., t_1, 0]`` (length ``n_steps + 1``, descending).

        Evenly spaced "trailing" respacing ``t_i = round(i T / n)``: the first step starts at
        ``T`` (pure noise) for any ``n`` and ``n = T`` gives every step (SCIENCE §3.1).
        """
        n = int(n_steps)
        if not 1 <= n <= self.T:
            raise ValueError(f"n_steps must be between 1 and T = {self.T}, got {n_steps}")
        return np.round(np.arange(n, -1, -1) * (self.T / n)).astype(np.int64)


def ve_sigmas(n: int, sigma_min: float = 0.01, sigma_max: float = 10.0) -> np.ndarray:
    """VE noise levels ``σ_i = σ_min (σ_max/σ_min)^{i/n}``, ``i = n..0`` (descending; score SDE).

    SCIENCE §3.1 (σ_max ≈ 10 suits the 2-D toys). Use with
    ``engine.diffusion.GaussianMixture.noised_ve``.
    """
    i = np.arange(int(n), -1, -1) / max(int(n), 1)
    return sigma_min * (sigma_max / sigma_min) ** i


def ddim_coordinates(alpha_bar: float) -> tuple[float, float]:
    """``(1/√ᾱ, σ̄ = √(1-ᾱ)/√ᾱ)``: ``x̄ = x/√ᾱ`` follows the VE-like ODE ``dx̄/dσ̄ = ε̂`` (§3.1)."""
    return 1.0 / math.sqrt(alpha_bar), math.sqrt(1.0 - alpha_bar) / math.sqrt(alpha_bar)

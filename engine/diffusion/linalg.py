"""Linear measurement ``y = A x + n`` helpers: checks, pseudo-inverse, projections, batched CG.

Used by the conditional solvers (SCIENCE.md §3.4 (a), (e)). Points are rows: ``x`` (N, d),
``A x`` is ``x @ Aᵀ`` (N, m). :class:`Measurement` is a
:class:`engine.core.linop.MatrixOperator`; CG is the core :func:`engine.core.algorithms.cg`.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch

from engine.core.algorithms import cg
from engine.core.linop import MatrixOperator
from engine.core.progress import drain

__all__ = ["check_measurement", "Measurement", "batched_cg", "dds_consistency"]


def check_measurement(A, y, sigma_y: float, dim: int):
    """Validate ``A`` (m, d), ``y`` (m,) and ``σ_y >= 0``; return float64 copies of ``A``, ``y``.

    Raises
    ------
    ValueError
        Wrong shapes, NaN, ``σ_y < 0``, or ``A`` without full row rank.
    """
    if A is None or y is None:
        raise ValueError("a measurement needs both A (m, d) and y (m,)")
    A = torch.as_tensor(A).detach().to(torch.float64)
    y = torch.as_tensor(y).detach().to(device=A.device, dtype=torch.float64)
    if A.ndim != 2 or A.shape[1] != dim or not 1 <= A.shape[0] <= dim:
        raise ValueError(f"A must have shape (m, {dim}) with 1 <= m <= {dim}, got "
                         f"{tuple(A.shape)}")
    if y.ndim != 1 or y.shape[0] != A.shape[0]:
        raise ValueError(f"y must have shape ({A.shape[0]},) to match A {tuple(A.shape)}, got "
                         f"{tuple(y.shape)}")
    if not (bool(torch.isfinite(A).all()) and bool(torch.isfinite(y).all())):
        raise ValueError("A and y must be finite (no NaN or infinity)")
    sigma = float(sigma_y)
    if not (sigma >= 0.0 and math.isfinite(sigma)):
        raise ValueError(f"sigma_y must be a finite number >= 0, got {sigma_y}")
    sv = torch.linalg.svdvals(A)
    if float(sv[-1]) <= 1e-10 * max(float(sv[0]), 1e-300):
        raise ValueError("A must have full row rank (its rows are linearly dependent or zero)")
    return A, y


class Measurement(MatrixOperator):
    """``y = A x + n``, ``n ~ N(0, σ_y² I)``, on the run's device/dtype, with derived operators.

    A :class:`~engine.core.linop.MatrixOperator` on rows: ``forward`` = :meth:`apply`,
    ``adjoint(r) = r A``.

    Attributes
    ----------
    A : Tensor (m, d)
    y : Tensor (m,)
    sigma_y : float
    pinv : Tensor (d, m)
        ``A^† = Aᵀ (A Aᵀ)^{-1}`` (full row rank).
    null : Tensor (d, d)
        Projector ``I - A^† A`` onto the null space of ``A`` (MCG's ``I - PᵀP``).
    """

    def __init__(self, A, y, sigma_y: float, dim: int, device, dtype):
        A64, y64 = check_measurement(A, y, sigma_y, dim)
        pinv = torch.linalg.pinv(A64)
        null = torch.eye(dim, dtype=torch.float64, device=A64.device) - pinv @ A64
        conv = dict(device=device, dtype=dtype)
        super().__init__(A64.to(**conv))
        self.y, self.pinv, self.null = y64.to(**conv), pinv.to(**conv), null.to(**conv)
        self.sigma_y = float(sigma_y)
        self.m = A64.shape[0]

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """``A x`` for rows ``x`` (N, d) → (N, m)."""
        return self.forward(x)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """``y - A x`` (N, m)."""
        return self.y - x @ self.A.T

    def least_squares(self) -> torch.Tensor:
        """Minimum-norm solution ``A^† y`` (d,)."""
        return self.pinv @ self.y

    def project(self, x: torch.Tensor, target: Optional[torch.Tensor] = None,
                lam: float = 1.0) -> torch.Tensor:
        """Relaxed orthogonal projection onto ``{A x = target}``: ``x + λ A^†(target - A x)``.

        ``target`` defaults to ``y``; it may be per point (N, m) (noisy ``y_t``). ``λ = 1`` is the
        exact projection (SCIENCE §3.4 (a)).
        """
        tgt = self.y if target is None else target
        return x + lam * ((tgt - x @ self.A.T) @ self.pinv.T)


def batched_cg(matvec: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor,
               x0: torch.Tensor, n_iter: int) -> torch.Tensor:
    """Conjugate gradients for ``M x = b``, independently for each row, started at ``x0``.

    ``M`` symmetric positive (semi-)definite, shared by all rows; rows whose residual vanishes
    stop moving (no division by zero). Iterates stay in ``x0 + Krylov(M, b - M x0)``. The core
    :func:`engine.core.algorithms.cg` with one system per row.

    Parameters
    ----------
    matvec : callable
        ``(N, d) -> (N, d)``, applies ``M`` to each row.
    b, x0 : Tensor (N, d)
    n_iter : int
    """
    return drain(cg(matvec, b, x0, int(n_iter), batch_dims=1, every=max(int(n_iter), 1)))


def dds_consistency(meas: Measurement, x0: torch.Tensor, n_iter: int = 5,
                    gamma: Optional[float] = None) -> torch.Tensor:
    """DDS data-consistency step on ``x̂_0`` by CG started at ``x̂_0`` (DDS; SCIENCE §3.4 (e)).

    Noiseless (``gamma=None``): ``Aᵀ A x = Aᵀ y``, which from ``x̂_0`` converges (in rank(A) steps)
    to the orthogonal projection ``x̂_0 + A^†(y - A x̂_0)``. Noisy: ``(I + γ AᵀA) x = x̂_0 + γ Aᵀ y``.
    """
    aty = meas.adjoint(meas.y).expand_as(x0)
    if gamma is None:
        return batched_cg(meas.normal, aty, x0, n_iter)
    g = float(gamma)
    return batched_cg(lambda v: v + g * meas.normal(v), x0 + g * aty, x0, n_iter)

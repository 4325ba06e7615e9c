"""Feature-major compute kernels of the batched flows (SCIENCE.md §1.3, §1.5, §1.6).

Inside a run the state of ``N`` initialisations is stored *feature-major*: ``S`` has shape
``(P, N)`` with ``P = d + L - 1`` (rows ``w_1..w_d``, then ``a_2..a_L``). Every per-step
operation is then a contiguous length-``N`` vector operation (no broadcasting along a tiny
trailing axis), which is several times faster on CPU than the ``(N, d)`` layout. The public
functions of :mod:`engine.gradient_flow.closed_form` call these kernels on a transposed view.
"""
from __future__ import annotations

import math
from typing import Optional

import torch

__all__ = ["pop_coeffs_fm", "pop_grad_fm", "pop_euler_fm", "emp_grad_fm", "chain_grad_fm",
           "effective_norm_fm", "norm_floor"]

TWO_PI = 2.0 * math.pi


def norm_floor(dtype: torch.dtype) -> float:
    """Smallest norm treated as non-zero (``sqrt(tiny)``: its reciprocal stays finite)."""
    return torch.finfo(dtype).tiny ** 0.5


def _sum_rows(M: torch.Tensor) -> torch.Tensor:
    """Column sums of ``(k, N)`` as one matrix-vector product (fast for small ``k``)."""
    return M.new_ones(M.shape[0]) @ M


def pop_coeffs_fm(W: torch.Tensor, v: torch.Tensor, nu: Optional[float] = None):
    """Coefficients ``(α, β)`` of the population gradient ``α w + β v`` (SCIENCE.md §1.3).

    ``α = ½ - ν sin θ/(2π‖w‖)``, ``β = -(π - θ)/(2π)``, ``cos θ = w·v/(‖w‖ν)``,
    ``sin θ = sqrt((1 - cos θ)(1 + cos θ))``; at ``w = 0``: ``θ = π/2`` and ``α w = 0``.
    Written with in-place ops on temporaries: about fifteen length-``M`` vector ops.

    Parameters
    ----------
    W : Tensor, shape (d, M)
    v : Tensor, shape (d,)
    nu : float, optional
        ``‖v‖`` if known (avoids a device synchronisation per call).

    Returns
    -------
    (alpha, beta) : Tensors, shape (M,)
    """
    floor = norm_floor(W.dtype)
    nu = float(torch.linalg.vector_norm(v)) if nu is None else nu
    r = _sum_rows(W * W).sqrt_().clamp_min_(floor)
    cos = (v @ W).div_(r * max(nu, floor)).clamp_(-1.0, 1.0)
    sin = (1.0 - cos).mul_(1.0 + cos).sqrt_()
    alpha = sin.div_(r).mul_(-nu / TWO_PI).add_(0.5)
    beta = cos.acos_().sub_(math.pi).div_(TWO_PI)
    return alpha, beta


def pop_grad_fm(W: torch.Tensor, v: torch.Tensor, nu: Optional[float] = None) -> torch.Tensor:
    """Population gradient ``α w + β v`` of the columns of ``W`` (SCIENCE.md §1.3).

    See :func:`pop_coeffs_fm`; at ``w = 0`` the gradient is ``-v/4``.

    Parameters
    ----------
    W : Tensor, shape (d, M)
    v : Tensor, shape (d,)
    nu : float, optional

    Returns
    -------
    Tensor, shape (d, M)
    """
    alpha, beta = pop_coeffs_fm(W, v, nu)
    return torch.addcmul(W * alpha, v.unsqueeze(-1), beta)


def pop_euler_fm(W: torch.Tensor, v: torch.Tensor, nu: float, h: float) -> torch.Tensor:
    """One fused Euler / GD step ``w - h(α w + β v) = (1 - hα) w + (-hβ) v`` (depth 1)."""
    alpha, beta = pop_coeffs_fm(W, v, nu)
    return torch.addcmul(W * alpha.mul_(-h).add_(1.0), v.unsqueeze(-1), beta.mul_(-h))


def emp_grad_fm(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Empirical gradient ``(1/n) Σ_{i: w·x_i > 0} (w·x_i - y_i) x_i`` (SCIENCE.md §1.6).

    Parameters
    ----------
    W : Tensor, shape (d, M)
    X : Tensor, shape (n, d)
    y : Tensor, shape (n,)

    Returns
    -------
    Tensor, shape (d, M)
    """
    Z = X @ W
    active = torch.sign(Z).clamp_(min=0.0)       # 1[z > 0] as floats (faster than bool)
    R = (Z - y.unsqueeze(-1)).mul_(active)
    return (X.T @ R).div_(X.shape[0])


def _products_of_others(a: torch.Tensor) -> torch.Tensor:
    """``A / a_l`` for every row ``l`` of ``a`` ``(k, M)`` without dividing."""
    if a.shape[0] <= 2:
        return torch.ones_like(a) if a.shape[0] == 1 else a.flip(0)
    out = torch.ones_like(a)
    for l in range(a.shape[0]):
        for m in range(a.shape[0]):
            if m != l:
                out[l] *= a[m]
    return out


def chain_grad_fm(S: torch.Tensor, dim: int, grad_u) -> torch.Tensor:
    """Chain-rule parameter gradient of ``L(u)``, ``u = A w`` (SCIENCE.md §1.5).

    ``∂L/∂w = A ∇L(u)`` and ``∂L/∂a_l = (A/a_l) ∇L(u)·w``, so that
    ``d‖w‖²/dt = d a_l²/dt = -2A ∇L(u)·w`` (the conservation laws).

    Parameters
    ----------
    S : Tensor, shape (d + L - 1, M)
        Feature-major parameters.
    dim : int
    grad_u : callable
        Feature-major gradient of the effective-weight loss, ``(d, M) -> (d, M)``.

    Returns
    -------
    Tensor, shape (d + L - 1, M)
    """
    if S.shape[0] == dim:
        return grad_u(S)
    w, a = S[:dim], S[dim:]
    A = a.prod(dim=0)
    g = grad_u(w * A)
    ga = _products_of_others(a) * _sum_rows(g * w)
    return torch.cat([g * A, ga], dim=0)


def effective_norm_fm(S: torch.Tensor, dim: int) -> torch.Tensor:
    """``‖u‖ = |A| ‖w‖`` per column of a feature-major state ``(P, M)``."""
    r = torch.sqrt(_sum_rows(S[:dim] * S[:dim]))
    return r if S.shape[0] == dim else r * S[dim:].prod(dim=0).abs()

"""Closed-form losses and gradients of a single ReLU neuron (SCIENCE.md §1.2, §1.3, §1.6).

All functions are batched over the leading dimensions of ``w`` (shape ``(..., d)``) and
safe at ``w = 0`` (no NaN): there the angle is taken as ``θ = π/2`` and the ``ŵ`` term as 0.

The angle is computed from the dot product only (``cos θ = w·v / (‖w‖ν)``,
``sin θ = sqrt((1 - cos θ)(1 + cos θ))``); sine and angle come from the *same* rounded
cosine, so the gradient stays accurate near alignment even in float32 (the error of θ
multiplies ``g'(θ) = -(π - θ) sin θ ≈ 0`` there).
"""
from __future__ import annotations

import math

import torch

from engine.gradient_flow.kernels import emp_grad_fm, norm_floor, pop_grad_fm

__all__ = ["population_loss", "population_grad", "empirical_loss", "empirical_grad",
           "polar", "angle_to", "TWO_PI"]

TWO_PI = 2.0 * math.pi


def polar(w: torch.Tensor, v: torch.Tensor):
    """Norm, teacher norm, ``cos θ``, ``sin θ`` and ``θ`` of ``w`` relative to ``v``.

    Parameters
    ----------
    w : Tensor, shape (..., d)
    v : Tensor, shape (d,)

    Returns
    -------
    r, nu, cos, sin, theta
        ``r`` and the angle terms have shape ``(...)``; ``nu = ‖v‖`` is 0-dimensional.
        At ``w = 0``: ``cos = 0``, ``θ = π/2`` (SCIENCE.md §1.2, non-differentiable point).
    """
    r = torch.linalg.vector_norm(w, dim=-1)
    nu = torch.linalg.vector_norm(v)
    p = w @ v
    cos = (p / (r * nu).clamp_min(norm_floor(w.dtype))).clamp(-1.0, 1.0)
    sin = torch.sqrt((1.0 - cos) * (1.0 + cos))
    return r, nu, cos, sin, torch.acos(cos)


def population_loss(w: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Population square loss ``L(w) = ½ E[(relu(w·x) - relu(v·x))²]``, ``x ~ N(0, I)``.

    SCIENCE.md §1.2 (arc-cosine kernel of degree 1):
    ``L = ‖w‖²/4 + ν²/4 - (‖w‖ν/(2π)) (sin θ + (π - θ) cos θ)``.

    Parameters
    ----------
    w : Tensor, shape (..., d)
        Student weights (any leading batch shape).
    v : Tensor, shape (d,)
        Teacher weight.

    Returns
    -------
    Tensor, shape (...)
    """
    r, nu, cos, sin, theta = polar(w, v)
    g = sin + (math.pi - theta) * cos
    return 0.25 * r * r + 0.25 * nu * nu - r * nu * g / TWO_PI


def _columns(w: torch.Tensor) -> torch.Tensor:
    """``(..., d)`` batch as a feature-major ``(d, M)`` view for the kernels."""
    return w.reshape(-1, w.shape[-1]).T


def population_grad(w: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Gradient of :func:`population_loss` (SCIENCE.md §1.3).

    ``∇L(w) = w/2 - (1/(2π)) [(π - θ) v + ν sin θ · w/‖w‖]``, written as
    ``α w + β v`` with ``α = ½ - ν sin θ/(2π‖w‖)``, ``β = -(π - θ)/(2π)`` (a handful of
    fused ops per step, :func:`engine.gradient_flow.kernels.pop_grad_fm`). At ``w = 0`` the
    ``ŵ`` term is dropped and ``θ = π/2``, giving the finite value ``-v/4``.

    Parameters
    ----------
    w : Tensor, shape (..., d)
    v : Tensor, shape (d,)

    Returns
    -------
    Tensor, shape (..., d)
    """
    return pop_grad_fm(_columns(w), v).T.reshape(w.shape)


def empirical_loss(w: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Empirical loss ``L_n(w) = (1/(2n)) Σ_i (relu(w·x_i) - y_i)²`` (SCIENCE.md §1.6).

    Parameters
    ----------
    w : Tensor, shape (..., d)
    X : Tensor, shape (n, d)
        Training inputs (rows ``x_i``).
    y : Tensor, shape (n,)
        Labels.

    Returns
    -------
    Tensor, shape (...)
    """
    res = torch.relu(w @ X.T) - y
    return 0.5 * (res * res).mean(dim=-1)


def empirical_grad(w: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Gradient of :func:`empirical_loss`: ``(1/n) Σ_{i∈S(w)} (w·x_i - y_i) x_i``.

    Active set ``S(w) = {i : w·x_i > 0}`` (SCIENCE.md §1.6; the kink ``w·x_i = 0`` gets the
    zero subgradient).

    Returns
    -------
    Tensor, shape (..., d)
    """
    return emp_grad_fm(_columns(w), X, y).T.reshape(w.shape)


def angle_to(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Accurate angle ``θ = angle(u, v) ∈ [0, π]`` for recording (SCIENCE.md §1.1).

    Uses ``atan2(‖u_⊥‖ ν, u·v)`` with ``u_⊥`` the part of ``u`` orthogonal to ``v``,
    accurate near ``θ = 0`` and ``θ = π`` (where ``arccos`` loses half the digits).
    ``u = 0`` gives ``π/2``.
    """
    nu2 = (v * v).sum()
    p = u @ v
    perp = u - (p / nu2).unsqueeze(-1) * v
    theta = torch.atan2(torch.linalg.vector_norm(perp, dim=-1) * nu2.sqrt(), p)
    zero = torch.linalg.vector_norm(u, dim=-1) == 0
    return torch.where(zero, torch.full_like(theta, math.pi / 2), theta)

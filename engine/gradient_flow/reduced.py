"""Reduced magnitude-angle dynamics (SCIENCE.md §1.4 for one layer, §1.5 balanced chain; MAD).

Gradient flow of the population loss closes in the two scalars ``(ρ, θ)`` (``ρ = ‖u‖`` of the
effective weight, ``θ`` its angle to the teacher). These functions accept NumPy arrays or
torch tensors (phase-portrait vector fields, comparison bounds, convergence-time tables).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from engine.gradient_flow.ode import dopri5_step, error_norm, integrate_adaptive, next_step_size

__all__ = ["reduced_rhs", "reduced_loss", "magnitude_bounds", "magnitude_bound", "reduced_trajectory",
           "convergence_times"]

_RHO_FLOOR = 1e-150


def _xp(*xs):
    """``torch`` if any argument is a tensor, else ``numpy``."""
    return torch if any(torch.is_tensor(x) for x in xs) else np


def _g(theta, xp):
    """``g(θ) = sin θ + (π - θ) cos θ``, decreasing from π to 0 on [0, π] (§1.4)."""
    return xp.sin(theta) + (math.pi - theta) * xp.cos(theta)


def reduced_rhs(r, theta, depth=1, nu=1.0):
    """Right-hand side ``(dρ/dt, dθ/dt)`` of the reduced flow (SCIENCE.md §1.4, §1.5).

    ``dρ/dt = -L ρ^(2-2/L) [ρ/2 - (ν/(2π)) g(θ)]``,
    ``dθ/dt = -ρ^(1-2/L) (ν/(2π)) (π - θ) sin θ``, with ``g(θ) = sin θ + (π - θ) cos θ``.
    ``L = 1`` is the one-neuron ODE ``dr/dt = -r/2 + ν g/(2π)``,
    ``dθ/dt = -(ν/(2πr))(π - θ) sin θ``; ``L ≥ 2`` is the balanced chain (effective norm ρ).

    Parameters
    ----------
    r, theta : ndarray or Tensor
        Effective norm ``ρ > 0`` and angle ``θ ∈ [0, π]`` (broadcast together).
    depth : int or array
        Chain depth ``L`` (broadcasts too).
    nu : float
        Teacher norm ``ν``.

    Returns
    -------
    (dr, dtheta)
        Arrays (or tensors) of the broadcast shape.
    """
    xp = _xp(r, theta, depth)
    if xp is np:
        r, theta, depth = (np.asarray(a, dtype=float) for a in (r, theta, depth))
    r = xp.clip(r, _RHO_FLOOR, None) if xp is np else r.clamp_min(_RHO_FLOOR)
    k = nu / (2.0 * math.pi)
    dr = -depth * r ** (2.0 - 2.0 / depth) * (0.5 * r - k * _g(theta, xp))
    dtheta = -(r ** (1.0 - 2.0 / depth)) * k * (math.pi - theta) * xp.sin(theta)
    return dr, dtheta


def reduced_loss(r, theta, nu=1.0):
    """Population loss in reduced variables: ``ρ²/4 + ν²/4 - ρν g(θ)/(2π)`` (SCIENCE.md §1.2)."""
    xp = _xp(r, theta)
    return 0.25 * r * r + 0.25 * nu * nu - r * nu * _g(theta, xp) / (2.0 * math.pi)


def magnitude_bounds(t, r0, nu):
    """Comparison bounds on ``r(t) = ‖w(t)‖`` of one-layer population GF (SCIENCE.md §1.4).

    ``r0 e^(-t/2) ≤ r(t) ≤ ν + (r0 - ν) e^(-t/2)`` (from ``-r/2 ≤ dr/dt ≤ -r/2 + ν/2``).

    Parameters
    ----------
    t : ndarray or Tensor, shape (T,) (or scalar)
        Times.
    r0 : ndarray or Tensor, shape (N,) (or scalar)
        Initial norms.
    nu : float
        Teacher norm.

    Returns
    -------
    (lower, upper)
        Outer-product shape ``t.shape + r0.shape`` (e.g. ``(T, N)``).
    """
    xp = _xp(t, r0)
    if xp is np:
        t, r0 = np.asarray(t, dtype=float), np.asarray(r0, dtype=float)
        decay = np.exp(-0.5 * t.reshape(t.shape + (1,) * r0.ndim))
        return r0 * decay, nu + (r0 - nu) * decay
    return magnitude_bound(t, r0, nu, upper=False), magnitude_bound(t, r0, nu, upper=True)


def magnitude_bound(t, r0, nu, upper: bool) -> torch.Tensor:
    """One of the torch :func:`magnitude_bounds` (SCIENCE.md §1.4): the lower
    ``r0 e^(-t/2)`` or the upper ``ν + (r0 - ν) e^(-t/2)``, shape ``t.shape + r0.shape``;
    the same numbers as the pair (one ``(T, N)`` pass each)."""
    ref = t if torch.is_tensor(t) else r0
    t = torch.as_tensor(t, dtype=ref.dtype, device=ref.device)
    r0 = torch.as_tensor(r0, dtype=ref.dtype, device=ref.device)
    decay = torch.exp(-0.5 * t).reshape(tuple(t.shape) + (1,) * r0.ndim)
    return torch.mul(r0 - nu, decay).add_(nu) if upper else r0 * decay


def reduced_trajectory(rho0, theta0, t, depth=1, nu=1.0, rtol=1e-10):
    """``(ρ(t), θ(t))`` of the reduced flow at the times ``t`` (adaptive RK45, NumPy).

    Parameters
    ----------
    rho0, theta0 : float or ndarray, shape (M,)
        Initial effective norms and angles.
    t : ndarray, shape (T,)
        Output times, increasing, ``t[0]`` the start.
    depth : int
    nu : float
    rtol : float

    Returns
    -------
    (rho, theta) : ndarrays, shape (T,) + shape of ``rho0``
    """
    y0 = np.stack(np.broadcast_arrays(np.asarray(rho0, float), np.asarray(theta0, float)), -1)

    def f(y):
        return np.stack(reduced_rhs(y[..., 0], y[..., 1], depth, nu), -1)

    ys = integrate_adaptive(f, y0, np.asarray(t, float), rtol=rtol, atol=rtol * 1e-3)
    return ys[..., 0], ys[..., 1]


def convergence_times(scales, depths=(1, 2, 3, 4), theta0=math.pi / 2, nu=1.0, tol=1e-3,
                      t_cap=1e4, rtol=1e-9):
    """Time until the loss falls below ``tol``, balanced chain, reduced ODE (SCIENCE.md §1.5).

    All ``(depth, scale)`` pairs are integrated as one batch with adaptive RK45 (common step,
    finished pairs frozen); each crossing time is located by bisection on a sub-step from the
    start of the crossing step. Reproduces the §1.5 reference table (MAD: small
    initialisation is fast for ``L = 1`` and slow for deep chains).

    Parameters
    ----------
    scales : array_like, shape (S,)
        Effective initial norms ``ρ0``.
    depths : sequence of int, length D
    theta0 : float
        Initial angle (``π`` never converges).
    nu : float
    tol : float
        Loss threshold.
    t_cap : float
        Pairs not converged by this time get ``inf``.

    Returns
    -------
    ndarray, shape (D, S)
    """
    L, rho = np.meshgrid(np.asarray(depths, float), np.asarray(scales, float), indexing="ij")
    shape, L = L.shape, L.ravel()
    y = np.stack([rho.ravel(), np.full(L.size, float(theta0))], -1)
    times = np.where(reduced_loss(y[:, 0], y[:, 1], nu) < tol, 0.0, np.inf)
    t, h = 0.0, 1e-3
    while np.isinf(times).any() and t < t_cap:
        live = np.isinf(times)
        f = _frozen_rhs(L, nu, live)
        y_new, e, _ = dopri5_step(f, y, h)
        err = error_norm(e, y, y_new, rtol, rtol * 1e-3)
        if err <= 1.0:
            crossed = live & (reduced_loss(y_new[:, 0], y_new[:, 1], nu) < tol)
            if crossed.any():
                times[crossed] = t + _bisect_crossing(y[crossed], h, L[crossed], nu, tol)
            t, y = t + h, y_new
        h = min(next_step_size(h, err), 1.0)
    return times.reshape(shape)


def _frozen_rhs(L, nu, live):
    """Reduced RHS on a ``(P, 2)`` state, zero for the pairs that are already finished."""
    mask = live[:, None].astype(float)

    def f(y):
        return np.stack(reduced_rhs(y[:, 0], y[:, 1], L, nu), -1) * mask

    return f


def _bisect_crossing(y0, h, L, nu, tol, iters=50):
    """Sub-step ``τ ∈ (0, h]`` where ``reduced_loss`` crosses ``tol`` (per pair, vectorised;
    ``h``, ``L`` and ``nu`` may be one value or one per row)."""
    lo, hi = np.zeros(len(y0)), np.full(len(y0), h, dtype=float)

    def f(y):
        return np.stack(reduced_rhs(y[:, 0], y[:, 1], L, nu), -1)

    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        y_mid = dopri5_step(f, y0, mid[:, None])[0]
        below = reduced_loss(y_mid[:, 0], y_mid[:, 1], nu) < tol
        hi, lo = np.where(below, mid, hi), np.where(below, lo, mid)
    return hi

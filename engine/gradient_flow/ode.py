"""Adaptive Dormand-Prince RK45 shared by the full and reduced flows (SCIENCE.md §1.4-1.5).

The step uses arithmetic only, so it works on torch tensors *and* NumPy arrays. A step
size may be a scalar or an array broadcasting against the state (per-element steps, used
to locate events by bisection).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["dopri5_step", "error_norm", "next_step_size", "integrate_adaptive"]

# Dormand-Prince 5(4) tableau (Hairer, Nørsett, Wanner, Table II.5.2).
_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_A = ((),
      (1 / 5,),
      (3 / 40, 9 / 40),
      (44 / 45, -56 / 15, 32 / 9),
      (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
      (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
      (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84))
_B = _A[6] + (0.0,)
_B4 = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)
_E = tuple(b - b4 for b, b4 in zip(_B, _B4))


def dopri5_step(f: Callable, y, h, k1=None):
    """One Dormand-Prince RK45 step.

    Parameters
    ----------
    f : callable
        Right-hand side ``f(y)`` (autonomous).
    y : Tensor or ndarray
        State.
    h : float or array
        Step size (broadcasts against ``y``).
    k1 : optional
        ``f(y)`` if already known (first-same-as-last reuse).

    Returns
    -------
    y_new, err, k7
        Fifth-order solution, local error estimate ``y5 - y4`` (same shape as ``y``) and
        ``f(y_new)`` (the next step's ``k1``).
    """
    ks = [f(y) if k1 is None else k1]
    for i in range(1, 7):
        acc = y
        for a, k in zip(_A[i], ks):
            if a != 0.0:
                acc = acc + (h * a) * k
        ks.append(f(acc))
        if i == 6:
            y_new = acc
    err = 0.0
    for e, k in zip(_E, ks):
        if e != 0.0:
            err = err + (h * e) * k
    return y_new, err, ks[6]


def error_norm(err, y, y_new, rtol: float, atol: float) -> float:
    """Max-norm of the scaled local error ``|e| / (atol + rtol max(|y|, |y_new|))``.

    Non-finite values give ``inf`` (the step is rejected).
    """
    if isinstance(y, np.ndarray):
        scale = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
        val = float(np.max(np.abs(err) / scale)) if np.size(err) else 0.0
    else:
        import torch
        scale = atol + rtol * torch.maximum(y.abs(), y_new.abs())
        val = float((err.abs() / scale).max()) if err.numel() else 0.0
    return val if np.isfinite(val) else float("inf")


def next_step_size(h: float, err: float) -> float:
    """Standard fifth-order step-size controller (safety 0.9, factor in [0.2, 5])."""
    if err == 0.0:
        return 5.0 * h
    return h * min(5.0, max(0.2, 0.9 * err ** -0.2))


def integrate_adaptive(f: Callable, y0: np.ndarray, t_eval: np.ndarray, rtol: float = 1e-9,
                       atol: float = 1e-12, h0: float = 1e-3) -> np.ndarray:
    """Integrate ``dy/dt = f(y)`` with adaptive RK45, returning ``y`` at the times ``t_eval``.

    Steps are shortened to land exactly on each output time (no interpolation).

    Parameters
    ----------
    f : callable
    y0 : ndarray
        Initial state at ``t_eval[0]``.
    t_eval : ndarray, shape (T,)
        Increasing output times.

    Returns
    -------
    ndarray, shape (T,) + y0.shape
    """
    t_eval = np.asarray(t_eval, dtype=float)
    out = np.empty((len(t_eval),) + np.shape(y0))
    y, t, h, k1 = np.array(y0, dtype=float), float(t_eval[0]), h0, None
    out[0] = y
    for i, target in enumerate(t_eval[1:], start=1):
        while t < target:
            step = min(h, target - t)
            y_new, e, k7 = dopri5_step(f, y, step, k1)
            err = error_norm(e, y, y_new, rtol, atol)
            if err <= 1.0:
                t, y, k1 = (target if step == target - t else t + step), y_new, k7
            h = next_step_size(step, err) if err > 1.0 or step == h else max(h, step)
            if h < 1e-14 * max(1.0, abs(target)):
                raise FloatingPointError("adaptive step size underflow")
        out[i] = y
    return out

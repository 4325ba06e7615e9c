"""Gradient descent–ascent of a linear generator against a two-layer ReLU discriminator with
bias, the non-convex game whose convex counterpart :mod:`.wgan_relu_game` certifies
(SCIENCE.md §7.4.1, §7.4.4).

    min_W max_{U,v}  ½ E‖g‖² + E_x D(x) − E_g D(g) − (β/2)(‖U‖²_F + ‖v‖²),
    g = W^T z,  D(x) = Σ_j v_j relu(u_j·[x, 1]),

with a whitened latent (``E zz^T = I``), so ``½E‖g‖² = ½‖W‖²_F``. Each recorded step is
scored by the exact-penalty objective ``f = ½E‖g‖² + λ(κ − β)_+`` with κ the exact critic of
the generated samples (:func:`.wgan_relu_game.penalty_objective`); with λ ≥ ‖v*‖₁ of the
certified discriminator, ``f`` never falls below the certified lower bound. A run whose
iterates blow up stops there and keeps its path (NaN after).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generator

import numpy as np

from engine.convex_duals.wgan_relu_game import penalty_objective
from engine.convex_duals.wgan_relu_oracle import lift

__all__ = ["ReluGDAPath", "relu_gda"]

BLOW_UP = 1e3


@dataclass
class ReluGDAPath:
    """One run, recorded every ``record_every`` steps: ``objective`` (T,), exact ``critic``
    (T,), ``W`` (T, d_z·2), the last finite generator ``W_last`` and discriminator
    ``U_last`` (m, 3), ``v_last`` (m,), and ``diverged_at`` (a step, or None)."""
    objective: np.ndarray
    critic: np.ndarray
    W: np.ndarray
    W_last: np.ndarray
    U_last: np.ndarray
    v_last: np.ndarray
    diverged_at: int | None


def _gradients(X, Z, W, U, v, beta):
    """Gradients of the game's payoff: descent direction for W, ascent for (U, v)."""
    n = len(Z)
    G = Z @ W
    Xt, Gt = lift(X), lift(G)
    ax, ag = Xt @ U.T > 0, Gt @ U.T > 0                     # (n, m) active neurons
    grad_G = -(ag * v) @ U[:, :2] / n                      # ∂(−E_g D)/∂g_i (· n)
    grad_W = W + Z.T @ grad_G
    grad_U = v[:, None] * ((ax.T @ Xt) - (ag.T @ Gt)) / n - beta * U
    grad_v = (np.maximum(Xt @ U.T, 0).mean(0) - np.maximum(Gt @ U.T, 0).mean(0)) - beta * v
    return grad_W, grad_U, grad_v


def relu_gda(X, Z, beta: float, weight: float, *, neurons: int, seed: int, steps: int,
             lr: float, record_every: int) -> Generator[tuple, None, ReluGDAPath]:
    """Simultaneous GDA from ``seed``; yields ``(fraction, objectives so far)``, returns the
    :class:`ReluGDAPath`. ``weight`` is the exact-penalty λ of the recorded objective."""
    rng = np.random.default_rng(seed)
    d_z = Z.shape[1]
    W = 0.5 * rng.standard_normal((d_z, 2))
    U, v = 0.5 * rng.standard_normal((neurons, 3)), 0.5 * rng.standard_normal(neurons)
    T = steps // record_every + 1
    path = ReluGDAPath(np.full(T, np.nan), np.full(T, np.nan), np.full((T, d_z * 2), np.nan),
                       W.copy(), U.copy(), v.copy(), None)
    for step in range(steps + 1):
        big = max(np.abs(W).max(), np.abs(U).max(), np.abs(v).max())
        if not np.isfinite(big) or big > BLOW_UP:
            path.diverged_at = step
            return path
        if step % record_every == 0:
            r = step // record_every
            path.objective[r], path.critic[r] = penalty_objective(Z @ W, X, beta, weight)
            path.W[r] = W.ravel()
            path.W_last, path.U_last, path.v_last = W.copy(), U.copy(), v.copy()
            yield step / steps, path.objective
        gW, gU, gv = _gradients(X, Z, W, U, v, beta)
        W, U, v = W - lr * gW, U + lr * gU, v + lr * gv
    return path

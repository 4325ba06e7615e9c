"""Closed form and gradient descent–ascent of the (linear generator, quadratic discriminator)
Wasserstein GAN, SCIENCE.md §7.4.1–7.4.3.

The game, with ``C_x = X^TX/n``, ``C_z = Z^TZ/n``, ``C_g(W) = W^T C_z W`` and a discriminator
``D(x) = Σ_j v_j (u_j·x)² = x^T A x`` of ``m`` quadratic neurons:

    min_W max_{u,v}  ½||W||_F² + ⟨A, C_x − C_g(W)⟩ − (β/2) Σ_j (||u_j||⁴ + v_j²)

Eliminating the discriminator leaves ``min ½||W||_F² s.t. ||C_x − C_g(W)||₂ ≤ β`` whose
solution is ``W* = Q_{:k} diag(√(s_i² − β)/δ_i) V_{:k}^T``, ``C_g* = (C_x − βI)_+`` (§7.4.2).

Exact penalty [D, here]: with ``λ* = ½ Σ_{i≤k} 1/δ_i²`` (the nuclear norm of the optimal
discriminator ``A* = V_{:k} diag(1/(2δ_i²)) V_{:k}^T``), every W satisfies

    f(W) := ½||W||_F² + λ* (||C_x − C_g(W)||₂ − β)_+  ≥  p* = ½ Σ_{i≤k} (s_i² − β)/δ_i²,

with equality at W*: by the trace inequality ``||W||² ≥ Σ λ_i(C_g)/δ_i²`` and by Weyl
``λ_i(C_g) ≥ s_i² − β − ε`` when the violation is ε, ``½||W||² ≥ p* − λ*ε``. ``f`` is the
game's value against the best discriminator of nuclear norm ≤ λ. We draw GDA paths with
``λ = 2λ*``: then ``f(W) ≥ p* + λ*ε``, so ``f(W) = p*`` only at feasible optima (with
``λ = λ*`` a collapsed ``W = 0`` would tie when k = 1).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generator

import numpy as np

__all__ = ["ClosedForm", "closed_form", "penalty_objective", "gda"]

BLOW_UP = 1e3     # |parameter| beyond this is divergence (the data are O(1))


@dataclass
class ClosedForm:
    """The optimum of §7.4.2: generator ``W (d_z, d)``, ``C_g*``, the optimal
    discriminator ``A*``, p* = ½||W*||², the exact-penalty weight ``penalty`` = 2λ*, and
    ``k`` (directions that survive β)."""
    W: np.ndarray
    C_g: np.ndarray
    A: np.ndarray
    value: float
    penalty: float
    k: int


def closed_form(X: np.ndarray, Z: np.ndarray, beta: float) -> ClosedForm:
    """``W*`` from the SVDs ``X/√n = U S V^T``, ``Z/√n = P Δ Q^T`` (§7.4.2). Needs
    ``rank Z ≥ k = #{s_i² > β}`` (checked by the caller)."""
    n = X.shape[0]
    _, s, Vt = np.linalg.svd(X / np.sqrt(n), full_matrices=False)
    _, delta, Qt = np.linalg.svd(Z / np.sqrt(n), full_matrices=False)
    k = int(np.count_nonzero(s ** 2 > beta))
    scale = np.sqrt(np.maximum(s[:k] ** 2 - beta, 0.0)) / delta[:k]
    W = Qt[:k].T @ (scale[:, None] * Vt[:k])
    C_z = Z.T @ Z / n
    A = Vt[:k].T @ np.diag(0.5 / delta[:k] ** 2) @ Vt[:k]
    return ClosedForm(W=W, C_g=W.T @ C_z @ W, A=A, value=0.5 * float(np.sum(W ** 2)),
                      penalty=float(np.sum(1.0 / delta[:k] ** 2)), k=k)


def penalty_objective(W: np.ndarray, C_x: np.ndarray, C_z: np.ndarray, beta: float,
                      penalty: float) -> float:
    """``f(W) = ½||W||² + λ(||C_x − W^T C_z W||₂ − β)_+`` (≥ p* for λ ≥ λ*, docstring)."""
    gap = np.linalg.norm(C_x - W.T @ C_z @ W, ord=2) - beta
    return 0.5 * float(np.sum(W ** 2)) + penalty * max(float(gap), 0.0)


@dataclass
class GDAPath:
    """One GDA run, recorded every ``record_every`` steps (NaN after a divergence).

    ``objective`` (T,), ``violation`` (T,) = ||C_x − C_g||₂, ``eig`` (T, d) of C_g
    (descending), ``W`` (T, d_z·d), the last finite generator ``W_last`` and discriminator
    matrix ``A_last``, and ``diverged_at`` (a step, or None)."""
    objective: np.ndarray
    violation: np.ndarray
    eig: np.ndarray
    W: np.ndarray
    W_last: np.ndarray
    A_last: np.ndarray
    diverged_at: int | None


def _init(d_z: int, d: int, m: int, seed: int):
    rng = np.random.default_rng(seed)
    return (0.5 * rng.standard_normal((d_z, d)), 0.5 * rng.standard_normal((m, d)),
            0.5 * rng.standard_normal(m))


def gda(C_x, C_z, beta: float, penalty: float, *, neurons: int, seed: int, steps: int,
        lr: float, record_every: int) -> Generator[float, None, GDAPath]:
    """Simultaneous gradient descent (W) – ascent (u, v) on the game above; yields
    ``(fraction done, objectives so far)`` and returns a :class:`GDAPath`. A run whose iterates stop being finite
    or exceed 1e6 stops there and keeps its path."""
    d_z, d = C_z.shape[0], C_x.shape[0]
    W, U, v = _init(d_z, d, neurons, seed)
    T = steps // record_every + 1
    path = GDAPath(np.full(T, np.nan), np.full(T, np.nan), np.full((T, d), np.nan),
                   np.full((T, d_z * d), np.nan), W.copy(), np.zeros((d, d)), None)
    for step in range(steps + 1):
        A = np.einsum("j,ja,jb->ab", v, U, U)
        if not (np.isfinite(W).all() and np.isfinite(A).all()) or \
                max(np.abs(W).max(), np.abs(U).max(), np.abs(v).max()) > BLOW_UP:
            path.diverged_at = step
            return path
        Delta = C_x - W.T @ C_z @ W
        if step % record_every == 0:
            r = step // record_every
            path.objective[r] = penalty_objective(W, C_x, C_z, beta, penalty)
            path.violation[r] = np.linalg.norm(Delta, ord=2)
            path.eig[r] = np.clip(np.linalg.eigvalsh(W.T @ C_z @ W)[::-1], 0.0, None)
            path.W[r] = W.ravel()
            path.W_last, path.A_last = W.copy(), A
            yield step / steps, path.objective
        grad_W = W - 2.0 * C_z @ W @ A
        DU = U @ Delta                                           # rows Δ u_j
        grad_U = 2.0 * v[:, None] * DU - 2.0 * beta * np.sum(U * U, axis=1)[:, None] * U
        grad_v = np.sum(DU * U, axis=1) - beta * v
        W, U, v = W - lr * grad_W, U + lr * grad_U, v + lr * grad_v
    return path

"""Batch norm's gradient-descent variant (SCIENCE.md §7.2.4): plain GD's implicit bias and the
truncated-whitening ladder it is compared with.

Mechanism (§7.2.4): with ``X_c = UΣVᵀ`` and ``q = ΣVᵀw`` the BN network depends on w only
through ``U q`` (BN removes the mean), so ``∇_w L = VΣ ∇_q L`` and one GD step on w is the step
``q ← q − η Σ² ∇_q L`` in whitened coordinates: a direction of singular value σ_k is learned at
a rate ∝ σ_k². :func:`whitened_gradient_step` is that identity, a known answer for tests.

The ladder (§7.2.4's surrogate, labelled "ours" in the app; the paper's explicit regulariser
is not confirmed, §7.7): ``p*(k)`` is the convex BN program on the truncated whitening
``Ũ_k = [U_{:,1:k}, 1/√n]`` (top k directions and the mean). The feasible sets are nested,
so ``p*(0) ≥ p*(1) ≥ … ≥ p*(r) = p*``, and ``p*(0) = ½‖y‖² − ½(|1ᵀy|/√n − β)₊²`` (the best
constant fit with penalty β|s|). Early-stopped GD on strongly anisotropic data has barely
moved along the small directions, so its objective lingers near ``p*(k)`` for the large ones.
"""
from __future__ import annotations

import numpy as np
import torch

from engine.convex_duals.atoms import solve_atomic
from engine.convex_duals.oracle import best_atom
from engine.convex_duals.patterns import boundary_rays, enumerate_patterns
from engine.core import drain

__all__ = ["truncated_whitening", "constant_fit_optimum", "truncated_optimum",
           "truncation_ladder", "whitened_gradient_step", "MAX_EXACT_COLUMNS"]

MAX_EXACT_COLUMNS = 3        # the exact oracle's limit (d ≤ 3, §7.0)


def truncated_whitening(Ut: np.ndarray, k: int) -> np.ndarray:
    """``Ũ_k = [U_{:,1:k}, 1/√n]`` from the full ``Ũ = [U, 1/√n]`` (§7.2.4)."""
    return np.column_stack([Ut[:, :k], Ut[:, -1]])


def constant_fit_optimum(y: np.ndarray, beta: float) -> float:
    """``p*(0) = ½‖y‖² − ½(|1ᵀy|/√n − β)₊²``: the program on ``Ũ_0 = 1/√n`` alone."""
    y = np.asarray(y, float).ravel()
    proj = abs(y.sum()) / np.sqrt(len(y))
    return float(0.5 * y @ y - 0.5 * max(proj - beta, 0.0) ** 2)


def truncated_optimum(Ut: np.ndarray, y: np.ndarray, beta: float, k: int) -> float:
    """``p*(k)`` by column generation with the exact oracle (``k + 1 ≤ 3`` columns)."""
    if k == 0:
        return constant_fit_optimum(y, beta)
    Uk = truncated_whitening(Ut, k)
    if Uk.shape[1] > MAX_EXACT_COLUMNS:
        raise ValueError(f"p*(k) with k = {k} needs the exact oracle in d = {k + 1} > 3")
    pats, rays = enumerate_patterns(Uk), boundary_rays(Uk)
    return drain(solve_atomic(Uk, y, beta, lambda R: best_atom(Uk, R, pats, rays))).objective


def truncation_ladder(Ut: np.ndarray, y: np.ndarray, beta: float, p_star: float
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``(k, p*(k))`` for every k whose program the exact oracle solves (k ≤ 2), then
    ``k = r`` with the full optimum ``p_star`` (r = rank of the centred data)."""
    r = Ut.shape[1] - 1
    ks = list(range(0, min(r, MAX_EXACT_COLUMNS - 1) + 1))
    values = [truncated_optimum(Ut, y, beta, k) if k < r else p_star for k in ks]
    if ks[-1] != r:
        ks.append(r)
        values.append(p_star)
    return np.array(ks), np.array(values)


def whitened_gradient_step(X: np.ndarray, y: np.ndarray, weights: list, lr: float
                           ) -> tuple[np.ndarray, np.ndarray]:
    """One GD step on the BN net's w, mapped to ``q = ΣVᵀw``, and the step
    ``q − η Σ² ∇_q L`` computed in whitened coordinates (§7.2.4): two arrays that agree.

    ``weights = (w (d, m), γ, α, v (m,))``; ``L`` is the BN objective of
    :mod:`engine.convex_duals.batchnorm` (rows of X in general position, rank d).
    """
    from engine.convex_duals.batchnorm import bn_forward
    Xc = X - X.mean(axis=0)
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    w, g, a, v = (torch.as_tensor(np.asarray(t, float)) for t in weights)

    def loss(data, first):
        fit = bn_forward(data, first, g, a, v) - torch.as_tensor(y)
        return 0.5 * (fit ** 2).sum()

    w_var = w.clone().requires_grad_(True)
    loss(torch.as_tensor(X), w_var).backward()
    q_after_w_step = np.diag(s) @ Vt @ (w - lr * w_var.grad).numpy()
    q = torch.as_tensor(np.diag(s) @ Vt @ w.numpy()).requires_grad_(True)
    loss(torch.as_tensor(U), q).backward()
    q_whitened_step = q.detach().numpy() - lr * np.diag(s ** 2) @ q.grad.numpy()
    return q_after_w_step, q_whitened_step

"""The two-layer objective and the recovery map from convex solutions (SCIENCE.md §2.1, §2.4).

``F(W₁, w₂) = (1/(2n))‖relu(X̃W₁ᵀ)w₂ − y‖² + (λ/2)(‖W₁‖_F² + ‖w₂‖²)`` with ``X̃ = [X, 1]``
(the bias column of ``W₁`` is penalised too): scnn's scaling, so that the recovered network of
a convex solution has ``F`` equal to the convex objective ``(1/(2n))‖·‖² + λΣ‖u_g‖`` (PE
Theorem 1; the AM–GM rescaling of §2.1 makes ``(‖u‖² + α²)/2 = ‖v‖``).
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["two_layer_objective", "recover_network", "relu_predict", "gated_predict"]


def _np(a) -> np.ndarray:
    if torch.is_tensor(a):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


def relu_predict(W1, w2, X) -> np.ndarray:
    """``relu([X, 1] W₁ᵀ) w₂`` (n,)."""
    W1, w2, X = _np(W1), _np(w2).reshape(-1), _np(X)
    if W1.ndim != 2 or W1.shape[1] != X.shape[1] + 1 or len(w2) != len(W1):
        raise ValueError(f"W1 must be (m, d+1) = (m, {X.shape[1] + 1}) and w2 (m,), got "
                         f"{W1.shape} and {w2.shape}")
    return np.maximum(X @ W1[:, :-1].T + W1[:, -1], 0.0) @ w2


def gated_predict(W1, w2, gates, X) -> np.ndarray:
    """Gated net ``Σ_j 1[x̃·g_j ≥ 0] (x̃·u_j) α_j`` (SCIENCE.md §2.5)."""
    W1, w2, G, X = _np(W1), _np(w2).reshape(-1), _np(gates), _np(X)
    A = np.hstack([X, np.ones((len(X), 1))])
    return (((A @ G.T) >= 0) * (A @ W1.T)) @ w2


def two_layer_objective(W1, w2, X, y, lam: float) -> float:
    """``(1/(2n))‖relu([X, 1]W₁ᵀ)w₂ − y‖² + (λ/2)(‖W₁‖² + ‖w₂‖²)`` (module docstring).

    Parameters
    ----------
    W1 : (m, d + 1), bias in the last column. w2 : (m,). X : (n, d). y : (n,). lam : λ ≥ 0.
    Numpy arrays or torch tensors; computed in float64.
    """
    y = _np(y).reshape(-1)
    r = relu_predict(W1, w2, X) - y
    W1, w2 = _np(W1), _np(w2)
    return 0.5 * float(r @ r) / len(y) + 0.5 * float(lam) * float((W1 ** 2).sum()
                                                                  + (w2 ** 2).sum())


def recover_network(U: np.ndarray, sigma: np.ndarray, tol: float = 0.0):
    """Neurons of nonzero groups: ``(u/√‖u‖, σ√‖u‖)`` (PE §2.4; scnn ``solution_mappings``).

    Returns
    -------
    W1 : (m, p), w2 : (m,), keep : int indices of the groups used (rows of ``U``).
    """
    norms = np.linalg.norm(U, axis=1)
    keep = np.flatnonzero(norms > tol)
    root = np.sqrt(norms[keep])
    W1 = U[keep] / root[:, None]
    return W1, sigma[keep] * root, keep

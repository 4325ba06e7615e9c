"""Column generation for the convex program of a two-layer ReLU network (SCIENCE.md §7.0–7.1).

The convex program ``min Σ_i ½‖Σ D_i X Z_i − Y‖² + β Σ_i ‖Z_i‖_{*,K_i}`` (§7.1.2; §2.3 for
c = 1) is a group lasso over the infinite set of features ``relu(X u)``, ``‖u‖ = 1``: each
atom ``u`` carries an output row ``w ∈ R^c`` with penalty ``β‖w‖₂`` (the neuron
``(√‖w‖ u, √‖w‖ w/‖w‖)`` has exactly that weight decay, §7.1.3). Conditional gradient with
local descent solves it: the exact oracle (:mod:`engine.convex_duals.oracle`) finds the
feature most correlated with the residual and it joins the active set with its block
soft-threshold step; every fourth round the group lasso over the active set is re-solved by
FISTA (``engine.core.algorithms.fista`` with the group soft threshold), which prunes
redundant neurons; then all active neurons are polished jointly by L-BFGS-B, each kept in its
closed cell where the ReLU is linear (alternating descent conditional gradient, Boyd,
Schiebinger & Recht 2017), which keeps the active set small. Every iterate is a ReLU
network, so its objective is an upper bound on p*; the §7.0 dual point
``Λ = min(1, β/ĝ) R`` gives the lower bound, and their difference is the duality gap
reported as the certificate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generator

import numpy as np
import torch

from engine.core import Progress
from engine.core.algorithms import fista, group_soft

__all__ = ["Atom", "AtomicSolution", "network_objective", "dual_lower_bound", "solve_atomic",
           "group_lasso"]


@dataclass
class AtomicSolution:
    """A two-layer ReLU network read off the convex program, with its certificate.

    Attributes
    ----------
    U : (d, k) array
        Unit first-layer directions of the active atoms.
    W : (k, c) array
        Output rows; the neuron is ``(√‖w_k‖ u_k, √‖w_k‖ w_k/‖w_k‖)``.
    objective : float
        The network's objective (upper bound on p*).
    lower_bound : float
        The dual value of §7.0's feasible point (lower bound on p*).
    rounds : int
        Oracle calls made.
    """
    U: np.ndarray
    W: np.ndarray
    objective: float
    lower_bound: float
    rounds: int

    @property
    def gap(self) -> float:
        """Duality gap ``objective − lower_bound`` (≥ 0)."""
        return max(self.objective - self.lower_bound, 0.0)

    def neurons(self) -> tuple[np.ndarray, np.ndarray]:
        """First-layer weights ``(d, k)`` and second-layer weights ``(k, c)`` of the network
        whose weight decay ``(β/2)Σ(‖u‖² + ‖v‖²)`` equals ``β Σ‖w_k‖`` (§7.1.3)."""
        scale = np.sqrt(np.linalg.norm(self.W, axis=1))
        safe = np.where(scale > 0, scale, 1.0)
        return self.U * scale, self.W / safe[:, None]


def network_objective(X, Y, U, W, beta) -> float:
    """``½‖relu(X U) W − Y‖² + β Σ_k ‖W_k‖₂``: the non-convex objective at balanced weights."""
    fit = np.maximum(X @ U, 0.0) @ W - Y
    return float(0.5 * np.sum(fit ** 2) + beta * np.linalg.norm(W, axis=1).sum())


def dual_lower_bound(Y: np.ndarray, R: np.ndarray, g: float, beta: float) -> float:
    """``½‖Y‖² − ½‖Λ − Y‖²`` at ``Λ = min(1, β/g) R``, a dual-feasible point when ``g`` is
    the oracle value ``max_u ‖Rᵀ relu(X u)‖`` (SCIENCE.md §7.0)."""
    lam = min(1.0, beta / g) * R if g > 0 else R
    return float(0.5 * np.sum(Y ** 2) - 0.5 * np.sum((lam - Y) ** 2))


def group_lasso(F: np.ndarray, Y: np.ndarray, beta: float, W0: np.ndarray,
                tol: float = 1e-13, max_iters: int = 20000) -> np.ndarray:
    """``min_W ½‖F W − Y‖² + β Σ_k ‖W_k‖₂`` by FISTA, restarted every 200 steps, until the
    objective changes by less than ``tol`` (relative)."""
    Ft, Yt = torch.as_tensor(F), torch.as_tensor(Y)
    step = 1.0 / max(float(np.linalg.norm(F, 2)) ** 2, 1e-12)
    grad = lambda W: Ft.T @ (Ft @ W - Yt)                              # noqa: E731
    prox = lambda Z, s: group_soft(Z, s * beta, dim=1)                 # noqa: E731
    W = torch.as_tensor(W0).clone()
    last = np.inf
    for _ in range(0, max_iters, 200):
        runner = fista(grad, prox, W, step, 200, every=200)
        for it in runner:
            W = it.x
        value = float(0.5 * ((Ft @ W - Yt) ** 2).sum() + beta * W.norm(dim=1).sum())
        if last - value <= tol * max(abs(value), 1.0):
            break
        last = value
    return W.numpy()


@dataclass
class Atom:
    """One neuron's closed cell: ``u = G a`` with ``a ≥ 0`` has ``relu(X u) = F a``."""
    G: np.ndarray
    F: np.ndarray
    a: np.ndarray        # coefficients of the unit direction, ``‖G a‖ = 1``

    @property
    def u(self) -> np.ndarray:
        return self.G @ self.a

    @property
    def feature(self) -> np.ndarray:
        return self.F @ self.a


def _pack(atoms, W):
    r = max(at.G.shape[1] for at in atoms)
    scale = np.sqrt(np.linalg.norm(W, axis=1))
    A = np.zeros((len(atoms), r))
    for j, at in enumerate(atoms):
        A[j, :at.G.shape[1]] = at.a * scale[j]
    H = W / np.maximum(scale, 1e-300)[:, None]
    return A, H


def _padded(atoms, attr):
    r = max(at.G.shape[1] for at in atoms)
    rows = getattr(atoms[0], attr).shape[0]
    out = np.zeros((len(atoms), rows, r))
    for j, at in enumerate(atoms):
        m = getattr(at, attr)
        out[j, :, :m.shape[1]] = m
    return out


def polish(Y: np.ndarray, beta: float, atoms: list, W: np.ndarray, iters: int = 500):
    """Local descent on the neurons, each kept in its closed cell: minimise
    ``½‖Σ_j (F_j a_j) h_jᵀ − Y‖² + (β/2)Σ_j(‖G_j a_j‖² + ‖h_j‖²)`` over ``a_j ≥ 0`` and
    ``h_j`` by L-BFGS-B (smooth: inside a cell the ReLU is linear; the Burer–Monteiro form of
    §7.1.4's cell parameterisation). Returns the atoms and output rows of the result."""
    from scipy.optimize import minimize
    G, F = _padded(atoms, "G"), _padded(atoms, "F")
    GtG = np.einsum("jdr,jds->jrs", G, G)
    A0, H0 = _pack(atoms, W)
    k, r = A0.shape

    def value(z):
        A, H = z[:k * r].reshape(k, r), z[k * r:].reshape(k, -1)
        feats = np.einsum("jnr,jr->jn", F, A)
        E = feats.T @ H - Y
        pen = np.einsum("jr,jrs,js->", A, GtG, A) + np.sum(H ** 2)
        gA = np.einsum("jnr,nc,jc->jr", F, E, H) + beta * np.einsum("jrs,js->jr", GtG, A)
        gH = feats @ E + beta * H
        return 0.5 * np.sum(E ** 2) + 0.5 * beta * pen, np.concatenate([gA.ravel(), gH.ravel()])

    bounds = [(0, None)] * (k * r) + [(None, None)] * H0.size
    res = minimize(value, np.concatenate([A0.ravel(), H0.ravel()]), jac=True,
                   method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": iters, "ftol": 1e-15, "gtol": 1e-12})
    A, H = res.x[:k * r].reshape(k, r), res.x[k * r:].reshape(k, -1)
    kept, rows = [], []
    for j, at in enumerate(atoms):
        a = A[j, :at.G.shape[1]]
        length = np.linalg.norm(at.G @ a)
        if length * np.linalg.norm(H[j]) > 1e-14:
            kept.append(Atom(at.G, at.F, a / length))
            rows.append(H[j] * length)
    return kept, np.array(rows).reshape(len(kept), Y.shape[1])


def _block_step(feature: np.ndarray, R: np.ndarray, beta: float) -> np.ndarray:
    """The new atom's output row minimising the objective with the others fixed: the block
    soft threshold ``group_soft(fᵀR, β)/‖f‖²`` (non-zero because ``‖Rᵀf‖ > β``)."""
    corr = feature @ R
    shrink = max(0.0, 1 - beta / max(float(np.linalg.norm(corr)), 1e-300))
    return corr * shrink / max(float(feature @ feature), 1e-300)


def _state(atoms, c, d):
    if not atoms:
        return np.zeros((d, 0))
    return np.column_stack([at.u for at in atoms])


def solve_atomic(X: np.ndarray, Y: np.ndarray, beta: float,
                 oracle: Callable[[np.ndarray], tuple[Atom, float]], *,
                 tol: float = 1e-7, max_rounds: int = 60
                 ) -> Generator[Progress, None, AtomicSolution]:
    """Solve the convex program by column generation until the duality gap is below
    ``tol·max(1, p)`` (see the module docstring); yields one Progress per oracle call.

    ``oracle(R)`` returns the :class:`Atom` (closed cell and unit direction) maximising
    ``‖Rᵀ relu(X u)‖`` and that maximum.
    """
    X, Y = np.asarray(X, float), np.asarray(Y, float).reshape(len(X), -1)
    atoms: list[Atom] = []
    W = np.zeros((0, Y.shape[1]))
    best = None
    for rnd in range(1, max_rounds + 1):
        U = _state(atoms, Y.shape[1], X.shape[1])
        R = Y - np.maximum(X @ U, 0.0) @ W
        atom, g = oracle(R)
        sol = AtomicSolution(U, W, network_objective(X, Y, U, W, beta),
                             dual_lower_bound(Y, R, g, beta), rnd)
        if best is not None and best.lower_bound > sol.lower_bound:
            sol.lower_bound = best.lower_bound
        best = sol
        if best.gap <= tol * max(1.0, abs(best.objective)) or g <= beta:
            break
        yield Progress(min(rnd / max_rounds, 0.99),
                       f"convex program: duality gap {best.gap:.2e}")
        atoms.append(atom)
        W = np.vstack([W, _block_step(atom.feature, R, beta)])
        if rnd % 4 == 0:                     # fully corrective: prunes redundant neurons
            feats = np.column_stack([at.feature for at in atoms])
            W = group_lasso(feats, Y, beta, W, max_iters=400)
        live = np.linalg.norm(W, axis=1) > 0
        atoms, W = polish(Y, beta, [a for a, k in zip(atoms, live) if k], W[live])
    return best

"""Model 2: batch-normalised two-layer ReLU networks (SCIENCE.md §7.2).

``f(X) = Σ_j relu(BN_{γ_j,α_j}(X w_j)) v_j`` with ``BN(h) = γ (h − h̄)/‖h − h̄‖ + α/√n`` and
objective ``½‖f − y‖² + (β/2)Σ(γ_j² + α_j² + v_j²)`` (§7.2.1; no decay on w). With
``X_c = UΣVᵀ`` and ``Ũ = [U, 1/√n]`` the BN network is exactly a plain two-layer ReLU network
on the whitened data Ũ (§7.2.2), so its convex program is §2.3's with ``X → Ũ``, solved by
column generation with the exact oracle (d = rank + 1 ≤ 3, patterns those of ``[X, 1]``).

- ``regime = "2-D data"``: anisotropic, off-centre 2-D points (§7.2.5 KAT 1: p* = 1.962039).
- ``regime = "over-parameterized"``: ``rank X_c = n − 1`` (d = n − 1), Ũ is square orthogonal
  and the optimum is the closed form of §7.2.3 with two neurons,
  ``ŷ = (1 − β/‖y₊‖)_+ y₊ − (1 − β/‖y₋‖)_+ y₋``, ``p* = φ(‖y₊‖) + φ(‖y₋‖)``.

``ModelOutcome.arrays``: ``X`` (n, d), ``y`` (n,), ``prediction`` (n,) of the optimal network,
``gamma``, ``alpha``, ``v`` (k,) and ``w`` (k, d) its BN neurons (§7.2.2 recovery);
``gd_gap_bounds`` (S,). 2-D only: ``grid_x``, ``grid_y`` (G,) and ``grid_prediction`` (G, G)
the optimal network on a grid (BN statistics of the training batch; rows = y).
Over-parameterized only: ``prediction_closed_form`` (n,).
``optimizer = "GD"`` (§7.2.4, :mod:`engine.convex_duals.bn_gd`): the runs are plain gradient
descent and ``ladder_k`` / ``ladder_value`` (K,) hold the truncated-whitening optima p*(k)
("ours"), the last one p* itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generator

import numpy as np
import torch

from engine.convex_duals import data
from engine.convex_duals.atoms import dual_lower_bound, solve_atomic
from engine.convex_duals.bn_gd import truncation_ladder
from engine.convex_duals.common import ConvexDualsError, ModelOutcome, forward
from engine.convex_duals.gd import adam_runs, init_weights
from engine.convex_duals.oracle import best_atom, best_direction, best_nonneg_direction, \
    nonneg_atom
from engine.convex_duals.patterns import boundary_rays, enumerate_patterns
from engine.core import Progress, param

__all__ = ["Params", "run", "whiten", "closed_form", "bn_forward", "REGIMES", "OPTIMIZERS"]

REGIMES = ("2-D data", "over-parameterized")
OPTIMIZERS = ("Adam", "GD")


@dataclass(frozen=True)
class Params:
    """Batch-normalised two-layer ReLU network against its convex model (§7.2)."""
    regime: str = param("2-D data", label="Regime", choices=REGIMES,
                        help="2-D points (exact program) or d = n − 1 (closed form)")
    n: int = param(12, label="Samples n", min=3, max=24,
                   help="Data points (over-parameterized: d = n − 1, at most 10)")
    beta: float = param(0.1, label="Weight decay β", min=0.0, max=10.0,
                        help="β on (γ, α, v); the convex model needs β > 0")
    minor_scale: float = param(0.3, label="Minor axis scale", min=0.01, max=3.0, log=True,
                               help="2-D data: scale of the second coordinate (the first is 3; "
                                    "§7.2.5 uses 0.3). Smaller: stronger anisotropy")
    optimizer: str = param("Adam", label="Optimizer", choices=OPTIMIZERS,
                           help="Adam, or plain gradient descent, whose implicit bias favours "
                                "high-variance directions (§7.2.4); GD also shows p*(k)")
    width: int = param(20, label="Width m", min=1, max=200, log=True,
                       help="Hidden neurons of the BN network trained by Adam")
    seeds: int = param(3, label="Seeds", min=1, max=8, help="Adam runs from different seeds")
    steps: int = param(2000, label="Steps", min=10, max=50_000, log=True,
                       help="Steps of every Adam or GD run")
    lr: float = param(0.01, label="Learning rate", min=1e-5, max=1.0, log=True,
                      help="Adam learning rate")
    seed: int = param(0, label="First seed", min=0, max=2**31 - 1,
                      help="Seed of the first Adam run (the others follow it)")
    data_seed: int = param(3, label="Data seed", min=0, max=2**31 - 1,
                           help="Seed of the data set")


def whiten(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``Ũ = [U, 1/√n]`` of the centred data ``X_c = UΣVᵀ`` (§7.2.2) and ``(Σ, V)``."""
    Xc = X - X.mean(axis=0)
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    r = int((s > 1e-10 * max(s.max(), 1e-300)).sum())
    if r == 0:
        raise ConvexDualsError("rank-deficient data: every point is the same, BN divides by 0")
    n = len(X)
    return np.column_stack([U[:, :r], np.full(n, 1 / np.sqrt(n))]), s[:r], Vt[:r].T


def closed_form(y: np.ndarray, beta: float) -> tuple[np.ndarray, float]:
    """§7.2.3 for square orthogonal Ũ: the prediction and ``p* = φ(‖y₊‖) + φ(‖y₋‖)``."""
    pred, pstar = np.zeros_like(y), 0.0
    for part, sign in ((np.maximum(y, 0), 1.0), (np.maximum(-y, 0), -1.0)):
        s = np.linalg.norm(part)
        if s > 0:
            pred += sign * max(1 - beta / s, 0.0) * part
        pstar += beta * s - beta ** 2 / 2 if s > beta else s ** 2 / 2
    return pred, float(pstar)


def bn_forward(X, w, gamma, alpha, v, batch=None):
    """The BN network's output on ``X`` (torch or numpy), statistics from ``batch`` (default
    ``X``): ``Σ_j relu(γ_j (h_j − h̄_j)/‖h_j^{batch} − h̄_j‖ + α_j/√n) v_j`` (§7.2.1)."""
    lib = torch if isinstance(X, torch.Tensor) else np
    B = X if batch is None else batch
    hb = B @ w
    mean = hb.mean(-2, keepdims=True) if lib is np else hb.mean(-2, keepdim=True)
    norm = lib.sqrt(((hb - mean) ** 2).sum(-2) + 1e-300)[..., None, :]
    pre = gamma[..., None, :] * (X @ w - mean) / norm + alpha[..., None, :] / np.sqrt(len(B))
    act = lib.maximum(pre, lib.zeros_like(pre)) if lib is np else torch.relu(pre)
    return (act * v[..., None, :]).sum(-1)


def _dataset(p: Params) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(p.data_seed)
    if p.regime == "over-parameterized":
        X = rng.standard_normal((p.n, p.n - 1))
        return X, rng.standard_normal(p.n)
    X = rng.standard_normal((p.n, 2)) * np.array([3.0, p.minor_scale]) + np.array([1.0, -2.0])
    return X, np.sin(2 * X[:, 0]) + 0.3 * rng.standard_normal(p.n)


def _check(p: Params) -> None:
    if p.beta <= 0:
        raise ConvexDualsError("β = 0: the convex model has no norm term and the closed form "
                               "needs β > 0; set β > 0")
    if p.regime == "over-parameterized" and p.n > 10:
        raise ConvexDualsError(f"over-parameterized regime: n = {p.n} > 10 (the exact oracle "
                               "enumerates 2ⁿ supports)")


def _bn_neurons(sol, s, V) -> dict:
    """§7.2.2 recovery: ``z = (z_U, z_1)``, ``α = z_1``, ``γ = ‖z_U‖``, ``w = VΣ⁻¹ z_U/γ``."""
    Z, out = sol.neurons()
    zU, z1 = Z[:-1], Z[-1]
    gamma = np.linalg.norm(zU, axis=0)
    w = (V @ (zU / s[:, None])) / np.maximum(gamma, 1e-300)
    return {"gamma": gamma, "alpha": z1, "v": out[:, 0], "w": w.T}


def _objective(X, y, beta):
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)

    def value(ws):
        w, gamma, alpha, v = ws
        fit = bn_forward(Xt, w, gamma, alpha, v) - yt
        return 0.5 * (fit ** 2).sum(-1) + 0.5 * beta * ((gamma ** 2).sum(-1)
                                                        + (alpha ** 2).sum(-1) + (v ** 2).sum(-1))
    return value


def run(params: Params, device: str = "cpu") -> Generator[Progress, None, ModelOutcome]:
    """Convex BN model, its BN network and Adam on the BN network (§7.2)."""
    _check(params)
    X, y = _dataset(params)
    Ut, s, V = whiten(X)
    if params.regime == "over-parameterized":
        oracle = lambda R: nonneg_atom(Ut, R)                           # noqa: E731
        value = lambda R: best_nonneg_direction(R)[1]                   # noqa: E731
    else:
        pats, rays = enumerate_patterns(Ut), boundary_rays(Ut)
        oracle = lambda R: best_atom(Ut, R, pats, rays)                 # noqa: E731
        value = lambda R: best_direction(Ut, R, pats)[1]                # noqa: E731
    yield Progress(0.0, "convex program", {"stage": "data", "X": X, "y": y})
    sol = yield from forward(solve_atomic(Ut, y, params.beta, oracle), 0.0, 0.3)
    neurons = _bn_neurons(sol, s, V)
    pred = bn_forward(X, neurons["w"].T, neurons["gamma"], neurons["alpha"], neurons["v"])
    arrays = {"X": X, "y": y, "prediction": pred, **neurons}
    pstar, cert = sol.objective, sol.gap
    notes = [f"n = {len(X)}, d = {X.shape[1]}, whitened rank {Ut.shape[1]}; "
             f"{len(neurons['v'])} BN neurons at the optimum"]
    if params.regime == "over-parameterized":
        arrays["prediction_closed_form"], pstar = closed_form(y, params.beta)
        notes.append(f"closed form p* = {pstar:.6f}; column generation {sol.objective:.6f}")
    else:
        xs, ys, pts = data.grid(X, 100)
        arrays.update(grid_x=xs, grid_y=ys, grid_prediction=bn_forward(
            pts, neurons["w"].T, neurons["gamma"], neurons["alpha"], neurons["v"],
            batch=X).reshape(len(ys), len(xs)))
    if params.optimizer == "GD":
        arrays["ladder_k"], arrays["ladder_value"] = truncation_ladder(Ut, y, params.beta, pstar)
        notes.append("GD variant (§7.2.4): p*(k) = the convex BN model on the top k whitened "
                     "directions (ours): " + ", ".join(
                         f"p*({k}) = {v:.4f}" for k, v in zip(arrays["ladder_k"],
                                                             arrays["ladder_value"])))
    yield Progress(0.3, "convex optimum", {"stage": "convex", "objective": pstar,
                                            "certificate": cert, "certificate_kind": "duality gap",
                                            "arrays": arrays})
    seeds = list(range(params.seed, params.seed + params.seeds))
    m, d = params.width, X.shape[1]
    ws = init_weights(seeds, [(d, m), (m,), (m,), (m,)], scale=1.0)
    runs = yield from forward(adam_runs(ws, _objective(X, y, params.beta), params.steps,
                                      params.lr, seeds=seeds, method=params.optimizer),
                              0.3, 0.98)
    arrays["gd_gap_bounds"] = _gd_gaps(X, y, Ut, params.beta, runs, value)
    if runs.diverged.any():
        notes.append(f"{int(runs.diverged.sum())} Adam run(s) diverged and were stopped")
    return ModelOutcome("batchnorm", pstar, cert, "duality gap", runs.steps, runs.objectives,
                        np.array(seeds), arrays, notes, optimizer=params.optimizer)


def _gd_gaps(X, y, Ut, beta, runs, value) -> np.ndarray:
    out = []
    for (w, g, a, v), row in zip(zip(*runs.weights), runs.objectives):
        R = (y - bn_forward(X, w, g, a, v))[:, None]
        final = row[np.isfinite(row)][-1] if np.isfinite(row).any() else np.nan
        out.append(final - dual_lower_bound(y[:, None], R, value(R), beta))
    return np.array(out)

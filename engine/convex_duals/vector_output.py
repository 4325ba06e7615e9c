"""Model 1: vector-output two-layer ReLU networks are copositive programs (SCIENCE.md §7.1).

Two cases, both with the convex optimum solved exactly and certified by a duality gap:

- ``mode = "exact 2-D"``: 2-D points and c one-hot classes (§7.1.8). The engine solves the
  exact program by column generation with the exact cone-constrained PCA oracle
  (:mod:`engine.convex_duals.atoms`; exact for d ≤ 3): without bias it reproduces §7.1.9
  KAT 1 (p* = 3.551792, where §7.1.4's relaxation is exact too), with ``bias`` (d = 3,
  where the relaxation is only a lower bound) KAT 3 (2.364629).
- ``mode = "whitened"``: ``n ≤ d`` data with orthonormal rows and one-hot labels (§7.1.5): the
  optimum is the soft-thresholded SVD of Y; the closed-form network is certified optimal by the
  §7.0 dual bound with the exact non-negative-PCA oracle, and column generation recovers it.
- ``mode = "relaxation (any d)"``: data in ``dim`` dimensions (Gaussian mixture or a random
  ReLU teacher) and §7.1.4's relaxation on ``patterns`` sampled activation patterns, with its
  duality gap; what its value bounds is stated in the notes
  (:mod:`engine.convex_duals.cop_sampled`, whose docstring lists that case's arrays).

The non-convex network ``½‖relu(XU)V − Y‖² + (β/2)(‖U‖² + ‖V‖²)`` is trained by Adam from
several seeds; its objective never goes below p*.

``ModelOutcome.arrays``:
``X`` (n, d) data; ``labels`` (n,); ``first_layer`` (k, d) and ``second_layer`` (k, c): the
network read off the convex optimum; ``gd_gap_bounds`` (S,): each Adam run's final §7.0 gap
bound. Exact 2-D only: ``grid_x``, ``grid_y`` (G,), ``grid_class`` (G, G) the arg-max class of
the optimal network (rows = y), ``neuron_patterns`` (k,) the index of each neuron's cell among
the ``active_cells`` distinct ones. Whitened only: ``sv_before`` (c,) singular values of Y,
``sv_after`` (c,) after soft thresholding by β, ``prediction_closed_form`` and
``prediction_convex`` (n, c), ``closed_first_layer`` (k, d) / ``closed_second_layer`` (k, c).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generator

import numpy as np

from engine.convex_duals import data
from engine.convex_duals.atoms import solve_atomic, dual_lower_bound
from engine.convex_duals.common import ConvexDualsError, ModelOutcome, forward
from engine.convex_duals.cop_sampled import make_data, run_relaxation
from engine.convex_duals.gd import adam_runs, init_weights, relu_net_objective
from engine.convex_duals.oracle import best_atom, best_direction, nonneg_atom, \
    best_nonneg_direction
from engine.convex_duals.patterns import boundary_rays, enumerate_patterns
from engine.core import Progress, param

__all__ = ["Params", "run", "soft_thresholded_svd", "MODES", "DATASETS_2D", "DATASETS_D"]

RELAXATION = "relaxation (any d)"
MODES = ("exact 2-D", "whitened", RELAXATION)
DATASETS_2D = ("spiral", "blobs")
DATASETS_D = ("mixture", "teacher")


@dataclass(frozen=True)
class Params:
    """Vector-output two-layer ReLU network against its copositive program (§7.1)."""
    mode: str = param("exact 2-D", label="Case", choices=MODES,
                      help="2-D data (exact program), whitened n ≤ d data (SVT closed form) "
                           "or d-dimensional data (relaxation on sampled patterns, §7.1.4)")
    dataset: str = param("spiral", label="Data", choices=DATASETS_2D + DATASETS_D,
                         help="Exact 2-D case: spiral or blobs; relaxation case: a Gaussian "
                              "mixture (one-hot) or a random ReLU teacher (c outputs) in d dims")
    dim: int = param(5, label="Input dim d", min=2, max=12,
                     help="Relaxation case: dimension of the data",
                     visible_when={"mode": (RELAXATION,)})
    patterns: int = param(24, label="Sampled patterns", min=1, max=400, log=True,
                          help="Relaxation case: Gaussian gates g whose patterns 1[Xg ≥ 0] "
                               "give the blocks (duplicates merged)",
                          visible_when={"mode": (RELAXATION,)})
    bias: bool = param(False, label="Bias",
                       help="Append a ones column (exact 2-D: d = 3, n² − n + 2 patterns; "
                            "relaxation: d + 1)")
    n: int = param(24, label="Samples n", min=3, max=60,
                   help="Data points (whitened case: at most 10, d = n + 2)")
    classes: int = param(3, label="Classes c", min=2, max=5, help="One-hot output columns")
    beta: float = param(0.5, label="Weight decay β", min=0.0, max=10.0,
                        help="β of (β/2)(‖U‖² + ‖V‖²); the convex program needs β > 0")
    width: int = param(30, label="Width m", min=1, max=400, log=True,
                       help="Hidden neurons of the network trained by Adam")
    seeds: int = param(3, label="Seeds", min=1, max=8, help="Adam runs from different seeds")
    steps: int = param(3000, label="Adam steps", min=10, max=50_000, log=True,
                       help="Steps of every Adam run")
    lr: float = param(0.01, label="Learning rate", min=1e-5, max=1.0, log=True,
                      help="Adam learning rate")
    seed: int = param(0, label="First seed", min=0, max=2**31 - 1,
                      help="Seed of the first Adam run (the others follow it)")
    data_seed: int = param(0, label="Data seed", min=0, max=2**31 - 1,
                           help="Seed of the data set")


def soft_thresholded_svd(Y: np.ndarray, beta: float) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                               float]:
    """The closed form of §7.1.5 for whitened data: ``Z* = Σ (σ_k − β)_+ a_k b_kᵀ``.

    Returns ``(a, σ, b, p*)`` with the left singular vectors signed non-negative, and
    ``p* = Σ φ(σ_k)``, ``φ(σ) = βσ − β²/2`` for σ > β else σ²/2. Raises
    :class:`ConvexDualsError` if a retained ``a_k`` cannot be signed non-negative.
    """
    a, s, bt = np.linalg.svd(Y, full_matrices=False)
    for k in np.flatnonzero(s > beta):
        if a[:, k].sum() < 0:
            a[:, k], bt[k] = -a[:, k], -bt[k]
        if a[:, k].min() < -1e-10:
            raise ConvexDualsError("the soft-thresholded SVD is the optimum only when every "
                                   "retained left singular vector is non-negative (one-hot Y)")
    phi = np.where(s > beta, beta * s - beta ** 2 / 2, s ** 2 / 2)
    return a, s, bt.T, float(phi.sum())


def _check(p: Params) -> None:
    if p.beta <= 0:
        raise ConvexDualsError("β = 0: the convex program has no norm term (any interpolating "
                               "fit is optimal) and the closed form needs β > 0; set β > 0")
    if p.mode == "whitened" and p.n > 10:
        raise ConvexDualsError(f"whitened case: n = {p.n} > 10 (the exact non-negative PCA "
                               "oracle enumerates 2ⁿ supports)")
    if p.mode != "whitened" and p.n < p.classes:
        raise ConvexDualsError(f"n = {p.n} samples cannot hold {p.classes} classes")
    wanted = DATASETS_D if p.mode == MODES[2] else DATASETS_2D
    if p.mode != "whitened" and p.dataset not in wanted:
        raise ConvexDualsError(f"data {p.dataset!r} does not fit the case {p.mode!r}: "
                               f"choose {' or '.join(wanted)}")


def _dataset(p: Params) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(p.data_seed)
    if p.mode == "whitened":
        labels = np.sort(np.arange(p.n) % p.classes)
        return data.whitened(p.n, p.n + 2, rng), labels
    make = data.spiral if p.dataset == "spiral" else data.blobs
    X, labels = make(p.n, p.classes, rng)
    if np.linalg.matrix_rank(X) < 2:
        raise ConvexDualsError("rank-deficient data: the points lie on one line through 0")
    return (np.column_stack([X, np.ones(len(X))]) if p.bias else X), labels


def _gap_bounds(X, Y, beta, runs, oracle_value) -> np.ndarray:
    """§7.0 gap bound of every Adam run's final network."""
    U, V = runs.weights
    out = []
    for u, v, row in zip(U, V, runs.objectives):
        R = Y - np.maximum(X @ u, 0.0) @ v
        final = row[np.isfinite(row)][-1] if np.isfinite(row).any() else np.nan
        out.append(final - dual_lower_bound(Y, R, oracle_value(R), beta))
    return np.array(out)


def _grid_arrays(X, sol, classes) -> dict:
    xs, ys, pts = data.grid(X[:, :2], 120)
    if X.shape[1] == 3:
        pts = np.column_stack([pts, np.ones(len(pts))])
    U1, V2 = sol.neurons()
    scores = np.maximum(pts @ U1, 0.0) @ V2
    cls = np.argmax(scores, axis=1).reshape(len(ys), len(xs))
    pats = (X @ sol.U >= -1e-9).T
    _, idx = np.unique(pats, axis=0, return_inverse=True)
    return {"grid_x": xs, "grid_y": ys, "grid_class": cls, "neuron_patterns": idx.ravel()}


def _closed_form_arrays(X, Y, beta) -> tuple[dict, float, float]:
    a, s, b, pstar = soft_thresholded_svd(Y, beta)
    keep = s > beta
    t = np.sqrt(s[keep] - beta)
    first, second = (X.T @ a[:, keep] * t).T, (b[:, keep] * t).T
    pred = np.maximum(X @ first.T, 0.0) @ second
    R = Y - pred
    _, g = best_nonneg_direction(R)
    gap = pstar - dual_lower_bound(Y, R, g, beta)
    return ({"sv_before": s, "sv_after": np.maximum(s - beta, 0.0),
             "prediction_closed_form": pred, "closed_first_layer": first,
             "closed_second_layer": second}, pstar, max(gap, 0.0))


def run(params: Params, device: str = "cpu") -> Generator[Progress, None, ModelOutcome]:
    """Convex optimum, recovered network and Adam runs of the vector-output model (§7.1)."""
    _check(params)
    if params.mode == MODES[2]:
        X, Y, labels = make_data(params.dataset, params.n, params.dim, params.classes,
                                 np.random.default_rng(params.data_seed))
        if params.bias:
            X = np.column_stack([X, np.ones(len(X))])
        return (yield from run_relaxation(X, Y, labels, params))
    X, labels = _dataset(params)
    Y = data.one_hot(labels, params.classes)
    if params.mode == "whitened":
        oracle = lambda R: nonneg_atom(X, R)                            # noqa: E731
        value = lambda R: best_nonneg_direction(R)[1]                   # noqa: E731
    else:
        pats, rays = enumerate_patterns(X), boundary_rays(X)
        oracle = lambda R: best_atom(X, R, pats, rays)                  # noqa: E731
        value = lambda R: best_direction(X, R, pats)[1]                 # noqa: E731
    yield Progress(0.0, "convex program", {"stage": "data", "X": X, "labels": labels})
    sol = yield from forward(solve_atomic(X, Y, params.beta, oracle), 0.0, 0.3)
    first, second = sol.neurons()
    arrays = {"X": X, "labels": labels, "first_layer": first.T, "second_layer": second}
    notes = [f"n = {len(X)}, d = {X.shape[1]}, c = {params.classes}; "
             f"{first.shape[1]} neurons at the optimum ({sol.rounds} oracle calls)"]
    pstar, cert = sol.objective, sol.gap
    if params.mode == "whitened":
        extra, pstar, cert = _closed_form_arrays(X, Y, params.beta)
        arrays.update(extra, prediction_convex=np.maximum(X @ first, 0.0) @ second)
        notes.append(f"closed form p* = {pstar:.6f}; column generation {sol.objective:.6f}")
    else:
        arrays.update(_grid_arrays(X, sol, params.classes))
    yield Progress(0.3, "convex optimum", {"stage": "convex", "objective": pstar,
                                            "certificate": cert, "certificate_kind": "duality gap",
                                            "arrays": arrays})
    seeds = list(range(params.seed, params.seed + params.seeds))
    ws = init_weights(seeds, [(X.shape[1], params.width), (params.width, params.classes)])
    runs = yield from forward(adam_runs(ws, relu_net_objective(X, Y, params.beta), params.steps,
                                      params.lr, seeds=seeds), 0.3, 0.98)
    arrays["gd_gap_bounds"] = _gap_bounds(X, Y, params.beta, runs, value)
    if runs.diverged.any():
        notes.append(f"{int(runs.diverged.sum())} Adam run(s) diverged and were stopped; "
                     "lower the learning rate")
    return ModelOutcome("vector_output", pstar, cert, "duality gap", runs.steps,
                        runs.objectives, np.array(seeds), arrays, notes)

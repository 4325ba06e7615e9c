"""The ReLU-discriminator WGAN run: the certified convex game beside GDA of a linear generator
(SCIENCE.md §7.4.1, §7.4.4; called by :func:`engine.convex_duals.wgan.run` when
``discriminator = "relu"``).

``ModelOutcome.arrays`` keys (besides ``real``, ``grid_x``, ``grid_y``, ``grid_points``,
``steps``, ``gda_best``, ``generated_gda``, ``gda_path``, ``beta`` as in :mod:`.wgan`)
----------------------------------------------------------------------------------------
``generated_convex`` : (K, 2), ``mass_convex`` : (K,)
    Support and masses of the certified generated distribution ν* (feasible: critic ≤ β).
``critic_convex``, ``critic_gda`` : (G, G)
    The certified discriminator ``D*(x) = Σ v_j relu(u_j·[x, 1])`` and the best GDA seed's
    last discriminator on the grid (rows follow ``grid_y``).
``neurons_convex`` : (m, 3)
    ``(u_j, v_j)`` rows: ``u_j`` (3,) scaled by ``v_j`` (the certificate's discriminator).
``critic_path`` : (seeds, T)
    The exact critic (§7.4.1) of the linear generator's samples along every GDA path.
``bound_upper``, ``bound_lower`` : (I,)
    The solver's certified upper and lower bounds of p* after each LP.
``relu_critic_convex``, ``relu_critic_gda`` : ()
    Exact critic of ν* and of the best GDA generator.
"""
from __future__ import annotations

from typing import Generator

import numpy as np

from engine.convex_duals.attention_stream import stream_seed_runs
from engine.convex_duals.common import ConvexDualsError, ModelOutcome
from engine.convex_duals.wgan_relu_game import solve_relu_game_iter
from engine.convex_duals.wgan_relu_gda import relu_gda
from engine.convex_duals.wgan_relu_oracle import discriminator
from engine.core import Progress

__all__ = ["run_relu", "whiten", "MAX_SAMPLES"]

CERTIFICATE = "duality gap"
OPTIMIZER = "GDA"
MAX_SAMPLES = 40          # the exact critic enumerates O(n²) cells: n³ work per evaluation
GRID = 61
TOL = 1e-7
MAX_LPS = 60
MAX_SECONDS = 6.0       # a hard instance (tiny β) stops with its certified gap and a note
RECORDS = 40            # exact critics per GDA run (each enumerates the arrangement)


def whiten(Z: np.ndarray) -> np.ndarray:
    """Centre ``Z`` and make ``Z^T Z / n = I`` (so ``½E‖W^T z‖² = ½‖W‖²_F``)."""
    Z = Z - Z.mean(axis=0)
    L = np.linalg.cholesky(Z.T @ Z / len(Z))
    return np.linalg.solve(L, Z.T).T


def check_relu(p, X: np.ndarray, Z: np.ndarray) -> None:
    """Refuse what the certified game cannot take, with the reason."""
    if p.samples > MAX_SAMPLES:
        raise ConvexDualsError(
            f"n = {p.samples} samples: the ReLU game's exact critic enumerates O(n²) "
            f"arrangement cells per evaluation; use n ≤ {MAX_SAMPLES}")
    if np.linalg.matrix_rank(X, tol=1e-9) < 2:
        raise ConvexDualsError("the real samples lie on one line (rank-deficient data): "
                               "the ReLU critic's arrangement is degenerate")
    if np.linalg.matrix_rank(Z - Z.mean(axis=0), tol=1e-9) < Z.shape[1]:
        raise ConvexDualsError(f"the latent has rank below d_z = {Z.shape[1]}: it cannot be "
                               f"whitened; use more samples or a smaller d_z")


def run_relu(p, X: np.ndarray, Z: np.ndarray) -> Generator[Progress, None, ModelOutcome]:
    """Solve the certified game, then run GDA of the linear generator from every seed."""
    check_relu(p, X, Z)
    Z = whiten(Z)
    sol = yield from _solve(X, p.beta)
    convex = _convex_arrays(p, X, sol)
    yield Progress(0.1, "certified ReLU game",
                   {"stage": "convex", "objective": sol.upper, "certificate": sol.gap,
                    "certificate_kind": CERTIFICATE, "arrays": convex})
    record = max(1, p.steps // RECORDS)
    steps = np.arange(p.steps // record + 1) * record
    seeds = np.arange(p.seed, p.seed + p.seeds)
    weight = 2.0 * sol.weight
    parts = [relu_gda(X, Z, p.beta, weight, neurons=p.neurons, seed=int(k), steps=p.steps,
                      lr=p.lr, record_every=record) for k in seeds]
    paths = yield from stream_seed_runs(parts, steps, 0.1, 1.0, OPTIMIZER,
                                        lambda path: path.objective, seeds=seeds)
    return _outcome(p, Z, sol, paths, steps, convex, weight)


def _solve(X, beta) -> Generator[Progress, None, object]:
    """The certified game, one progress report per LP (cancel between LPs)."""
    gen = solve_relu_game_iter(X, beta, tol=TOL, max_iter=MAX_LPS, max_seconds=MAX_SECONDS)
    while True:
        try:
            it, upper, lower = next(gen)
        except StopIteration as stop:
            return stop.value
        yield Progress(0.1 * it / MAX_LPS, f"certified game: LP {it}, gap {upper - lower:.1e}")


def distinct_points(points: np.ndarray, tol: float = 1e-3) -> int:
    """How many distinct locations ``points`` (K, 2) occupy (closer than ``tol`` = one)."""
    kept: list = []
    for q in points:
        if not any(np.max(np.abs(q - r)) < tol for r in kept):
            kept.append(q)
    return len(kept)


def _convex_arrays(p, X, sol) -> dict:
    keep = sol.mass > 1e-12
    S = sol.support[keep]
    lim = float(np.max(np.abs(np.r_[X, S]))) * 1.3 + 1e-9
    axis = np.linspace(-lim, lim, GRID)
    gx, gy = np.meshgrid(axis, axis)
    grid = np.c_[gx.ravel(), gy.ravel()]
    return {"real": X, "generated_convex": S, "mass_convex": sol.mass[keep],
            "grid_x": axis, "grid_y": axis, "grid_points": grid,
            "critic_convex": discriminator(grid, sol.U, sol.v).reshape(GRID, GRID),
            "neurons_convex": np.c_[sol.U, sol.v],
            "bound_upper": np.array(sol.history_upper),
            "bound_lower": np.array(sol.history_lower),
            "relu_critic_convex": np.array(sol.critic), "beta": np.array(p.beta)}


def _outcome(p, Z, sol, paths, steps, convex, weight) -> ModelOutcome:
    finals = [path.objective[np.isfinite(path.objective)][-1]
              + (np.inf if path.diverged_at is not None else 0.0) for path in paths]
    best_row = int(np.argmin(finals))
    best = paths[best_row]
    G = Z @ best.W_last
    arrays = {**convex, "gda_best": np.array(best_row), "generated_gda": G,
              "critic_gda": discriminator(convex["grid_points"], best.U_last,
                                          best.v_last).reshape(GRID, GRID),
              "critic_path": np.array([path.critic for path in paths]),
              "gda_path": np.array([path.W for path in paths]), "steps": steps,
              "relu_critic_gda": np.array(best.critic[np.isfinite(best.critic)][-1])}
    notes = [f"ReLU discriminator with bias: n = {p.samples} samples, GDA with {p.neurons} "
             f"neurons and a linear generator (d_z = {Z.shape[1]}, whitened latent)",
             f"certified game: ν* puts its mass on "
             f"{distinct_points(convex['generated_convex'][convex['mass_convex'] > 1e-6])} points, D* {len(sol.v)} "
             f"neurons, {sol.iterations} LPs; p* bounds every generator's ½E‖g‖² under "
             f"critic ≤ β (a linear generator is one such; its problem is not convex)",
             f"objective of a GDA path: ½E‖g‖² + {weight:.4g}·(critic − β)_+ with the exact "
             f"critic (exact penalty, ≥ p* − gap)"]
    if sol.gap > 1e-6:
        notes.append(f"the solver stopped after {sol.iterations} LPs with gap {sol.gap:.2g}: "
                     f"p* is known to within it (raise β or lower n for a tighter certificate)")
    for k, path in enumerate(paths):
        if path.diverged_at is not None:
            notes.append(f"GDA seed {p.seed + k} diverged at step {path.diverged_at}; its path "
                         f"is kept up to there: lower the step size")
    return ModelOutcome(model="wgan", convex_objective=sol.upper, certificate=sol.gap,
                        certificate_kind=CERTIFICATE, steps=steps,
                        gd_objectives=np.array([path.objective for path in paths]),
                        seeds=np.arange(p.seed, p.seed + len(paths)), arrays=arrays,
                        notes=notes, optimizer=OPTIMIZER)

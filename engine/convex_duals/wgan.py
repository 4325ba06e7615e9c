"""Wasserstein GAN with a two-layer quadratic discriminator and a linear generator on 2-D
data: the closed-form generator beside gradient descent–ascent (SCIENCE.md §7.4).

Real samples ``X (n, 2)`` (centred), latent ``Z (n, d_z)`` Gaussian, generator ``G = Z W``,
discriminator ``D(x) = Σ_j v_j (u_j·x)²`` with ``m`` neurons and the degree-matched
regulariser ``(β/2)Σ(||u_j||⁴ + v_j²)``. Eliminating the discriminator gives
``min ½||W||² s.t. ||C_x − C_g||₂ ≤ β``, solved in closed form: PCA with eigenvalue
shrinkage, ``C_g* = (C_x − βI)_+`` (§7.4.2). The same game is played by simultaneous GDA
from several seeds (:mod:`engine.convex_duals.wgan_gda`); each path's objective is the
exact-penalty value ``f(W) ≥ p*`` (equality only at the optimum).

With ``discriminator = "relu"`` the discriminator is a two-layer ReLU net with bias and the
run is :func:`engine.convex_duals.wgan_relu_run.run_relu`: the certified convex game over
generated distributions (§7.4.4) beside GDA of the linear generator (its arrays are listed
there).

Default size: n = 200, d_z = 2, m = 4 neurons, 3 seeds × 15 000 GDA steps: closed form
< 1 ms, whole run ≈ 6 s on this CPU. A run whose iterates blow up stops with a note and
keeps its path (NaN after the stop).

``ModelOutcome.arrays`` keys
----------------------------
``real`` : (n, 2)
    Real samples.
``generated_convex``, ``generated_gda`` : (n, 2)
    ``Z W*`` and ``Z W`` of the best GDA seed's last finite iterate (a seed that diverged
    is shown only when every seed did).
``grid_x``, ``grid_y`` : (G,)
    Axes of the discriminator grids; ``grid_points`` (G², 2) the grid's points.
``gda_best`` : ()
    Row (seed index from 0) of the best GDA seed, the one the ``*_gda`` arrays show.
``critic_convex``, ``critic_gda`` : (G, G)
    ``x^T A x`` on the grid (rows follow ``grid_y``) for the optimal discriminator ``A*``
    and the best GDA seed's last discriminator.

The ``convex`` partial carries the keys that do not depend on GDA; ``gd`` partials carry
``steps`` and the objectives of every seed so far.
``ellipse_real``, ``ellipse_convex``, ``ellipse_gda`` : (K, 2)
    Two-standard-deviation ellipses of ``C_x``, ``C_g*`` and the GDA ``C_g``.
``eig_real``, ``eig_convex`` : (2,)
    Eigenvalues of ``C_x`` and ``C_g*``, descending.
``eig_path`` : (seeds, T, 2)
    Eigenvalues of ``C_g`` along every GDA path, at the steps of ``steps``.
``steps`` : (T,)
    The recorded GDA steps (the same as ``ModelOutcome.steps``).
``violation_path`` : (seeds, T)
    ``||C_x − C_g||₂`` along every path (the constraint is ``≤ β``).
``gda_path`` : (seeds, T, d_z·2)
    The generator parameters ``W`` (row-major) along every path.
``W_convex`` : (d_z, 2)
    The closed-form generator.
``relu_critic_convex``, ``relu_critic_gda`` : ()
    A ReLU discriminator's critic value (piecewise mean matching, §7.4.1) of the closed-form
    and the best GDA generator: above β, that discriminator tells them from the data.
``relu_line_convex``, ``relu_line_gda`` : (K, 2)
    The line ``u₁x₁ + u₂x₂ + u₃ = 0`` of the maximising direction, inside the grid.
``beta_grid``, ``eig_vs_beta`` : (K,), (K, 2)
    Eigenvalues of ``C_g*(β) = (C_x − βI)_+`` on a β grid from 0 to 1.2·λ₁(C_x): each
    direction is dropped where β crosses its variance s_i² (§7.4.3 "β slider").
``beta`` : ()
    This run's β.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generator

import numpy as np

from engine.convex_duals.attention_stream import stream_seed_runs
from engine.convex_duals.common import ConvexDualsError, ModelOutcome
from engine.convex_duals.wgan_gda import closed_form, gda
from engine.convex_duals.wgan_relu import line_in_box, relu_critic
from engine.convex_duals.wgan_relu_run import run_relu
from engine.core import Progress, param

__all__ = ["Params", "run", "make_data", "ellipse"]

DATASETS = ("gaussian", "two_blobs", "ring")
DISCRIMINATORS = ("quadratic", "relu")
GRID = 61
CERTIFICATE = "closed form"       # the distance to the closed form's identities (§7.4.3)
OPTIMIZER = "GDA"                 # simultaneous gradient descent–ascent


@dataclass(frozen=True)
class Params:
    """Settings of the WGAN model (§7.4)."""
    discriminator: str = param("quadratic", label="Discriminator", choices=DISCRIMINATORS,
                               help="quadratic: closed-form generator (§7.4.2); relu: ReLU "
                                    "neurons with bias, the certified convex game (§7.4.4)")
    data: str = param("gaussian", label="Data", choices=DATASETS,
                      help="Real 2-D data: rotated anisotropic Gaussian, two blobs, or a ring")
    samples: int = param(200, label="Samples n", min=10, max=2000,
                         help="Real and latent samples (the ReLU game takes n ≤ 40)")
    beta: float = param(0.5, label="β", min=0.0, max=20.0,
                        help="Discriminator weight decay: covariances must match within β "
                             "(spectral norm); eigenvalues below β are dropped")
    latent_dim: int = param(2, label="Latent dim d_z", min=1, max=4,
                            help="Generator input dimension (must be ≥ the directions kept)")
    neurons: int = param(4, label="Discriminator neurons m", min=1, max=16,
                         help="Neurons of the GDA discriminator (quadratic or ReLU)")
    seeds: int = param(3, label="Seeds", min=1, max=5, help="GDA runs from different seeds")
    steps: int = param(15000, label="GDA steps", min=100, max=100000,
                       help="Simultaneous descent–ascent steps per seed")
    lr: float = param(0.003, label="Step size", min=1e-5, max=1.0, log=True,
                      help="GDA step size (1e-2 and above can collapse and diverge)")
    seed: int = param(0, label="First seed", min=0, max=2**31 - 1,
                      help="Seed of the first GDA run (the others follow it)")
    data_seed: int = param(5, label="Data seed", min=0, max=2**31 - 1,
                           help="Seed of the real and latent samples")


def _rotation(theta: float) -> np.ndarray:
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


def make_data(p: Params) -> tuple[np.ndarray, np.ndarray]:
    """Centred real samples ``X (n, 2)`` and latent ``Z (n, d_z)`` (seeded; the Gaussian is
    §7.4.3's: rotation 0.5 rad, scales [2, 0.5])."""
    rng = np.random.default_rng(p.data_seed)
    if p.data == "gaussian":
        X = rng.standard_normal((p.samples, 2)) * [2.0, 0.5] @ _rotation(0.5).T
    elif p.data == "two_blobs":
        sign = np.where(rng.random(p.samples) < 0.5, -1.0, 1.0)[:, None]
        X = sign * [1.5, 0.6] + 0.35 * rng.standard_normal((p.samples, 2))
    else:
        angle = rng.uniform(0, 2 * np.pi, p.samples)
        radius = 1.5 + 0.15 * rng.standard_normal(p.samples)
        X = radius[:, None] * np.c_[np.cos(angle), np.sin(angle)] * [1.0, 0.6]
    Z = np.random.default_rng(p.data_seed + 1).standard_normal((p.samples, p.latent_dim))
    return X - X.mean(axis=0), Z


def ellipse(C: np.ndarray, points: int = 96, radius: float = 2.0) -> np.ndarray:
    """The ``radius``-standard-deviation ellipse of covariance ``C`` (2×2), shape (K, 2)."""
    vals, vecs = np.linalg.eigh(C)
    t = np.linspace(0, 2 * np.pi, points)
    circle = np.c_[np.cos(t), np.sin(t)]
    return radius * circle * np.sqrt(np.maximum(vals, 0.0)) @ vecs.T


def _check_beta(p: Params) -> None:
    if not p.beta > 0:
        raise ConvexDualsError("β = 0 demands the generated samples match the data exactly: "
                               "the discriminator is unbounded; the program needs β > 0")
    if p.data not in DATASETS:
        raise ConvexDualsError(f"unknown data {p.data!r}; choose one of {', '.join(DATASETS)}")
    if p.discriminator not in DISCRIMINATORS:
        raise ConvexDualsError(f"unknown discriminator {p.discriminator!r}; choose one of "
                               f"{', '.join(DISCRIMINATORS)}")


def _check(p: Params, X: np.ndarray, Z: np.ndarray) -> int:
    _check_beta(p)
    if np.linalg.matrix_rank(X) == 0:
        raise ConvexDualsError("the real samples are all equal: rank-deficient data")
    eig = np.linalg.eigvalsh(X.T @ X / X.shape[0])
    k = int(np.count_nonzero(eig > p.beta))
    rank_z = int(np.linalg.matrix_rank(Z))
    if rank_z < k:
        raise ConvexDualsError(
            f"the latent has rank {rank_z} but {k} data directions have variance above "
            f"β = {p.beta:g}: a linear generator cannot match them; raise d_z or β "
            f"(above {np.sort(eig)[::-1][rank_z]:.4g})")
    return k


def run(params: Params, device: str = "cpu") -> Generator[Progress, None, ModelOutcome]:
    """Closed-form generator and GDA paths of the WGAN game (§7.4.2–7.4.3).

    Raises
    ------
    ConvexDualsError
        β = 0, unknown data, constant data, or a latent of lower rank than the number of
        directions that survive β.
    """
    p = params
    X, Z = make_data(p)
    if p.discriminator == "relu":
        _check_beta(p)
        return (yield from run_relu(p, X, Z))
    _check(p, X, Z)
    n = p.samples
    C_x, C_z = X.T @ X / n, Z.T @ Z / n
    cf = closed_form(X, Z, p.beta)
    convex = _convex_arrays(p, X, Z, C_x, cf)
    certificate = _certificate(C_x, cf, p.beta)
    yield Progress(0.02, "closed-form generator",
                   {"stage": "convex", "objective": cf.value, "certificate": certificate,
                    "certificate_kind": CERTIFICATE, "arrays": convex})
    record = max(1, p.steps // 400)
    steps = np.arange(p.steps // record + 1) * record
    seeds = np.arange(p.seed, p.seed + p.seeds)
    parts = [gda(C_x, C_z, p.beta, cf.penalty, neurons=p.neurons, seed=k, steps=p.steps,
                 lr=p.lr, record_every=record) for k in seeds]
    paths = yield from stream_seed_runs(parts, steps, 0.02, 1.0, OPTIMIZER,
                                        lambda path: path.objective, seeds=seeds)
    return _outcome(p, Z, C_z, (cf, certificate), paths, steps, convex)


def _convex_arrays(p: Params, X, Z, C_x, cf) -> dict:
    """The data and the closed form's structure (the ``convex`` partial; part of the
    outcome's arrays)."""
    lim = float(np.percentile(np.abs(np.r_[X, Z @ cf.W]), 99)) * 1.3 + 1e-9
    axis = np.linspace(-lim, lim, GRID)
    gx, gy = np.meshgrid(axis, axis)
    arrays = {"real": X, "generated_convex": Z @ cf.W, "W_convex": cf.W,
              "grid_x": axis, "grid_y": axis, "grid_points": np.c_[gx.ravel(), gy.ravel()],
              "ellipse_real": ellipse(C_x), "ellipse_convex": ellipse(cf.C_g),
              "eig_real": np.linalg.eigvalsh(C_x)[::-1],
              "eig_convex": np.clip(np.linalg.eigvalsh(cf.C_g)[::-1], 0.0, None),
              "beta": np.array(p.beta), **_beta_sweep(C_x)}
    arrays["critic_convex"] = _critic(arrays["grid_points"], cf.A)
    arrays.update(_relu_arrays("convex", X, Z @ cf.W, lim))
    return arrays


def _relu_arrays(name: str, X: np.ndarray, G: np.ndarray, limit: float) -> dict:
    """The ReLU discriminator's critic value of generator samples ``G`` and its line."""
    value, u = relu_critic(X, G)
    return {f"relu_critic_{name}": np.array(value),
            f"relu_line_{name}": line_in_box(u, limit)}


def _critic(points: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``x^T A x`` on the grid, shape (G, G)."""
    return np.einsum("pa,ab,pb->p", points, A, points).reshape(GRID, GRID)


def _certificate(C_x: np.ndarray, cf, beta: float) -> float:
    """Distance of the result to the closed form's defining identities (§7.4.3 KAT 1):
    ``C_g* = (C_x − βI)_+`` and, when k ≥ 1, ``||C_x − C_g*||₂ = β``."""
    vals, vecs = np.linalg.eigh(C_x)
    target = vecs @ np.diag(np.maximum(vals - beta, 0.0)) @ vecs.T
    err = float(np.linalg.norm(cf.C_g - target))
    if cf.k >= 1:
        err = max(err, abs(float(np.linalg.norm(C_x - cf.C_g, ord=2)) - beta))
    return err


def _beta_sweep(C_x: np.ndarray, points: int = 121) -> dict:
    """``eig((C_x − βI)_+)`` against β (closed form, §7.4.2)."""
    eig = np.linalg.eigvalsh(C_x)[::-1]
    grid = np.linspace(0.0, 1.2 * float(eig[0]), points)
    return {"beta_grid": grid, "eig_vs_beta": np.maximum(eig[None, :] - grid[:, None], 0.0)}


def _outcome(p, Z, C_z, optimum, paths, steps, convex) -> ModelOutcome:
    cf, certificate = optimum
    finals = [path.objective[np.isfinite(path.objective)][-1]
              + (np.inf if path.diverged_at is not None else 0.0) for path in paths]
    best_row = int(np.argmin(finals))             # a run that did not diverge, if any
    best = paths[best_row]
    arrays = {**convex, "gda_best": np.array(best_row), "generated_gda": Z @ best.W_last,
              "critic_gda": _critic(convex["grid_points"], best.A_last),
              "ellipse_gda": ellipse(best.W_last.T @ C_z @ best.W_last),
              "eig_path": np.array([path.eig for path in paths]),
              "violation_path": np.array([path.violation for path in paths]),
              "gda_path": np.array([path.W for path in paths]), "steps": steps,
              **_relu_arrays("gda", convex["real"], Z @ best.W_last,
                             float(convex["grid_x"][-1]))}
    notes = [f"n = {p.samples} samples, d_z = {p.latent_dim}, {p.neurons} discriminator "
             f"neurons; {cf.k} of 2 directions survive β = {p.beta:g}",
             f"objective of a GDA path: ½||W||² + {cf.penalty:.4g}·(||C_x − C_g||₂ − β)_+ "
             f"(exact penalty, ≥ p*)"]
    for name, label in (("convex", "closed-form"), ("gda", "best GDA")):
        value = float(arrays[f"relu_critic_{name}"])
        verdict = "tells it from the data" if value > p.beta else "cannot tell it apart"
        notes.append(f"a ReLU discriminator with the same β {verdict}: the {label} generator's "
                     f"piecewise means differ by {value:.3g} (β = {p.beta:g}; §7.4.1)")
    for k, path in enumerate(paths):
        if path.diverged_at is not None:
            notes.append(f"GDA seed {p.seed + k} diverged at step {path.diverged_at}; its path "
                         f"is kept up to there: lower the step size")
    return ModelOutcome(model="wgan", convex_objective=cf.value,
                        certificate=certificate, certificate_kind=CERTIFICATE, steps=steps,
                        gd_objectives=np.array([path.objective for path in paths]),
                        seeds=np.arange(p.seed, p.seed + len(paths)), arrays=arrays,
                        notes=notes, optimizer=OPTIMIZER)

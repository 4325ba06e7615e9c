"""What the diffusion lab's frames need, computed in the worker (SCIENCE.md §3.5): the recordings
as NumPy, the noised prior densities per frame, the exact posterior on a grid and samples of
it, the view limits, the step-budget study and the EM fit of drawn points.

:func:`lab_views` turns a finished solver run into an immutable CPU NumPy
:class:`DiffusionLabResult`; :func:`~engine.diffusion.lab.run_config` calls it (and
:func:`budget_study`, :func:`fit_custom_points`), so a notebook or a worker process gets the
same result as the app.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Generator, Optional

import numpy as np
import torch

from engine.core import Progress, drain, relay
from engine.diffusion.metrics import DISTANCE_POINTS, density_grid
from engine.diffusion.priors import fit_gmm_iter
from engine.sweeps import Sweep, SweepTarget, run_sweep

__all__ = ["RunView", "DiffusionLabResult", "BUDGETS", "STUDY_PARTICLES", "lab_views",
           "budget_study", "fit_custom_points", "fit_custom_points_iter"]

GRID = 128            # density grid resolution
MAX_DENSITY_FRAMES = 120
SHOWN_DIMS = 3        # d > 3: the frames keep the first two coordinates (the views are 2-D)
BUDGETS = (5, 10, 20, 50, 100, 200)
STUDY_PARTICLES = DISTANCE_POINTS   # study runs: as many particles as the distance uses
POSTERIOR_POINTS = 400


@dataclass(frozen=True)
class RunView:
    """One solver's recording as NumPy arrays."""
    solver: str
    x: np.ndarray           # (F, M, d)
    x0_hat: np.ndarray      # (F, M, d)
    t: np.ndarray           # (F,) diffusion time index
    step: np.ndarray        # (F,) solver step
    metrics: dict           # key → (F,)
    summary: dict
    status: str
    diverged_step: Optional[int]
    n_trails: int


@dataclass(frozen=True)
class DiffusionLabResult:
    """What the diffusion lab's frames draw, immutable CPU NumPy (SCIENCE.md §3.5): the runs, the
    view limits, the prior noised to each frame's level and the exact posterior on a
    ``GRID × GRID`` grid, exact posterior samples, the measurement and the budget study.

    Every distance to the exact target in it (``runs[k].metrics["posterior_distance"]``, its
    last value ``runs[k].summary["posterior_distance"]``, ``budgets``) is the one estimator of
    :meth:`~engine.diffusion.metrics.FrameMetrics.distance` on ``distance_points`` particles;
    ``distance_floor`` is its exact-vs-exact noise floor (mean, sd) at the result (§3.6)."""
    config: object
    runs: tuple                   # (RunView, [RunView])
    xlim: tuple
    ylim: tuple
    zlim: tuple
    density: np.ndarray           # (D, GRID, GRID) log-density of the noised prior
    density_t: np.ndarray         # (D,) time index of each density frame
    posterior: Optional[np.ndarray]   # (GRID, GRID) log-density of the exact posterior
    posterior_points: np.ndarray  # (P, d) exact posterior (or prior) samples
    A: Optional[np.ndarray]
    y: Optional[np.ndarray]
    budgets: dict                 # solver → (budgets, final distance); the run's budget included
    seconds: float
    distance_floor: tuple = (float("nan"), float("nan"))  # exact-vs-exact (mean, sd)
    distance_points: int = 0      # particles (= exact reference points) in the distance


def lab_views(result, seconds: float, budgets: dict) -> DiffusionLabResult:
    """The frame data of a :class:`~engine.diffusion.lab.DiffusionResult` as NumPy."""
    lims = _limits(result)
    density, density_t = _densities(result, lims)
    post = None if result.posterior is None else _grid(result.posterior, lims)
    target = result.posterior if result.posterior is not None else result.prior
    points = _shown(target.sample(POSTERIOR_POINTS,
                                  torch.Generator().manual_seed(result.config.seed)))
    summary = result.recording.summary
    floor = (summary.get("posterior_distance_floor", np.nan),
             summary.get("posterior_distance_floor_sd", np.nan))
    return DiffusionLabResult(
        config=result.config, runs=tuple(_run_view(rec) for rec in result.recordings),
        xlim=lims[0], ylim=lims[1], zlim=lims[2], density=density, density_t=density_t,
        posterior=post, posterior_points=points.numpy(),
        A=None if result.A is None else result.A.numpy(),
        y=None if result.y is None else result.y.numpy(), budgets=budgets, seconds=seconds,
        distance_floor=floor,
        distance_points=int(summary.get("posterior_distance_points", 0)))


def fit_custom_points(config):
    """EM fit (:func:`~engine.diffusion.priors.fit_gmm`) of the drawn points of a ``custom``
    config: ``min(fit_components, N/2)`` components, seeded with ``config.seed`` (§3.2)."""
    return drain(fit_custom_points_iter(config))


def fit_custom_points_iter(config) -> Generator[Progress, None, object]:
    """:func:`fit_custom_points` as a progress generator (one report per EM iteration,
    :func:`~engine.diffusion.priors.fit_gmm_iter`; SCIENCE.md §3.2). The points are checked
    before this returns: no points, or points EM cannot fit, raise ``ValueError`` here."""
    pts = np.asarray(config.custom_points, dtype=float)
    if pts.size == 0:
        raise ValueError("the 'custom' prior needs points: switch on drawing and drag on the "
                         "canvas to draw them")
    pts = pts.reshape(len(pts), -1)
    if pts.shape[1] != config.dim:
        pts = np.pad(pts, ((0, 0), (0, max(0, config.dim - pts.shape[1]))))[:, :config.dim]
    return fit_gmm_iter(pts, min(config.fit_components, len(pts) // 2 or 1), seed=config.seed)


def _shown(x):
    """The coordinates the views draw: all for ``d ≤ 3``, else the first two (last axis)."""
    return x if x.shape[-1] <= SHOWN_DIMS else x[..., :2]


def _limits(result) -> tuple:
    """A square view around the prior (±3σ of every component) and the N(0, I) start."""
    means = _shown(result.prior.means.numpy())
    spread = np.sqrt(np.linalg.eigvalsh(result.prior.covs.numpy()).max(axis=1))
    lo = np.minimum((means - 3 * spread[:, None]).min(0), -3.0)
    hi = np.maximum((means + 3 * spread[:, None]).max(0), 3.0)
    half = float(np.max(hi - lo)) / 2
    center = (hi + lo) / 2
    lims = [(float(c - half), float(c + half)) for c in center]
    return lims[0], lims[1], lims[2] if len(lims) > 2 else (-half, half)


def _grid(gmm, lims) -> np.ndarray:
    return density_grid(gmm, lims[0], lims[1], res=GRID)


def _densities(result, lims) -> tuple:
    """Log-density of the prior noised to each recorded frame's level (subsampled in time)."""
    rec = result.recording
    levels = rec.level.numpy()
    pick = np.unique(np.linspace(0, len(levels) - 1, min(len(levels), MAX_DENSITY_FRAMES))
                     .round().astype(int))
    density = np.stack([_grid(result.prior.noised(float(levels[i])), lims) for i in pick])
    return density, rec.t.numpy()[pick]


def budget_study(config, run: Callable, lo: float = 0.0, span: float = 1.0,
                 done_runs: Optional[dict] = None) -> Generator:
    """Final distance to the exact target vs step budget for the solver and the comparison
    solver (SCIENCE.md §3.5): :data:`BUDGETS` and the run's own ``config.n_steps``, as one
    in-process sweep over ``n_steps`` per solver (``engine.sweeps``).

    Each value is the run's ``summary["posterior_distance"]`` — the one estimator of
    :meth:`~engine.diffusion.metrics.FrameMetrics.distance` on the first ``min(500, N)``
    particles against the seed's fixed exact sample. Study runs use ``min(N,``
    :data:`STUDY_PARTICLES` ``)`` particles, so the estimator, its sample sizes and its noise
    floor are those of the lab's run; at the run's budget the lab's own runs
    (``done_runs``: solver → recording) are reused, so that point IS the run's value. Study
    runs record only their first and last frame (``record_every`` ≥ every budget).

    ``run(cfg)`` is the solver-run generator (:func:`~engine.diffusion.lab.run_config` without
    views, with the lab's prior); returns ``{solver: (budgets, distance)}``.

    Raises
    ------
    RuntimeError
        A study run failed (its error text).
    """
    names = list(dict.fromkeys(
        [config.solver] + ([config.compare_solver] if config.compare_solver != "none" else [])))
    budgets = sorted(set(BUDGETS) | {int(config.n_steps)})
    values = {(name, config.n_steps): rec.summary.get("posterior_distance", np.nan)
              for name, rec in (done_runs or {}).items()}
    plans = [(name, [b for b in budgets if (name, b) not in values]) for name in names]
    total, done = max(1, sum(len(todo) for _, todo in plans)), 0
    study = _study_target(run)
    for name, todo in plans:
        if not todo:
            continue
        base = dataclasses.replace(config, solver=name, compare_solver="none",
                                   n_particles=min(config.n_particles, STUDY_PARTICLES),
                                   n_trails=0, budget_study=False, record_every=max(budgets))
        table = yield from relay(
            run_sweep(Sweep(study, base, {"n_steps": todo}, 1, ["posterior_distance"]),
                      executor="local"),
            lo + span * done / total, lo + span * (done + len(todo)) / total,
            f"step-budget study, {name}: ")
        failed = table["error"][table["error"] != ""]
        if len(failed):
            raise RuntimeError(f"step-budget study, {name}: {failed.iloc[0]}")
        values.update({(name, int(b)): float(v) for b, v in
                       zip(table["n_steps"], table["posterior_distance"])})
        done += len(todo)
    return {name: (np.array(budgets), np.array([values[name, b] for b in budgets]))
            for name in names}


def _study_target(run: Callable) -> SweepTarget:
    """The study's sweep target: ``run`` (the lab's solver runs, its prior included) and the
    final distance to the exact target."""
    def point(cfg, device="cpu"):
        return run(cfg)

    def distance(cfg, result) -> float:
        return float(result.recording.summary.get("posterior_distance", np.nan))

    return SweepTarget("diffusion/budget", "engine.diffusion:DiffusionConfig", point,
                       {"posterior_distance": (distance, "final distance to the exact "
                                               "target")})


def _run_view(rec) -> RunView:
    return RunView(
        solver=rec.solver, x=_shown(rec.x.numpy()), x0_hat=_shown(rec.x0_hat.numpy()),
        t=rec.t.numpy(),
        step=rec.step_index.numpy(),
        metrics={k: v.numpy() for k, v in rec.metrics.items()}, summary=dict(rec.summary),
        status=rec.status, diverged_step=rec.diverged_step,
        n_trails=int(rec.trails.shape[1]) if rec.trails is not None else 0)

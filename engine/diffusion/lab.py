"""Lab entry point: a :class:`DiffusionConfig` → prior (built in, or the EM fit of drawn points),
measurement, one or two solver runs, and what the lab's frames need (noised densities, exact
posterior, the optional step-budget study; :mod:`engine.diffusion.study`).

``run_config`` is what the app's runner executes off the GUI thread (SCIENCE.md §3.5); it runs
the same from a notebook or a worker process.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Generator, Optional

import torch

from engine.core import Progress, drain, relay, validate
from engine.diffusion.config import DiffusionConfig, solver_params
from engine.diffusion.gmm import GaussianMixture
from engine.diffusion.priors import BUILTIN_PRIORS
from engine.diffusion.protocol import mcgdiff_measurement
from engine.diffusion.recording import DiffusionRecording
from engine.diffusion.run import solve_iter
from engine.diffusion.study import (DiffusionLabResult, budget_study, fit_custom_points_iter,
                                    lab_views)

__all__ = ["DiffusionResult", "run_config", "run_config_blocking", "run_lab",
           "build_measurement", "build_prior"]

#: Share of the progress bar the EM fit of drawn points takes (its iterations are reported).
FIT_SHARE = 0.3


@dataclass
class DiffusionResult:
    """Everything the diffusion views draw (CPU tensors).

    Attributes
    ----------
    config : DiffusionConfig
    prior : GaussianMixture
        float64, CPU; draw ``prior.noised(rec.alpha_bar[f])`` for frame ``f``.
    posterior : GaussianMixture or None
        Exact posterior (float64, CPU) when there is a measurement.
    A, y : Tensor (m, d), (m,) or None
        The measurement (float64).
    recording : DiffusionRecording
        Run of ``config.solver``.
    compare : DiffusionRecording or None
        Run of ``config.compare_solver`` (same seed and step budget).
    lab : DiffusionLabResult or None
        The frames' NumPy data and the step-budget study (None for ``views=False`` runs).
    """
    config: DiffusionConfig
    prior: GaussianMixture
    posterior: Optional[GaussianMixture]
    A: Optional[torch.Tensor]
    y: Optional[torch.Tensor]
    recording: DiffusionRecording
    compare: Optional[DiffusionRecording]
    lab: Optional[DiffusionLabResult] = None

    @property
    def recordings(self) -> list:
        """The main recording, then the comparison if any."""
        return [self.recording] + ([self.compare] if self.compare is not None else [])


def build_measurement(cfg: DiffusionConfig, prior: Optional[GaussianMixture] = None):
    """``(A, y)`` float64 for ``cfg.measurement`` (``(None, None)`` for ``"none"``).

    ``line``: ``A = [cos a, sin a(, 0)]``, ``y = [value]``; ``coordinate``: ``A = e₁ᵀ``;
    ``full``: ``A = I``, ``y = value·(cos a, sin a(, 0))``; ``random``: the MCGdiff protocol's
    ``cfg.meas_rows`` random rows and ``y = A x* + σ_y n`` with ``x* ~ prior`` (seed
    ``cfg.seed``; :func:`~engine.diffusion.protocol.mcgdiff_measurement`).
    """
    d, a = cfg.dim, math.radians(cfg.meas_angle)
    direction = torch.zeros(d, dtype=torch.float64)
    direction[0], direction[1] = math.cos(a), math.sin(a)
    if cfg.measurement == "none":
        return None, None
    if cfg.measurement == "line":
        return direction[None, :], torch.tensor([cfg.meas_value], dtype=torch.float64)
    if cfg.measurement == "coordinate":
        A = torch.zeros(1, d, dtype=torch.float64)
        A[0, 0] = 1.0
        return A, torch.tensor([cfg.meas_value], dtype=torch.float64)
    if cfg.measurement == "full":
        return torch.eye(d, dtype=torch.float64), cfg.meas_value * direction
    if cfg.measurement == "random":
        if prior is None:
            raise ValueError("measurement 'random' draws y from the prior: pass the prior")
        return mcgdiff_measurement(prior, min(cfg.meas_rows, d), cfg.sigma_y, cfg.seed)
    raise ValueError(f"unknown measurement {cfg.measurement!r}")


def build_prior(cfg: DiffusionConfig, prior: Optional[GaussianMixture] = None) -> GaussianMixture:
    """The built-in prior of ``cfg`` (float64), or the given one (required for ``"custom"``)."""
    if prior is not None:
        if not isinstance(prior, GaussianMixture):
            raise ValueError(f"prior must be a GaussianMixture, got {type(prior).__name__}")
        if prior.dim != cfg.dim:
            raise ValueError(f"the given prior has dimension {prior.dim}, config dim is "
                             f"{cfg.dim}")
        return prior.to("cpu", torch.float64)
    if cfg.prior == "custom":
        raise ValueError("prior 'custom' needs a fitted mixture: pass prior=fit_gmm(points, k)")
    return BUILTIN_PRIORS[cfg.prior](cfg.dim)


def run_config(cfg: DiffusionConfig, device: str = "cpu",
               prior: Optional[GaussianMixture] = None, *, views: bool = True
               ) -> Generator[Progress, None, DiffusionResult]:
    """Build prior, measurement and posterior from ``cfg``, run the solver(s) and (``views``)
    compute the lab's frame data and the optional step-budget study.

    Validation and the first state of each run happen before this returns (bad input raises
    ``ValueError`` here); iterating yields :class:`engine.core.Progress` and returns a
    :class:`DiffusionResult`. A ``"custom"`` prior without ``prior``: its points are checked
    here; their EM fit (one report per iteration, :data:`FIT_SHARE` of the bar) and then the
    runs' first states happen when iterating.

    Parameters
    ----------
    cfg : DiffusionConfig
    device : str
    prior : GaussianMixture, optional
        Overrides ``cfg.prior``; without it a ``"custom"`` prior is the EM fit of
        ``cfg.custom_points``.
    views : bool
        Also compute :attr:`DiffusionResult.lab` (densities, posterior grid, budget study).
    """
    validate(cfg)
    if cfg.dim > 3 and cfg.prior != "mcgdiff" and prior is None:
        raise ValueError(f"prior {cfg.prior!r} exists in 2 or 3 dimensions; d = {cfg.dim} needs "
                         "the 'mcgdiff' prior (the MCGdiff protocol's grid mixture)")
    if cfg.prior == "custom" and prior is None:
        return _fit_then_run(cfg, device, fit_custom_points_iter(cfg), views)
    return _start_runs(cfg, device, prior, views)


def _fit_then_run(cfg: DiffusionConfig, device, fit: Generator, views: bool) -> Generator:
    """The EM fit of the drawn points (its iterations reported, cancellable), then the runs."""
    prior = yield from relay(fit, 0.0, FIT_SHARE, "custom prior: ")
    return (yield from relay(_start_runs(cfg, device, prior, views), FIT_SHARE, 1.0,
                             partials=True))


def _start_runs(cfg: DiffusionConfig, device, prior: Optional[GaussianMixture],
                views: bool) -> Generator:
    """Prior, measurement, posterior and the first state of each run; their generator."""
    gmm = build_prior(cfg, prior)
    A, y = build_measurement(cfg, gmm)
    post = gmm.posterior(A, y, cfg.sigma_y) if A is not None else None
    names = [cfg.solver] + ([cfg.compare_solver] if cfg.compare_solver != "none" else [])
    runs = [solve_iter(name, gmm, A, y, cfg.sigma_y, cfg.n_particles, cfg.n_steps, cfg.seed,
                       device, dtype=cfg.dtype, record_every=cfg.record_every,
                       n_trails=cfg.n_trails, start=cfg.start, **solver_params(cfg, name))
            for name in names]
    result = DiffusionResult(cfg, gmm, post, A, y, None, None)
    return _run_all(result, runs, device, views)


def _run_all(result: DiffusionResult, runs, device, views: bool) -> Generator:
    start, share = time.perf_counter(), (0.6 if views else 1.0)
    recs = []
    for k, gen in enumerate(runs):
        recs.append((yield from relay(gen, share * k / len(runs), share * (k + 1) / len(runs))))
    result.recording, result.compare = recs[0], (recs[1] if len(recs) > 1 else None)
    if views:
        cfg = result.config
        yield Progress(0.62, "noised densities")
        budgets = {}
        if cfg.budget_study:
            budgets = yield from budget_study(
                cfg, lambda c: run_config(c, device, result.prior, views=False), 0.65, 0.35,
                {rec.solver: rec for rec in result.recordings})
        result.lab = lab_views(result, time.perf_counter() - start, budgets)
    return result


def run_lab(cfg: DiffusionConfig, device: str = "cpu", prior: Optional[GaussianMixture] = None
            ) -> Generator[Progress, None, DiffusionLabResult]:
    """:func:`run_config` returning only the frames' NumPy data (what the presenter draws)."""
    return (yield from run_config(cfg, device, prior)).lab


def run_config_blocking(cfg: DiffusionConfig, device: str = "cpu",
                        prior: Optional[GaussianMixture] = None) -> DiffusionResult:
    """Blocking :func:`run_config` (``engine.core.drain``)."""
    return drain(run_config(cfg, device, prior))

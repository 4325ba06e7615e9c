"""Diffusion sample paths for inverse problems on exact Gaussian-mixture priors (SCIENCE.md §3).

The samplers (DDPM, DDIM, PF-ODE Euler/Heun, HB, GHVB), inverse solvers (projection, MCG, DPS,
CCDF, DDS, RED-diff, ΠGDM, TMPD, TDS) and the oracle posterior sampler of the shared zoo (:mod:`engine.sampling`)
run here on the exact Gaussian-mixture denoiser (:class:`~engine.diffusion.context.ExactScore`),
batched over particles, with exact posteriors, per-step off-manifold / residual / distance
metrics, the lab's frames and the step-budget study (:mod:`~engine.diffusion.lab`). References: MCG arXiv 2206.00941, CCDF 2112.05146, DPS 2209.14687, DDS 2303.05754,
RED-diff 2305.04391, HB/GHVB 2307.11118.

Example
-------
>>> from engine.diffusion import BUILTIN_PRIORS, solve
>>> import torch
>>> prior = BUILTIN_PRIORS["ring"](2)
>>> A, y = torch.tensor([[1.0, 0.0]]), torch.tensor([1.0])
>>> rec = solve("mcg", prior, A=A, y=y, sigma_y=0.05, n_particles=500, n_steps=50)
"""
from engine.diffusion.config import DiffusionConfig, solver_params
from engine.diffusion.gmm import GaussianMixture
from engine.diffusion.lab import (
                                  DiffusionResult,
                                  build_measurement,
                                  build_prior,
                                  run_config,
                                  run_config_blocking,
                                  run_lab,
)
from engine.diffusion.linalg import batched_cg, dds_consistency
from engine.diffusion.metrics import (
                                  DISTANCE_POINTS,
                                  METRIC_KEYS,
                                  density_grid,
                                  distance_floor,
                                  energy_distance,
                                  sliced_w2,
                                  sliced_w2_floor,
)
from engine.diffusion.protocol import (mcgdiff_measurement, mcgdiff_mixture, start_kl_bound,
                                       start_kl_mc)
from engine.diffusion.shared_cov import SharedMixture, SharedScore
from engine.diffusion.priors import BUILTIN_PRIORS, fit_gmm, fit_gmm_iter
from engine.diffusion.recording import MAX_RECORD_BYTES, DiffusionRecording
from engine.diffusion.run import solve, solve_iter
from engine.diffusion.study import (BUDGETS, DiffusionLabResult, RunView, fit_custom_points,
                                    fit_custom_points_iter)
from engine.sampling.samplers import hb_stability_interval
from engine.sampling.schedule import Schedule
from engine.diffusion.table import CONDITIONAL, SOLVERS, solver_defaults

__all__ = ["GaussianMixture", "solve", "solve_iter", "SOLVERS", "CONDITIONAL",
           "solver_defaults", "solver_params", "DiffusionConfig", "DiffusionRecording",
           "DiffusionResult", "run_config", "run_config_blocking", "run_lab",
           "DiffusionLabResult", "RunView", "BUDGETS", "fit_custom_points", "build_measurement",
           "build_prior", "BUILTIN_PRIORS", "fit_gmm", "fit_gmm_iter", "fit_custom_points_iter",
           "energy_distance", "sliced_w2",
           "distance_floor", "DISTANCE_POINTS", "sliced_w2_floor", "mcgdiff_mixture",
           "mcgdiff_measurement", "start_kl_bound", "start_kl_mc", "SharedMixture", "SharedScore",
           "density_grid", "METRIC_KEYS", "MAX_RECORD_BYTES", "Schedule",
           "hb_stability_interval", "batched_cg", "dds_consistency"]

"""Shared diffusion sampling: schedules, the solver contract and the solver zoo (SCIENCE.md §3).

Used by two labs that never import each other: the Gaussian-mixture toys of
:mod:`engine.diffusion` (exact denoiser) and the volume reconstructions of :mod:`engine.recon`
(the learned slice prior of :mod:`engine.slice_prior`). A solver is a generator function
``fn(ctx, **params)`` over a :class:`~engine.sampling.contract.Context` (a denoiser with
``denoise(x, t) -> (x̂_0, ε̂)``, a data-consistency object, generators) that yields
:class:`~engine.sampling.contract.Step` objects; :data:`~engine.sampling.table.SOLVERS` maps
names to :class:`~engine.sampling.contract.SolverSpec` entries. References: MCG arXiv
2206.00941, CCDF 2112.05146, DPS 2209.14687, DDS 2303.05754, DiffusionMBIR 2211.10655,
RED-diff 2305.04391, HB/GHVB 2307.11118.
"""
from engine.sampling.contract import Context, DataConsistency, Denoiser, SolverSpec, Step
from engine.sampling.schedule import Schedule
from engine.sampling.table import SOLVERS, check_params, resolve_solver, solver_defaults

__all__ = ["Context", "DataConsistency", "Denoiser", "SolverSpec", "Step", "Schedule",
           "SOLVERS", "check_params", "resolve_solver", "solver_defaults"]

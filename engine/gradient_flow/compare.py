"""Gradient descent versus gradient flow for several step sizes (SCIENCE.md §1.1; MAD).

Near the optimum the population Hessian is ``E[1[v·x > 0] x xᵀ] = I/2``, so GD contracts
by ``1 - η/2`` per step: ``η < 2`` tracks GF monotonically, ``2 < η < 4`` oscillates around
the optimum while converging, ``η > 4`` diverges.
"""
from __future__ import annotations

import dataclasses
from typing import Generator, Sequence

import numpy as np
import torch

from engine.core import Progress, drain, relay, validate
from engine.gradient_flow.config import FlowConfig
from engine.gradient_flow.runner import simulate_iter

__all__ = ["compare_step_sizes", "compare_step_sizes_iter", "STUDY_MAX_INITS"]

STUDY_MAX_INITS = 64


def _median_loss(rec) -> np.ndarray:
    """Median over the initialisations of the recorded loss, per frame (NaN-safe)."""
    return torch.nanmedian(rec.loss.to(torch.float64), dim=1).values.numpy()


def compare_step_sizes(cfg: FlowConfig, lrs: Sequence[float], device: str = "cpu",
                       min_steps: int = 100) -> dict:
    """Blocking :func:`compare_step_sizes_iter` (``engine.core.drain``)."""
    return drain(compare_step_sizes_iter(cfg, lrs, device, min_steps))


def compare_step_sizes_iter(cfg: FlowConfig, lrs: Sequence[float], device: str = "cpu",
                            min_steps: int = 100) -> Generator[Progress, None, dict]:
    """GF and GD with each step size ``η`` from the same initialisations (a progress
    generator: one run after the other, cancellable between their steps).

    The first ``min(cfg.n_init, 64)`` initialisations of ``cfg`` (same seed) are run by
    gradient descent with every ``η`` in ``lrs`` for ``max(round(t_max/η), min_steps)``
    steps (enough steps to show oscillation or divergence even for large ``η``; the GD
    curves may then run past ``t_max``), and by gradient flow with ``cfg``'s integrator up to
    ``t_max``. GD step ``k`` sits at time ``t = kη`` (SCIENCE.md §1.1). Note the regimes
    are local: for ``4 < η ≲ 5`` GD can also wander on a bounded chaotic orbit instead of
    blowing up (the loss is not quadratic far from the optimum).

    Parameters
    ----------
    cfg : FlowConfig
        Base run (everything but ``method``, ``lr``, ``n_init`` and ``t_max`` is kept).
    lrs : sequence of float
        Step sizes ``η`` (each within the ``lr`` field's range).
    device : str
    min_steps : int
        Least number of GD steps per step size.

    Returns
    -------
    dict
        ``"gf"``: ``(t, median loss)``; for each ``η`` (float key):
        ``(t, median loss, diverged_step or None)``. NumPy float64 arrays.
    """
    n = min(cfg.n_init, STUDY_MAX_INITS)
    base = dataclasses.replace(cfg, n_init=n)
    gd_cfgs = {}
    for lr in lrs:
        lr = float(lr)
        t_max = max(cfg.t_max, min(10000.0, min_steps * lr))
        gd_cfgs[lr] = dataclasses.replace(base, method="gd", lr=lr, t_max=t_max)
        validate(gd_cfgs[lr])
    runs = [dataclasses.replace(base, method="gf"), *gd_cfgs.values()]
    recs = []
    for i, run_cfg in enumerate(runs):
        name = "GF" if i == 0 else f"GD η = {run_cfg.lr:g}"
        recs.append((yield from relay(simulate_iter(run_cfg, device=device), i / len(runs),
                                      (i + 1) / len(runs), f"step-size study, {name}: ")))
    out = {"gf": (recs[0].t.to(torch.float64).numpy(), _median_loss(recs[0]))}
    for lr, rec in zip(gd_cfgs, recs[1:]):
        out[lr] = (rec.t.to(torch.float64).numpy(), _median_loss(rec), rec.diverged_step)
    return out



"""Gradient descent versus gradient flow for several step sizes (SCIENCE.md §1.1; MAD).

Near the optimum the population Hessian is ``E[1[v·x > 0] x xᵀ] = I/2``, so GD contracts
by ``1 - η/2`` per step: ``η < 2`` tracks GF monotonically, ``2 < η < 4`` oscillates around
the optimum while converging, ``η > 4`` diverges.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import torch

from engine.core import validate
from engine.gradient_flow.config import FlowConfig
from engine.gradient_flow.runner import simulate

__all__ = ["compare_step_sizes", "STUDY_MAX_INITS"]

STUDY_MAX_INITS = 64


def _median_loss(rec) -> np.ndarray:
    """Median over the initialisations of the recorded loss, per frame (NaN-safe)."""
    return torch.nanmedian(rec.loss.to(torch.float64), dim=1).values.numpy()


def compare_step_sizes(cfg: FlowConfig, lrs: Sequence[float], device: str = "cpu",
                       min_steps: int = 100) -> dict:
    """GF and GD with each step size ``η`` from the same initialisations.

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
    gf = simulate(dataclasses.replace(base, method="gf"), device=device)
    out = {"gf": (gf.t.to(torch.float64).numpy(), _median_loss(gf))}
    for lr, gd_cfg in gd_cfgs.items():
        rec = simulate(gd_cfg, device=device)
        out[lr] = (rec.t.to(torch.float64).numpy(), _median_loss(rec), rec.diverged_step)
    return out

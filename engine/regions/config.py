"""Run configuration of the activation-regions lab (SCIENCE.md §2).

One frozen dataclass, :class:`RegionsConfig`; every field carries its range, unit and
one-line help (``engine.core.param``) for the parameter panel, sessions and the CLI.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.core import param
from engine.core.config import PointRows

__all__ = ["RegionsConfig", "DATASET_CHOICES"]

DATASET_CHOICES = ("spiral", "circles", "xor", "moons", "regression", "ridge", "saddle",
                   "custom")


@dataclass(frozen=True)
class RegionsConfig:
    """Convex optimum vs non-convex training of a two-layer ReLU net on 2-D data (§2).

    The convex program (PE; MSP/scnn scaling) runs over all exactly enumerated patterns of
    the data, so its optimum is the global optimum of the weight-decay problem; ``n_seeds``
    non-convex runs (GD or Adam) of width ``m``, and of each width in ``widths``, train
    beside it. ``depth > 1`` adds a deep net with ``depth`` hidden layers of
    ``width // depth`` neurons (same neuron count) for the "deep vs wide" region view.
    ``dataset = "custom"`` takes the points given to :func:`engine.regions.run_config`
    (clicked or from a CSV file).
    """

    dataset: str = param("spiral", label="Data set", choices=DATASET_CHOICES,
                         help="2-D training data (custom: clicked points or a CSV file)")
    n_points: int = param(40, label="Points n", min=2, max=300,
                          help="Number of training points (exact patterns grow as n²)")
    noise: float = param(0.05, label="Noise", min=0.0, max=1.0,
                         help="Std of the jitter on the points (classification) or on the "
                              "targets (regression)")
    width: int = param(32, label="Width m", min=1, max=4096,
                       help="Hidden neurons of the non-convex two-layer net")
    widths: str = param("", label="More widths",
                        help="Comma-separated widths trained beside m, each with every seed "
                             "(e.g. '4, 8, 64'); empty: width m only")
    lam: float = param(1e-3, label="Weight decay λ", min=1e-6, max=10.0, log=True,
                       help="λ of (1/(2n))‖f(X) − y‖² + (λ/2)(‖W₁‖² + ‖w₂‖²); must be > 0")
    steps: int = param(3000, label="Steps", min=1, max=200_000,
                       help="Optimiser steps of the non-convex runs")
    lr: float = param(0.01, label="Step size", min=1e-5, max=10.0, log=True,
                      help="Learning rate of GD or Adam")
    optimizer: str = param("adam", label="Optimiser", choices=("gd", "adam"),
                           help="Full-batch gradient descent or Adam")
    formulation: str = param("relu", label="Convex program", choices=("relu", "gated"),
                             help="Exact constrained ReLU program or its gated-ReLU "
                                  "relaxation")
    n_seeds: int = param(4, label="Seeds", min=1, max=64,
                         help="Non-convex runs (seeds seed, seed+1, …) trained at once")
    depth: int = param(1, label="Depth (deep vs wide)", min=1, max=8,
                       help="> 1: also train a net of this many hidden layers with the same "
                            "neuron count and show its regions")
    grid: int = param(256, label="Grid", min=32, max=1024,
                      help="Resolution of the region maps (pixels per side)")
    snapshots: int = param(40, label="Snapshots", min=2, max=400,
                           help="Recorded weight / region-map snapshots per run")
    init_scale: float = param(1.0, label="Init scale", min=1e-3, max=10.0, log=True,
                              help="Multiplier of the He-normal initialisation")
    tol: float = param(1e-6, label="Convex tolerance", min=1e-10, max=1e-2, log=True,
                       help="Relative duality gap at which the convex solver stops")
    custom_points: tuple = param((), hidden=True, points=PointRows((3,), 300), label="Custom points",
                                 help="(x₁, x₂, target) rows of the 'custom' data set "
                                      "(clicked or loaded from CSV)")
    seed: int = param(0, label="Seed", min=0, max=2**31 - 1,
                      help="Seed of the data and of the first non-convex run")

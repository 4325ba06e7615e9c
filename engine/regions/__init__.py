"""Activation regions and convex two-layer ReLU networks (SCIENCE.md §2; PE arXiv 2002.10553,
MSP arXiv 2202.01331 / scnn).

Public API::

    D = enumerate_patterns(X, bias=True)            # exact activation patterns (2-D data)
    count_regions(W, b, box=None)                   # exact cells of a line arrangement
    pattern_ids(layers, grid_x, grid_y)             # per-pixel pattern ids of a ReLU net
    sol = fit_convex(X, y, lam, formulation="relu" | "gated", tol=1e-6)
    run = fit_nonconvex(X, y, width, lam, steps, lr, seed)
    two_layer_objective(W1, w2, X, y, lam)
    run_config(cfg, device)                         # the lab run (progress generator)
"""
from engine.regions.arrangement import count_regions, max_regions
from engine.regions.config import DATASET_CHOICES, RegionsConfig
from engine.regions.convex import fit_convex, fit_convex_iter
from engine.regions.datasets import DATASETS, custom_dataset, data_box, load_csv, make_dataset
from engine.regions.nonconvex import (NonconvexRun, fit_nonconvex, fit_nonconvex_batch,
                                      fit_nonconvex_iter)
from engine.regions.objective import gated_predict, relu_predict, two_layer_objective
from engine.regions.pattern_map import network_output, pattern_hashes, pattern_ids
from engine.regions.patterns import enumerate_patterns, sample_patterns
from engine.regions.run import RegionsResult, run, run_config
from engine.regions.solution import ConvexSolution

__all__ = ["enumerate_patterns", "sample_patterns", "count_regions", "max_regions",
           "pattern_ids", "pattern_hashes", "network_output", "fit_convex", "fit_convex_iter",
           "ConvexSolution", "fit_nonconvex", "fit_nonconvex_batch", "fit_nonconvex_iter",
           "NonconvexRun", "two_layer_objective", "relu_predict", "gated_predict",
           "make_dataset", "custom_dataset", "load_csv", "data_box", "DATASETS",
           "RegionsConfig", "DATASET_CHOICES", "run_config", "run", "RegionsResult"]

"""The regions run's progress fraction is its share of the estimated work (issue #16).

Known answers: the stage edges are the cumulative shares of the cost model
(:func:`engine.regions.lab.progress_edges`); doubling the snapshots doubles the maps' cost
and nothing else; the run reports exactly those edges at the stage boundaries, monotonically.
"""
import dataclasses

import numpy as np
import pytest

from engine.regions.config import RegionsConfig
from engine.regions.lab import progress_edges, run_config

SPIRAL = RegionsConfig(dataset="spiral", n_points=40, width=32, lam=1e-3, steps=3000,
                       lr=0.01, n_seeds=4)
SMALL = RegionsConfig(dataset="xor", n_points=12, width=6, widths="10", lam=0.01, steps=60,
                      lr=0.02, n_seeds=2, grid=48, snapshots=3, depth=2, seed=1)


def _shares(cfg, n):
    e = progress_edges(cfg, n)
    return {"convex": e["convex"][1] - e["convex"][0], "train": e["widths"][-1] - e["widths"][0],
            "deep": e["deep"][1] - e["deep"][0], "maps": e["maps"][1] - e["maps"][0],
            "deep_maps": e["deep_maps"][1] - e["deep_maps"][0]}


def test_edges_are_increasing_and_cover_the_run():
    for cfg in (SPIRAL, SMALL, dataclasses.replace(SPIRAL, widths="4, 64, 256")):
        e = progress_edges(cfg, cfg.n_points)
        flat = [*e["convex"], *e["widths"], *e["deep"], *e["maps"], *e["deep_maps"]]
        assert flat[0] == 0.0 and flat[-1] == 1.0
        assert np.all(np.diff(flat) >= 0.0)
        assert sum(_shares(cfg, cfg.n_points).values()) == pytest.approx(1.0)


def test_spiral_training_is_not_weighted_as_sixty_percent():
    """Issue #16: step 1911/3000 read 49 %; the maps take about half of the run."""
    e = progress_edges(SPIRAL, 40)
    at_1911 = e["widths"][0] + (e["widths"][1] - e["widths"][0]) * 1911 / 3000
    assert 0.25 < at_1911 < 0.4
    assert 0.4 < e["maps"][1] - e["maps"][0] < 0.65
    assert e["deep"][0] == e["deep"][1] and e["deep_maps"] == (1.0, 1.0)


def test_doubling_snapshots_doubles_the_map_cost_only():
    a = _shares(SPIRAL, 40)
    b = _shares(dataclasses.replace(SPIRAL, snapshots=80), 40)
    ratio = (b["maps"] / b["train"]) / (a["maps"] / a["train"])
    assert ratio == pytest.approx(2.0, rel=1e-12)
    assert b["convex"] / b["train"] == pytest.approx(a["convex"] / a["train"], rel=1e-12)


def test_run_reports_the_edges_at_stage_boundaries():
    edges = progress_edges(SMALL, SMALL.n_points)
    by_stage, fractions = {}, []
    for p in run_config(SMALL):
        fractions.append(p.fraction)
        if isinstance(p.partial, dict):
            by_stage.setdefault(p.partial["stage"], p.fraction)
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert by_stage["convex"] == pytest.approx(edges["convex"][1])
    assert by_stage["training"] == pytest.approx(edges["deep"][0])
    assert by_stage["deep_preview"] == pytest.approx(edges["maps"][0])
    assert by_stage["final_maps"] < edges["maps"][1]

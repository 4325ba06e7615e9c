"""The regions run's progress fraction is the measured fraction of its time (issue #16).

Known answers: the stage edges are the cumulative shares of the cost model
(:func:`engine.regions.lab.progress_edges`); doubling the snapshots doubles the maps' cost
and nothing else; the stages report exactly those edges (model coordinates) at their
boundaries; the fraction reported from them (:class:`TimedFraction`, a fake clock here) is
the time fraction when the model is exact, when only the data-dependent first stage is off,
and within a few points once a uniformly slower machine has been measured; it never steps
back and is 1 only at the end.
"""
import dataclasses

import numpy as np
import pytest

from engine.regions.config import RegionsConfig
from engine.regions.lab import _stages, lab_data, progress_edges, run_config
from engine.regions.plan import TimedFraction, cost_edges

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


def test_stages_report_the_edges_at_their_boundaries():
    edges = progress_edges(SMALL, SMALL.n_points)
    X, y = lab_data(SMALL, None)
    by_stage, fractions = {}, []
    for p in _stages(SMALL, X, y, "cpu", edges):
        fractions.append(p.fraction)
        if isinstance(p.partial, dict):
            by_stage.setdefault(p.partial["stage"], p.fraction)
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert by_stage["convex"] == pytest.approx(edges["convex"][1])
    assert by_stage["training"] == pytest.approx(edges["deep"][0])
    assert by_stage["deep_preview"] == pytest.approx(edges["maps"][0])
    assert by_stage["final_maps"] < edges["maps"][1]


def test_the_run_reports_a_monotone_fraction_ending_at_one():
    fractions = [p.fraction for p in run_config(SMALL)]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(f < 1.0 for f in fractions[:-1])


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _walk(costs, seconds, kinds=None, points: int = 50):
    """Report every stage at ``points`` evenly spaced model coordinates while the clock runs
    ``seconds[k]`` through stage ``k``; ``(real time fraction, reported)`` pairs."""
    clock, edges = FakeClock(), cost_edges(costs)
    frac, total, out = TimedFraction(costs, kinds, clock), float(np.sum(seconds)), []
    start = 0.0
    for k, sec in enumerate(seconds):
        for i in range(1, points + 1):
            clock.now = start + sec * i / points
            u = edges[k + 1] if i == points else edges[k] + (edges[k + 1] - edges[k]) * i / points
            out.append((clock.now / total, frac(u)))
        start += sec
    return np.array(out)


def test_an_exact_model_reports_the_time_fraction():
    walk = _walk([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(walk[:, 1], walk[:, 0], atol=1e-12)


def test_a_slow_first_stage_counts_half_as_the_machine():
    """The convex program took 4× its model, the rest as modelled: the rest is first
    estimated at speed √4 = 2 (at the end of the first stage 4 / (4 + 2 · 5)), then
    measured."""
    walk = _walk([1.0, 2.0, 3.0], [4.0, 2.0, 3.0])
    at_end = walk[np.argmin(np.abs(walk[:, 0] - 4.0 / 9.0))]
    assert at_end[1] == pytest.approx(4.0 / 14.0, rel=1e-9)
    late = walk[walk[:, 0] >= 5.0 / 9.0]
    assert np.max(np.abs(late[:, 1] - late[:, 0])) < 0.05


def test_a_uniformly_slower_machine_is_measured():
    walk = _walk([1.0, 2.0, 3.0, 4.0], [3.0, 6.0, 9.0, 12.0], kinds=[0, 1, 1, 2])
    late = walk[walk[:, 0] >= 0.2]
    assert np.max(np.abs(late[:, 1] - late[:, 0])) < 0.03


def test_fraction_never_steps_back_and_ends_at_one():
    walk = _walk([1.0, 1.0, 1.0], [0.5, 1.0, 4.0])        # the last stage 4× its model
    assert np.all(np.diff(walk[:, 1]) >= 0.0)
    assert walk[-1, 1] == 1.0 and np.all(walk[:-1, 1] < 1.0)

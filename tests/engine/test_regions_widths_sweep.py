"""The regions lab's several-widths training as a sweep (issue #15): the lab's runs and gap
table come from the sweep's batch hook, bit-identical to the former direct training, and the
same numbers come out of ``run_sweep`` and of the public ``regions`` sweep target."""
import numpy as np

from engine.core import drain
from engine.regions import RegionsConfig
from engine.regions.lab import dataset_points, run
from engine.regions.nonconvex import fit_nonconvex_iter
from engine.regions.widths_study import WidthsStudy
from engine.sweeps import Sweep, run_sweep

CFG = RegionsConfig(dataset="moons", n_points=12, width=3, widths="5", steps=40, lr=0.05,
                    n_seeds=2, seed=3, grid=32, snapshots=3, lam=1e-3)


def _old_runs(cfg):
    """The lab's former two-layer training: one batch of all seeds per width, ascending."""
    X, y = dataset_points(cfg)
    seeds = [cfg.seed + i for i in range(cfg.n_seeds)]
    runs = []
    for w in (3, 5):
        runs += drain(fit_nonconvex_iter(X, y, w, cfg.lam, cfg.steps, cfg.lr, seeds,
                                         optimizer=cfg.optimizer, n_snapshots=cfg.snapshots,
                                         init_scale=cfg.init_scale))
    return runs


def test_lab_runs_through_sweep_are_bit_identical_to_direct_training():
    res = run(CFG)
    old = _old_runs(CFG)
    assert list(res.widths) == [3, 3, 5, 5]
    for new, ref in zip(res.runs, old):
        np.testing.assert_array_equal(new.objective, ref.objective)
        np.testing.assert_array_equal(new.W1, ref.W1)
    old_gaps = np.array([r.final_objective - res.convex.objective for r in old])
    np.testing.assert_array_equal(res.gaps, old_gaps)
    assert np.all(res.gaps > -1e-6 * max(res.convex.objective, 1.0))    # p* is a lower bound

    # the same study as a user's in-process sweep: same table, width-major, seeds inner
    X, y = dataset_points(CFG)
    study = WidthsStudy(CFG, X, y, res.convex.objective)
    table = drain(run_sweep(study.sweep(), executor="local"))
    assert list(table["width"]) == [3, 3, 5, 5] and list(table["seed"]) == [3, 4, 3, 4]
    assert (table["error"] == "").all()
    np.testing.assert_array_equal(table["objective_gap"].to_numpy(), res.gaps)

    # the public "regions" target over width (widths="", n_seeds seeds per point) agrees
    public = drain(run_sweep(Sweep("regions", {**_fields(CFG), "widths": ""},
                                   axes={"width": [3, 5]},
                                   metrics=["objective_gap", "objective_gap_min"]),
                             executor="local"))
    by_width = res.gaps.reshape(2, 2)
    np.testing.assert_array_equal(public["objective_gap"].to_numpy(),
                                  np.median(by_width, axis=1))
    np.testing.assert_array_equal(public["objective_gap_min"].to_numpy(),
                                  by_width.min(axis=1))


def test_single_point_matches_its_batch():
    """The target's promise: a point trained alone gives its batched result."""
    X, y = dataset_points(CFG)
    study = WidthsStudy(CFG, X, y, 0.0)
    tgt = study.target()
    one = drain(tgt.run_entry()(RegionsConfig(**{**_fields(CFG), "width": 5, "seed": 4}),
                                "cpu"))
    batch = drain(tgt.batch_entry()([RegionsConfig(**{**_fields(CFG), "width": 5, "seed": s})
                                     for s in (3, 4)], "cpu"))
    np.testing.assert_array_equal(one.objective, batch[1].objective)
    assert study.gap(None, one) == one.final_objective


def _fields(cfg):
    from engine.core import config_to_dict
    return config_to_dict(cfg)


def test_failed_training_is_a_clear_error(monkeypatch):
    """A point whose training raises stops the lab run with that point's error."""
    import pytest

    from engine.regions import widths_study

    real = widths_study.fit_nonconvex_iter

    def failing(X, y, width, *args, **kwargs):
        if width == 5:
            raise RuntimeError("out of memory at width 5")
        return real(X, y, width, *args, **kwargs)

    monkeypatch.setattr(widths_study, "fit_nonconvex_iter", failing)
    with pytest.raises(ValueError, match="out of memory at width 5"):
        run(CFG)


def test_curves_partials_keep_their_shape(monkeypatch):
    """The live "curves" partials: every run's (width, seed) plan, the finished runs' curves
    before the batch in training, and the live map of the batch's first net."""
    from engine.regions import nonconvex
    from engine.regions.lab import run_config

    monkeypatch.setattr(nonconvex, "_REPORT_SECONDS", 0.0)     # a report every step

    curves = [p.partial for p in run_config(CFG)
              if isinstance(p.partial, dict) and p.partial.get("stage") == "curves"]
    assert curves, "training sent no curves partial"
    for part in curves:
        assert part["widths"] == [3, 3, 5, 5] and part["seeds"] == [3, 4, 3, 4]
        assert len(part["objective"]) in (2, 4)
        assert part.get("map_run", 0) in (0, 2)
    assert {len(p["objective"]) for p in curves} == {2, 4}     # both widths reported live
    assert "map_ids" in curves[0]

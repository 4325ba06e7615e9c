"""engine.sweeps in this process: axes, validation, store, resume, failing points and the
gradient-flow convergence-time study run as a sweep (SCIENCE.md §1.5)."""
import json

import numpy as np
import pandas as pd
import pytest

from engine.core import Progress, drain
from engine.gradient_flow import FlowConfig
from engine.gradient_flow.reduced import convergence_times
from engine.sweeps import (META_NAME, TARGETS, Sweep, SweepTarget, load_sweep, parse_values,
                           run_sweep)
from engine.sweeps import executors

REDUCED = "gradient-flow/reduced"


def _reduced_sweep(**kw):
    args = dict(lab=REDUCED, config=FlowConfig(), axes={"depth": [1, 3],
                "init_scale": "log:0.1:1:3"}, seeds=1, metrics=["convergence_time"])
    args.update(kw)
    return Sweep(**args)


def test_axis_values_lists_and_ranges():
    assert parse_values("1, 2,3") == ["1", "2", "3"]
    assert parse_values("lin:0:1:5") == [0.0, 0.25, 0.5, 0.75, 1.0]
    np.testing.assert_allclose(parse_values("log:0.01:1:3"), [0.01, 0.1, 1.0])
    assert parse_values(np.array([1, 2])) == [1, 2]
    for bad in ("log:0:1:3", "lin:0:1", "lin:a:b:3", "lin:0:1:0"):
        with pytest.raises(ValueError):
            parse_values(bad)


def test_plan_coerces_values_like_panel_edits():
    from engine.sweeps import plan_sweep
    plan = plan_sweep(Sweep("gradient-flow", {"n_init": 4}, {"balanced": "true,no",
                            "depth": "lin:1:3:3", "method": "gf,gd"}, 2, ["final_loss"]))
    assert plan.axes == {"balanced": [True, False], "depth": [1, 2, 3],
                         "method": ["gf", "gd"]}
    assert len(plan.points) == 24 and [p.seed for p in plan.points[:2]] == [0, 1]
    assert plan.points[-1].config["n_init"] == 4 and plan.points[-1].values["method"] == "gd"


def test_reduced_sweep_matches_the_ode_and_is_stored(tmp_path):
    out = tmp_path / "s"
    table = drain(run_sweep(_reduced_sweep(), executor="local", store=out))
    assert list(table["point"]) == list(range(6))
    for row in table.itertuples():
        want = convergence_times([row.init_scale], depths=(row.depth,))[0][0]
        assert row.convergence_time == want and row.error == ""
    read = pd.read_parquet(out).sort_values("point").reset_index(drop=True)
    pd.testing.assert_frame_equal(read, load_sweep(out))
    pd.testing.assert_frame_equal(read, table)
    meta = json.loads((out / META_NAME).read_text())
    assert meta["lab"] == REDUCED and meta["axes"]["depth"] == [1, 3]
    assert meta["seeds"] == [0] and meta["versions"]["torch"]
    indexed = load_sweep(out, indexed=True)              # the to_xarray()-ready form
    assert list(indexed.index.names) == ["depth", "init_scale", "seed"]
    assert indexed["convergence_time"].unstack("init_scale").shape == (2, 3)


def test_resume_computes_only_the_missing_points(tmp_path, monkeypatch):
    calls = []
    real = executors.batch_steps

    def counting(lab, configs, metrics, device="cpu"):
        calls.extend((c["depth"], c["init_scale"]) for c in configs)
        return real(lab, configs, metrics, device)

    monkeypatch.setattr(executors, "batch_steps", counting)
    monkeypatch.setattr(executors, "BATCH", 2)      # the reduced target runs in groups
    out, sweep = tmp_path / "s", _reduced_sweep()
    gen = run_sweep(sweep, executor="local", store=out)
    rows = 0
    for p in gen:                                  # "killed" after 2 finished points
        rows = p.partial["done"] if p.partial else rows
        if rows == 2:
            gen.close()
            break
    assert len(calls) == 2 and len(load_sweep(out)) == 2
    with pytest.raises(ValueError, match="already holds a sweep"):
        drain(run_sweep(sweep, executor="local", store=out))
    calls.clear()
    table = drain(run_sweep(sweep, executor="local", store=out, resume=True))
    assert len(calls) == 4 and list(table["point"]) == list(range(6))
    full = drain(run_sweep(sweep, executor="local"))
    pd.testing.assert_frame_equal(table.drop(columns="seconds"), full.drop(columns="seconds"))
    with pytest.raises(ValueError, match="different sweep"):
        drain(run_sweep(_reduced_sweep(seeds=2), executor="local", store=out, resume=True))


def _fails_at_depth_two(cfg, device="cpu"):
    yield Progress(0.5, "half")
    if cfg.depth == 2:
        raise FloatingPointError("diverged at depth 2")
    from engine.gradient_flow.lab import reduced_point
    return (yield from reduced_point(cfg, device))


def test_a_failing_point_is_recorded_and_the_sweep_goes_on(tmp_path, monkeypatch):
    monkeypatch.setitem(TARGETS, "failing", SweepTarget(
        "failing", "engine.gradient_flow:FlowConfig",
        "tests.engine.test_sweeps:_fails_at_depth_two", TARGETS[REDUCED].metrics))
    sweep = Sweep("failing", FlowConfig(), {"depth": [1, 2, 3]}, 1, ["convergence_time"])
    table = drain(run_sweep(sweep, executor="local", store=tmp_path / "f"))
    assert list(table["error"]) == ["", "FloatingPointError: diverged at depth 2", ""]
    assert np.isnan(table["convergence_time"][1]) and np.isfinite(table["convergence_time"][2])
    assert len(load_sweep(tmp_path / "f")) == 3


@pytest.mark.parametrize("change, message", [
    (dict(axes={"depht": [1, 2]}), "has no field 'depht'"),
    (dict(axes={"depth": [1, 7]}), r"depth = 7 is outside the valid range \[1, 6\]"),
    (dict(axes={"init_scale": "log:1e-6:1:3"}), "init_scale = 1e-06 is outside"),
    (dict(metrics=["psnr"]), "no metric 'psnr'"),
    (dict(metrics=[]), "at least one metric"),
    (dict(lab="nope"), "no sweepable lab 'nope'"),
    (dict(seeds=0), "seeds must be"),
    (dict(axes={"seed": [1, 2]}, seeds=2), "seed"),
])
def test_bad_input_is_refused_before_any_work(tmp_path, monkeypatch, change, message):
    monkeypatch.setattr(executors, "point_steps", lambda *a, **k: pytest.fail("ran a point"))
    monkeypatch.setattr(executors, "batch_steps", lambda *a, **k: pytest.fail("ran a point"))
    with pytest.raises(ValueError, match=message):
        next(run_sweep(_reduced_sweep(**change), executor="local", store=tmp_path / "x"))
    assert not (tmp_path / "x").exists()


def test_an_unreachable_scheduler_is_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", 1.0)
    gen = run_sweep(_reduced_sweep(), executor="tcp://127.0.0.1:9", store=tmp_path / "x")
    with pytest.raises(ValueError, match="cannot reach the Dask scheduler"):
        for _ in gen:
            pass
    assert not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match="executor 'slurm'"):
        drain(run_sweep(_reduced_sweep(), executor="slurm"))


def test_a_batch_gives_the_single_point_numbers_exactly():
    """The reduced target's batch hook (one vectorised integration, a step size per point)
    equals the per-point path and ``convergence_times`` of one pair, bit for bit."""
    from engine.gradient_flow.lab import reduced_point, reduced_points
    cfgs = [FlowConfig(depth=d, init_scale=s, teacher_norm=nu)
            for d, s, nu in [(1, 0.01, 1.0), (4, 0.01, 1.0), (2, 0.3, 2.0), (3, 1.0, 0.5),
                             (4, 0.05, 1.0)]]
    batch = [p.convergence_time for p in drain(reduced_points(cfgs))]
    alone = [drain(reduced_point(c)).convergence_time for c in cfgs]
    ode = [convergence_times([c.init_scale], depths=(c.depth,), nu=c.teacher_norm)[0, 0]
           for c in cfgs]
    assert batch == alone == ode and all(np.isfinite(batch))
    sweep = _reduced_sweep(axes={"depth": [1, 4], "init_scale": [0.01, 0.3]})
    grouped = drain(run_sweep(sweep, executor="local"))
    pd.testing.assert_frame_equal(grouped.drop(columns="seconds"), _one_by_one(sweep))


def _one_by_one(sweep):
    """The sweep's table with every point run alone through ``point_steps``."""
    from engine.sweeps.point import compute_point
    from engine.sweeps.spec import plan_sweep
    from engine.sweeps.store import arrow_schema
    from engine.sweeps.run import _frame, _row
    plan = plan_sweep(sweep)
    rows = [_row(p, compute_point(sweep.lab, p.config, plan.metrics), plan.metrics)
            for p in plan.points]
    return _frame(rows, arrow_schema(plan.axes, plan.metrics)).drop(columns="seconds")


def test_a_failing_batch_falls_back_to_single_points(monkeypatch):
    monkeypatch.setitem(TARGETS, "brittle", SweepTarget(
        "brittle", "engine.gradient_flow:FlowConfig",
        "tests.engine.test_sweeps:_fails_at_depth_two", TARGETS[REDUCED].metrics,
        batch="tests.engine.test_sweeps:_broken_batch"))
    table = drain(run_sweep(Sweep("brittle", FlowConfig(), {"depth": [1, 2]}, 1,
                                  ["convergence_time"]), executor="local"))
    assert list(table["error"]) == ["", "FloatingPointError: diverged at depth 2"]


def _broken_batch(cfgs, device="cpu"):
    yield Progress(0.0, "batch")
    raise RuntimeError("the group failed")


def test_the_lab_study_is_the_sweep():
    """The lab's convergence-time table is the in-process sweep's numbers, exactly."""
    from engine.gradient_flow.lab import DEPTHS, SCALES, _convergence_table
    table = drain(run_sweep(Sweep(REDUCED, FlowConfig(teacher_norm=1.0),
                                  {"depth": list(DEPTHS), "init_scale": list(SCALES[::4])},
                                  1, ["convergence_time"]), executor="local"))
    got = table["convergence_time"].to_numpy().reshape(len(DEPTHS), -1)
    np.testing.assert_array_equal(got, _convergence_table(1.0)[:, ::4])
    batched = convergence_times(SCALES[::4], depths=DEPTHS)
    np.testing.assert_allclose(got, batched, rtol=1e-7)     # common-step batch: close


def test_the_diffusion_budget_study_is_a_sweep_with_the_runs_own_numbers():
    """Each budget's distance equals a lone solver run at that budget recording its first and
    last frame (the study's former loop), and the run's own budget is the run's value."""
    import dataclasses
    from engine.diffusion import DiffusionConfig
    from engine.diffusion.lab import run_config
    from engine.diffusion.study import BUDGETS, budget_study
    cfg = DiffusionConfig(prior="ring", solver="posterior", compare_solver="none",
                          n_particles=100, n_steps=30, budget_study=False)
    res = drain(run_config(cfg, views=False))
    study = drain(budget_study(cfg, lambda c: run_config(c, "cpu", res.prior, views=False),
                               0.0, 1.0, {r.solver: r for r in res.recordings}))
    budgets, dist = study["posterior"]
    assert list(budgets) == sorted(set(BUDGETS) | {30})
    assert dist[list(budgets).index(30)] == res.recording.summary["posterior_distance"]
    for b in (5, 50):
        alone = drain(run_config(dataclasses.replace(cfg, n_steps=b, record_every=b,
                                                     n_trails=0), views=False))
        assert dist[list(budgets).index(b)] == alone.recording.summary["posterior_distance"]

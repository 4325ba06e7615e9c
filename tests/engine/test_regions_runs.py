"""Non-convex runs, data sets, CSV loading, the config and the lab run contract (§2)."""
import dataclasses
import time

import numpy as np
import pytest

from engine.core import Progress, config_from_dict, validate
from engine.regions import (DATASETS, RegionsConfig, count_regions, custom_dataset,
                            fit_nonconvex, fit_nonconvex_batch, load_csv, make_dataset,
                            pattern_ids, run, run_config, two_layer_objective)




def _xy(n=20, seed=0):
    return make_dataset("spiral", n, 0.05, seed)


@pytest.mark.parametrize("optimizer, lr", [("gd", 0.1), ("adam", 0.01)])
def test_nonconvex_objective_is_two_layer_objective(optimizer, lr):
    X, y = _xy()
    r = fit_nonconvex(X, y, 16, 0.01, 200, lr, seed=3, optimizer=optimizer, n_snapshots=5)
    assert r.objective.shape == (201,) and np.isfinite(r.objective).all()
    assert list(r.steps) == [0, 50, 100, 150, 200]
    assert r.W1.shape == (5, 16, 3) and r.w2.shape == (5, 16)
    for k, step in enumerate(r.steps):
        assert r.objective[step] == pytest.approx(
            two_layer_objective(r.W1[k], r.w2[k], X, y, 0.01), rel=1e-12)
    assert r.objective[-1] < r.objective[0]
    assert r.diverged_step is None


def test_runs_are_seeded_and_batched_runs_match_single_ones():
    X, y = _xy()
    a = fit_nonconvex(X, y, 8, 0.01, 100, 0.1, seed=5)
    b = fit_nonconvex(X, y, 8, 0.01, 100, 0.1, seed=5)
    batch = fit_nonconvex_batch(X, y, 8, 0.01, 100, 0.1, [4, 5, 6])
    assert np.array_equal(a.objective, b.objective)
    assert np.allclose(batch[1].objective, a.objective, rtol=1e-9)
    assert batch[0].objective[0] != batch[1].objective[0]


def test_gd_on_a_two_layer_net_decreases_with_small_steps():
    X, y = _xy()
    r = fit_nonconvex(X, y, 32, 0.01, 300, 0.05, seed=0)
    assert (np.diff(r.objective) <= 1e-12).all()


def test_divergence_is_recorded():
    X, y = _xy()
    r = fit_nonconvex(X, y, 16, 0.01, 50, 1e3, seed=1)
    assert r.diverged_step is not None and r.diverged_step <= 50
    assert np.isnan(r.objective[r.diverged_step:]).all()


def test_deep_runs_and_bad_arguments():
    X, y = _xy()
    r = fit_nonconvex(X, y, 6, 0.01, 30, 0.05, seed=0, depth=3, n_snapshots=3)
    assert r.depth == 3 and len(r.hidden_at(-1)) == 3
    assert pattern_ids(r.hidden_at(-1), np.linspace(-1, 1, 50), np.linspace(-1, 1, 50)).min() == 0
    with pytest.raises(ValueError, match="w_out"):
        r.w2
    with pytest.raises(ValueError, match="GiB"):
        fit_nonconvex(X, y, 10**7, 0.01, 10, 0.1, seed=0)
    with pytest.raises(ValueError, match="optimizer"):
        fit_nonconvex(X, y, 4, 0.01, 10, 0.1, seed=0, optimizer="sgd")
    with pytest.raises(ValueError, match="lam"):
        fit_nonconvex(X, y, 4, -1.0, 10, 0.1, seed=0)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_datasets(name):
    X, y = make_dataset(name, 30, 0.1, seed=2)
    X2, y2 = make_dataset(name, 30, 0.1, seed=2)
    assert X.shape == (30, 2) and y.shape == (30,)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert np.abs(X).max() < 3 and np.isfinite(y).all()
    if DATASETS[name][1] == "classification":
        assert set(np.unique(y)) == {-1.0, 1.0}


@pytest.mark.parametrize("n, noise, seed", [(40, 0.0, 0), (40, 0.05, 0), (16, 0.05, 3)])
def test_spiral_arms_wind_around_the_origin(n, noise, seed):
    """Issue #11: the spiral must look like one. Each arm, taken outwards, winds ≥ 1.5 turns
    about the origin (its unwrapped angle), and the arms' points do not overlap."""
    from engine.regions.datasets import SPIRAL_TURNS
    X, y = make_dataset("spiral", n, noise, seed)
    for label in (1.0, -1.0):
        arm = X[y == label]
        arm = arm[np.argsort(np.hypot(*arm.T))]
        turns = np.ptp(np.unwrap(np.arctan2(arm[:, 1], arm[:, 0]))) / (2 * np.pi)
        assert turns >= 1.5 and turns <= SPIRAL_TURNS + 0.1
    nearest = np.linalg.norm(X[y > 0][:, None] - X[y < 0][None], axis=-1).min()
    assert nearest > 0.05


def test_dataset_errors_and_custom_points():
    with pytest.raises(ValueError, match="unknown"):
        make_dataset("mnist", 10)
    with pytest.raises(ValueError, match="at least 2"):
        make_dataset("xor", 1)
    X, y = custom_dataset([[0, 0], [0, 0], [1, 1]], [1, 1, -1])      # duplicates are fine
    assert X.shape == (3, 2)
    with pytest.raises(ValueError, match="NaN"):
        custom_dataset([[0, np.nan], [1, 1]], [1, 2])
    with pytest.raises(ValueError, match="targets"):
        custom_dataset([[0, 0], [1, 1]], [1])


def test_load_csv(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("x1,x2,y\n0,0,1\n1,0.5,-1\n\n2,1,1\n")
    X, y = load_csv(good)
    assert X.shape == (3, 2) and list(y) == [1, -1, 1]
    cases = {"nan.csv": ("0,0,1\n1,nan,2\n", "NaN"),
             "ragged.csv": ("0,0,1\n1,2\n", "line 2: 2 values, expected 3"),
             "text.csv": ("0,0,1\n1,abc,2\n", "'abc' is not a number"),
             "short.csv": ("x,y,t\n0,0,1\n", "at least 2"),
             "one_col.csv": ("1\n2\n3\n", "2 columns")}
    for name, (text, msg) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ValueError, match=msg):
            load_csv(path)


def test_config_fields_and_validation():
    names = {f.name for f in dataclasses.fields(RegionsConfig)}
    assert {"dataset", "n_points", "noise", "width", "lam", "steps", "lr", "optimizer",
            "formulation", "n_seeds", "depth", "grid", "seed"} <= names
    for f in dataclasses.fields(RegionsConfig):
        assert f.metadata["help"]
    with pytest.raises(ValueError, match="lam"):
        validate(RegionsConfig(lam=0.0))
    with pytest.raises(ValueError, match="width"):
        config_from_dict(RegionsConfig, {"width": 10**6})
    with pytest.raises(ValueError, match="custom"):
        run(RegionsConfig(dataset="custom"))
    with pytest.raises(ValueError, match="GiB"):
        run(RegionsConfig(grid=1024, snapshots=400, n_seeds=64))


SMALL = RegionsConfig(dataset="xor", n_points=12, width=12, lam=0.01, steps=300, lr=0.02,
                      n_seeds=2, grid=64, snapshots=4, depth=2, seed=1)


def _reports(gen):
    """``([(seconds since the previous report, report), ...], result)`` of a generator."""
    out, last = [], time.perf_counter()
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return out, stop.value
        now = time.perf_counter()
        out.append((now - last, p))
        last = now


def test_run_config_contract_and_result():
    reports, res = _reports(run_config(SMALL))
    for _, p in reports:
        assert isinstance(p, Progress) and 0.0 <= p.fraction <= 1.0
    assert {"data", "convex", "training"} <= {p.partial["stage"] for _, p in reports
                                              if p.partial}
    assert max(gap for gap, _ in reports) < 1.0
    assert res.convex.certified and len(res.runs) == 2
    assert res.region_ids.shape == (4, 2, 64, 64) and res.region_counts.shape == (4, 2)
    for t in range(4):
        for s in range(2):
            W, b = res.runs[s].hidden_at(t)[0]
            assert res.region_counts[t, s] == count_regions(W, b, res.box)
            assert res.region_ids[t, s].max() + 1 <= res.region_counts[t, s]
            assert len(res.region_keys[t][s]) == res.region_ids[t, s].max() + 1
    assert (res.gaps >= -1e-6 * res.convex.objective).all()
    assert res.deep_run.depth == 2 and res.deep_region_ids.shape == (4, 64, 64)
    assert res.convex_region_count == count_regions(res.convex.W1[:, :2], res.convex.W1[:, 2],
                                                    res.box)


def test_run_config_can_be_cancelled_and_takes_custom_data():
    gen = run_config(dataclasses.replace(SMALL, depth=1, steps=10**5))
    for _ in range(3):
        next(gen)
    gen.close()
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.0, 1.0], [1.0, 0.0]])
    res = run(dataclasses.replace(SMALL, dataset="custom", depth=1, steps=50),
              data=(X, np.array([1.0, -1, 1, -1, 0.5])))
    assert res.X.shape == (5, 2) and res.convex.certified


def test_run_widths_parses_the_widths_field():
    from engine.regions.run import run_widths
    assert run_widths(RegionsConfig(width=32)) == [32]
    assert run_widths(RegionsConfig(width=8, widths="64, 4;8  2")) == [2, 4, 8, 64]
    with pytest.raises(ValueError, match="widths: 'x' is not an integer"):
        run_widths(RegionsConfig(widths="4, x"))
    with pytest.raises(ValueError, match=r"widths: 0 is outside the valid range"):
        run_widths(RegionsConfig(widths="0"))
    with pytest.raises(ValueError, match="at most 16"):
        run_widths(RegionsConfig(widths=" ".join(str(m) for m in range(1, 40))))
    with pytest.raises(ValueError, match="widths"):
        run(RegionsConfig(widths="4, eight"))
    with pytest.raises(ValueError, match="GiB"):      # every width's maps count
        run(RegionsConfig(grid=1024, snapshots=400, n_seeds=12,
                          widths="1 2 3 4 5 6 7 8 9 10 11 12"))


def test_several_widths_run_together_and_never_beat_the_convex_optimum():
    """Known answer: p* is the global minimum, so every width's every run ends at ≥ p*."""
    cfg = dataclasses.replace(SMALL, depth=1, widths="2, 24", n_seeds=2, steps=400,
                              snapshots=3)
    res = run(cfg)
    assert list(res.widths) == [2, 2, 12, 12, 24, 24]
    assert [r.seed for r in res.runs] == [1, 2] * 3
    assert res.region_ids.shape == (3, 6, 64, 64) and res.region_counts.shape == (3, 6)
    p = res.convex.objective
    for run_ in res.runs:
        assert np.nanmin(run_.objective) >= p * (1 - 1e-6)
    assert (res.gaps >= -1e-6 * p).all() and res.reached().shape == (6,)
    for s, m in enumerate(res.widths):                   # exact counts per run and width
        W, b = res.runs[s].hidden_at(-1)[0]
        assert W.shape == (m, 2)
        assert res.region_counts[-1, s] == count_regions(W, b, res.box)
    # a run of width m with seed s is the same alone as among other widths
    alone = run(dataclasses.replace(cfg, width=24, widths=""))
    assert np.allclose(alone.runs[0].objective, res.runs[4].objective, rtol=1e-9)


def test_wide_nets_reach_the_convex_optimum_and_narrow_ones_do_not():
    """XOR, λ = 0.01: width 2 stays far above p*, width 48 ≥ m* comes within 1 %."""
    cfg = RegionsConfig(dataset="xor", n_points=20, noise=0.1, width=2, widths="48",
                        lam=0.01, steps=3000, lr=0.01, optimizer="adam", n_seeds=2, grid=32,
                        snapshots=2, seed=0)
    res = run(cfg)
    m_star = len(res.convex.w2)
    assert res.convex.certified and m_star <= 48
    rel = res.gaps / res.convex.objective
    assert (rel[res.widths == 2] > 0.1).all()
    assert (rel[res.widths == 48] < 1e-2).all()


def test_partials_stream_curves_convex_map_and_refining_previews():
    """The stages the lab draws before the run ends equal the final result's pieces."""
    stages = {}
    reports, res = _reports(run_config(dataclasses.replace(SMALL, widths="3", steps=1500)))
    for _, p in reports:
        if p.partial:
            stages.setdefault(p.partial["stage"], []).append(p.partial)
    order = list(stages)
    assert order.index("convex") < order.index("training") < order.index("final_maps")
    assert len(stages["curves"]) >= 2                    # the objective plot grows live
    convex = stages["convex"][0]
    np.testing.assert_array_equal(convex["ids"], res.convex_region_ids)
    assert convex["count"] == res.convex_region_count
    maps = 0
    for curves in stages.get("curves", []):              # prefixes of the final curves
        assert len(curves["objective"]) <= len(res.runs)
        assert curves["widths"] == list(res.widths)          # the plan of every run
        assert curves["seeds"] == [run.seed for run in res.runs]
        for obj, run in zip(curves["objective"], res.runs):
            np.testing.assert_array_equal(obj, run.objective[:len(obj)])
        if "map_ids" in curves:                          # the live map of the net now
            maps += 1
            W = curves["map_W1"]
            assert W.shape[0] == res.widths[curves["map_run"]]
            np.testing.assert_array_equal(
                curves["map_ids"], pattern_ids([(W[:, :2], W[:, 2])], res.grid_x, res.grid_y))
    assert maps >= 1
    assert len(stages["final_maps"]) == 1                # the two-layer runs' only
    final = stages["final_maps"][0]
    np.testing.assert_array_equal(final["ids"], res.region_ids[-1])
    np.testing.assert_array_equal(final["counts"], res.region_counts[-1])
    factors = [d["factor"] for d in stages["deep_preview"]]
    assert factors == [4, 2]                             # 64 / 8 < 16 pixels: skipped
    hidden = res.deep_run.hidden_at(len(res.deep_run.steps) - 1)
    full, keys = pattern_ids(hidden, res.grid_x, res.grid_y, return_hashes=True)
    np.testing.assert_array_equal(full, res.deep_region_ids[-1])
    for d in stages["deep_preview"]:
        assert d["ids"].shape == (len(d["grid_y"]), len(d["grid_x"]))
        np.testing.assert_array_equal(d["ids"], pattern_ids(hidden, d["grid_x"], d["grid_y"]))
        f = d["factor"]
        np.testing.assert_array_equal(d["keys"][d["ids"]], keys[full][::f, ::f])


def test_every_partial_carries_one_stage_only():
    """No engine accumulation for the GUI: the runner keeps the newest partial per stage."""
    seen = []
    for p in run_config(dataclasses.replace(SMALL, depth=1)):
        if p.partial:
            assert "stages" not in p.partial and isinstance(p.partial["stage"], str)
            seen.append(p.partial["stage"])
    assert seen[0] == "data" and "convex" in seen and seen[-1] == "final_maps"


def test_result_carries_what_every_frame_draws():
    """Known answer: the outputs are the nets' outputs on the grid, the gate charts are
    gate_chart of the optimum, so the app computes neither."""
    from engine.regions import network_output
    from engine.regions.gate_space import gate_chart
    res = run(dataclasses.replace(SMALL, depth=1, steps=60, snapshots=3))
    assert res.outputs.shape == (3, 2, 64, 64) and res.outputs.dtype == np.float32
    for t in range(3):
        for s in range(2):
            run_ = res.runs[s]
            want = network_output(run_.hidden_at(t), run_.w_out[t], res.grid_x, res.grid_y)
            np.testing.assert_allclose(res.outputs[t, s], want, rtol=1e-5, atol=1e-6)
    W1 = res.convex.W1
    want = network_output([(W1[:, :2], W1[:, 2])], res.convex.w2, res.grid_x, res.grid_y)
    np.testing.assert_allclose(res.convex_output, want, rtol=1e-5, atol=1e-6)
    for chart, sign in zip(res.gate_charts, (1.0, -1.0)):
        ref = gate_chart(res.X, res.convex, sign)
        assert chart["sign"] == sign
        np.testing.assert_array_equal(chart["ids"], ref["ids"])
        np.testing.assert_array_equal(chart["used"], ref["used"])


def test_custom_points_of_the_config_are_the_data():
    from engine.regions.lab import dataset_points
    rows = ((0.0, 0.0, 1.0), (1.0, 1.0, -1.0), (2.0, 0.5, 1.0), (0.5, 2.0, -1.0))
    cfg = dataclasses.replace(SMALL, dataset="custom", custom_points=rows, depth=1, steps=30)
    X, y = dataset_points(cfg)
    np.testing.assert_array_equal(np.c_[X, y], np.array(rows))
    res = run(cfg)
    np.testing.assert_array_equal(res.X, X)
    with pytest.raises(ValueError, match="at least 2 points"):
        dataset_points(dataclasses.replace(cfg, custom_points=rows[:1]))
    spiral = dataclasses.replace(SMALL, dataset="spiral", n_points=20)
    np.testing.assert_array_equal(dataset_points(spiral)[0], make_dataset("spiral", 20,
                                                                          SMALL.noise, 1)[0])

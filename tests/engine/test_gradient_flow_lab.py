"""The gradient-flow lab entry: one result with the run, its phase field and the studies."""
import dataclasses

import numpy as np
import torch

from engine.core import Progress, drain
from engine.gradient_flow import FlowConfig, reduced_rhs, simulate
from engine.gradient_flow.lab import DEPTHS, SCALES, STUDY_LRS, phase_field, run_config

SMALL = FlowConfig(dim=2, n_init=6, init_scale=0.1, t_max=4.0, dt=0.02, frames=20, seed=3)


def test_run_config_carries_the_run_the_field_and_the_studies():
    gen = run_config(SMALL)
    reports = []
    while True:
        try:
            reports.append(next(gen))
        except StopIteration as stop:
            r = stop.value
            break
    assert all(isinstance(p, Progress) for p in reports)
    fractions = [p.fraction for p in reports]
    assert fractions == sorted(fractions) and fractions[-1] <= 1.0
    rec = simulate(SMALL)                                   # same seed: the same run
    np.testing.assert_array_equal(r.t, rec.t.numpy())
    np.testing.assert_array_equal(r.w, rec.w.numpy())
    assert r.conv_times.shape == (len(DEPTHS), len(SCALES))
    assert list(r.step_study) == ["GF"] + [f"GD η = {lr:g}" for lr in STUDY_LRS]
    gf_t, gf_loss, _ = r.step_study["GF"]                  # the study's GF = median of the run
    np.testing.assert_allclose(gf_t, rec.t.numpy())
    np.testing.assert_allclose(gf_loss, torch.median(rec.loss, dim=1).values.numpy(),
                               rtol=1e-12)
    assert r.step_study["GD η = 6"][2] is not None          # η > 4 diverges (§1.1)
    assert r.step_study["GD η = 0.5"][2] is None


def test_phase_field_is_the_reduced_flow_where_exact():
    """Known answer: the arrows are reduced_rhs on the grid (§1.4); NaN for finite data."""
    magnitude = np.array([[0.1, 0.5], [np.inf, 2.0]])
    f = phase_field(magnitude, SMALL)
    assert np.isclose(f.r.max(), 1.15 * 2.0) and np.isclose(f.r.min(), 1.15 * 2.0 / 25)
    dr, dth = reduced_rhs(f.r, f.theta, depth=1, nu=1.0)
    np.testing.assert_allclose(f.dr, dr)
    np.testing.assert_allclose(f.dtheta, dth)
    finite = phase_field(magnitude, dataclasses.replace(SMALL, data="finite"))
    assert np.isnan(finite.dr).all() and np.isfinite(finite.dtheta).all()
    deep = phase_field(magnitude, dataclasses.replace(SMALL, depth=3, balanced=False))
    assert np.isnan(deep.dr).all()


def test_lab_result_round_trips_through_results_io(tmp_path):
    from engine.core.results_io import load_results, save_results
    r = drain(run_config(dataclasses.replace(SMALL, data="finite", n_samples=10)))
    save_results(tmp_path / "gf.npz", r, {"lab": "gradient-flow"})
    arrays, meta = load_results(tmp_path / "gf.npz")
    np.testing.assert_array_equal(arrays["phase/theta"], r.phase.theta)
    np.testing.assert_array_equal(arrays["support"], r.support)
    assert meta["lab"] == "gradient-flow"


def test_the_step_size_study_can_be_cancelled_midway():
    from engine.gradient_flow.compare import compare_step_sizes_iter
    gen = compare_step_sizes_iter(dataclasses.replace(SMALL, t_max=50.0, dt=0.001), (0.5, 1.0))
    fractions = [next(gen).fraction for _ in range(5)]
    gen.close()                                             # stops inside the GF run
    assert fractions == sorted(fractions) and fractions[-1] < 1 / 3

"""The run contract of the diffusion lab: recordings, memory bound, progress/cancel,
reproducibility, divergence, bad input, the config and ``run_config``."""
import dataclasses
import math

import numpy as np
import pytest
import torch

import engine.diffusion.recording as recording
from engine.core import Progress, config_from_dict, config_to_dict, drain
from engine.diffusion import (
    BUILTIN_PRIORS,
    METRIC_KEYS,
    SOLVERS,
    DiffusionConfig,
    DiffusionRecording,
    build_measurement,
    distance_floor,
    energy_distance,
    fit_gmm,
    run_config,
    sliced_w2,
    solve,
    solve_iter,
    solver_params,
)

A1, Y1 = torch.tensor([[1.0, 0.0]]), torch.tensor([1.0])




@pytest.fixture(scope="module")
def ring():
    return BUILTIN_PRIORS["ring"](2)


def test_recording_fields_and_metrics(ring):
    rec = solve("mcg", ring, A=A1, y=Y1, sigma_y=0.05, n_particles=300, n_steps=20, seed=1)
    assert isinstance(rec, DiffusionRecording) and rec.status == "completed"
    assert rec.x.shape == rec.x0_hat.shape == (21, 300, 2)
    assert rec.t.tolist() == [1000 - 50 * i for i in range(21)]
    assert rec.step_index.tolist() == list(range(21))
    assert rec.alpha_bar[-1] == 1.0 and rec.alpha_bar[0] < 1e-4
    assert set(rec.metrics) == set(METRIC_KEYS)
    assert all(v.shape == (21,) for v in rec.metrics.values())
    assert rec.metrics["residual"][-1] < 1e-5          # projected onto A x = y at t = 0
    assert 0.0 <= float(rec.metrics["density_quantile"].min())
    assert float(rec.metrics["density_quantile"].max()) <= 1.0
    assert rec.nfe == 40 and rec.metrics["nfe"][-1] == 40
    for key in ("posterior_distance", "posterior_distance_floor", "posterior_distance_floor_sd",
                "sliced_w2", "residual", "off_manifold", "nfe"):
        assert math.isfinite(rec.summary[key])
    # one distance: the summary is the last point of the per-step curve, on min(500, N) points
    assert rec.summary["posterior_distance"] == float(rec.metrics["posterior_distance"][-1])
    assert rec.summary["posterior_distance_points"] == 300
    assert rec.summary["posterior_distance_level"] == 1.0
    assert torch.equal(rec.final, rec.x[-1])


def test_unconditional_metrics_have_nan_residual(ring):
    rec = solve("ddim", ring, n_particles=100, n_steps=10)
    assert rec.metrics["residual"].isnan().all() and rec.metrics["correction"].isnan().all()
    assert "residual" not in rec.summary


def test_on_manifold_reference_values(ring):
    """Exact samples of p_t: mean Mahalanobis ≈ 1.25 (χ₂), density quantile ≈ ½ (§3.3)."""
    rec = solve("posterior", ring, n_particles=4000, n_steps=200, seed=2)
    m = rec.metrics
    assert 0.9 < float(m["off_manifold"][:-1].mean()) < 1.4
    assert 0.4 < float(m["density_quantile"][:-1].mean()) < 0.6
    assert abs(float(m["delta_nll"][:-1].mean())) < 0.3


def test_stride_and_particle_subset_bound_the_recording(ring):
    rec = solve("ddpm", ring, n_particles=500, n_steps=95, record_every=10,
                record_particles=50, n_trails=3)
    assert rec.step_index.tolist() == list(range(0, 95, 10)) + [95]
    assert rec.x.shape == (11, 50, 2) and rec.final.shape == (500, 2)
    assert torch.equal(rec.x[-1], rec.final[:50])
    assert rec.trails.shape == (96, 3, 2) and torch.equal(rec.trails[-1], rec.final[:3])
    assert torch.equal(rec.trails[::10], rec.x[:-1, :3])


def test_stride_is_raised_to_respect_the_memory_budget(ring, monkeypatch):
    monkeypatch.setattr(recording, "MAX_RECORD_BYTES", 100 * 2 * 2 * 4 * 12)
    rec = solve("ddpm", ring, n_particles=100, n_steps=100, metrics=False)
    assert rec.record_every == 10 and rec.x.shape[0] == 11
    assert "record_every raised" in rec.notes[0]


def test_progress_generator_and_cancel(ring, monkeypatch):
    import engine.diffusion.run as run
    monkeypatch.setattr(run, "_REPORT_SECONDS", 0.0)
    gen = solve_iter("ddpm", ring, n_particles=50, n_steps=30)
    reports = []
    with pytest.raises(StopIteration) as stop:
        while True:
            reports.append(next(gen))
    assert all(isinstance(p, Progress) for p in reports) and len(reports) > 30
    fr = [p.fraction for p in reports]
    assert fr == sorted(fr) and fr[0] == 0.0 and fr[-1] == 1.0
    assert isinstance(stop.value.value, DiffusionRecording)
    gen = solve_iter("ddpm", ring, n_particles=50, n_steps=30)
    next(gen), next(gen)
    gen.close()                                        # cancel between yields


def test_seeded_runs_are_reproducible(ring):
    kw = dict(A=A1, y=Y1, sigma_y=0.05, n_particles=200, n_steps=15)
    a, b = solve("dps", ring, seed=5, **kw), solve("dps", ring, seed=5, **kw)
    assert torch.equal(a.x, b.x) and a.summary == b.summary
    assert all(torch.allclose(a.metrics[k], b.metrics[k], rtol=0, atol=0, equal_nan=True)
               for k in a.metrics)
    assert not torch.equal(a.x, solve("dps", ring, seed=6, **kw).x)


def test_divergence_stops_and_keeps_the_recorded_part(ring):
    rec = solve("dps", ring, A=A1, y=Y1, sigma_y=0.05, n_particles=100, n_steps=50,
                record_every=4, zeta=1e9)
    k = rec.diverged_step
    assert k is not None and rec.status == f"diverged at step {k}"
    assert int(rec.step_index[-1]) == k - 1 and torch.isfinite(rec.x).all()
    assert rec.trails.shape[0] == k and torch.equal(rec.final, rec.x[-1])


def test_bad_input_messages(ring):
    with pytest.raises(ValueError, match="unknown solver 'foo'; valid solvers: ddpm, ddim"):
        solve("foo", ring)
    with pytest.raises(ValueError, match="has no parameter zeta"):
        solve("mcg", ring, A=A1, y=Y1, zeta=0.1)
    with pytest.raises(ValueError, match="needs a measurement"):
        solve("mcg", ring)
    with pytest.raises(ValueError, match=r"A must have shape \(m, 2\)"):
        solve("dps", ring, A=torch.ones(1, 3), y=Y1)
    with pytest.raises(ValueError, match=r"y must have shape \(1,\)"):
        solve("dps", ring, A=A1, y=torch.ones(2))
    with pytest.raises(ValueError, match="sigma_y must be >= 0"):
        solve("dps", ring, A=A1, y=Y1, sigma_y=-1.0)
    with pytest.raises(ValueError, match=r"n_steps must be an integer in \[1, 1000\]"):
        solve("ddpm", ring, n_steps=0)
    with pytest.raises(ValueError, match="n_particles"):
        solve("ddpm", ring, n_particles=0)
    with pytest.raises(ValueError, match="t0 must lie in"):
        solve("ccdf", ring, A=A1, y=Y1, t0=0.0)
    with pytest.raises(ValueError, match="prior must be a GaussianMixture"):
        solve("ddpm", "ring")
    with pytest.raises(ValueError, match="dtype"):
        solve("ddpm", ring, dtype="float16")


def test_config_defaults_roundtrip_and_solver_params():
    cfg = DiffusionConfig()
    assert cfg.solver in SOLVERS and cfg.n_particles == 2000 and cfg.n_steps == 100
    assert config_from_dict(DiffusionConfig, config_to_dict(cfg)) == cfg
    assert solver_params(cfg, "ccdf") == {"t0": 0.5, "init": "prior_projection"}
    assert solver_params(cfg, "ddpm") == {}
    with pytest.raises(ValueError, match="dim"):
        config_from_dict(DiffusionConfig, {"dim": 81})


@pytest.mark.parametrize("kind,shape", [("none", None), ("line", (1, 3)),
                                        ("coordinate", (1, 3)), ("full", (3, 3))])
def test_measurements(kind, shape):
    A, y = build_measurement(DiffusionConfig(dim=3, measurement=kind, meas_angle=90.0))
    assert (A is None) if shape is None else (A.shape == shape and y.shape == (shape[0],))
    if kind == "line":
        assert torch.allclose(A, torch.tensor([[0.0, 1.0, 0.0]], dtype=A.dtype), atol=1e-12)


def test_run_config_runs_solver_and_comparison_with_the_same_seed():
    cfg = DiffusionConfig(n_particles=300, n_steps=20, solver="ccdf", compare_solver="projection",
                          t0=1.0)
    res = drain(run_config(cfg))
    assert res.recording.solver == "ccdf" and res.compare.solver == "projection"
    assert torch.equal(res.recording.x, res.compare.x)
    assert res.posterior is not None and res.A.shape == (1, 2)
    none = drain(run_config(dataclasses.replace(cfg, compare_solver="none", solver="ddim",
                                                measurement="none", dim=3)))
    assert none.compare is None and none.posterior is None and none.recording.x.shape[-1] == 3


def test_run_config_with_a_fitted_custom_prior_and_bad_configs():
    pts = BUILTIN_PRIORS["spiral"](2).sample(400, torch.Generator().manual_seed(0))
    prior = fit_gmm(pts, 6, seed=0)
    cfg = DiffusionConfig(prior="custom", n_particles=100, n_steps=10, compare_solver="none")
    assert drain(run_config(cfg, prior=prior)).prior.n_components == 6
    with pytest.raises(ValueError, match="custom"):
        run_config(cfg)
    with pytest.raises(ValueError, match="needs a measurement"):
        run_config(dataclasses.replace(cfg, prior="ring", measurement="none"))
    with pytest.raises(ValueError, match="n_particles"):
        run_config(dataclasses.replace(cfg, prior="ring", n_particles=5))


def test_energy_distance_is_the_v_statistic_double_sum():
    """V-statistic: the brute-force double sums over all pairs (diagonal zeros included),
    hence ≥ 0; 0 for identical clouds."""
    gen = torch.Generator().manual_seed(3)
    for n, m in ((5, 7), (1, 4), (12, 12)):
        a = torch.randn(n, 3, generator=gen, dtype=torch.float64)
        b = torch.randn(m, 3, generator=gen, dtype=torch.float64) + 0.2
        d = lambda u, v: sum(float((p - q).norm()) for p in u for q in v)
        brute = 2 * d(a, b) / (n * m) - d(a, a) / n ** 2 - d(b, b) / m ** 2
        assert energy_distance(a, b) == pytest.approx(brute, rel=1e-12, abs=1e-15)
        assert energy_distance(a, b) >= 0
    assert energy_distance(a, a) == 0.0
    same = torch.randn(40, 2, generator=gen, dtype=torch.float64)
    assert min(energy_distance(same[:20], same[20:] + s) for s in (0.0, 1e-3)) >= 0


def test_noise_floor_band_contains_exact_vs_exact_draws(ring):
    """The floor (mean ± sd over 16 pairs) describes fresh exact-vs-exact values: their mean is
    within 3 standard errors, most lie within mean ± 2 sd; its mean is the V-statistic bias
    ``E‖X-X'‖ (1/n + 1/n)`` (here estimated from a large exact sample)."""
    n = 200
    mean, sd = distance_floor(ring, n, torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    draws = np.array([energy_distance(ring.sample(n, gen), ring.sample(n, gen))
                      for _ in range(40)])
    assert abs(draws.mean() - mean) < 3 * sd / math.sqrt(16) + 3 * draws.std() / math.sqrt(40)
    assert np.mean(np.abs(draws - mean) <= 2 * sd) >= 0.85
    big = ring.sample(2000, gen)
    spread = float(torch.cdist(big, big).sum()) / (2000 * 1999)
    assert mean == pytest.approx(spread * 2 / n, rel=0.25)


def test_distances():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(1000, 2, generator=gen, dtype=torch.float64)
    b = torch.randn(1000, 2, generator=gen, dtype=torch.float64)
    assert abs(energy_distance(a, b)) < 0.01 < energy_distance(a, b + 0.5)
    shift = torch.tensor([1.0, 0.0], dtype=torch.float64)
    w = sliced_w2(a, a + shift, 500, torch.Generator().manual_seed(1))
    assert w == pytest.approx(1 / math.sqrt(2), rel=0.05)
    assert sliced_w2(a, a[:500], 50) < 0.2


def test_noiseless_full_measurement_gives_a_point_mass_posterior():
    cfg = DiffusionConfig(measurement="full", sigma_y=0.0, meas_value=2.0, meas_angle=90.0,
                          solver="posterior", compare_solver="dds", n_particles=200, n_steps=50)
    res = drain(run_config(cfg))
    target = torch.tensor([0.0, 2.0])
    for rec in res.recordings:
        assert rec.status == "completed"
        assert (rec.final - target).norm(dim=1).max() < 0.05
    assert res.recording.summary["posterior_distance"] < 1e-3


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_unavailable_cuda_is_a_clear_error(ring):
    with pytest.raises(ValueError, match="not available"):
        solve("ddpm", ring, device="cuda")


def test_run_config_fits_drawn_points_and_computes_the_frames_and_the_budget_study():
    """The lab's whole job runs in the engine: the EM fit of drawn points (two separated
    clusters → two components at their centres), the frames' densities and the step-budget
    study, whose oracle (exact posterior) run is near the exact-vs-exact floor at every budget and
    within its band from 100 steps on."""
    gen = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-2.0, 0.0], [2.0, 1.0]], dtype=torch.float64)
    pts = centres.repeat(100, 1) + 0.1 * torch.randn(200, 2, generator=gen, dtype=torch.float64)
    cfg = DiffusionConfig(prior="custom", fit_components=2, custom_points=tuple(map(tuple,
                          pts.tolist())), solver="posterior", compare_solver="none",
                          n_particles=100, n_steps=10, budget_study=True)
    res = drain(run_config(cfg))
    means = res.prior.means[res.prior.means[:, 0].argsort()]
    assert torch.allclose(means, centres, atol=0.05)
    lab = res.lab
    assert lab.density.shape[1:] == (128, 128) and len(lab.runs) == 1
    assert lab.runs[0].x.shape[-1] == 2 and lab.posterior is not None
    budgets, dist = lab.budgets["posterior"]
    assert list(budgets) == [5, 10, 20, 50, 100, 200]
    floor, sd = lab.distance_floor
    assert lab.distance_points == 100 and np.all(dist < floor + 0.05)
    assert np.all(dist[budgets >= 100] < floor + 4 * sd)       # enough steps: within the floor
    assert dist[1] == res.recording.summary["posterior_distance"]      # the run's own budget
    plain = drain(run_config(dataclasses.replace(cfg, budget_study=False), views=False))
    assert plain.lab is None and torch.equal(plain.recording.final, res.recording.final)

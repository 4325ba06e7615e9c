"""Finite data (§1.6), gradient descent (§1.1), the run contract and the recording."""
import dataclasses
import math

import numpy as np
import pytest
import torch

from engine.core import Progress
from engine.gradient_flow import (FlowConfig, FlowRecording, compare_step_sizes, simulate,
                                  simulate_iter)

FINITE = FlowConfig(dim=3, n_init=24, init_scale=0.05, data="finite", n_samples=30,
                    integrator="rk4", dt=0.01, t_max=20.0, frames=200, seed=4)


def test_finite_data_loss_is_non_increasing_along_gf():
    rec = simulate(FINITE)
    assert rec.status == "completed"
    assert (rec.loss.diff(dim=0) <= 1e-12).all()
    assert rec.loss[-1].median() < 1e-3 * rec.loss[0].median()


def test_support_vectors_satisfy_normal_equations():
    cfg = dataclasses.replace(FINITE, label_noise=0.3, dt=0.05, t_max=300.0, frames=20)
    rec = simulate(cfg)
    X, y = rec.X, rec.y
    u = rec.w[-1]
    assert rec.support.shape == (24, 30)
    assert torch.equal(rec.support, (u @ X.T) > 0)
    for i in range(cfg.n_init):
        S = rec.support[i]
        assert S.sum() >= 3
        residual = X[S].T @ (X[S] @ u[i] - y[S])
        assert residual.abs().max() < 1e-6


def test_active_sets_are_recorded_per_frame():
    rec = simulate(FINITE)
    assert rec.active.shape == (200, 24, 30) and rec.active.dtype == torch.bool
    assert torch.equal(rec.active_index, torch.arange(24))
    assert torch.equal(rec.active[-1], rec.support)
    assert torch.equal(rec.active[0], (rec.w[0] @ rec.X.T) > 0)
    assert rec.bound_lower is None and rec.bound_upper is None


def test_active_sets_of_big_runs_are_kept_for_a_few_inits_only():
    cfg = FlowConfig(dim=2, n_init=300, data="finite", n_samples=2000, method="gd", lr=0.1,
                     t_max=1.0, frames=100)
    rec = simulate(cfg)
    assert rec.active.shape == (11, 300, 2000)      # 11 frames: small enough to keep all
    cfg = dataclasses.replace(cfg, t_max=10.0)
    rec = simulate(cfg)
    assert torch.equal(rec.active_index, torch.arange(64))
    assert rec.active.shape == (100, 64, 2000) and rec.support.shape == (300, 2000)


def test_gd_with_small_step_tracks_gf_to_first_order():
    base = FlowConfig(dim=3, n_init=16, init_scale=0.3, t_max=5.0, frames=11, seed=9)
    ref = simulate(dataclasses.replace(base, integrator="adaptive", rtol=1e-10))
    errors = []
    for lr in (0.02, 0.01):
        gd = simulate(dataclasses.replace(base, method="gd", lr=lr))
        assert torch.allclose(gd.t, ref.t)
        errors.append((gd.w - ref.w).abs().max().item())
    assert errors[1] < 5e-3
    assert 1.7 < errors[0] / errors[1] < 2.3


def _gd_1d(lr, steps=40):
    cfg = FlowConfig(dim=1, n_init=1, init_dirs="even", init_scale=0.5, method="gd", lr=lr,
                     t_max=steps * lr, frames=steps + 1)
    return simulate(cfg)


def test_gd_step_size_regimes_near_the_optimum():
    """Hessian I/2 at w = v: GD contracts by 1 - η/2 (monotone, oscillating, unstable)."""
    dev = _gd_1d(1.0).magnitude[:, 0] - 1.0
    assert (dev < 0).all() and (dev.abs().diff() < 0).all()
    assert torch.allclose(dev[1:] / dev[:-1], torch.tensor(0.5, dtype=torch.float64))
    dev = _gd_1d(3.0).magnitude[:12, 0] - 1.0
    assert (dev[1:] * dev[:-1] < 0).all()           # oscillates around the optimum
    assert (dev.abs().diff() < 0).all()             # ... while converging
    dev = _gd_1d(4.5).magnitude[:4, 0] - 1.0
    assert (dev.abs().diff() > 0).all()             # the optimum repels
    assert _gd_1d(8.0).diverged_step is not None


def test_divergence_stops_the_run_and_keeps_the_finite_part():
    cfg = FlowConfig(dim=2, n_init=32, init_scale=1.0, method="gd", lr=7.0, t_max=7000.0)
    rec = simulate(cfg)
    k = rec.diverged_step
    assert k is not None and rec.status == f"diverged at step {k}"
    assert rec.n_steps == k - 1
    assert rec.t[-1] == pytest.approx((k - 1) * 7.0)
    for name in ("w", "magnitude", "angle", "loss"):
        assert torch.isfinite(getattr(rec, name)).all()
    assert rec.magnitude[-1].max() <= 1e6
    assert (rec.t.diff() > 0).all()
    # The same run, reporting progress often, diverges at the same step.
    gen, frac = simulate_iter(cfg), []
    while True:
        try:
            frac.append(next(gen).fraction)
        except StopIteration as stop:
            assert stop.value.diverged_step == k
            break


def test_compare_step_sizes():
    cfg = FlowConfig(dim=2, n_init=100, init_scale=0.2, t_max=10.0, frames=101, seed=2)
    out = compare_step_sizes(cfg, [0.05, 6.0])
    assert set(out) == {"gf", 0.05, 6.0}
    t_gf, loss_gf = out["gf"]
    assert isinstance(t_gf, np.ndarray) and t_gf.shape == loss_gf.shape == (101,)
    t, loss, div = out[0.05]
    assert div is None
    assert np.abs(np.interp(t_gf, t, loss) - loss_gf).max() < 0.01
    t, loss, div = out[6.0]
    assert div is not None and np.isfinite(loss).all() and len(t) == len(loss)


def test_invalid_config_raises_value_error_naming_the_range():
    with pytest.raises(ValueError, match=r"dim = 0 .*\[1, 64\]"):
        simulate(FlowConfig(dim=0))
    with pytest.raises(ValueError, match="method must be one of"):
        simulate(FlowConfig(method="sgd"))
    with pytest.raises(ValueError, match="lr"):
        simulate(FlowConfig(lr=1e3))
    with pytest.raises(ValueError, match="GiB"):
        next(simulate_iter(FlowConfig(n_init=1_000_000, frames=5000, dim=64)))


def test_seeded_runs_are_bit_identical():
    cfg = FlowConfig(dim=4, depth=2, balanced=False, n_init=20, t_max=2.0, seed=11)
    a, b = simulate(cfg), simulate(cfg)
    for name in ("w", "layers", "loss", "angle"):
        assert torch.equal(getattr(a, name), getattr(b, name))
    c = simulate(dataclasses.replace(cfg, seed=12))
    assert not torch.equal(a.w, c.w)
    d = simulate(dataclasses.replace(FINITE, t_max=1.0))
    e = simulate(dataclasses.replace(FINITE, t_max=1.0, n_init=5))
    assert torch.equal(d.X, e.X)                      # data independent of n_init


def test_float32_and_float64_agree_loosely():
    cfg = FlowConfig(dim=3, depth=2, n_init=50, t_max=10.0, frames=20, seed=3)
    a = simulate(cfg)
    b = simulate(dataclasses.replace(cfg, dtype="float32"))
    assert b.w.dtype == torch.float32 and a.w.dtype == torch.float64
    assert (a.w - b.w.double()).abs().max() < 1e-3
    assert (a.angle - b.angle.double()).abs().max() < 1e-3


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device"))])
def test_devices(device):
    cfg = dataclasses.replace(FINITE, t_max=2.0, depth=2)
    rec = simulate(cfg, device=device)
    assert rec.w.device.type == "cpu" and rec.active.device.type == "cpu"
    ref = simulate(cfg, device="cpu")
    assert (rec.w - ref.w).abs().max() < 1e-9


def test_recording_fields_population_depth_one():
    cfg = FlowConfig(dim=2, n_init=7, t_max=1.0, frames=5)
    rec = simulate(cfg)
    assert isinstance(rec, FlowRecording) and rec.config is cfg
    assert rec.t.tolist() == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert rec.w.shape == (5, 7, 2) and rec.layers.shape == (5, 7, 0)
    assert rec.magnitude.shape == rec.angle.shape == rec.loss.shape == (5, 7)
    assert torch.equal(rec.conservation, torch.zeros(5, 7, dtype=torch.float64))
    assert rec.X is None and rec.active is None and rec.support is None
    assert rec.teacher.tolist() == [1.0, 0.0] and rec.n_steps == 100
    assert torch.allclose(rec.phi, math.pi - rec.angle)
    assert torch.allclose(rec.magnitude[0], torch.full((7,), 0.1, dtype=torch.float64))
    assert rec.bound_lower.shape == (5, 7)


def test_frames_and_time_axis():
    rec = simulate(FlowConfig(method="gd", lr=0.3, t_max=3.0, frames=400, n_init=3))
    assert rec.n_steps == 10 and len(rec.t) == 11
    assert rec.t.tolist() == pytest.approx([0.3 * k for k in range(11)])
    rec = simulate(FlowConfig(dt=0.03, t_max=1.0, frames=7, n_init=3))
    assert rec.n_steps == 33 and len(rec.t) == 7
    assert rec.t[-1] == pytest.approx(1.0)
    rec = simulate(FlowConfig(integrator="adaptive", t_max=2.0, frames=5, n_init=3))
    assert rec.t.tolist() == pytest.approx([0, 0.5, 1.0, 1.5, 2.0])


def test_progress_generator_reports_often_and_cancels():
    cfg = FlowConfig(dim=3, n_init=2000, integrator="rk4", dt=0.01, t_max=10.0, frames=50)
    reports = [p for p in simulate_iter(cfg)]
    assert all(isinstance(p, Progress) and p.message for p in reports)
    fractions = [p.fraction for p in reports]
    assert len(fractions) >= 50 and fractions == sorted(fractions)      # every ≤ 2 % of steps
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    gen = simulate_iter(cfg)
    for _, p in zip(range(3), gen):
        pass
    gen.close()                                                          # cancel
    with pytest.raises(StopIteration):
        next(gen)


def test_progress_time_rule_reports_after_slow_steps(monkeypatch):
    """With a 0 s report interval every step reports (the ~40 ms rule, machine-independent)."""
    from engine.gradient_flow import runner
    monkeypatch.setattr(runner, "_REPORT_SECONDS", 0.0)
    reports = list(simulate_iter(FlowConfig(n_init=3, dt=0.1, t_max=3.0, frames=5)))
    assert len(reports) == 30 + 2                     # start, 30 steps, recording
    monkeypatch.setattr(runner, "_REPORT_SECONDS", 0.0)
    reports = list(simulate_iter(FlowConfig(n_init=3, integrator="adaptive", t_max=3.0)))
    assert len(reports) > 10

"""Population gradient flow vs the reduced ODEs (SCIENCE.md §1.4-1.5, KAT 2-4)."""
import math

import numpy as np
import pytest
import torch

from engine.gradient_flow import FlowConfig, convergence_times, simulate
from engine.gradient_flow.reduced import reduced_trajectory

REFERENCE = np.array([[7.39, 6.09, 5.68, 5.56, 5.53],
                      [8.54, 8.55, 8.60, 8.82, 9.36],
                      [9.24, 9.89, 11.1, 13.5, 17.1],
                      [9.67, 10.6, 12.4, 16.4, 23.6]])
REF_SCALES = [1.0, 0.3, 0.1, 0.03, 0.01]


def _reduced_from(rec, depth, nu):
    t = rec.t.numpy()
    return reduced_trajectory(rec.magnitude[0].numpy(), rec.angle[0].numpy(), t,
                              depth=depth, nu=nu, rtol=1e-12)


def test_reduced_ode_matches_full_flow_in_rd():
    cfg = FlowConfig(dim=5, n_init=12, init_scale=0.4, teacher_norm=1.3, teacher_angle=30.0,
                     integrator="rk4", dt=4e-3, t_max=6.0, frames=25, seed=3)
    rec = simulate(cfg)
    rho, theta = _reduced_from(rec, 1, 1.3)
    assert np.abs(rec.magnitude.numpy() - rho).max() < 1e-6
    assert np.abs(rec.angle.numpy() - theta).max() < 1e-6


def test_euler_full_flow_converges_first_order_to_reduced_ode():
    """Euler in R^d differs from the exact (r, θ) solution by O(dt): halving dt halves it."""
    errors = []
    for dt in (2e-3, 1e-3):
        rec = simulate(FlowConfig(dim=3, n_init=6, init_scale=0.5, integrator="euler", dt=dt,
                                  t_max=3.0, frames=4, seed=5))
        rho, theta = _reduced_from(rec, 1, 1.0)
        errors.append(max(np.abs(rec.magnitude.numpy() - rho).max(),
                          np.abs(rec.angle.numpy() - theta).max()))
    assert errors[1] < 2e-4
    assert 1.8 < errors[0] / errors[1] < 2.2


@pytest.mark.parametrize("depth", [2, 3])
def test_deep_chain_matches_reduced_balanced_ode(depth):
    cfg = FlowConfig(dim=3, depth=depth, n_init=8, init_scale=0.3, integrator="rk4",
                     dt=4e-3, t_max=8.0, frames=17, seed=depth)
    rec = simulate(cfg)
    rho, theta = _reduced_from(rec, depth, 1.0)
    assert np.abs(rec.magnitude.numpy() - rho).max() < 1e-6
    assert np.abs(rec.angle.numpy() - theta).max() < 1e-6
    assert rec.conservation.max() < 1e-8
    assert rec.layers.shape == (17, 8, depth - 1)


def test_conservation_holds_for_unbalanced_init():
    cfg = FlowConfig(dim=4, depth=3, n_init=10, init_scale=0.5, balanced=False, imbalance=0.7,
                     integrator="rk4", dt=4e-3, t_max=6.0, frames=13, seed=1)
    rec = simulate(cfg)
    A = rec.layers.prod(-1)
    q0 = (rec.magnitude[0] / A[0]) ** 2 - rec.layers[0, :, 0] ** 2
    assert q0.abs().min() > 1e-3                      # genuinely unbalanced
    assert torch.allclose(rec.magnitude[0], torch.full((10,), 0.5, dtype=torch.float64))
    assert rec.conservation.max() < 1e-8
    assert (rec.loss[-1] < rec.loss[0]).all()


@pytest.mark.parametrize("depth", [1, 3])
def test_angle_is_monotone_non_increasing(depth):
    cfg = FlowConfig(dim=3, depth=depth, n_init=50, init_scale=0.2, t_max=15.0, dt=0.01,
                     frames=200, seed=7)
    rec = simulate(cfg)
    assert (rec.angle.diff(dim=0) <= 1e-12).all()
    assert (rec.phi.diff(dim=0) >= -1e-12).all()


def test_antiparallel_start_stays_antiparallel_and_follows_lower_bound():
    cfg = FlowConfig(dim=2, n_init=4, init_dirs="even", init_scale=0.8, t_max=10.0, frames=21)
    rec = simulate(cfg)
    assert rec.angle[0].tolist() == pytest.approx([0, math.pi / 2, math.pi, math.pi / 2])
    assert (rec.angle[:, 2] >= math.pi - 1e-9).all()
    # dr/dt = -r/2 exactly on the ray θ = π: the §1.4 lower bound is attained.
    assert torch.allclose(rec.magnitude[:, 2], rec.bound_lower[:, 2], rtol=1e-9)


def test_magnitude_bounds_contain_every_trajectory():
    for scale in (0.05, 3.0):
        rec = simulate(FlowConfig(dim=3, n_init=100, init_scale=scale, teacher_norm=1.5,
                                  t_max=12.0, frames=60, seed=2))
        assert (rec.bound_lower <= rec.magnitude + 1e-9).all()
        assert (rec.magnitude <= rec.bound_upper + 1e-9).all()
        assert rec.magnitude.max() <= max(scale, 1.5) + 1e-9


def test_convergence_times_reproduce_reference_table():
    times = convergence_times(REF_SCALES, depths=(1, 2, 3, 4))
    assert times.shape == (4, 5)
    assert np.abs(times / REFERENCE - 1).max() < 0.02


def test_convergence_time_trends_with_initial_scale():
    scales = np.logspace(0, -2.5, 8)                 # decreasing ρ0
    times = convergence_times(scales, depths=(1, 2, 3, 4))
    assert (np.diff(times[0]) < 0).all()             # L = 1: smaller init is faster
    for row in times[1:]:
        assert (np.diff(row) > 0).all()              # L ≥ 2: smaller init is slower
    assert (np.diff(times[:, -1]) > 0).all()          # tiny init: deeper is slower


def test_convergence_time_never_for_antiparallel_start():
    times = convergence_times([0.5], depths=(1,), theta0=math.pi, t_cap=50.0)
    assert np.isinf(times).all()

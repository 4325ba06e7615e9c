"""Population runs in the plane of w(0) and v equal the d-dimensional runs (SCIENCE.md §1.3-1.5).

Known answer: the population gradient lies in span(w, v), so every fixed step keeps w in
the plane and the planar run is the same discrete map as the full one (rounding only).
``full_state=True`` forces the d-dimensional run.
"""
import dataclasses

import pytest
import torch

from engine.gradient_flow import FlowConfig, simulate
from engine.gradient_flow import runner
from engine.gradient_flow.model import initial_state, teacher
from engine.gradient_flow.planar import make_plane, planar_grad_fm
from engine.gradient_flow.closed_form import population_grad

FIELDS = ("w", "magnitude", "angle", "loss", "layers", "bound_lower")


def _full_run(cfg):
    return simulate(cfg, full_state=True)


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-300))


@pytest.mark.parametrize("dim,depth,balanced,method,integrator,seed", [
    (2, 1, True, "gf", "rk4", 0), (3, 1, True, "gf", "rk4", 1), (10, 1, True, "gf", "rk4", 2),
    (3, 1, True, "gf", "euler", 3), (3, 1, True, "gd", "euler", 4), (1, 1, True, "gf", "rk4", 5),
    (3, 2, True, "gf", "rk4", 6), (10, 3, False, "gf", "rk4", 7), (2, 2, False, "gd", "rk4", 8),
])
def test_planar_run_equals_full_run(dim, depth, balanced, method, integrator, seed):
    cfg = FlowConfig(dim=dim, depth=depth, balanced=balanced, method=method,
                     integrator=integrator, lr=1.5, n_init=40, init_scale=0.1, t_max=10.0,
                     frames=41, teacher_angle=25.0, seed=seed)
    assert runner._in_plane(cfg)
    fast, full = simulate(cfg), _full_run(cfg)
    assert fast.w.shape == full.w.shape and fast.w.shape[1:] == (40, dim)
    for name in FIELDS:
        a, b = getattr(fast, name), getattr(full, name)
        if b is not None and b.numel():
            assert _rel(a, b) < 1e-11, name
    assert torch.equal(fast.teacher, full.teacher) and fast.n_steps == full.n_steps


def test_planar_gd_diverges_at_the_same_step():
    cfg = FlowConfig(dim=4, n_init=16, init_scale=1.0, method="gd", lr=7.0, t_max=700.0)
    fast, full = simulate(cfg), _full_run(cfg)
    assert fast.diverged_step is not None and fast.diverged_step == full.diverged_step
    assert _rel(fast.w, full.w) < 1e-11


def test_planar_float32_run_agrees_with_the_full_run():
    cfg = FlowConfig(dim=3, n_init=50, t_max=10.0, frames=20, dtype="float32", seed=3)
    fast, full = simulate(cfg), _full_run(cfg)
    assert fast.w.dtype == torch.float32
    assert (fast.w - full.w).abs().max() < 1e-5


def test_starts_on_the_teacher_line_stay_on_it():
    """θ(0) = 0 and θ(0) = π (up to rounding): the line through v is invariant (§1.4)."""
    cfg = FlowConfig(dim=2, n_init=8, init_dirs="even", teacher_angle=30.0, init_scale=0.8,
                     t_max=10.0, frames=6)
    rec = simulate(cfg)
    assert rec.angle[:, 0].max() < 1e-15
    assert rec.angle[:, 4].min() > torch.pi - 1e-15
    assert torch.allclose(rec.magnitude[:, 4], rec.bound_lower[:, 4], rtol=1e-12)


def test_plane_basis_is_orthonormal_and_projects_back():
    cfg = FlowConfig(dim=5, n_init=30, init_dirs="random", teacher_angle=-40.0, seed=9)
    S0 = initial_state(cfg)
    w0 = S0[:, :5]
    v = teacher(cfg)
    plane = make_plane(torch.cat([w0, v.unsqueeze(0)]), v)    # last row: w0 ∥ v
    assert torch.allclose(plane.e2 @ plane.e1, torch.zeros(31, dtype=torch.float64),
                          atol=1e-15)
    assert torch.allclose(torch.linalg.vector_norm(plane.e2, dim=-1),
                          torch.ones(31, dtype=torch.float64))
    xy = plane.project(torch.cat([w0, v.unsqueeze(0)]))
    assert xy[-1, 1] == 0.0 and xy[-1, 0] == pytest.approx(float(v.norm()))
    assert torch.allclose(plane.lift(xy[:, 0], xy[:, 1])[:30], w0, atol=1e-15)


def test_planar_gradient_is_the_rotated_population_gradient():
    """planar_grad_fm((w·e1, w·e2)) = (∇L(w)·e1, ∇L(w)·e2) against v = (ν, 0) (§1.3)."""
    gen = torch.Generator().manual_seed(4)
    v = torch.tensor([0.3, -1.1, 0.4], dtype=torch.float64)
    w = torch.randn(200, 3, generator=gen, dtype=torch.float64)
    plane = make_plane(w, v)
    xy = plane.project(w)
    g = population_grad(w, v)
    planar = planar_grad_fm(xy.T.contiguous(), float(v.norm()))
    expect = torch.stack([g @ plane.e1, (g * plane.e2).sum(-1)])
    assert torch.allclose(planar, expect, atol=1e-14, rtol=1e-12)


def test_adaptive_and_finite_runs_keep_the_full_state():
    base = FlowConfig()
    assert not runner._in_plane(dataclasses.replace(base, integrator="adaptive"))
    assert not runner._in_plane(dataclasses.replace(base, data="finite"))
    assert runner._in_plane(dataclasses.replace(base, method="gd", integrator="adaptive"))


def test_threaded_slices_equal_one_thread_and_the_full_run():
    """Batches of ≥ 2 chunks run one slice per worker thread (#16): the same numbers as one
    thread (each trajectory's arithmetic is unchanged) and as the d-dimensional run."""
    from engine.gradient_flow.planar import CHUNK
    cfg = FlowConfig(dim=3, n_init=2 * CHUNK + 7, t_max=0.2, frames=5, seed=11)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        split = simulate(cfg)
        torch.set_num_threads(1)
        single = simulate(cfg)
    finally:
        torch.set_num_threads(threads)
    full = _full_run(cfg)
    assert torch.equal(split.w, single.w) and torch.equal(split.loss, single.loss)
    for name in ("w", "magnitude", "angle", "loss"):
        assert _rel(getattr(split, name), getattr(full, name)) < 1e-11, name


def test_threaded_slices_find_the_same_divergence_step():
    """A diverging GD run split over threads replays the failing block on the whole batch:
    the same first bad step and frames as one thread."""
    from engine.gradient_flow.planar import CHUNK
    cfg = FlowConfig(dim=4, n_init=2 * CHUNK + 3, init_scale=1.0, method="gd", lr=7.0,
                     t_max=210.0, frames=7, seed=2)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        split = simulate(cfg)
        torch.set_num_threads(1)
        single = simulate(cfg)
    finally:
        torch.set_num_threads(threads)
    assert split.diverged_step is not None and split.diverged_step == single.diverged_step
    assert torch.equal(split.t, single.t) and torch.equal(split.w, single.w)


def test_divergence_check_one_pass_bound_is_exact():
    """The one-pass bound max|w_i|·√d ≤ threshold never hides a norm above the threshold,
    a NaN or an infinity (the exact norms decide whenever the bound does not clear)."""
    S = torch.zeros(2, 10, dtype=torch.float64)
    assert not runner._is_bad(S, 2, 1e6)
    S[:, 2] = 8e5                                  # ‖w‖ = 1.13e6 > 1e6 with max|w_i| < 1e6
    assert runner._is_bad(S, 2, 1e6)
    S[:, 2] = 6e5                                  # ‖w‖ = 8.5e5: bound fails, norms clear
    assert not runner._is_bad(S, 2, 1e6)
    for bad in (float("nan"), float("inf"), -float("inf")):
        T = torch.zeros(2, 10, dtype=torch.float64)
        T[1, 7] = bad
        assert runner._is_bad(T, 2, 1e6)
    L = torch.ones(3, 4, dtype=torch.float64)       # depth 2: (w1, w2, a2), norms |a2|‖w‖
    L[2, 1] = 2e6
    assert runner._is_bad(L, 2, 1e6) and not runner._is_bad(L[:, [0, 2, 3]], 2, 1e6)

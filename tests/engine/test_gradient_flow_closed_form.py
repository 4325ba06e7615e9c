"""Closed forms of SCIENCE.md §1.2-1.4 (KAT 1): Monte Carlo, autograd, reduced ODE, bounds."""
import math

import numpy as np
import pytest
import torch

from engine.core import make_generator
from engine.gradient_flow import (empirical_grad, empirical_loss, magnitude_bounds,
                                  population_grad, population_loss, reduced_rhs)
from engine.gradient_flow.closed_form import angle_to
from engine.gradient_flow.kernels import chain_grad_fm, pop_grad_fm

F64 = torch.float64


def _randn(*shape, seed=0):
    return torch.randn(*shape, generator=make_generator(seed), dtype=F64)


@pytest.fixture(scope="module")
def gaussian_samples():
    return _randn(2_000_000, 5, seed=123)


def _kernel(w, u):
    cos = (w @ u) / (w.norm() * u.norm())
    theta = torch.acos(cos)
    return w.norm() * u.norm() / (2 * math.pi) * (torch.sin(theta) + (math.pi - theta) * cos)


def test_kernel_loss_and_gradient_match_monte_carlo(gaussian_samples):
    x = gaussian_samples
    w, v = _randn(5, seed=1), _randn(5, seed=2)
    zw, zv = torch.relu(x @ w), torch.relu(x @ v)
    mc_kernel = (zw * zv).mean()
    assert abs(mc_kernel / _kernel(w, v) - 1) < 1e-2
    mc_loss = 0.5 * ((zw - zv) ** 2).mean()
    assert abs(mc_loss / population_loss(w, v) - 1) < 1e-2
    mc_grad = (((zw - zv) * (x @ w > 0)).unsqueeze(-1) * x).mean(0)
    exact = population_grad(w, v)
    assert (mc_grad - exact).norm() / exact.norm() < 1e-2


def test_self_kernel_is_half_norm_squared(gaussian_samples):
    w = _randn(5, seed=3)
    assert abs((torch.relu(gaussian_samples @ w) ** 2).mean() / (w @ w / 2) - 1) < 1e-2


def test_autograd_of_closed_form_loss_equals_analytic_gradient():
    w = _randn(64, 7, seed=4).requires_grad_(True)
    v = _randn(7, seed=5)
    population_loss(w, v).sum().backward()
    assert torch.allclose(w.grad, population_grad(w.detach(), v), rtol=0, atol=1e-10)


def test_gradient_is_batched_over_leading_dims():
    w, v = _randn(3, 4, 6, seed=6), _randn(6, seed=7)
    full = population_grad(w, v)
    assert full.shape == w.shape
    assert torch.allclose(full[1, 2], population_grad(w[1, 2], v), atol=1e-15)


def test_zero_weight_is_safe():
    v = torch.tensor([1.0, 2.0, 0.0], dtype=F64)
    for dtype in (torch.float32, F64):
        g = population_grad(torch.zeros(3, dtype=dtype), v.to(dtype))
        assert torch.isfinite(g).all()
        assert torch.allclose(g, -v.to(dtype) / 4)
    assert population_loss(torch.zeros(3, dtype=F64), v) == pytest.approx(5 / 4)
    assert angle_to(torch.zeros(2, 3, dtype=F64), v).tolist() == [math.pi / 2] * 2


def test_optimum_and_antiparallel_values():
    v = torch.tensor([0.6, 0.8], dtype=F64)
    assert population_loss(v, v) == pytest.approx(0.0, abs=1e-15)
    assert population_grad(v, v).abs().max() < 1e-15
    # theta = pi: L = r²/4 + ν²/4 and the gradient is w/2 (the ray is invariant).
    w = -2.0 * v
    assert population_loss(w, v) == pytest.approx(1.0 + 0.25)
    assert torch.allclose(population_grad(w, v), w / 2, atol=1e-15)


def test_feature_major_kernel_matches_public_gradient():
    w, v = _randn(50, 4, seed=8), _randn(4, seed=9)
    assert torch.allclose(pop_grad_fm(w.T.contiguous(), v).T, population_grad(w, v), atol=1e-15)


def test_chain_rule_gradient_matches_autograd():
    dim, depth, n = 3, 4, 10
    v = _randn(dim, seed=10)
    w = _randn(n, dim, seed=11).requires_grad_(True)
    a = (0.5 + torch.rand(n, depth - 1, generator=make_generator(12), dtype=F64)).requires_grad_(True)
    population_loss(w * a.prod(-1, keepdim=True), v).sum().backward()
    S = torch.cat([w.detach(), a.detach()], -1).T.contiguous()
    g = chain_grad_fm(S, dim, lambda U: pop_grad_fm(U, v)).T
    assert torch.allclose(g, torch.cat([w.grad, a.grad], -1), rtol=0, atol=1e-10)


def test_empirical_loss_and_gradient():
    X, v = _randn(40, 3, seed=13), _randn(3, seed=14)
    y = torch.relu(X @ v) + 0.1 * _randn(40, seed=15)
    w = _randn(5, 3, seed=16).requires_grad_(True)
    loss = empirical_loss(w, X, y)
    manual = 0.5 * ((torch.relu(w.detach() @ X.T) - y) ** 2).mean(-1)
    assert torch.allclose(loss.detach(), manual)
    loss.sum().backward()
    assert torch.allclose(empirical_grad(w.detach(), X, y), w.grad, atol=1e-12)
    assert empirical_loss(v, X, torch.relu(X @ v)) == 0


def test_reduced_rhs_one_layer_formula_numpy_and_torch():
    r, th = np.array([0.1, 1.0, 2.5]), np.array([0.3, 1.2, 3.0])
    nu = 1.7
    dr, dth = reduced_rhs(r, th, depth=1, nu=nu)
    g = np.sin(th) + (np.pi - th) * np.cos(th)
    assert np.allclose(dr, -r / 2 + nu / (2 * np.pi) * g)
    assert np.allclose(dth, -(nu / (2 * np.pi * r)) * (np.pi - th) * np.sin(th))
    dr_t, dth_t = reduced_rhs(torch.tensor(r), torch.tensor(th), depth=1, nu=nu)
    assert torch.is_tensor(dr_t) and np.allclose(dr_t.numpy(), dr)
    assert np.allclose(dth_t.numpy(), dth)


def test_reduced_rhs_matches_projected_full_gradient():
    """§1.4: dr/dt = -ŵ·∇L, dθ/dt from the orthogonal part (checked in d = 4)."""
    v = torch.tensor([1.3, 0.0, 0.0, 0.0], dtype=F64)
    w = torch.tensor([0.4, 0.7, -0.2, 0.1], dtype=F64)
    r, theta = w.norm(), angle_to(w, v)
    vel = -population_grad(w, v)
    dt = 1e-7
    theta_next = angle_to(w + dt * vel, v)
    dr, dth = reduced_rhs(r, theta, depth=1, nu=1.3)
    assert float(dr) == pytest.approx(float(vel @ w / r), rel=1e-12)
    assert float(dth) == pytest.approx(float((theta_next - theta) / dt), rel=1e-5)


def test_reduced_rhs_depth_broadcast_and_grid():
    R, TH = np.meshgrid(np.linspace(0.05, 2, 6), np.linspace(0.05, 3.0, 5))
    for depth in (1, 2, 4):
        dR, dTH = reduced_rhs(R, TH, depth=depth, nu=1.0)
        assert dR.shape == R.shape and np.isfinite(dR).all() and (dTH <= 0).all()
    both = reduced_rhs(0.3, 1.0, depth=np.array([1, 2, 3]), nu=1.0)[0]
    assert both.shape == (3,)


def test_magnitude_bounds_shape_and_values():
    t, r0 = np.linspace(0, 10, 11), np.array([0.1, 1.0, 3.0])
    lo, hi = magnitude_bounds(t, r0, 1.0)
    assert lo.shape == hi.shape == (11, 3)
    assert np.allclose(lo[0], r0) and np.allclose(hi[0], r0)
    assert np.allclose(hi[-1], 1.0 + (r0 - 1.0) * np.exp(-5.0))
    lo_t, _ = magnitude_bounds(torch.tensor(t), torch.tensor(r0), 1.0)
    assert torch.is_tensor(lo_t) and np.allclose(lo_t.numpy(), lo)

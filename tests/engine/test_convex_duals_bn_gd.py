"""Known answers of batch norm's gradient-descent variant (SCIENCE.md §7.2.4): GD on w is GD
in whitened coordinates preconditioned by Σ², the truncated-whitening ladder p*(k) (the
constant fit in closed form, p*(1) against cvxpy + Clarabel, p*(r) = p* of §7.2.5 KAT 1), and
plain GD lingering at p*(1) on strongly anisotropic data where Adam does not."""
import numpy as np
import pytest

from engine.convex_duals import batchnorm as bn
from engine.convex_duals.bn_gd import (constant_fit_optimum, truncated_whitening,
                                       truncation_ladder, whitened_gradient_step)
from engine.core import drain

cp = pytest.importorskip("cvxpy")
from tests.engine.duals_reference import scalar_cone_program  # noqa: E402


def test_gd_on_w_is_sigma_squared_preconditioned_gd_on_q():
    X, y = bn._dataset(bn.Params(n=10))
    rng = np.random.default_rng(5)
    weights = [rng.standard_normal((2, 6)), rng.standard_normal(6), rng.standard_normal(6),
               rng.standard_normal(6)]
    via_w, via_q = whitened_gradient_step(X, y, weights, lr=0.05)
    np.testing.assert_allclose(via_w, via_q, rtol=1e-10, atol=1e-12)
    s = np.linalg.svd(X - X.mean(0), compute_uv=False)
    moved = via_q - np.diag(s) @ np.linalg.svd(X - X.mean(0))[2] @ weights[0]
    assert np.abs(moved[0]).mean() > 10 * np.abs(moved[1]).mean()   # σ₁² ≫ σ₂²: rows differ


def test_truncation_ladder_known_values():
    p = bn.Params(n=10, beta=0.1)
    X, y = bn._dataset(p)
    Ut, _, _ = bn.whiten(X)
    ks, values = truncation_ladder(Ut, y, 0.1, p_star=1.962039)
    assert ks.tolist() == [0, 1, 2]
    s = cp.Variable()
    e = np.full(10, 1 / np.sqrt(10))
    const = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(e * s - y) + 0.1 * cp.abs(s))).solve(
        solver=cp.CLARABEL)
    assert values[0] == pytest.approx(const, abs=1e-7)
    assert constant_fit_optimum(y, 0.1) == values[0]
    assert values[1] == pytest.approx(scalar_cone_program(truncated_whitening(Ut, 1), y, 0.1),
                                      abs=2e-5)
    assert values[0] >= values[1] >= values[2] == 1.962039


def test_plain_gd_lingers_at_the_top_direction_optimum_adam_does_not():
    common = dict(n=12, beta=0.1, minor_scale=0.05, steps=600, seeds=2, width=20)
    gd = drain(bn.run(bn.Params(optimizer="GD", lr=0.02, **common)))
    p1 = gd.arrays["ladder_value"][1]
    assert gd.optimizer == "GD" and gd.arrays["ladder_k"].tolist() == [0, 1, 2]
    assert np.all(np.abs(gd.gd_objectives[:, -1] - p1) < 0.05)
    assert np.all(gd.gd_objectives[:, -1] >= gd.convex_objective - gd.certificate)
    adam = drain(bn.run(bn.Params(optimizer="Adam", lr=0.01, **common)))
    assert np.all(adam.gd_objectives[:, -1] < p1 - 0.3)
    assert "ladder_value" not in adam.arrays

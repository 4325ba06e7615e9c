"""SCIENCE.md §2.3, §2.5: the convex programs solved on exactly rescaled data, and the time
budget of the solve (issue #17: coordinates up to the accepted 1e6, tiny λ)."""
import time

import numpy as np
import pytest

from engine.regions import enumerate_patterns, fit_convex
from engine.regions.ipm import basic_primal
from engine.regions.patterns import augment
from engine.regions.scaling import power_of_two_scale
from tests.engine.test_regions_convex import cvxpy_relu_features


def _data(n, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)), np.sign(rng.normal(size=n))


def test_power_of_two_scale():
    assert power_of_two_scale(np.array([3.0, -1e4])) == 2.0 ** 13
    assert power_of_two_scale(np.zeros(3)) == 1.0


@pytest.mark.parametrize("formulation", ["relu", "gated"])
def test_scale_equivariance_without_bias(formulation):
    """No bias: the program on (sX, ty) with λst is t² times the one on (X, y) with λ, and
    u = (t/s)ũ (exact: the cones and patterns do not change)."""
    X, y = _data(10, seed=3)
    s, t, lam = 1.0e4, 7.0, 2e-3
    ref = fit_convex(X, y, lam, formulation, tol=1e-9, bias=False)
    big = fit_convex(X * s, y * t, lam * s * t, formulation, tol=1e-9, bias=False)
    assert ref.certified and big.certified
    assert big.objective == pytest.approx(t * t * ref.objective, rel=1e-7)
    np.testing.assert_allclose(big.fitted, t * ref.fitted, atol=1e-6 * t)
    assert big.max_dual_constraint <= big.lam * (1 + 1e-9)


def test_large_coordinates_with_bias_match_cvxpy(cvxpy_clarabel):
    """Points at ~1e4 with the bias column: certified, and the objective equals Clarabel's
    on the normalised program (A/s, λ/s: exactly the same program)."""
    X, y = _data(9, seed=8)
    s = 2.0 ** 13
    sol = fit_convex(X * s, y, 0.02 * s, "relu", tol=1e-9)
    assert sol.certified and np.isfinite(sol.objective) and sol.cone_violation <= 1e-9
    ref = cvxpy_relu_features(augment(X * s) / s, y, 0.02, enumerate_patterns(X),
                              cvxpy_clarabel)
    assert sol.objective == pytest.approx(ref, rel=1e-6)


def test_hard_program_stops_uncertified_within_its_time_limit():
    """Coordinates 1e5 with a bias and λ = 1e-3 (issue #17's fuzz finding: NaN in the warm
    start, then > 60 s): finite, NOT certified, within the time budget."""
    X, y = _data(14, seed=0)
    t0 = time.perf_counter()
    sol = fit_convex(X * 1e5, y, 1e-3, "relu", tol=1e-6, time_limit=1.0)
    assert time.perf_counter() - t0 < 5.0
    assert np.isfinite(sol.objective) and np.isfinite(sol.dual_value)
    assert sol.dual_value <= sol.objective
    if not sol.certified:
        assert sol.summary.startswith("NOT certified")


def test_basic_primal_of_a_failed_barrier_is_zero():
    A = augment(np.eye(3, 2))
    D = np.ones((2, 3))
    U = np.array([[np.nan, 0, 0], [1.0, 0, 0]])
    assert not basic_primal(A, np.ones(3), D, np.zeros(3), U).any()
    assert not basic_primal(A, np.ones(3), D, np.zeros(3), np.zeros((2, 3))).any()


def test_tiny_lambda_tight_tol_says_why_it_stopped():
    """λ = 2e-6 with tol = 1e-12 asks for more than double precision gives: the solve stops at
    its time limit, uncertified, and the summary names both reasons."""
    rng = np.random.default_rng(100)
    X, y = rng.normal(size=(13, 2)), np.sign(rng.normal(size=13))
    t0 = time.perf_counter()
    sol = fit_convex(X, y, 2e-6, "relu", tol=1e-12, time_limit=1.0)
    assert time.perf_counter() - t0 < 5.0
    assert not sol.certified and np.isfinite(sol.objective)
    assert "time budget of 1 s used up" in sol.summary
    assert "λ too small for the tolerance" in sol.summary
    easy = fit_convex(X, y, 2e-6, "relu", tol=1e-6)
    assert easy.certified and easy.note == ""

"""ReLU-discriminator WGAN game (SCIENCE.md §7.4.1, §7.4.4): the exact oracles against dense
sampling, G = X makes the critic zero, the certified gap, agreement with cvxpy + Clarabel on
the fixed-support program, GDA never below the certified bound, refused settings."""
import dataclasses

import numpy as np
import pytest

from engine.convex_duals import ConvexDualsError
from engine.convex_duals.wgan import Params, make_data, run
from engine.convex_duals.wgan_relu import sphere_directions
from engine.convex_duals.wgan_relu_game import dual_bound, penalty_objective, solve_relu_game
from engine.convex_duals.wgan_relu_oracle import (critic_max, critic_values, discriminator,
                                                  lift, penalised_min)
from engine.convex_duals.wgan_relu_run import check_relu, whiten
from engine.core import drain
from tests.engine.duals_reference_wgan import arrangement_cells as _cells


def _weights(n: int, mass: np.ndarray) -> np.ndarray:
    return np.r_[np.full(n, 1.0 / n), -mass]


def test_critic_is_zero_for_the_data_and_exact_against_dense_sphere():
    """§7.4.3 KAT 3, and the arrangement oracle is never below a dense sampling of S² and
    above it by at most the sampling's resolution."""
    X, _ = make_data(Params(samples=15))
    assert critic_max(lift(np.r_[X, X]), _weights(15, np.full(15, 1 / 15)))[0] < 1e-15
    rng = np.random.default_rng(3)
    G = 0.7 * rng.standard_normal((15, 2)) + 0.2
    P, w = lift(np.r_[X, G]), _weights(15, np.full(15, 1 / 15))
    exact, u = critic_max(P, w)
    dense = np.abs(critic_values(P, w, sphere_directions(200_000))).max()
    assert dense <= exact + 1e-12 and exact - dense < 1e-3
    assert abs(critic_values(P, w, u)[0]) == pytest.approx(exact)


def test_penalised_min_exact_against_dense_grid():
    rng = np.random.default_rng(1)
    for m in (1, 2, 6):
        U, v = rng.standard_normal((m, 3)), 1.5 * rng.standard_normal(m)
        value, y = penalised_min(U, v)
        axis = np.linspace(-6, 6, 601)
        gx, gy = np.meshgrid(axis, axis)
        Y = np.c_[gx.ravel(), gy.ravel()]
        grid = np.min(0.5 * np.sum(Y * Y, 1) - discriminator(Y, U, v))
        assert value <= grid + 1e-12 and grid - value < 5e-3
        assert 0.5 * y[0] @ y[0] - discriminator(y[:1], U, v)[0] == pytest.approx(value)


@pytest.fixture(scope="module")
def blobs():
    X, _ = make_data(Params(data="two_blobs", samples=12))
    return X, solve_relu_game(X, 0.25)


def test_certified_gap_and_its_two_bounds(blobs):
    """Gap ≤ 1e-6; the upper bound is a feasible distribution (exact critic ≤ β) of that
    value, the lower bound the dual function of the reported discriminator."""
    X, sol = blobs
    assert 0.0 <= sol.gap <= 1e-6
    assert sol.mass.min() >= 0 and sol.mass.sum() == pytest.approx(1.0)
    kappa = critic_max(lift(np.r_[X, sol.support]), _weights(len(X), sol.mass))[0]
    assert kappa <= 0.25 + 1e-9
    assert 0.5 * sol.mass @ np.sum(sol.support ** 2, 1) == pytest.approx(sol.upper, abs=1e-12)
    assert dual_bound(X, sol.U, sol.v, 0.25) == pytest.approx(sol.lower, abs=1e-12)
    assert np.all(np.diff(sol.history_upper) <= 1e-15)
    # the data themselves are feasible (critic 0) but cost more
    assert sol.upper < 0.5 * np.mean(np.sum(X ** 2, 1))


def test_fixed_support_program_matches_cvxpy_clarabel(cvxpy_clarabel):
    """The same program with the critic written exactly, one second-order cone per cell and
    sign: ``max_{u∈K, ‖u‖≤1} ±a·u ≤ β ⇔ ∃λ ≥ 0: ‖±a + A^Tλ‖ ≤ β`` (§7.4.1)."""
    cp = cvxpy_clarabel
    X, _ = make_data(Params(data="ring", samples=6, data_seed=2))
    extra = np.random.default_rng(4).uniform(-1, 1, (5, 2))
    beta = 0.15
    sol = solve_relu_game(X, beta, columns=False, support=extra, tol=1e-9)
    S = np.r_[X, extra]
    P = lift(np.r_[X, S])
    cells = _cells(P)                                   # (C, N) 0/1
    p = cp.Variable(len(S), nonneg=True)
    # a_c(p) = (1/n) Σ_{x active} x̃ − Σ_k p_k s_ck s̃_k, one row per cell
    a = (cells[:, :len(X)] @ lift(X)) / len(X) - cells[:, len(X):] @ cp.diag(p) @ lift(S)
    sign = 2.0 * cells - 1.0
    cons = [cp.sum(p) == 1]
    for s in (1, -1):
        lam = cp.Variable(cells.shape, nonneg=True)
        cons.append(cp.norm(s * a + cp.multiply(lam, sign) @ P, 2, axis=1) <= beta)
    prob = cp.Problem(cp.Minimize(0.5 * np.sum(S ** 2, 1) @ p), cons)
    prob.solve(solver="CLARABEL")
    assert sol.gap <= 1e-6
    assert sol.upper == pytest.approx(prob.value, abs=2e-6)
    # generating points can only help: the program over all of R² is no larger
    free = solve_relu_game(X, beta)
    assert free.upper <= sol.upper + 1e-9


def test_gda_never_beats_the_certified_value_and_is_deterministic():
    p = Params(discriminator="relu", data="two_blobs", samples=12, beta=0.25, steps=160,
               seeds=3, lr=0.02, neurons=6)
    out = drain(run(p))
    again = drain(run(p))
    np.testing.assert_array_equal(out.gd_objectives, again.gd_objectives)
    assert out.certificate_kind == "duality gap" and out.certificate <= 1e-6
    assert out.optimizer == "GDA" and out.seeds.tolist() == [0, 1, 2]
    rows = out.gd_objectives
    assert np.isfinite(rows).all()
    assert np.all(rows >= out.convex_objective - out.certificate - 1e-9)
    a = out.arrays
    assert a["critic_convex"].shape == (a["grid_y"].size, a["grid_x"].size)
    assert a["critic_path"].shape == rows.shape
    # the recorded objective is the exact penalty of the recorded generator
    X, Z = make_data(p)
    W = a["gda_path"][1, -1].reshape(2, 2)
    weight = 2 * np.abs(a["neurons_convex"][:, 3]).sum()
    f, kappa = penalty_objective(whiten(Z) @ W, X, 0.25, weight)
    assert f == pytest.approx(rows[1, -1]) and kappa == pytest.approx(a["critic_path"][1, -1])


def test_relu_game_partials_carry_the_outcomes_certificate():
    gen = run(Params(discriminator="relu", data="ring", samples=10, beta=0.25, steps=100,
                     seeds=1))
    stages = []
    while True:
        try:
            stages.append(next(gen).partial)
        except StopIteration as stop:
            out = stop.value
            break
    convex = next(q for q in stages if q and q.get("stage") == "convex")
    assert convex["certificate"] == out.certificate
    assert convex["certificate_kind"] == "duality gap"
    assert convex["objective"] == out.convex_objective


@pytest.mark.parametrize("change, words", [
    (dict(beta=0.0), "β = 0"),
    (dict(samples=200), "n ≤ 40"),
])
def test_refused_relu_settings(change, words):
    base = Params(discriminator="relu", samples=20)
    with pytest.raises(ConvexDualsError, match=words):
        drain(run(dataclasses.replace(base, **change)))


def test_rank_deficient_data_and_latent_refused():
    p = Params(discriminator="relu", samples=10)
    line = np.c_[np.linspace(-1, 1, 10), 2 * np.linspace(-1, 1, 10)]
    Z = np.random.default_rng(0).standard_normal((10, 2))
    with pytest.raises(ConvexDualsError, match="one line"):
        check_relu(p, line, Z)
    with pytest.raises(ConvexDualsError, match="whitened"):
        check_relu(p, make_data(p)[0], np.c_[Z[:, 0], Z[:, 0]])

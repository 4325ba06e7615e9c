"""Known answers of the vector-output relaxation for any d (SCIENCE.md §7.1.4, §7.1.5,
§7.1.9 KAT 2): the ADMM optimum against cvxpy + Clarabel on the literal program with all n²
cone constraints, the facet-row reduction, the whitened closed form, and the run's refusals."""
import itertools

import numpy as np
import pytest

from engine.convex_duals import ConvexDualsError, data
from engine.convex_duals import vector_output as vo
from engine.convex_duals.cop_relaxation import RelaxationProblem, facet_rows, solve_relaxation
from engine.convex_duals.cop_sampled import network_value, read_network
from engine.convex_duals.patterns import sample_patterns
from engine.core import drain

pytest.importorskip("cvxpy")
from tests.engine.duals_reference_cop import literal_relaxation  # noqa: E402

RELAX = "relaxation (any d)"


def test_facet_rows_keep_the_cone_and_drop_implied_rows():
    rng = np.random.default_rng(3)
    K = rng.standard_normal((6, 4))
    K = np.vstack([K, K[0] + 2 * K[1]])                  # implied by rows 0 and 1
    F = facet_rows(K)
    assert len(F) <= 6
    u = rng.standard_normal((4, 20000))
    np.testing.assert_array_equal((K @ u >= 0).all(0), (F @ u >= 0).all(0))


def test_relaxation_in_d4_matches_clarabel_and_its_dual_bound_holds():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 4))
    Y = np.eye(3)[rng.integers(0, 3, 12)]
    pats = sample_patterns(X, 20, rng)
    prob = RelaxationProblem.build(X, Y, 0.5, pats)
    assert prob.F.shape[1] < 12                          # facet rows only (§7.6 budget)
    sol = drain(solve_relaxation(prob, tol=1e-6, max_iters=10000))
    ref = literal_relaxation(X, Y, 0.5, pats)
    assert sol.objective == pytest.approx(ref, rel=1e-6)
    assert sol.lower_bound <= ref + 1e-9 and sol.gap <= 1e-6 * ref
    U, V, ratio = read_network(prob, sol.blocks)
    if ratio.max() <= 1e-3:                              # rank 1: the network attains it
        assert network_value(X, Y, U, V, 0.5) == pytest.approx(sol.objective, rel=1e-4)
    assert network_value(X, Y, U, V, 0.5) >= ref - 1e-6


def test_relaxation_on_whitened_data_equals_the_soft_thresholded_svd():
    X = data.whitened(6, 8, np.random.default_rng(1))    # §7.1.9 KAT 2
    Y = data.one_hot(np.array([0, 1, 1, 2, 2, 2]), 3)
    every = np.array([p for p in itertools.product([0, 1], repeat=6) if any(p)], bool).T
    sol = drain(solve_relaxation(RelaxationProblem.build(X, Y, 0.8, every), tol=1e-8))
    closed = vo.soft_thresholded_svd(Y, 0.8)[3]
    assert closed == pytest.approx(2.357011, abs=1e-6)
    assert sol.objective == pytest.approx(closed, rel=1e-7)
    assert sol.lower_bound == pytest.approx(closed, rel=1e-7)


def test_relaxation_run_reads_off_a_network_and_states_the_bound():
    p = vo.Params(mode=RELAX, dataset="teacher", n=12, dim=4, patterns=16, beta=0.5,
                  steps=150, seeds=2, width=12)
    out = drain(vo.run(p))
    a = out.arrays
    assert out.certificate_kind == "relaxation duality gap"
    assert out.certificate <= 1e-5 * out.convex_objective
    assert a["X"].shape == (12, 4) and a["first_layer"].shape[1] == 4
    assert a["block_rank_ratio"].max() <= 1e-3           # this instance: every block rank 1
    assert float(a["network_objective"][0]) == pytest.approx(out.convex_objective, rel=1e-4)
    assert "upper bound on the global p*" in " ".join(out.notes)
    assert np.all((a["gd_sampled_fraction"] >= 0) & (a["gd_sampled_fraction"] <= 1))
    np.testing.assert_allclose(np.linalg.svd(a["prediction"], compute_uv=False),
                               a["sv_relaxation"])


@pytest.mark.parametrize("kw, match", [
    (dict(dataset="spiral"), "does not fit"),
    (dict(dataset="mixture", patterns=400, dim=12), "sample fewer patterns"),
    (dict(dataset="mixture", n=3, dim=6, classes=3, beta=0.0), "β = 0"),
])
def test_relaxation_refuses_ill_posed_settings(kw, match):
    with pytest.raises(ConvexDualsError, match=match):
        drain(vo.run(vo.Params(mode=RELAX, **kw)))

"""SCIENCE.md §2.3 / §2.5: dual-barrier warm starts of small programs (engine.regions.ipm*)."""
import numpy as np
import pytest

from engine.regions import convex, enumerate_patterns, fit_convex, make_dataset
from engine.regions.ipm import basic_primal, gated_barrier
from engine.regions.patterns import augment
from engine.regions.programs import fit_value

LAM = 0.01


def _without_barrier(*args, **kwargs):
    """``fit_convex`` by the active-set path alone (the barrier warm start switched off)."""
    old = convex.BARRIER_N
    convex.BARRIER_N = 0
    try:
        return fit_convex(*args, **kwargs)
    finally:
        convex.BARRIER_N = old


def _problem(n, seed=0, lam=LAM):
    X, y = make_dataset("spiral", n, 0.05, seed)
    D = enumerate_patterns(X)
    D = D[D.any(axis=1)]
    return X, y, augment(X), D


@pytest.fixture(scope="module")
def reference():
    """Optimum of the n = 10 exact gated program by the active-set path (no barrier)."""
    X, y, A, D = _problem(10)
    sol = _without_barrier(X, y, LAM, "gated", tol=1e-10, patterns=D)
    return X, y, A, D, sol


def test_barrier_dual_point_is_strictly_feasible_and_near_optimal(reference):
    _, y, A, D, sol = reference
    rho, U, ok = gated_barrier(A, y, D.astype(float), LAM, rel_gap=1e-7)
    assert ok
    values = np.linalg.norm((D * rho) @ A, axis=1)
    assert values.max() < LAM                                  # interior of the dual set
    dual = float(rho @ y) - 0.5 * len(y) * float(rho @ rho)
    assert dual <= sol.objective * (1 + 1e-12)                 # weak duality
    assert dual == pytest.approx(sol.objective, rel=1e-7)
    primal = fit_value(A, D, np.ones(len(D)), U, y, LAM)        # path's primal point
    assert primal >= sol.objective * (1 - 1e-12)               # a feasible primal point


def test_basic_primal_is_sparse_and_near_optimal(reference):
    _, y, A, D, sol = reference
    Df = D.astype(float)
    rho, U, _ = gated_barrier(A, y, Df, LAM)
    B = basic_primal(A, y, Df, rho, U)
    support = int((np.linalg.norm(B, axis=1) > 0).sum())
    assert 1 <= support <= len(y)                              # a basic solution
    assert (np.linalg.norm(U, axis=1) > 0).sum() > support     # the barrier's is not
    value = fit_value(A, D, np.ones(len(D)), B, y, LAM)
    assert value == pytest.approx(sol.objective, rel=1e-5)


@pytest.mark.parametrize("n, lam", [(10, LAM), (20, LAM), (30, 1e-3), (12, 10.0)])
def test_barrier_path_matches_active_set_path(n, lam):
    """Same certified optimum with and without the warm start (λ = 10: the zero solution)."""
    X, y, _, D = _problem(n, seed=n)
    fast = fit_convex(X, y, lam, "gated", tol=1e-8, patterns=D)
    slow = _without_barrier(X, y, lam, "gated", tol=1e-8, patterns=D)
    assert fast.certified and fast.relative_gap <= 1e-8 and fast.converged
    assert fast.objective == pytest.approx(slow.objective, rel=1e-8, abs=1e-14)
    assert fast.max_dual_constraint <= lam * (1 + 1e-8)
    if lam < 1:
        assert fast.n_iter <= 3                                  # the support is identified


def test_barrier_path_agrees_with_cvxpy_clarabel(cvxpy_clarabel):
    cp = cvxpy_clarabel
    X, y, A, D = _problem(11, seed=3)
    Df, n = D.astype(float), len(y)
    U = cp.Variable((len(D), 3))
    fit = cp.sum(cp.multiply(Df, U @ A.T), axis=0) - y
    prob = cp.Problem(cp.Minimize(cp.sum_squares(fit) / (2 * n)
                                  + LAM * cp.sum(cp.norm(U, 2, axis=1))))
    prob.solve(solver=cp.CLARABEL)
    sol = fit_convex(X, y, LAM, "gated", tol=1e-9, patterns=D)
    assert sol.certified
    assert sol.objective == pytest.approx(prob.value, rel=1e-6)
    assert sol.objective <= prob.value * (1 + 1e-9)


def test_barrier_with_duplicate_points_and_patterns():
    """Duplicate points (a singular X̃X̃ᵀ) and repeated patterns: still certified."""
    X, y = make_dataset("spiral", 8, 0.05, 1)
    X = np.vstack([X, X[:3]])
    y = np.concatenate([y, -y[:3]])
    D = enumerate_patterns(X)
    D = np.vstack([D, D[::2]])
    sol = fit_convex(X, y, 1e-3, "gated", tol=1e-9, patterns=D)
    assert sol.certified and sol.converged and sol.relative_gap <= 1e-9


@pytest.mark.parametrize("formulation", ["relu", "gated"])
def test_lambda_above_lambda_max_gives_the_zero_network(formulation):
    """λ ≥ max_g ‖Π_K(X̃ᵀD_g y/n)‖: the optimum is 0 (the polish of an all-zero point used
    to fail on an empty Gram matrix)."""
    X, y = make_dataset("spiral", 12, 0.05, 12)
    sol = fit_convex(X, y, 10.0, formulation, tol=1e-8)
    assert sol.certified and sol.m_star == 0
    assert sol.objective == pytest.approx(0.5 * float(y @ y) / len(y), rel=1e-14)


def _relu_groups(X, D):
    """``σD`` (G, n) and the cell cones of the ``[v, w]`` groups of exact patterns ``D``."""
    from engine.core import drain
    from engine.regions.cells import cell_cones_iter
    cones = drain(cell_cones_iter(X, D, True))
    DS = np.vstack([D, -D.astype(float)]).astype(float)
    return DS, cones.subset(np.concatenate([np.arange(len(D))] * 2))


def test_cone_barrier_projection_and_faces():
    """The barrier's projections equal the cells' exact ones; ``Pc = π`` on the face."""
    from engine.regions.cells import project_cells
    from engine.regions.ipm_cones import _ConeBarrier
    X, y, A, D = _problem(9, seed=2)
    DS, cones = _relu_groups(X, D)
    bar = _ConeBarrier(A, y, DS, LAM, cones)
    rng = np.random.default_rng(0)
    for _ in range(5):
        C = rng.normal(size=(len(DS), 3))
        Pi, a, b, e = bar._project(C)
        P = a[:, None, None] * np.eye(3) + b[:, None, None] * e[:, :, None] * e[:, None, :]
        assert np.allclose(Pi, project_cells(cones, C), atol=1e-13)
        assert np.allclose(np.einsum("gpq,gq->gp", P, C), Pi, atol=1e-13)


def test_relu_barrier_dual_and_primal_points():
    from engine.regions.cones import cone_violation
    from engine.regions.ipm_cones import relu_barrier
    X, y, A, D = _problem(10)
    ref = _without_barrier(X, y, LAM, "relu", tol=1e-10, patterns=D)
    DS, cones = _relu_groups(X, D)
    rho, U, ok = relu_barrier(A, y, DS, LAM, cones, rel_gap=1e-7)
    assert ok
    dual = float(rho @ y) - 0.5 * len(y) * float(rho @ rho)
    assert dual <= ref.objective * (1 + 1e-12)
    assert dual == pytest.approx(ref.objective, rel=1e-7)
    sigma = np.concatenate([np.ones(len(D)), -np.ones(len(D))])
    Dd = np.vstack([D, D])
    B = basic_primal(A, y, DS, rho, U)
    for V in (U, B):                                          # both in their cones
        assert cone_violation(A, Dd, V) <= 1e-12 * max(1.0, np.abs(V).max())
    assert (np.linalg.norm(B, axis=1) > 0).sum() <= len(y)
    assert fit_value(A, Dd, sigma, B, y, LAM) == pytest.approx(ref.objective, rel=1e-5)


@pytest.mark.parametrize("n, lam, kind", [(10, LAM, "exact"), (12, 1e-3, "exact"),
                                          (20, LAM, "exact"), (40, LAM, "sampled")])
def test_relu_barrier_path_matches_active_set_path(n, lam, kind):
    from engine.regions import sample_patterns
    X, y = make_dataset("spiral", n, 0.05, n + 1)
    if kind == "exact":
        D, G = enumerate_patterns(X, return_gates=True)
    else:
        D, G = sample_patterns(X, 80, 0, return_gates=True)
    keep = D.any(axis=1)
    D, G = D[keep], G[keep]
    fast = fit_convex(X, y, lam, "relu", tol=1e-8, patterns=D, gates=G)
    slow = _without_barrier(X, y, lam, "relu", tol=1e-8, patterns=D, gates=G)
    assert fast.certified and fast.converged and fast.relative_gap <= 1e-8
    assert fast.cone_violation <= 1e-12
    assert fast.objective == pytest.approx(slow.objective, rel=1e-8)
    assert fast.n_iter <= 3 < slow.n_iter                      # the support is identified

"""Convex ReLU programs with d > 2 (sampled patterns): known answers vs cvxpy + Clarabel
(SCIENCE.md §2.3; issue #18), the cone projections they rest on, and uncertified results."""
import numpy as np
import pytest

from engine.regions import fit_convex, sample_patterns
from engine.regions.cones import nnls, project_cone, project_rows
from engine.regions.patterns import augment

LAM = 0.01


def _instance(n, d, gates, seed):
    """Gaussian data, ``y = tanh(Xw) + 0.1ε`` and distinct nonzero sampled patterns (the
    benchmark's d > 2 instances, smaller)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.tanh(X @ rng.normal(size=d)) + 0.1 * rng.normal(size=n)
    D = sample_patterns(X, gates, seed)
    return X, y, D[D.any(axis=1)]


def _clarabel_objective(cp, X, y, D, lam):
    """The literal ReLU program (§2.3, scnn scaling) solved by Clarabel."""
    A, n = augment(X), len(y)
    Df, S = D.astype(float), 2.0 * D - 1.0
    V, W = cp.Variable((len(D), A.shape[1])), cp.Variable((len(D), A.shape[1]))
    pred = cp.sum(cp.multiply(Df, V @ A.T - W @ A.T), axis=0)
    pen = cp.sum(cp.norm(V, 2, axis=1)) + cp.sum(cp.norm(W, 2, axis=1))
    cons = [cp.multiply(S, V @ A.T) >= 0, cp.multiply(S, W @ A.T) >= 0]
    prob = cp.Problem(cp.Minimize(cp.sum_squares(pred - y) / (2 * n) + lam * pen), cons)
    prob.solve(solver=cp.CLARABEL)
    return prob.value


@pytest.mark.parametrize("n, d, gates, seed", [(30, 3, 30, 0), (40, 4, 40, 1),
                                                (30, 5, 40, 2), (40, 6, 30, 3)])
def test_sampled_pattern_program_matches_clarabel_and_is_certified(cvxpy_clarabel, n, d,
                                                                  gates, seed):
    X, y, D = _instance(n, d, gates, seed)
    sol = fit_convex(X, y, LAM, tol=1e-8, patterns=D)
    ref = _clarabel_objective(cvxpy_clarabel, X, y, D, LAM)
    assert sol.certified and sol.relative_gap <= 1e-8
    assert sol.objective == pytest.approx(ref, rel=1e-6)
    assert sol.objective <= ref * (1 + 1e-7)            # Clarabel's optimum is inexact
    assert sol.dual_value <= ref * (1 + 1e-7)           # a rigorous lower bound
    assert sol.cone_violation <= 1e-10
    assert sol.summary.startswith("certified optimum over sampled patterns")


def test_iteration_capped_run_says_it_is_not_certified():
    X, y, D = _instance(60, 6, 80, 4)
    sol = fit_convex(X, y, LAM, tol=1e-10, patterns=D, max_iter=2)
    assert not sol.certified and not sol.converged
    assert sol.relative_gap > 1e-10
    assert sol.summary.startswith("NOT certified")
    assert f"{sol.relative_gap:.1e}" in sol.summary
    assert sol.cone_violation <= 1e-10                  # still a feasible (upper-bound) point


def _cone_rows(A, d):
    return np.where(d, 1.0, -1.0)[:, None] * A


def test_cone_projection_satisfies_moreau_kkt_in_7_dims():
    """``π = Π_K(c)``: ``π ∈ K``, ``c − π = −Mᵀμ`` with ``μ ≥ 0`` (polar cone), ``π ⟂ c − π``."""
    rng = np.random.default_rng(5)
    A = augment(rng.normal(size=(80, 6)))
    for _ in range(200):
        g, c = rng.normal(size=7), rng.normal(size=7)
        d = A @ g >= 0
        M = _cone_rows(A, d)
        pi = project_cone(A, d, c)
        mu, r = nnls(M.T, -c)
        assert (mu >= 0).all() and np.allclose(-r, pi, atol=1e-12)
        assert (M @ pi).min() >= -1e-12 * np.abs(c).max()
        assert abs(pi @ (c - pi)) <= 1e-12 * (c @ c)


def test_cone_projection_is_idempotent_on_faces():
    """Points on a face of ``K`` (tight constraints at round-off) are fixed points — SciPy's NNLS
    alone returns a wrong point for some of these (``Bᵀt`` at round-off level)."""
    rng = np.random.default_rng(6)
    A = augment(rng.normal(size=(100, 6)))
    for _ in range(300):
        g = rng.normal(size=7)
        d = A @ g >= 0
        pi = project_cone(A, d, rng.normal(size=7) + rng.uniform(0, 3) * g)
        assert np.allclose(project_cone(A, d, pi), pi, atol=1e-12 * max(1.0, np.abs(pi).max()))


def test_project_rows_threshold_only_zeroes_rows_that_shrink_to_zero():
    rng = np.random.default_rng(7)
    A = augment(rng.normal(size=(50, 4)))
    D = A @ rng.normal(size=(5, 30)) >= 0
    Z = rng.normal(size=(30, 5))
    exact = project_rows(A, D.T, Z)
    t = float(np.median(np.linalg.norm(exact, axis=1)))
    fast = project_rows(A, D.T, Z, t)
    norms = np.linalg.norm(exact, axis=1)
    zeroed = ~(fast == exact).all(axis=1)
    assert (fast[zeroed] == 0).all() and (norms[zeroed] <= t).all()
    assert zeroed.any()


def test_polish_refresh_equals_rebuilt_reduced_program():
    """After a face change, refreshing the changed groups' rows of the reduced Gram gives
    the same reduced program as rebuilding it (the polish's incremental update)."""
    from engine.regions.faces import face_bases
    from engine.regions.polish import _Raw, _Reduced
    rng = np.random.default_rng(8)
    X, y = rng.normal(size=(40, 5)), rng.normal(size=40)
    A = augment(X)
    D, G = sample_patterns(X, 12, 3, return_gates=True)
    S = 2.0 * D - 1.0
    U = np.array([project_cone(A, D[k], rng.normal(size=6)) for k in range(len(D))])
    groups = np.flatnonzero(np.linalg.norm(U, axis=1) > 0)
    raw = _Raw(A, y, D.astype(float), groups)
    bases, dims = face_bases(A, S[groups], U[groups], raw.geo)
    red = _Reduced(raw, groups, bases, dims, LAM, False)
    U2 = U[groups].copy()
    U2[:2] = G[groups[:2]]                           # gates: inside their cones (full faces)
    bases2, dims2 = face_bases(A, S[groups], U2, raw.geo)
    changed = np.flatnonzero((bases2 != bases).any(axis=(1, 2)))
    assert len(changed) >= 1 and (dims2[:2] == 6).all()
    full = _Reduced(raw, groups, bases2, dims2, LAM, False)
    red.refresh(raw, groups, changed, bases2, dims2)
    assert np.allclose(red.gram, full.gram, atol=1e-14)
    assert np.allclose(red.b, full.b, atol=1e-14)
    assert (red.frozen == full.frozen).all() and np.array_equal(red.pmask, full.pmask)


def test_lambda_continuation_reaches_the_same_certified_optimum(cvxpy_clarabel, monkeypatch):
    """The homotopy in λ (large programs; forced here on a small one) changes where the last
    stage starts, not its answer: certified, Clarabel's objective, the direct solve's."""
    import engine.regions.homotopy as homotopy
    X, y, D = _instance(40, 4, 40, 1)
    direct = fit_convex(X, y, LAM, tol=1e-8, patterns=D)
    monkeypatch.setattr(homotopy, "CONTINUE_SIZE", 0)
    sol = fit_convex(X, y, LAM, tol=1e-8, patterns=D)
    assert sol.certified and sol.relative_gap <= 1e-8
    assert sol.lam == LAM and sol.n_iter > direct.n_iter           # the stages did run
    assert sol.objective == pytest.approx(direct.objective, rel=1e-9)
    ref = _clarabel_objective(cvxpy_clarabel, X, y, D, LAM)
    assert sol.objective == pytest.approx(ref, rel=1e-6)
    assert sol.dual_value <= ref * (1 + 1e-7) and sol.cone_violation <= 1e-10

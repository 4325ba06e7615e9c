"""SCIENCE.md §2.3-2.6 / §2.9.2-2.9.5: convex programs, recovery, duality, gated ReLU, cvxpy."""
import numpy as np
import pytest

from engine.regions import (enumerate_patterns, fit_convex, fit_nonconvex_batch,
                            sample_patterns, two_layer_objective)
from engine.regions.objective import recover_network
from engine.regions.patterns import augment
from engine.regions.programs import fit_value

LAM = 0.01




def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    return X, np.sign(np.sin(3 * X[:, 0]) * np.cos(2 * X[:, 1]) + 0.1)


@pytest.fixture(scope="module")
def relu12():
    X, y = _data(12)
    return X, y, fit_convex(X, y, LAM, tol=1e-8)


def test_recovery_identity_for_random_feasible_points():
    X, y = _data(10, seed=3)
    D, G = enumerate_patterns(X, return_gates=True)
    rng = np.random.default_rng(1)
    pick = rng.choice(len(D), 8, replace=False)
    sigma = np.where(rng.uniform(size=8) < 0.5, 1.0, -1.0)
    U = G[pick] * rng.uniform(0.2, 2.0, size=(8, 1))          # gates lie in their cones
    convex = fit_value(augment(X), D[pick], sigma, U, y, LAM)
    W1, w2, keep = recover_network(U, sigma)
    assert len(keep) == 8
    assert two_layer_objective(W1, w2, X, y, LAM) == pytest.approx(convex, rel=1e-10)


def test_relu_solution_recovery_and_certificate(relu12):
    X, y, sol = relu12
    assert sol.formulation == "relu" and sol.exact_patterns and sol.certified
    assert len(sol.patterns) == 12 * 12 - 12 + 2
    assert sol.W1.shape == (sol.m_star, 3) and sol.w2.shape == (sol.m_star,)
    assert 1 <= sol.m_star <= len(y) + 1                      # PE: m* ≤ n + 1
    assert two_layer_objective(sol.W1, sol.w2, X, y, LAM) == pytest.approx(sol.objective,
                                                                           rel=1e-10)
    assert sol.cone_violation <= 1e-12
    assert np.allclose(sol.predict(X), sol.fitted, atol=1e-12)
    assert np.allclose(sol.dual, y - sol.fitted)
    assert 0 <= sol.dual_gap <= 1e-8 * sol.objective
    assert sol.dual_value <= sol.objective
    assert sol.max_dual_constraint <= LAM * (1 + 1e-6)
    assert sol.max_dual_constraint >= LAM * (1 - 1e-6)       # active neurons are tight
    assert len(sol.history) >= 1 and np.isfinite(sol.history).all()


def test_strong_duality_value(relu12):
    X, y, sol = relu12
    q, n = sol.dual, len(y)
    dual = (float(q @ y) - 0.5 * float(q @ q)) / n             # ρ = q/n in scnn scaling
    assert dual == pytest.approx(sol.objective, rel=1e-6)


def test_dual_constraints_by_sampling_the_sphere(relu12):
    """max_{‖u‖≤1} |q*ᵀ relu(X̃u)|/n ≤ λ(1 + ε) (the semi-infinite dual constraint, §2.3)."""
    X, y, sol = relu12
    A = augment(X)
    U = np.random.default_rng(0).standard_normal((100_000, 3))
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    vals = np.abs(np.maximum(U @ A.T, 0) @ sol.dual) / len(y)
    assert vals.max() <= LAM * (1 + 1e-6)
    assert vals.max() >= LAM * 0.98


def test_convex_optimum_below_every_nonconvex_run(relu12):
    X, y, sol = relu12
    runs = fit_nonconvex_batch(X, y, 24, LAM, 1500, 0.02, [0, 1, 2], optimizer="adam")
    runs += fit_nonconvex_batch(X, y, 24, LAM, 1500, 0.2, [3, 4], optimizer="gd")
    finals = np.array([r.final_objective for r in runs])
    assert (finals >= sol.objective * (1 - 1e-6)).all()
    assert finals.min() <= sol.objective * 1.02              # a good run gets close


def test_al_solver_agrees_with_projected_solver():
    X, y = _data(7, seed=5)
    a = fit_convex(X, y, 0.02, tol=1e-7, solver="al")
    b = fit_convex(X, y, 0.02, tol=1e-7, solver="projected")
    assert a.solver == "al" and b.solver == "projected"
    assert a.objective == pytest.approx(b.objective, rel=1e-6)
    assert a.cone_violation <= 1e-12 and a.certified


def test_higher_dimensional_data_uses_sampled_gates():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(8, 3))
    y = np.maximum(X @ [1.0, -0.5, 0.2], 0) - 0.3
    sol = fit_convex(X, y, 0.02, tol=1e-6, n_gates=60, seed=1)
    assert not sol.exact_patterns and sol.solver == "projected"
    assert sol.W1.shape[1] == 4
    assert two_layer_objective(sol.W1, sol.w2, X, y, 0.02) == pytest.approx(sol.objective,
                                                                            rel=1e-9)


def test_gated_relu_lambda_to_zero_is_least_squares():
    X, y = _data(40, seed=6)
    D, G = sample_patterns(X, 6, seed=2, return_gates=True)
    A = augment(X)
    F = np.hstack([D[k][:, None] * A for k in range(len(D))])
    ls_fit = F @ np.linalg.lstsq(F, y, rcond=None)[0]
    exact = fit_convex(X, y, 0.0, formulation="gated", patterns=D, gates=G)
    assert np.allclose(exact.fitted, ls_fit, atol=1e-9)
    ls_obj = 0.5 * float((ls_fit - y) @ (ls_fit - y)) / len(y)
    errors = []
    for lam in (1e-5, 1e-7):                                   # λ → 0: the fit tends to LS
        sol = fit_convex(X, y, lam, formulation="gated", patterns=D, gates=G, tol=1e-10)
        assert sol.certified
        bound = lam * np.linalg.norm(exact.group_vectors, axis=1).sum()
        assert ls_obj - 1e-12 <= sol.objective <= ls_obj + bound + 1e-12
        errors.append(np.abs(sol.fitted - ls_fit).max())
    assert errors[1] < 0.05 * errors[0] and errors[1] < 1e-3


def test_gated_solution_and_relaxation_order():
    X, y = _data(12)
    gated = fit_convex(X, y, LAM, formulation="gated", tol=1e-8)
    relu = fit_convex(X, y, LAM, tol=1e-8)
    assert gated.certified and gated.gates.shape == gated.W1.shape
    assert gated.objective <= relu.objective * (1 + 1e-8)     # gated ReLU relaxes the cones
    assert np.allclose(gated.predict(X), gated.fitted, atol=1e-12)


def test_bad_inputs():
    X, y = _data(6)
    with pytest.raises(ValueError, match="λ"):
        fit_convex(X, y, 0.0)
    with pytest.raises(ValueError, match="λ"):
        fit_convex(X, y, -1.0, formulation="gated")
    with pytest.raises(ValueError, match="NaN"):
        fit_convex(np.where(X > 0.5, np.nan, X), y, LAM)
    with pytest.raises(ValueError, match="rows"):
        fit_convex(X, y[:-1], LAM)
    with pytest.raises(ValueError, match="formulation"):
        fit_convex(X, y, LAM, formulation="lasso")


def test_duplicate_and_collinear_points():
    X = np.array([[0, 0], [1, 1], [2, 2], [1, 1], [0, 1], [1, 0], [2, 0]], dtype=float) / 2
    y = np.array([1.0, -1, 1, -1, 0.5, 0.2, -0.3])
    sol = fit_convex(X, y, LAM, tol=1e-8)
    assert sol.certified and sol.cone_violation <= 1e-12
    assert two_layer_objective(sol.W1, sol.w2, X, y, LAM) == pytest.approx(sol.objective,
                                                                           rel=1e-10)


def _cvxpy_relu(X, y, lam, D, cp):
    return cvxpy_relu_features(augment(X), y, lam, D, cp)


def cvxpy_relu_features(A, y, lam, D, cp):
    """p* of the ReLU program (§2.1) on features ``A`` (bias column included) in cvxpy."""
    (n, p) = A.shape
    D = D[D.any(axis=1)].astype(float)
    V, W = cp.Variable((len(D), p)), cp.Variable((len(D), p))
    ZV, ZW = V @ A.T, W @ A.T
    fit = cp.sum(cp.multiply(D, ZV - ZW), axis=0) - y
    obj = cp.sum_squares(fit) / (2 * n) + lam * (cp.sum(cp.norm(V, 2, axis=1))
                                                 + cp.sum(cp.norm(W, 2, axis=1)))
    S = 2 * D - 1
    prob = cp.Problem(cp.Minimize(obj), [cp.multiply(S, ZV) >= 0, cp.multiply(S, ZW) >= 0])
    prob.solve(solver=cp.CLARABEL)
    return prob.value


def _cvxpy_gated(X, y, lam, D, cp):
    A, n = augment(X), len(y)
    D = D[D.any(axis=1)].astype(float)
    U = cp.Variable((len(D), 3))
    fit = cp.sum(cp.multiply(D, U @ A.T), axis=0) - y
    prob = cp.Problem(cp.Minimize(cp.sum_squares(fit) / (2 * n)
                                  + lam * cp.sum(cp.norm(U, 2, axis=1))))
    prob.solve(solver=cp.CLARABEL)
    return prob.value


@pytest.mark.parametrize("formulation", ["relu", "gated"])
def test_agreement_with_cvxpy_clarabel(formulation, cvxpy_clarabel):
    cp = cvxpy_clarabel
    X, y = _data(9, seed=8)
    D = enumerate_patterns(X)
    ref = (_cvxpy_relu if formulation == "relu" else _cvxpy_gated)(X, y, LAM, D, cp)
    sol = fit_convex(X, y, LAM, formulation=formulation, tol=1e-9)
    assert sol.objective == pytest.approx(ref, rel=1e-6)


def _sampled(n=40, gates=60, seed=4):
    X, y = _data(n, seed=seed)
    D, G = sample_patterns(X, gates, seed=seed, return_gates=True)
    keep = D.any(axis=1)
    return X, y, D[keep], G[keep]


def test_gated_active_set_kkt():
    """Active-set solution: ∇_g f + λû_g = 0 on the support, ‖∇_g f‖ ≤ λ off it (§2.5)."""
    X, y, D, G = _sampled()
    sol = fit_convex(X, y, LAM, formulation="gated", patterns=D, gates=G, tol=1e-9)
    assert sol.solver == "active-set" and sol.certified
    A, n = augment(X), len(y)
    grad = -(D.astype(float) * (sol.dual / n)) @ A              # ∇_g f for every pattern
    U = np.zeros((len(D), 3))
    U[sol.neuron_pattern] = sol.group_vectors
    on = np.linalg.norm(U, axis=1) > 0
    unit = U[on] / np.linalg.norm(U[on], axis=1, keepdims=True)
    assert np.abs(grad[on] + LAM * unit).max() <= 1e-7 * LAM
    assert np.linalg.norm(grad[~on], axis=1).max() <= LAM * (1 + 1e-8)


@pytest.mark.parametrize("with_gates", [True, False])
def test_relu_sampled_patterns_projected_paths(with_gates):
    """Sampled patterns: per-pattern corner rays (gates given) or NNLS projections (none)."""
    X, y, D, G = _sampled()
    sol = fit_convex(X, y, LAM, patterns=D, gates=G if with_gates else None, tol=1e-9)
    al = fit_convex(X, y, LAM, patterns=D, solver="al", tol=1e-9)
    assert sol.solver == "projected" and sol.certified and sol.cone_violation <= 1e-12
    assert sol.objective == pytest.approx(al.objective, rel=1e-7)
    assert two_layer_objective(sol.W1, sol.w2, X, y, LAM) == pytest.approx(sol.objective,
                                                                           rel=1e-10)


def test_pattern_cones_match_nnls_projection():
    from engine.regions.cells import project_cells
    from engine.regions.cone_rays import pattern_cones
    from engine.regions.cones import project_cone
    X, _, D, G = _sampled(n=60, gates=80)
    A = augment(X)
    cones = pattern_cones(A, D, G)
    Z = np.random.default_rng(3).normal(size=(len(D), 3))
    ref = np.array([project_cone(A, D[k], Z[k]) for k in range(len(D))])
    assert np.abs(project_cells(cones, Z) - ref).max() <= 1e-12
    assert pattern_cones(A, D, np.zeros_like(G)) is None            # gate not inside


def test_polish_lowers_objective_and_stays_feasible():
    from engine.regions.polish import polish
    from engine.regions.programs import GroupData
    X, y, D, G = _sampled(n=30, gates=40)
    A = augment(X)
    sigma = np.ones(len(D))
    gd = GroupData.build(A, y, D, sigma, constrained=True)
    U = G * 0.3                                                   # gates lie in their cones
    Up = polish(A, y, gd.DS, gd.S, U, LAM)
    assert fit_value(A, D, sigma, Up, y, LAM) < fit_value(A, D, sigma, U, y, LAM)
    assert (gd.S * (Up @ A.T) >= -1e-12 * np.abs(Up).max()).all()


@pytest.mark.parametrize("formulation", ["relu", "gated"])
def test_sampled_agreement_with_cvxpy_clarabel(formulation, cvxpy_clarabel):
    cp = cvxpy_clarabel
    X, y, D, G = _sampled(n=25, gates=30, seed=9)
    ref = (_cvxpy_relu if formulation == "relu" else _cvxpy_gated)(X, y, LAM, D, cp)
    sol = fit_convex(X, y, LAM, formulation=formulation, patterns=D, gates=G, tol=1e-9)
    assert sol.certified and sol.objective == pytest.approx(ref, rel=1e-6)
    assert sol.objective <= ref * (1 + 1e-9)              # Clarabel stops slightly above


# --- issue #4: degenerate programs (duplicate / near-duplicate patterns) -------------------

N_DEGENERATE, SEED_DEGENERATE = 100, 2     # stalled > 10 s before issue #4's fix


@pytest.mark.parametrize("formulation", ["relu", "gated"])
def test_duplicated_patterns_give_the_deduplicated_optimum(formulation):
    """Groups with identical ``D_k`` are redundant (triangle inequality): the program with
    repeated patterns has the optimum of the deduplicated one, found without stalling."""
    X, y, D, G = _sampled(n=30, gates=40, seed=5)
    rng = np.random.default_rng(0)
    rep = rng.choice(len(D), 25)
    order = rng.permutation(len(D) + len(rep))
    D2, G2 = np.vstack([D, D[rep]])[order], np.vstack([G, G[rep]])[order]
    ref = fit_convex(X, y, LAM, formulation=formulation, patterns=D, gates=G, tol=1e-9)
    sol = fit_convex(X, y, LAM, formulation=formulation, patterns=D2, gates=G2, tol=1e-9)
    assert ref.certified and sol.certified and sol.converged
    assert sol.objective == pytest.approx(ref.objective, rel=1e-9)
    assert sol.n_iter <= 3 * ref.n_iter + 10
    used = sol.patterns[sol.neuron_pattern] if formulation == "gated" else None
    assert used is None or len({r.tobytes() for r in used}) == len(used)   # one per pattern


def test_distinct_nonzero_patterns():
    from engine.regions.convex import _distinct_nonzero
    D = np.array([[1, 0, 1], [0, 0, 0], [1, 0, 1], [0, 1, 1], [0, 1, 1], [1, 0, 1]], bool)
    assert _distinct_nonzero(D).tolist() == [0, 3]


def test_polish_decrease_test_resolves_changes_below_roundoff():
    """``φ(z + tΔ) − φ(z)`` as a difference stays accurate where the two values agree to
    round-off (the active-set acceptance test of degenerate programs relies on it)."""
    from engine.regions.polish import _Raw, _Reduced
    X, y, D, G = _sampled(n=30, gates=40)
    A = augment(X)
    DS = D.astype(float)
    groups = np.arange(6)
    raw = _Raw(A, y, DS, groups)
    bases, dims = np.tile(np.eye(3), (6, 1, 1)), np.full(6, 3)
    red = _Reduced(raw, groups, bases, dims, LAM, True)
    z = G[:6] * 0.3
    g, _ = red.step(z, direction=False)
    d = -(g / np.abs(g).max()).reshape(z.shape) * np.abs(z).max()
    slope = float(g @ d.ravel())
    for t in (1e-2, 1e-1):                            # values resolve the change: agree
        dz = float(red.deltas(z, (t * d)[None])[0])
        assert dz == pytest.approx(red.value(z + t * d) - red.value(z), rel=1e-9)
    for t in (1e-10, 1e-13):                          # change ≈ round-off of φ: first order
        dz = float(red.deltas(z, (t * d)[None])[0])
        assert dz == pytest.approx(t * slope, rel=1e-5)


def test_iteration_cap_returns_a_certified_iterate():
    """Out of iterations: the returned point is feasible and its gap is a rigorous bound."""
    X, y = _data(40, seed=2)
    full = fit_convex(X, y, 1e-3, formulation="gated", tol=1e-9)
    capped = fit_convex(X, y, 1e-3, formulation="gated", tol=1e-9, max_iter=3)
    assert full.certified and not capped.converged
    assert capped.dual_value <= full.objective * (1 + 1e-12)
    assert capped.objective >= full.objective * (1 - 1e-12)
    assert capped.dual_gap == pytest.approx(capped.objective - capped.dual_value, abs=1e-15)


def test_degenerate_exact_program_finishes():
    """Exact patterns at λ = 1e-3 (many near-duplicate groups: adjacent cells differ in one
    point): the solve used to cycle on the active set (> 10 s at n = 100); it must finish
    certified within a bounded number of iterations."""
    from engine.regions import make_dataset
    X, y = make_dataset("spiral", N_DEGENERATE, 0.05, SEED_DEGENERATE)
    sol = fit_convex(X, y, 1e-3, formulation="gated", tol=1e-8)
    assert sol.converged and sol.certified and sol.relative_gap <= 1e-8
    assert sol.n_iter <= 400


@pytest.mark.parametrize("formulation", ["relu", "gated"])
def test_degenerate_program_agrees_with_cvxpy(formulation, cvxpy_clarabel):
    """Duplicate points, collinear points and repeated patterns vs Clarabel."""
    cp = cvxpy_clarabel
    X, y = _data(8, seed=6)
    X = np.vstack([X, X[:2], [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]])
    y = np.concatenate([y, -y[:2], [1.0, -1.0, 1.0]])
    D, G = enumerate_patterns(X, return_gates=True)
    D, G = np.vstack([D, D[::3]]), np.vstack([G, G[::3]])
    ref = (_cvxpy_relu if formulation == "relu" else _cvxpy_gated)(X, y, 1e-3, D, cp)
    sol = fit_convex(X, y, 1e-3, formulation=formulation, patterns=D, gates=G, tol=1e-9)
    assert sol.certified and sol.objective == pytest.approx(ref, rel=1e-6)

"""Convex WGAN, linear generator and quadratic discriminator (SCIENCE.md §7.4): the closed
form against its analytic value and cvxpy + Clarabel, the exact-penalty bound, GDA never
below p*, a diverging GDA run kept with a note, refused settings."""
import dataclasses

import numpy as np
import pytest

from engine.convex_duals import ConvexDualsError
from engine.convex_duals.wgan import Params, make_data, run
from engine.convex_duals.wgan_gda import closed_form, penalty_objective
from engine.convex_duals.wgan_relu import line_in_box, relu_critic, sphere_directions
from engine.core import drain


def _moments(X, Z):
    n = X.shape[0]
    return X.T @ X / n, Z.T @ Z / n


def test_data_and_closed_form_known_answer():
    """§7.4.3: eig(C_x) = [3.5699, 0.2407]; β = 0.5 keeps one axis, C_g* = (C_x − βI)_+ and
    the constraint is tight; β = 0.1 shrinks both axes by 0.1."""
    X, Z = make_data(Params())
    C_x, C_z = _moments(X, Z)
    np.testing.assert_allclose(np.linalg.eigvalsh(C_x)[::-1], [3.5699, 0.2407], atol=5e-5)
    for beta, expected in ((0.5, [3.0699, 0.0]), (0.1, [3.4699, 0.1407])):
        cf = closed_form(X, Z, beta)
        vals, vecs = np.linalg.eigh(C_x)
        target = vecs @ np.diag(np.maximum(vals - beta, 0)) @ vecs.T
        np.testing.assert_allclose(cf.C_g, target, atol=1e-12)
        assert np.linalg.norm(C_x - cf.C_g, ord=2) == pytest.approx(beta, abs=1e-12)
        np.testing.assert_allclose(np.linalg.eigvalsh(cf.C_g)[::-1], expected, atol=5e-5)
        assert cf.value == pytest.approx(0.5 * np.sum(cf.W ** 2))


def test_closed_form_matches_cvxpy_sdp(cvxpy_clarabel):
    """With a whitened latent (C_z = I) ½||W||² = ½ tr C_g and the problem is the SDP
    min ½ tr C_g s.t. −βI ⪯ C_x − C_g ⪯ βI, C_g ⪰ 0."""
    cp = cvxpy_clarabel
    X, _ = make_data(Params(data="two_blobs", samples=120))
    Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((120, 2)))
    Z = Q * np.sqrt(120)
    C_x, C_z = _moments(X, Z)
    np.testing.assert_allclose(C_z, np.eye(2), atol=1e-12)
    for beta in (0.05, 0.3, 2.0):
        C = cp.Variable((2, 2), PSD=True)
        cons = [C_x - C << beta * np.eye(2), C - C_x << beta * np.eye(2)]
        prob = cp.Problem(cp.Minimize(0.5 * cp.trace(C)), cons)
        prob.solve(solver="CLARABEL")
        cf = closed_form(X, Z, beta)
        assert cf.value == pytest.approx(prob.value, abs=1e-6)


def test_feasible_generators_never_beat_closed_form_and_penalty_bound():
    """§7.4.3 KAT 2, and the exact penalty: f(W) ≥ p* for any W (equality at W*)."""
    X, Z = make_data(Params())
    C_x, C_z = _moments(X, Z)
    rng = np.random.default_rng(0)
    for beta in (0.1, 0.5, 5.0):
        cf = closed_form(X, Z, beta)
        assert penalty_objective(cf.W, C_x, C_z, beta, cf.penalty) == pytest.approx(cf.value)
        for scale in (0.01, 0.3, 1.0, 3.0):
            for _ in range(100):
                W = cf.W + scale * rng.standard_normal(cf.W.shape)
                f = penalty_objective(W, C_x, C_z, beta, cf.penalty)
                assert f >= cf.value - 1e-12
                if np.linalg.norm(C_x - W.T @ C_z @ W, ord=2) <= beta:
                    assert 0.5 * np.sum(W ** 2) >= cf.value - 1e-12


def test_gda_never_below_optimum_approaches_it_and_is_deterministic():
    p = Params(steps=4000, seeds=2, lr=0.003)
    out = drain(run(p))
    again = drain(run(p))
    np.testing.assert_array_equal(out.gd_objectives, again.gd_objectives)
    assert out.certificate_kind == "closed form" and out.certificate < 1e-12
    assert np.isfinite(out.gd_objectives).all()
    assert np.all(out.gd_objectives >= out.convex_objective - 1e-12)
    start_gap = out.gd_objectives[:, 0] - out.convex_objective
    assert np.all(out.gaps() < 0.5 * start_gap)          # 4000 steps: well on the way
    a = out.arrays
    assert a["eig_path"].shape == (2, out.steps.size, 2)
    assert a["critic_convex"].shape == (a["grid_y"].size, a["grid_x"].size)
    np.testing.assert_allclose(a["generated_convex"], make_data(p)[1] @ a["W_convex"])


def test_diverging_gda_stops_with_note_and_keeps_path():
    out = drain(run(Params(steps=2000, seeds=1, lr=0.05)))
    row = out.gd_objectives[0]
    assert any("diverged" in note for note in out.notes)
    finite = np.isfinite(row)
    assert finite[0] and not finite[-1]
    assert np.all(finite[:np.argmin(finite)])            # finite up to the stop, NaN after
    assert not finite[np.argmin(finite):].any()
    assert np.all(row[finite] >= out.convex_objective - 1e-12)


@pytest.mark.parametrize("change, words", [
    (dict(beta=0.0), "β = 0"),
    (dict(latent_dim=1, beta=0.1), "rank 1"),
])
def test_refused_settings(change, words):
    with pytest.raises(ConvexDualsError, match=words):
        drain(run(dataclasses.replace(Params(), **change)))


def test_relu_critic_piecewise_means():
    """§7.4.3 KAT 3: G = X gives a zero critic; a shifted copy is told apart more the
    further it is shifted; the maximising line is where relu(x̃·u) switches."""
    X, _ = make_data(Params(samples=80))
    assert relu_critic(X, X)[0] == 0.0
    small, _ = relu_critic(X, X + [0.1, 0.0])
    large, u = relu_critic(X, X + [0.5, 0.0])
    assert 0.0 < small < large
    U = sphere_directions()
    np.testing.assert_allclose(np.linalg.norm(U, axis=1), 1.0)
    direct = np.abs(np.maximum(np.c_[X, np.ones(80)] @ U.T, 0).mean(0)
                    - np.maximum(np.c_[X + [0.5, 0.0], np.ones(80)] @ U.T, 0).mean(0))
    assert large == pytest.approx(direct.max())
    line = line_in_box(u, 5.0)
    np.testing.assert_allclose(line @ u[:2] + u[2], 0.0, atol=1e-12)
    assert np.all(np.abs(line) <= 5.0)


def test_first_seed_is_the_labs_seed_and_runs_are_gda():
    """The lab's shared ``seed`` shifts the GDA runs (seed 1 alone repeats the second row of
    a run from seed 0); outcome and partials call them GDA runs, certified by the closed
    form."""
    p = Params(steps=400, seeds=2)
    both = drain(run(p))
    gen, partials = run(dataclasses.replace(p, seed=1, seeds=1)), []
    while True:
        try:
            partials.append(next(gen).partial)
        except StopIteration as stop:
            second = stop.value
            break
    np.testing.assert_array_equal(second.gd_objectives[0], both.gd_objectives[1])
    assert second.seeds.tolist() == [1] and second.optimizer == "GDA"
    gd = [q for q in partials if q and q.get("stage") == "gd"][-1]
    assert gd["seeds"].tolist() == [1] and gd["optimizer"] == "GDA"
    convex = next(q for q in partials if q and q.get("stage") == "convex")
    assert convex["certificate_kind"] == "closed form" == second.certificate_kind

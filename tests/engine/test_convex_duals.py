"""Known answers of the convex-duals models (SCIENCE.md §7.1.9, §7.2.5): each convex optimum
against cvxpy + Clarabel, closed forms, recovery identities, GD never below p*."""
import numpy as np
import pytest

from engine.convex_duals import ConvexDualsError, DualsConfig
from engine.convex_duals import batchnorm as bn
from engine.convex_duals import vector_output as vo
from engine.convex_duals.atoms import solve_atomic
from engine.convex_duals.lab import run_config
from engine.convex_duals.oracle import best_atom
from engine.convex_duals.patterns import boundary_rays, enumerate_patterns
from engine.core import drain

pytest.importorskip("cvxpy")
from tests.engine.duals_reference import ray_sdp, scalar_cone_program  # noqa: E402


def _kat1():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 2))
    return X, np.eye(3)[rng.integers(0, 3, 12)]


def test_pattern_counts_are_exact():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((7, 2))
    assert enumerate_patterns(X).shape[1] == 2 * 7
    Xb = np.column_stack([X, np.ones(7)])
    assert enumerate_patterns(Xb).shape[1] == 7 * 7 - 7 + 2 - 1     # zero pattern dropped


def test_vector_output_optimum_matches_clarabel_ray_sdp():
    X, Y = _kat1()
    sol = drain(solve_atomic(X, Y, 0.5, lambda R: best_atom(X, R, enumerate_patterns(X),
                                                            boundary_rays(X))))
    assert sol.objective == pytest.approx(3.551792, abs=2e-6)        # §7.1.9 KAT 1
    assert sol.gap < 1e-6
    assert sol.objective == pytest.approx(ray_sdp(X, Y, 0.5), abs=2e-5)
    U1, V2 = sol.neurons()                                             # recovery identity
    fit = np.maximum(X @ U1, 0) @ V2 - Y
    assert 0.5 * (fit ** 2).sum() + 0.25 * ((U1 ** 2).sum() + (V2 ** 2).sum()) == \
        pytest.approx(sol.objective, rel=1e-10)


def test_vector_output_with_bias_reaches_the_relaxation_value():
    rng = np.random.default_rng(7)                                    # §7.1.9 KAT 3 (d = 3)
    X = np.column_stack([rng.standard_normal((10, 2)), np.ones(10)])
    Y = np.eye(3)[rng.integers(0, 3, 10)]
    pats = enumerate_patterns(X)
    sol = drain(solve_atomic(X, Y, 0.3, lambda R: best_atom(X, R, pats, boundary_rays(X))))
    assert sol.objective == pytest.approx(2.364629, abs=2e-6) and sol.gap < 1e-6
    out = drain(vo.run(vo.Params(n=10, bias=True, steps=20, seeds=1)))
    assert out.arrays["first_layer"].shape[1] == 3 and out.certificate < 1e-6


def test_soft_thresholded_svd_value_and_recovered_weights():
    Y = np.eye(3)[[0, 1, 1, 2, 2, 2]]
    assert vo.soft_thresholded_svd(Y, 0.8)[3] == pytest.approx(2.357011, abs=1e-6)  # KAT 2
    out = drain(vo.run(vo.Params(mode="whitened", n=6, classes=3, beta=0.8, steps=50,
                                 seeds=2)))
    a = out.arrays
    assert out.convex_objective == pytest.approx(3 * (0.8 * np.sqrt(2) - 0.32), rel=1e-12)
    assert out.certificate < 1e-9
    np.testing.assert_allclose(a["prediction_convex"], a["prediction_closed_form"], atol=1e-6)
    rows = lambda first, second: sorted(np.round(np.column_stack([first, second]), 5).tolist())
    assert np.allclose(rows(a["first_layer"], a["second_layer"]),
                       rows(a["closed_first_layer"], a["closed_second_layer"]), atol=1e-4)


def test_mixed_sign_labels_refuse_the_svd_closed_form():
    with pytest.raises(ConvexDualsError, match="non-negative"):
        vo.soft_thresholded_svd(np.array([[1.0], [-1.0], [0.5]]), 0.1)


def test_adam_never_below_the_optimum_and_gap_bounds_hold():
    out = drain(vo.run(vo.Params(n=12, steps=400, seeds=3, width=20)))
    finals = out.gd_objectives[:, -1]
    assert np.all(finals >= out.convex_objective - out.certificate - 1e-9)
    assert np.all(out.arrays["gd_gap_bounds"] >= finals - out.convex_objective - 1e-9)
    assert out.arrays["grid_class"].shape == (120, 120)


def test_batchnorm_optimum_matches_clarabel_and_recovered_bn_net():
    p = bn.Params(n=10, beta=0.1, steps=20, seeds=1)
    X, y = bn._dataset(p)
    Ut, _, _ = bn.whiten(X)
    out = drain(bn.run(p))
    assert out.convex_objective == pytest.approx(1.962039, abs=2e-6)   # §7.2.5 KAT 1
    assert out.convex_objective == pytest.approx(scalar_cone_program(Ut, y, 0.1), abs=2e-5)
    a = out.arrays
    fit = bn.bn_forward(X, a["w"].T, a["gamma"], a["alpha"], a["v"]) - y
    value = 0.5 * (fit ** 2).sum() + 0.05 * ((a["gamma"] ** 2).sum() + (a["alpha"] ** 2).sum()
                                            + (a["v"] ** 2).sum())
    assert value == pytest.approx(out.convex_objective, rel=1e-9)


def test_batchnorm_optimum_is_affine_invariant():
    X, y = bn._dataset(bn.Params(n=6))
    A, b = np.array([[2.0, 1.0], [-0.5, 3.0]]), np.array([4.0, -1.0])
    values = []
    for Xa in (X, X @ A + b):
        Ut, _, _ = bn.whiten(Xa)
        pats = enumerate_patterns(Ut)
        sol = drain(solve_atomic(Ut, y, 0.1, lambda R: best_atom(Ut, R, pats,
                                                                 boundary_rays(Ut))))
        values.append(sol.objective)
    assert values[0] == pytest.approx(values[1], rel=1e-7)


def test_batchnorm_closed_form_in_the_overparameterized_regime():
    out = drain(bn.run(bn.Params(regime="over-parameterized", n=7, beta=0.6, steps=20)))
    np.testing.assert_allclose(out.arrays["prediction"], out.arrays["prediction_closed_form"],
                               atol=1e-7)
    y = out.arrays["y"]
    phi = lambda s: 0.6 * s - 0.18 if s > 0.6 else s * s / 2           # noqa: E731
    assert out.convex_objective == pytest.approx(
        phi(np.linalg.norm(np.maximum(y, 0))) + phi(np.linalg.norm(np.minimum(y, 0))))
    assert out.certificate < 1e-9


@pytest.mark.parametrize("module, kw, match", [
    (vo, dict(beta=0.0), "β = 0"), (bn, dict(beta=0.0), "β = 0"),
    (vo, dict(mode="whitened", n=11), "n = 11 > 10"),
    (bn, dict(regime="over-parameterized", n=12), "n = 12 > 10"),
    (pytest.importorskip("engine.convex_duals.denoiser"), dict(beta=0.0), "β = 0")])
def test_bad_settings_are_refused_with_the_reason(module, kw, match):
    with pytest.raises(ConvexDualsError, match=match):
        drain(module.run(module.Params(**kw)))


def test_diverging_adam_stops_and_keeps_its_path():
    import torch
    from engine.convex_duals.gd import adam_runs
    w = torch.tensor([[1.0], [1.0]], dtype=torch.float64, requires_grad=True)
    scale = torch.tensor([[-1.0], [1e-3]], dtype=torch.float64)   # seed 0 runs away, 1 settles
    runs = drain(adam_runs([w], lambda ws: (scale * ws[0] ** 2).sum(-1), 400, 10.0))
    assert runs.diverged.tolist() == [True, False]
    row = runs.objectives[0]
    first_nan = int(np.argmax(~np.isfinite(row)))
    assert first_nan > 1 and np.isfinite(row[:first_nan]).all() and np.isnan(row[first_nan:]).all()
    assert np.isfinite(runs.objectives[1]).all()


def test_lab_runs_the_chosen_model_with_stages():
    cfg = DualsConfig(model="batchnorm", bn_n=6, bn_steps=20, bn_seeds=1)
    gen, stages = run_config(cfg, "cpu"), []
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            result = stop.value
            break
        if isinstance(p.partial, dict):
            stages.append(p.partial["stage"])
            assert p.partial["model"] == "batchnorm"
    assert stages[:2] == ["data", "convex"]
    assert result.model == "batchnorm" and result.outcome.model == "batchnorm"


def test_denoiser_patches_equal_conv2d_and_program_matches_clarabel():
    import torch
    from engine.convex_duals import denoiser as dn
    from engine.convex_duals.patterns import sample_patterns
    from tests.engine.duals_reference import gated_program
    rng = np.random.default_rng(4)
    imgs = rng.random((2, 6, 6))
    U, v = rng.standard_normal((9, 4)), rng.standard_normal(4)
    conv = torch.nn.functional.conv2d(torch.as_tensor(imgs)[:, None],
                                      torch.as_tensor(U.T).reshape(4, 1, 3, 3), padding=1)
    out = torch.nn.functional.conv2d(torch.relu(conv), torch.as_tensor(v).reshape(1, 4, 1, 1))
    F = dn.patch_matrix(imgs)                                     # §6.6.1 KAT 1
    np.testing.assert_allclose(np.maximum(F @ U, 0) @ v, out.numpy().ravel(), atol=1e-12)
    x = imgs.ravel() * 0.5 + 0.1
    D = sample_patterns(F, 8, rng).astype(float)
    W, kkt = drain(dn.solve_gated(F, D, x, 0.3))
    value = 0.5 * np.sum((((F @ W.T) * D).sum(1) - x) ** 2) + 0.3 * np.linalg.norm(W, axis=1).sum()
    assert kkt < 1e-7
    assert value == pytest.approx(gated_program(F, D, x, 0.3), rel=1e-6)


def test_denoiser_filters_pixelwise_and_adam_stays_above():
    from engine.convex_duals import denoiser as dn
    out = drain(dn.run(dn.Params(crops=1, size=10, patterns=12, steps=200, seeds=2,
                                 program="gated relaxation")))
    a = out.arrays
    F = dn.patch_matrix(a["noisy"])                               # piecewise-linear filtering
    filtered = np.einsum("pk,pk->p", F[:100], a["pixel_filters"].reshape(100, 9))
    np.testing.assert_allclose(filtered, a["denoised"][0].ravel(), atol=1e-10)
    assert np.all(out.gd_objectives[:, -1] >= out.convex_objective - 1e-6)
    assert a["psnr"][1] > a["psnr"][0]

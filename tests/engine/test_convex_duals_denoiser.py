"""Known answers of the conv denoiser's exact ReLU program (SCIENCE.md §7.5 eq 4): the
barrier solver against cvxpy + Clarabel, the §7.5 recovery, and Adam never below the program
when every pattern is in it."""
import numpy as np
import pytest
import torch

from engine.convex_duals import den_program as dp
from engine.convex_duals import denoiser as dn
from engine.convex_duals.common import ConvexDualsError
from engine.convex_duals.gd import adam_runs, init_weights
from engine.convex_duals.patterns import enumerate_patterns, sample_patterns
from engine.core import drain
from tests.engine.duals_denoiser_reference import relu_program_clarabel


def _small_instance(seed=3, patterns=10):
    rng = np.random.default_rng(seed)
    imgs = rng.random((1, 7, 7))
    F = dn.patch_matrix(imgs + 0.2 * rng.standard_normal(imgs.shape))
    D, gates = dp.sample_gates(F, patterns, rng)
    return F, D.astype(float), gates, imgs.ravel()


def test_sampled_gates_are_the_sampled_patterns_and_lie_inside_their_cones():
    F, D, gates, _ = _small_instance()
    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    np.testing.assert_array_equal(dp.sample_gates(F, 12, rng_a)[0], sample_patterns(F, 12, rng_b))
    assert (((2 * D - 1) * (F @ gates)) > 0).all()


def test_exact_program_matches_clarabel_and_its_gap_bounds_the_error():
    F, D, gates, x = _small_instance()
    prog = dp.ReluProgram(F, D, x, 0.2)
    U, gap = drain(dp.solve_relu(prog, gates))
    reference = relu_program_clarabel(F, D, x, 0.2)
    value = prog.objective(U)
    assert gap <= 1e-6
    assert (prog.slack(U) >= 0).all()
    assert value == pytest.approx(reference, rel=1e-6)
    primal, dual, rel, _ = dp.duality_gap(prog, U)
    assert dual <= reference * (1 + 1e-7) and primal >= reference * (1 - 1e-7)
    assert rel == pytest.approx(gap)


def test_recovered_relu_net_has_the_convex_objective_with_negative_z_outputs():
    F, D, gates, x = _small_instance()
    prog = dp.ReluProgram(F, D, x, 0.2)
    U, _ = drain(dp.solve_relu(prog, gates))
    filters, out = dp.recover_network(U, prog.sign)
    assert dp.network_objective(F, x, 0.2, filters, out) == pytest.approx(prog.objective(U),
                                                                         rel=1e-9)
    P = D.shape[1]
    live_z = np.linalg.norm(U[P:], axis=1) > 0
    assert live_z.any() and (out[P:][live_z] < 0).all()      # §7.5: v = −√‖z‖, not +
    wrong = dp.network_objective(F, x, 0.2, filters, np.abs(out))
    assert wrong > prog.objective(U) + 1e-3


def test_adam_never_beats_the_program_over_every_pattern():
    """1-D signal, k = 3 circular patches (d = 3): every pattern enumerated (§2.2), so the
    program's value is the global optimum of the ReLU net with ≥ m* filters (§7.5 Thm 1)."""
    rng = np.random.default_rng(1)
    clean = np.repeat([0.0, 1.0, 0.0, 1.0], 2)
    signal = clean + 0.3 * rng.standard_normal(8)
    F = np.stack([np.roll(signal, 1), signal, np.roll(signal, -1)], axis=1)
    D = enumerate_patterns(F).astype(float)
    prog = dp.ReluProgram(F, D, clean, 0.1)
    U, gap = drain(dp.solve_relu(prog, dp.interior_gates(F, D)))
    assert gap <= 1e-6
    m = 12
    ws = init_weights([0, 1, 2], [(3, m), (m,)], scale=1.0)
    runs = drain(adam_runs(ws, dn._relu_objective(F, prog.x, 0.1), 1500, 0.02))
    assert np.all(runs.objectives[:, -1] >= prog.objective(U) * (1 - 1e-6))
    assert np.min(runs.objectives[:, -1]) <= prog.objective(U) * 1.05   # and Adam gets close


def test_denoiser_program_choice_certificates_and_refusal():
    exact = drain(dn.run(dn.Params(crops=1, size=8, patterns=8, steps=30, seeds=1)))
    gated = drain(dn.run(dn.Params(crops=1, size=8, patterns=8, steps=30, seeds=1,
                                   program="gated relaxation")))
    assert exact.certificate_kind == "exact ReLU program, duality gap"
    assert exact.certificate <= 1e-6
    assert gated.certificate_kind == "gated relaxation, KKT residual"
    assert "exact ReLU program, duality gap" in exact.certificate_text()
    assert gated.convex_objective <= exact.convex_objective * (1 + 1e-6)   # a relaxation
    assert exact.arrays["group_norms"].shape == (2 * gated.arrays["group_norms"].size,)
    a = exact.arrays
    F = dn.patch_matrix(a["noisy"])                               # piecewise-linear filtering
    filtered = np.einsum("pk,pk->p", F[:64], a["pixel_filters"].reshape(64, 9))
    np.testing.assert_allclose(filtered, a["denoised"][0].ravel(), atol=1e-10)
    with pytest.raises(ConvexDualsError, match="P = 65 > 64"):
        drain(dn.run(dn.Params(patterns=65)))


def test_nested_sampled_programs_on_the_square_wave_toy_decrease():
    """§7.5's toy (3 square waves of length 32, σ = 0.3, k = 3 circular, n = 96, β = 0.05):
    nested pattern sets P = 8 ⊂ 16 ⊂ 32 give non-increasing certified values (a sampled
    program restricts the full one, §7.5 'sampled programs give upper bounds')."""
    t = np.arange(32)
    clean = np.stack([np.sign(np.sin(2 * np.pi * f * (t + 0.5) / 32)) for f in (1, 2, 4)])
    rng = np.random.default_rng(0)
    noisy = clean + 0.3 * rng.standard_normal(clean.shape)
    F = np.concatenate([np.stack([np.roll(s, 1), s, np.roll(s, -1)], axis=1) for s in noisy])
    D, gates = dp.sample_gates(F, 64, rng)
    order = rng.permutation(D.shape[1])
    values = []
    for P in (8, 16, 32):
        keep = order[:P]
        prog = dp.ReluProgram(F, D[:, keep].astype(float), clean.ravel(), 0.05)
        U, gap = drain(dp.solve_relu(prog, gates[:, keep]))
        assert gap <= 1e-6
        values.append(prog.objective(U))
    assert values[0] >= values[1] * (1 - 1e-6) and values[1] >= values[2] * (1 - 1e-6)
    assert values[0] > values[2]


def test_large_beta_is_certified_and_beyond_every_projection_the_optimum_is_zero():
    F, D, gates, x = _small_instance()
    huge = dp.ReluProgram(F, D, x, 1e3)           # β above every ‖Π_C(A_gᵀx)‖: U* = 0
    U, gap = drain(dp.solve_relu(huge, gates))
    assert not U.any() and gap <= 1e-12
    out = drain(dn.run(dn.Params(beta=10.0, size=8, patterns=4, steps=20, seeds=1)))
    assert out.certificate <= 1e-6 and out.convex_objective < 0.5 * np.sum(out.arrays["clean"] ** 2)

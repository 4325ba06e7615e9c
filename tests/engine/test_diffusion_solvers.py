"""Known-answer tests of the samplers and inverse solvers (SCIENCE.md §3.6 items 3-8)."""
import pytest
import torch

from engine.diffusion import (
    BUILTIN_PRIORS,
    CONDITIONAL,
    SOLVERS,
    batched_cg,
    dds_consistency,
    energy_distance,
    hb_stability_interval,
    solve,
    solver_defaults,
)
from engine.diffusion.linalg import Measurement

D64 = torch.float64


N = 2000


@pytest.fixture(scope="module")
def clusters():
    return BUILTIN_PRIORS["clusters"](2)


@pytest.fixture(scope="module")
def ring():
    return BUILTIN_PRIORS["ring"](2)


def assert_matches(cloud, target, seed=100, n=N):
    """Energy distance to fresh exact samples within 4 std of the exact-vs-exact baseline."""
    gen = torch.Generator().manual_seed(seed)
    base = torch.tensor([energy_distance(target.sample(n, gen), target.sample(n, gen))
                         for _ in range(8)])
    ed = energy_distance(cloud[:n], target.sample(n, gen))
    assert ed < base.mean() + 4 * base.std(), (ed, base)


def _run(name, prior, steps, seed=0, **kw):
    return solve(name, prior, n_particles=N, n_steps=steps, seed=seed, metrics=False,
                 n_trails=0, **kw)


@pytest.mark.parametrize("name,steps", [("ddpm", 200), ("ddim", 200), ("pf_heun", 100),
                                        ("ghvb", 100)])
def test_unconditional_samples_match_the_prior(clusters, name, steps):
    rec = _run(name, clusters, steps)
    assert rec.status == "completed"
    assert_matches(rec.final, clusters)


def test_too_few_steps_are_detected_as_biased(clusters):
    rec = _run("ddpm", clusters, 10)
    with pytest.raises(AssertionError):
        assert_matches(rec.final, clusters)


@pytest.mark.parametrize("sigma_y", [0.2, 0.0])
def test_oracle_posterior_sampler_matches_the_exact_posterior(clusters, sigma_y):
    A, y = torch.tensor([[0.6, 0.8]], dtype=D64), torch.tensor([0.5], dtype=D64)
    rec = _run("posterior", clusters, 200, A=A, y=y, sigma_y=sigma_y)
    assert_matches(rec.final, clusters.posterior(A, y, sigma_y))


def test_oracle_without_measurement_is_ddpm(clusters):
    assert torch.equal(_run("posterior", clusters, 20).final, _run("ddpm", clusters, 20).final)


def test_dds_cg_step_is_the_orthogonal_projection_for_rank_one_A():
    """§3.6 item 5: one CG step from x̂0 lands on x̂0 + A^†(y - A x̂0), and A x̂0' = y."""
    A, y = torch.tensor([[0.6, -0.8]], dtype=D64), torch.tensor([0.7], dtype=D64)
    meas = Measurement(A, y, 0.0, 2, "cpu", D64)
    x0 = torch.randn(100, 2, generator=torch.Generator().manual_seed(1), dtype=D64)
    proj = x0 + (y - x0 @ A.T) @ torch.linalg.pinv(A).T
    out = dds_consistency(meas, x0, n_iter=1)
    assert torch.allclose(out, proj, atol=1e-12)
    assert torch.allclose(out @ A.T, y.expand(100, 1), atol=1e-12)
    assert torch.allclose(dds_consistency(meas, x0, n_iter=5), proj, atol=1e-12)


def test_batched_cg_solves_spd_systems_in_d_steps():
    M = torch.tensor([[3.0, 1.0, 0.5], [1.0, 2.0, 0.2], [0.5, 0.2, 1.5]], dtype=D64)
    b = torch.randn(10, 3, generator=torch.Generator().manual_seed(2), dtype=D64)
    x = batched_cg(lambda v: v @ M, b, torch.zeros_like(b), 3)
    assert torch.allclose(x @ M, b, atol=1e-10)


def test_dds_run_is_measurement_consistent(ring):
    A, y = torch.tensor([[1.0, 0.0]]), torch.tensor([1.0])
    rec = _run("dds", ring, 50, A=A, y=y, sigma_y=0.0)
    assert (rec.final[:, 0] - 1.0).abs().max() < 1e-4


def test_ccdf_with_t0_one_equals_the_full_projection_run(ring):
    A, y = torch.tensor([[1.0, 0.0]]), torch.tensor([1.0])
    full = _run("projection", ring, 40, A=A, y=y, sigma_y=0.05)
    ccdf = _run("ccdf", ring, 40, A=A, y=y, sigma_y=0.05, t0=1.0)
    assert torch.equal(full.x, ccdf.x) and torch.equal(full.final, ccdf.final)
    short = _run("ccdf", ring, 40, A=A, y=y, sigma_y=0.05, t0=0.25)
    assert short.n_steps == 10 and short.x.shape[0] == 11
    assert int(short.t[0]) == 250 and int(short.t[-1]) == 0
    assert short.nfe == 10


def test_ccdf_from_a_good_estimate_with_few_steps_stays_consistent(ring):
    A, y = torch.tensor([[1.0, 0.0]]), torch.tensor([1.0])
    rec = _run("ccdf", ring, 100, A=A, y=y, sigma_y=0.0, t0=0.2)
    assert (rec.final[:, 0] - 1.0).abs().max() < 1e-5
    assert ((rec.final.norm(dim=1) - 2.0).abs().mean()) < 0.1


def test_projection_leaves_the_manifold_more_than_mcg(ring):
    """MCG's claim as a metric comparison (ring prior, inpainting-like A = [1, 0])."""
    A, y = torch.tensor([[1.0, 0.0]]), torch.tensor([1.0])
    kw = dict(A=A, y=y, sigma_y=0.0, n_particles=N, n_steps=100, n_trails=0)
    for seed in (0, 1):
        proj = solve("projection", ring, seed=seed, **kw)
        mcg = solve("mcg", ring, seed=seed, **kw)
        assert mcg.metrics["off_manifold"].mean() < proj.metrics["off_manifold"].mean()
        assert mcg.summary["off_manifold"] < proj.summary["off_manifold"]
        radial = [(r.final.norm(dim=1) - 2).abs().mean() for r in (proj, mcg)]
        assert radial[1] < radial[0]


def test_dps_with_noisy_measurement_reduces_the_residual(ring):
    A, y = torch.tensor([[1.0, 0.0]]), torch.tensor([1.0])
    rec = solve("dps", ring, A=A, y=y, sigma_y=0.05, n_particles=1000, n_steps=100)
    free = solve("ddpm", ring, A=A, y=y, sigma_y=0.05, n_particles=1000, n_steps=100)
    assert rec.summary["residual"] < 0.2 < free.summary["residual"]
    assert rec.summary["posterior_distance"] < free.summary["posterior_distance"]


def test_reddiff_without_regulariser_stays_at_the_least_squares_solution(ring):
    """§3.6 item 8: λ = 0, μ_0 = A^†y: the loss gradient is zero, μ does not move."""
    A, y = torch.tensor([[0.6, 0.8]]), torch.tensor([1.5])
    rec = _run("reddiff", ring, 30, A=A, y=y, sigma_y=0.0, lam=0.0)
    ls = (torch.linalg.pinv(A.double()) @ y.double()).float()
    assert torch.allclose(rec.final, ls.expand(N, 2), atol=1e-6)
    moved = _run("reddiff", ring, 30, A=A, y=y, sigma_y=0.0)
    assert (moved.final - ls).norm(dim=1).mean() > 0.1


@pytest.mark.parametrize("beta,z_min", [(1.0, -2.0), (0.8, -3.0), (0.5, -6.0), (0.25, -14.0)])
def test_heavy_ball_stability_interval(beta, z_min):
    assert hb_stability_interval(beta) == pytest.approx(z_min, abs=2e-3)


def test_momentum_with_beta_one_is_ddim(clusters):
    hb = _run("hb", clusters, 20, beta=1.0, order=1, dtype="float64")
    ddim = _run("ddim", clusters, 20, dtype="float64")
    assert torch.allclose(hb.final, ddim.final, atol=1e-10)


@pytest.mark.parametrize("name", list(SOLVERS))
def test_every_solver_runs_in_2d_and_3d(name):
    for dim in (2, 3):
        prior = BUILTIN_PRIORS["ring"](dim)
        A = torch.zeros(1, dim)
        A[0, 0] = 1.0
        rec = solve(name, prior, A=A, y=torch.tensor([1.0]), sigma_y=0.1, n_particles=64,
                    n_steps=12, seed=3, n_trails=4)
        S = rec.n_steps
        assert rec.status == "completed" and rec.x.shape == (S + 1, 64, dim)
        assert rec.x0_hat.shape == rec.x.shape and rec.final.shape == (64, dim)
        assert torch.isfinite(rec.x).all() and rec.trails.shape == (S + 1, 4, dim)
        assert rec.t[0] >= rec.t[-1] == 0 and rec.nfe == rec.metrics["nfe"][-1]
        assert set(rec.params) == set(solver_defaults(name))
        assert (name in CONDITIONAL) == (rec.metrics["correction"][1:].isfinite().all())

"""Diffusion in high dimension (issue #18): the start mismatch, the shared-covariance model, the
MCGdiff protocol, sliced W2 against its floor, and the ΠGDM / TMPD / TDS solvers.

Known answers: the KL bound equals the Monte-Carlo KL for one component and bounds it for a
mixture; the O(NKd) model equals the dense closed form; the oracle sits at the exact-vs-exact
sliced-W2 floor in d = 8 and d = 80 when started from the exact p_T; ΠGDM is exact for a
``N(μ, I)`` prior and TMPD for any Gaussian prior (their paths equal the oracle's); TDS
recovers the posterior component weights of a bimodal posterior.
"""
import math

import numpy as np
import pytest
import torch

from engine.diffusion import GaussianMixture, solve
from engine.diffusion.context import ExactScore
from engine.diffusion.metrics import sliced_w2, sliced_w2_floor
from engine.diffusion.protocol import (mcgdiff_measurement, mcgdiff_mixture, start_kl_bound,
                                       start_kl_mc)
from engine.diffusion.shared_cov import SharedScore
from engine.sampling.contract import Context
from engine.sampling.samplers import ddpm
from engine.sampling.schedule import Schedule

D64 = torch.float64
AB_T = Schedule.linear().ab(1000)


def test_start_kl_bound_is_exact_for_one_component_and_bounds_a_mixture():
    mu = torch.tensor([[3.0, -2.0, 1.0, 0.5]], dtype=D64)
    cov = torch.diag(torch.tensor([2.0, 0.5, 1.0, 3.0], dtype=D64))[None]
    one = GaussianMixture(torch.ones(1, dtype=D64), mu, cov)
    ab = 0.3
    mc, se = start_kl_mc(one, ab, n=20_000, seed=1)
    assert start_kl_bound(one, ab) == pytest.approx(mc, abs=4 * se)
    mix = mcgdiff_mixture(8, 0)
    A, y = mcgdiff_measurement(mix, 1, 0.1, 0)
    for law in (mix, mix.posterior(A, y, 0.1)):
        bound = start_kl_bound(law, AB_T)
        mc, se = start_kl_mc(law, AB_T, n=20_000, seed=2)
        assert mc <= bound + 4 * se
        means = law.means.square().sum(-1)
        if law is mix:       # unit covariances: Σ_k π_k ᾱ_T ‖μ_k‖²/2
            assert bound == pytest.approx(float((law.weights * means).sum()) * AB_T / 2,
                                          rel=1e-12)


def test_bound_grows_linearly_with_the_dimension():
    b8, b80 = (start_kl_bound(mcgdiff_mixture(d, 0), AB_T) for d in (8, 80))
    assert b80 == pytest.approx(10 * b8, rel=1e-12)


def test_shared_covariance_model_equals_the_dense_closed_form():
    mix = mcgdiff_mixture(8, 0)
    A, y = mcgdiff_measurement(mix, 2, 0.1, 1)
    post = mix.posterior(A, y, 0.1)
    dense = mix.to_gmm().posterior(A, y, 0.1)
    assert torch.allclose(post.weights, dense.weights, atol=1e-12)
    assert torch.allclose(post.means, dense.means, atol=1e-10)
    assert torch.allclose(post.covariance(), dense.covs[0], atol=1e-12)
    sched = Schedule.linear()
    fast, exact = SharedScore(post, sched, dtype=D64), ExactScore(dense.to(dtype=D64), sched)
    gen = torch.Generator().manual_seed(0)
    x, v = 3 * torch.randn(40, 8, generator=gen, dtype=D64), torch.randn(40, 8, generator=gen,
                                                                        dtype=D64)
    for t in (1, 200, 900):
        assert torch.allclose(fast.denoise(x, t)[0], exact.denoise(x, t)[0], atol=1e-9)
        assert torch.allclose(fast.tweedie_jvp(x, t, v), exact.tweedie_jvp(x, t, v),
                              rtol=1e-8, atol=1e-8)


def test_protocol_mixture_and_measurement():
    mix = mcgdiff_mixture(6, 3)
    assert mix.n_components == 25 and float(mix.weights.sum()) == pytest.approx(1.0)
    assert torch.equal(mix.means[0], torch.tensor([16.0, 16.0] * 3, dtype=D64))
    A, y = mcgdiff_measurement(mix, 4, 0.01, 5)
    s = torch.linalg.svdvals(A)
    assert A.shape == (4, 6) and bool(((s > 0) & (s < 1)).all())
    A2, y2 = mcgdiff_measurement(mix, 4, 0.01, 5)
    assert torch.equal(A, A2) and torch.equal(y, y2)


def _oracle_sw(d, rows, start, seed=1, n=1000, steps=100):
    """Sliced W2 of the oracle's cloud to fresh exact posterior samples, and its floor."""
    mix = mcgdiff_mixture(d, 0)
    A, y = mcgdiff_measurement(mix, rows, 0.1, seed)
    prior = mix.to_gmm() if d <= 8 else None
    post = mix.posterior(A, y, 0.1)
    rec = solve("posterior", prior if prior is not None else _dense_identity(mix), A=A, y=y,
                sigma_y=0.1, n_particles=n, n_steps=steps, seed=seed, dtype="float64",
                metrics=False, n_trails=0, start=start)
    gen = torch.Generator().manual_seed(seed + 7)
    value = sliced_w2(rec.final, post.sample(n, gen), 128, torch.Generator().manual_seed(0))
    return value, sliced_w2_floor(post, n, gen, 128, pairs=12)


def _dense_identity(mix):
    """The protocol prior as a GaussianMixture (d × d identities; fine for d = 80)."""
    eye = torch.eye(mix.dim, dtype=D64).expand(mix.n_components, -1, -1).clone()
    return GaussianMixture(mix.weights, mix.means, eye, check=False)


@pytest.mark.parametrize("d,rows,seed", [(8, 1, 1), (8, 4, 1), (80, 4, 1)])
def test_oracle_sits_at_the_floor_from_the_exact_start(d, rows, seed):
    value, (floor, sd) = _oracle_sw(d, rows, "exact p_T", seed)
    assert value < floor + 3 * sd, (value, floor, sd)


def test_oracle_from_gaussian_start_misweights_the_modes_in_d80():
    """One row: a multimodal posterior whose mode weights the N(0, I) start gets wrong (the
    measured KL bound of this posterior's p_T is ~0.2 nats); the exact start does not."""
    exact, (floor, sd) = _oracle_sw(80, 1, "exact p_T", seed=2, steps=200)
    gauss, _ = _oracle_sw(80, 1, "N(0, I)", seed=2, steps=200)
    assert exact < floor + 2 * sd < gauss and gauss > 2 * exact, (exact, gauss, floor, sd)


def _gaussian_runs(cov, names):
    mu = torch.tensor([[1.0, -2.0, 0.5]], dtype=D64)
    prior = GaussianMixture(torch.ones(1, dtype=D64), mu, cov)
    A = torch.tensor([[0.6, 0.8, 0.0], [0.0, 0.3, 1.0]], dtype=D64)
    kw = dict(A=A, y=torch.tensor([0.5, -1.0], dtype=D64), sigma_y=0.2, n_particles=64,
              n_steps=20, seed=0, dtype="float64", metrics=False, start="N(0, I)")
    return [solve(name, prior, **kw).final for name in names]


def test_pigdm_is_exact_for_a_unit_covariance_gaussian_prior():
    oracle, pigdm, dps = _gaussian_runs(torch.eye(3, dtype=D64)[None],
                                        ["posterior", "pigdm", "dps"])
    assert torch.allclose(pigdm, oracle, atol=1e-10)
    assert not torch.allclose(dps, oracle, atol=1e-2)


def test_tmpd_is_exact_for_any_gaussian_prior_and_pigdm_is_not():
    cov = torch.tensor([[[2.0, 0.3, 0.0], [0.3, 0.5, 0.1], [0.0, 0.1, 1.2]]], dtype=D64)
    oracle, tmpd, pigdm = _gaussian_runs(cov, ["posterior", "tmpd", "pigdm"])
    assert torch.allclose(tmpd, oracle, atol=1e-10)
    assert not torch.allclose(pigdm, oracle, atol=1e-2)


def test_tds_recovers_the_weights_of_a_bimodal_posterior():
    means = torch.tensor([[-2.0, 0.0], [2.0, 0.0]], dtype=D64)
    prior = GaussianMixture(torch.tensor([0.7, 0.3], dtype=D64), means,
                            0.25 * torch.eye(2, dtype=D64).expand(2, -1, -1).clone())
    A, y = torch.tensor([[0.0, 1.0]], dtype=D64), torch.tensor([0.3], dtype=D64)
    post = prior.posterior(A, y, 0.3)
    rec = solve("tds", prior, A=A, y=y, sigma_y=0.3, n_particles=2000, n_steps=50, seed=0,
                dtype="float64", metrics=False, n_trails=0)
    right = float((rec.final[:, 0] > 0).double().mean())
    assert right == pytest.approx(float(post.weights[1]), abs=0.05)
    assert float(rec.final[:, 1].mean()) == pytest.approx(float(post.means[0, 1]), abs=0.05)


def test_tds_refuses_a_noiseless_measurement():
    prior = mcgdiff_mixture(2, 0).to_gmm()
    with pytest.raises(ValueError, match="σ_y > 0"):
        solve("tds", prior, A=torch.tensor([[1.0, 0.0]]), y=torch.tensor([1.0]), sigma_y=0.0,
              n_particles=10, n_steps=5)


@pytest.mark.parametrize("start", ["exact p_T", "N(0, I)"])
def test_exact_start_draws_the_noised_target(start):
    """A path started at t = 100 (ᾱ ≈ 0.6): the exact start has the mean √ᾱ Σ π_k μ_k."""
    mix = mcgdiff_mixture(4, 0)
    sched = Schedule.linear()
    ctx = Context(model=ExactScore(mix.to_gmm(), sched), grid=np.array([100, 0]),
                  shape=(4000, 4), gen=torch.Generator().manual_seed(0), dtype=D64,
                  start=start)
    first = next(ddpm(ctx))
    expected = math.sqrt(sched.ab(100)) * (mix.weights @ mix.means)
    close = torch.allclose(first.x.mean(0), expected, atol=0.5)
    assert close == (start == "exact p_T")

"""Exact Gaussian-mixture toy (SCIENCE.md §3.2, §3.6 items 1-2): scores, noising, Tweedie,
posterior, priors, EM fitting, density grids, and bad-input messages."""
import math

import numpy as np
import pytest
import torch

from engine.diffusion import BUILTIN_PRIORS, GaussianMixture, density_grid, fit_gmm

D64 = torch.float64




def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _moments(g: GaussianMixture):
    """Mean and covariance of a mixture."""
    mean = g.weights @ g.means
    second = torch.einsum("k,kij->ij", g.weights, g.covs + g.means[:, :, None] * g.means[:, None])
    return mean, second - torch.outer(mean, mean)


def _fd_grad(f, x, h=1e-5):
    """Central finite differences of a per-point scalar function, (N, d)."""
    cols = []
    for j in range(x.shape[1]):
        e = torch.zeros_like(x)
        e[:, j] = h
        cols.append((f(x + e) - f(x - e)) / (2 * h))
    return torch.stack(cols, dim=-1)


@pytest.fixture(scope="module")
def clusters():
    return BUILTIN_PRIORS["clusters"](2)


def test_constructor_returns_the_same_tensors(clusters):
    w, m, c = clusters.weights, clusters.means, clusters.covs
    g = GaussianMixture(w, m, c)
    assert g.weights is w and g.means is m and g.covs is c
    assert (g.n_components, g.dim) == (5, 2)


@pytest.mark.parametrize("alpha_bar", [1.0, 0.3, 0.01])
def test_score_matches_finite_differences_of_log_prob(clusters, alpha_bar):
    g = clusters.noised(alpha_bar)
    x = 2.5 * torch.randn(200, 2, generator=_gen(1), dtype=D64)
    fd = _fd_grad(g.log_prob, x)
    assert torch.allclose(g.score(x), fd, rtol=1e-6, atol=1e-6 * (1 + fd.abs().max()))


def test_hessian_and_tweedie_jacobian_match_finite_differences(clusters):
    ab = 0.4
    g = clusters.noised(ab)
    x = 2.0 * torch.randn(50, 2, generator=_gen(2), dtype=D64)
    H = g.hessian(x)
    for j in range(2):
        fd = _fd_grad(lambda z, j=j: g.score(z)[:, j], x)
        assert torch.allclose(H[:, j], fd, atol=1e-5 * (1 + fd.abs().max()))
    J = clusters.tweedie_jacobian(x, ab)
    for j in range(2):
        fd = _fd_grad(lambda z, j=j: clusters.tweedie(z, ab)[:, j], x)
        assert torch.allclose(J[:, j], fd, atol=1e-5 * (1 + fd.abs().max()))
    v = torch.randn(50, 2, generator=_gen(3), dtype=D64)
    assert torch.allclose(clusters.tweedie_vjp(x, ab, v), torch.einsum("nji,nj->ni", J, v))
    assert torch.allclose(J, J.transpose(1, 2))


def test_noised_moments_match_monte_carlo_forward_diffusion(clusters):
    gen, n = _gen(4), 400_000
    x0 = clusters.sample(n, gen)
    for ab in (0.9, 0.2):
        xt = math.sqrt(ab) * x0 + math.sqrt(1 - ab) * torch.randn(n, 2, generator=gen, dtype=D64)
        mean, cov = _moments(clusters.noised(ab))
        assert torch.allclose(xt.mean(0), mean, atol=0.01)
        assert torch.allclose(torch.cov(xt.T), cov, atol=0.02)
    ve = clusters.noised_ve(0.5)
    mean, cov = _moments(ve)
    xs = x0 + 0.5 * torch.randn(n, 2, generator=gen, dtype=D64)
    assert torch.allclose(xs.mean(0), mean, atol=0.01)
    assert torch.allclose(torch.cov(xs.T), cov, atol=0.02)


def test_sample_moments_and_component_occupancy(clusters):
    x = clusters.sample(200_000, _gen(5))
    mean, cov = _moments(clusters)
    assert torch.allclose(x.mean(0), mean, atol=0.01)
    assert torch.allclose(torch.cov(x.T), cov, atol=0.02)
    occ = clusters.responsibilities(x).mean(0)
    sd = (clusters.weights * (1 - clusters.weights) / 200_000).sqrt()
    assert ((occ - clusters.weights).abs() < 4 * sd + 1e-3).all()


def test_tweedie_is_the_conditional_mean_by_monte_carlo(clusters):
    """Orthogonality E[(x0 - x̂0(xt)) f(xt)] = 0 for f = 1, xt, and E[x0|xt] at one point."""
    gen, n, ab = _gen(6), 400_000, 0.5
    x0 = clusters.sample(n, gen)
    xt = math.sqrt(ab) * x0 + math.sqrt(1 - ab) * torch.randn(n, 2, generator=gen, dtype=D64)
    err = x0 - clusters.tweedie(xt, ab)
    assert err.mean(0).abs().max() < 0.01
    assert (err.T @ xt / n).abs().max() < 0.01
    point = math.sqrt(ab) * clusters.means[2:3] + torch.tensor([[0.3, 0.1]], dtype=D64)
    near = (xt - point).norm(dim=1) < 0.1
    assert near.sum() > 500
    dev = x0[near] - clusters.tweedie(point, ab)            # E[x0 | xt ≈ point] by Monte Carlo
    stderr = dev.std(0) / math.sqrt(int(near.sum()))
    assert (dev.mean(0).abs() < 4 * stderr + 0.01).all()


def test_posterior_matches_importance_weighted_monte_carlo(clusters):
    A = torch.tensor([[0.6, 0.8]], dtype=D64)
    y, sy = torch.tensor([0.5], dtype=D64), 0.2
    post = clusters.posterior(A, y, sy)
    x0 = clusters.sample(400_000, _gen(7))
    logw = -0.5 * ((y - x0 @ A.T) ** 2).sum(1) / sy ** 2
    w = torch.softmax(logw, 0)
    mc_mean = w @ x0
    mc_cov = (x0 - mc_mean).T @ ((x0 - mc_mean) * w[:, None])
    mean, cov = _moments(post)
    assert torch.allclose(mean, mc_mean, atol=1e-2)
    assert torch.allclose(cov, mc_cov, atol=1e-2)
    assert abs(float(post.weights.sum()) - 1) < 1e-12


def test_single_gaussian_posterior_is_the_kalman_update():
    S = torch.tensor([[1.0, 0.3], [0.3, 0.5]], dtype=D64)
    mu = torch.tensor([0.2, -0.1], dtype=D64)
    g = GaussianMixture(torch.ones(1, dtype=D64), mu[None], S[None])
    A = torch.tensor([[1.0, 2.0]], dtype=D64)
    y, sy = torch.tensor([0.7], dtype=D64), 0.3
    post = g.posterior(A, y, sy)
    info = torch.linalg.inv(S) + A.T @ A / sy ** 2
    cov = torch.linalg.inv(info)
    mean = cov @ (torch.linalg.solve(S, mu) + A.T @ y / sy ** 2)
    assert torch.allclose(post.covs[0], cov) and torch.allclose(post.means[0], mean)


def test_noiseless_posterior_lives_on_the_constraint(clusters):
    A = torch.tensor([[1.0, 0.0]], dtype=D64)
    post = clusters.posterior(A, torch.tensor([0.4], dtype=D64), 0.0)
    x = post.sample(1000, _gen(8))
    assert (x[:, 0] - 0.4).abs().max() < 1e-4


def test_likelihood_score_of_a_gaussian_prior_is_dps_plus_covariance_term():
    """§3.6 item 4, single Gaussian: ∇ log p(y|x_t) = Jᵀ Aᵀ (σ² + A Cov Aᵀ)^{-1} (y - A x̂0)."""
    S = torch.tensor([[0.8, 0.2], [0.2, 0.3]], dtype=D64)
    g = GaussianMixture(torch.ones(1, dtype=D64), torch.tensor([[0.5, -0.2]], dtype=D64), S[None])
    A, y, sy, ab = torch.tensor([[1.0, -1.0]], dtype=D64), torch.tensor([0.3], dtype=D64), 0.1, 0.5
    x = torch.randn(20, 2, generator=_gen(9), dtype=D64)
    exact = g.posterior(A, y, sy).noised(ab).score(x) - g.noised(ab).score(x)
    x0, J = g.tweedie(x, ab), g.tweedie_jacobian(x, ab)
    cov = g.posterior_covariance(x, ab)
    s_lik = sy ** 2 + torch.einsum("mi,nij,mj->n", A, cov, A)
    formula = torch.einsum("nji,j->ni", J, A[0]) * ((y - x0 @ A.T)[:, 0] / s_lik)[:, None]
    assert torch.allclose(exact, formula, atol=1e-10)
    dps = torch.einsum("nji,j->ni", J, A[0]) * ((y - x0 @ A.T)[:, 0] / sy ** 2)[:, None]
    assert not torch.allclose(exact, dps, atol=1e-3)


@pytest.mark.parametrize("name", list(BUILTIN_PRIORS))
@pytest.mark.parametrize("dim", [2, 3])
def test_builtin_priors(name, dim):
    g = BUILTIN_PRIORS[name](dim)
    assert g.dim == dim and g.dtype == D64
    GaussianMixture(g.weights, g.means, g.covs)           # passes validation
    if name == "ring":
        assert torch.allclose(g.means[:, :2].norm(dim=1), torch.full((16,), 2.0, dtype=D64))


def test_density_grid_layout_and_3d_marginal(clusters):
    grid = density_grid(clusters, (-3, 3), (-2, 2), res=5)
    assert grid.shape == (5, 5) and isinstance(grid, np.ndarray)
    pt = torch.tensor([[1.5, -1.0]], dtype=D64)       # x_j = 1.5 (j = 3), y_i = -1 (i = 1)
    assert grid[1, 3] == pytest.approx(float(clusters.log_prob(pt)))
    g3 = BUILTIN_PRIORS["clusters"](3)
    assert np.allclose(density_grid(g3, (-3, 3), (-3, 3), 8), density_grid(clusters, (-3, 3),
                                                                           (-3, 3), 8))


def test_fit_gmm_recovers_separated_clusters():
    gen = _gen(10)
    centers = torch.tensor([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]], dtype=D64)
    pts = torch.cat([c + 0.2 * torch.randn(300, 2, generator=gen, dtype=D64) for c in centers])
    g = fit_gmm(pts.numpy(), 3, seed=0)
    found = g.means[torch.cdist(centers, g.means).argmin(1)]
    assert torch.allclose(found, centers, atol=0.05)
    assert torch.allclose(g.weights.sort().values, torch.full((3,), 1 / 3, dtype=D64), atol=0.02)


def test_fit_gmm_is_robust_and_rejects_bad_points():
    line = np.stack([np.linspace(-1, 1, 50), np.linspace(-1, 1, 50)], 1)     # collinear stroke
    g = fit_gmm(line, 4, seed=1)
    assert bool((torch.linalg.eigvalsh(g.covs) > 0).all())
    with pytest.raises(ValueError, match="at least 5 points"):
        fit_gmm(line[:3], 5)
    with pytest.raises(ValueError, match="NaN"):
        fit_gmm(np.array([[0.0, np.nan], [1.0, 2.0], [3.0, 1.0]]), 1)
    with pytest.raises(ValueError, match="identical"):
        fit_gmm(np.ones((10, 2)), 2)
    with pytest.raises(ValueError, match="shape"):
        fit_gmm(np.ones(10), 2)


def _mix(weights, covs, means=None):
    K = len(weights)
    means = torch.zeros(K, 2, dtype=D64) if means is None else means
    return GaussianMixture(torch.tensor(weights, dtype=D64), means, torch.tensor(covs,
                                                                                 dtype=D64))


def test_bad_mixtures_are_rejected_with_clear_messages():
    eye = [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(ValueError, match="non-negative"):
        _mix([1.5, -0.5], [eye, eye])
    with pytest.raises(ValueError, match="sum to 1"):
        _mix([0.5, 0.6], [eye, eye])
    with pytest.raises(ValueError, match="covariance 1 is not positive definite"):
        _mix([0.5, 0.5], [eye, [[1.0, 0.0], [0.0, -1.0]]])
    with pytest.raises(ValueError, match="covariance 0 is singular"):
        _mix([1.0], [[[1.0, 1.0], [1.0, 1.0]]])
    with pytest.raises(ValueError, match="not symmetric"):
        _mix([1.0], [[[1.0, 0.5], [0.0, 1.0]]])
    with pytest.raises(ValueError, match="shapes disagree"):
        _mix([0.5, 0.5], [eye])
    with pytest.raises(ValueError, match="NaN"):
        _mix([1.0], [eye], means=torch.tensor([[0.0, float("nan")]], dtype=D64))


def test_bad_measurements_are_rejected(clusters):
    A, y = torch.tensor([[1.0, 0.0]]), torch.tensor([0.5])
    with pytest.raises(ValueError, match=r"A must have shape \(m, 2\)"):
        clusters.posterior(torch.ones(1, 3), y, 0.1)
    with pytest.raises(ValueError, match=r"y must have shape \(1,\)"):
        clusters.posterior(A, torch.ones(2), 0.1)
    with pytest.raises(ValueError, match="sigma_y"):
        clusters.posterior(A, y, -0.1)
    with pytest.raises(ValueError, match="full row rank"):
        clusters.posterior(torch.ones(2, 2), torch.ones(2), 0.1)


@pytest.mark.parametrize("dim", [2, 3])
def test_fast_float32_score_kernel_matches_the_whitened_float64_score(dim):
    """The sampler hot path (quadratic features, all t batched) vs the whitened evaluator."""
    from engine.diffusion.context import ExactScore
    from engine.diffusion.schedule import Schedule
    ring = BUILTIN_PRIORS["ring"](dim)
    sched = Schedule.linear()
    model = ExactScore(ring.to(dtype=torch.float32), sched)
    for t in (1, 30, 400, 1000):
        ab = sched.ab(t)
        x = ring.noised(ab).sample(3000, _gen(t))
        ref = ring.noised(ab).evaluator.score_from(ring.noised(ab).evaluator.parts(x))
        fast = model.score(x.float(), t).double()
        scale = ref.norm(dim=1).clamp_min(1.0)
        assert ((fast - ref).norm(dim=1) / scale).max() < 2e-3, t

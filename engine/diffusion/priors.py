"""Built-in Gaussian-mixture priors and EM fitting to user points (SCIENCE.md §3.5 toy defaults).

``BUILTIN_PRIORS[name](dim)`` → :class:`GaussianMixture` (float64, CPU) for ``dim`` 2 or 3:

- ``"clusters"``: five anisotropic clusters (stds 0.05–0.3, rotated) in ``[-3, 3]²``;
- ``"ring"``: 16 thin components (radial std 0.03, tangential std 0.3) on a circle of radius 2
  — a curve-like data manifold;
- ``"spiral"``: 14 thin components along an Archimedean spiral (a longer, curved manifold);
- ``"mcgdiff"``: the 25-component unit-covariance grid mixture of the MCGdiff protocol, in any
  ``dim >= 2`` (:func:`engine.diffusion.protocol.mcgdiff_mixture`, weights drawn with seed 0).

In 3-D the ring and the spiral are curves in the ``x₃ = 0`` plane (thin in ``x₃``, std 0.03; the
spiral climbs in ``x₃``), the clusters get a third axis of spread.
"""
from __future__ import annotations

import math
import time
from typing import Generator

import numpy as np
import torch

from engine.core import Progress, drain
from engine.diffusion.gmm import GaussianMixture
from engine.diffusion.protocol import mcgdiff_mixture

__all__ = ["BUILTIN_PRIORS", "fit_gmm", "fit_gmm_iter", "clusters", "ring", "spiral", "mcgdiff"]


def _rot(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def _covs_2d(stds: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Covariances ``R diag(std²) Rᵀ`` for per-component (major, minor) stds and angles."""
    return np.stack([_rot(a) @ np.diag(s ** 2) @ _rot(a).T
                     for s, a in zip(stds, angles, strict=True)])


def _lift(means2, covs2, dim: int, z_means=None, z_std: float = 0.03) -> tuple:
    """Embed 2-D components in ``dim`` (2 or 3) with an independent third coordinate."""
    if dim == 2:
        return means2, covs2
    if dim != 3:
        raise ValueError(f"built-in priors exist for dim 2 or 3, got {dim}")
    K = len(means2)
    zm = np.zeros(K) if z_means is None else np.asarray(z_means)
    means = np.concatenate([means2, zm[:, None]], axis=1)
    covs = np.zeros((K, 3, 3))
    covs[:, :2, :2] = covs2
    covs[:, 2, 2] = z_std ** 2
    return means, covs


def _gmm(weights, means, covs) -> GaussianMixture:
    w = np.asarray(weights, dtype=np.float64)
    return GaussianMixture(torch.tensor(w / w.sum()), torch.tensor(means),
                           torch.tensor(covs))


def clusters(dim: int = 2) -> GaussianMixture:
    """Five anisotropic, rotated clusters in ``[-3, 3]²`` (SCIENCE §3.5)."""
    means = np.array([[-2.0, -1.5], [1.8, -1.8], [0.0, 1.0], [-1.8, 2.0], [2.2, 1.6]])
    stds = np.array([[0.30, 0.06], [0.25, 0.10], [0.20, 0.20], [0.28, 0.05], [0.15, 0.08]])
    angles = np.array([0.4, -0.9, 0.0, 1.2, 2.4])
    means, covs = _lift(means, _covs_2d(stds, angles), dim, [-0.5, 0.4, 0.0, 0.6, -0.3], 0.2)
    return _gmm([0.25, 0.2, 0.2, 0.2, 0.15], means, covs)


def ring(dim: int = 2, k: int = 16, radius: float = 2.0, radial_std: float = 0.03,
         tangential_std: float = 0.3) -> GaussianMixture:
    """``k`` thin components on a circle of ``radius`` (curve-like manifold; SCIENCE §3.3)."""
    ang = 2 * math.pi * np.arange(k) / k
    means = radius * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    stds = np.tile([tangential_std, radial_std], (k, 1))
    means, covs = _lift(means, _covs_2d(stds, ang + math.pi / 2), dim)
    return _gmm(np.ones(k), means, covs)


def spiral(dim: int = 2, k: int = 14, turns: float = 1.6, r0: float = 0.5, r1: float = 2.8,
           normal_std: float = 0.04) -> GaussianMixture:
    """``k`` thin components along the spiral ``r = r0 + (r1 - r0) s``, ``θ = 2π·turns·s``."""
    s = (np.arange(k) + 0.5) / k
    theta, r = 2 * math.pi * turns * s, r0 + (r1 - r0) * s
    means = np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    tangent = np.stack([(r1 - r0) * np.cos(theta) - r * 2 * math.pi * turns * np.sin(theta),
                        (r1 - r0) * np.sin(theta) + r * 2 * math.pi * turns * np.cos(theta)], 1)
    spacing = np.linalg.norm(tangent, axis=1) / k
    stds = np.stack([0.45 * spacing, np.full(k, normal_std)], axis=1)
    angles = np.arctan2(tangent[:, 1], tangent[:, 0])
    means, covs = _lift(means, _covs_2d(stds, angles), dim, 1.5 * (s - 0.5), 0.03)
    return _gmm(r, means, covs)


def mcgdiff(dim: int = 8) -> GaussianMixture:
    """The MCGdiff protocol's 25-component grid mixture (``Σ_k = I``) in ``dim`` dimensions."""
    return mcgdiff_mixture(dim, 0).to_gmm()


BUILTIN_PRIORS = {"clusters": clusters, "ring": ring, "spiral": spiral, "mcgdiff": mcgdiff}


def _kmeans_pp(x: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """k-means++ seeding: centres chosen with probability ∝ squared distance."""
    centers = [x[torch.randint(len(x), (1,), generator=gen)].squeeze(0)]
    for _ in range(1, k):
        d2 = torch.cdist(x, torch.stack(centers)).amin(1).square()
        p = d2 / d2.sum() if float(d2.sum()) > 0 else torch.full_like(d2, 1.0 / len(x))
        centers.append(x[torch.multinomial(p, 1, generator=gen)].squeeze(0))
    return torch.stack(centers)


def _e_step(x, w, mu, cov):
    """Responsibilities (n, k) and mean log-likelihood (all components in one batched
    Cholesky log-density)."""
    lp = torch.distributions.MultivariateNormal(mu, cov).log_prob(x[:, None, :]) + torch.log(w)
    ll = torch.logsumexp(lp, 1)
    return torch.exp(lp - ll[:, None]), float(ll.mean())


def _m_step(x, r, reg):
    """Weights, means, covariances (+ ``reg`` I) from responsibilities."""
    nk = r.sum(0).clamp_min(1e-10)
    mu = (r.T @ x) / nk[:, None]
    diff = x[None] - mu[:, None]                                   # (k, n, d)
    cov = torch.einsum("kn,kni,knj->kij", r.T, diff, diff) / nk[:, None, None]
    eye = torch.eye(x.shape[1], dtype=x.dtype)
    w = (nk / nk.sum()).clamp_min(1e-6)
    return w / w.sum(), mu, cov + reg * eye


def fit_gmm(points, k: int, seed: int = 0, max_iter: int = 200,
            tol: float = 1e-6) -> GaussianMixture:
    """EM fit of a ``k``-component mixture to ``points`` (n, d) (k-means++ start, float64):
    :func:`fit_gmm_iter` run to the end (SCIENCE.md §3.2).

    Covariances are regularised by ``1e-3 ×`` the mean coordinate variance (plus 1e-9), so
    drawn strokes (collinear points) and duplicated points still give positive-definite
    components.

    Raises
    ------
    ValueError
        Points not (n, d), NaN/infinite values, ``k < 1``, fewer than ``max(2, k)`` points, or
        all points identical.
    """
    return drain(fit_gmm_iter(points, k, seed, max_iter, tol))


def fit_gmm_iter(points, k: int, seed: int = 0, max_iter: int = 200,
                 tol: float = 1e-6) -> Generator[Progress, None, GaussianMixture]:
    """:func:`fit_gmm` as a progress generator (SCIENCE.md §3.2): the points are checked
    before this returns (``ValueError`` as in :func:`fit_gmm`); iterating yields one
    :class:`~engine.core.Progress` per EM iteration (iteration, mean log-likelihood, time
    left at most) and returns the :class:`GaussianMixture`. Stops when the mean
    log-likelihood changes by less than ``tol × (1 + |ll|)`` or after ``max_iter``
    iterations; closing it cancels the fit."""
    x = _checked_points(points, k)
    return _em(x, k, int(seed), int(max_iter), float(tol))


def _checked_points(points, k) -> torch.Tensor:
    """``points`` as a float64 (n, d) tensor, or a ``ValueError`` saying what is wrong."""
    x = torch.as_tensor(np.asarray(points, dtype=np.float64))
    if x.ndim != 2 or x.shape[1] < 1:
        raise ValueError(f"points must have shape (n, d), got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("points contain NaN or infinite values")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if len(x) < max(2, k):
        raise ValueError(f"need at least {max(2, k)} points to fit {k} components, got {len(x)}")
    if float(x.var(0).mean()) <= 0:
        raise ValueError("all points are identical: cannot fit a mixture")
    return x


def _em(x: torch.Tensor, k: int, seed: int, max_iter: int, tol: float) -> Generator:
    """The EM iterations of :func:`fit_gmm_iter` (one ``Progress`` after each)."""
    gen = torch.Generator().manual_seed(seed)
    reg = 1e-3 * float(x.var(0).mean()) + 1e-9
    yield Progress(0.0, f"EM fit of {len(x)} points, {k} components: k-means++ start")
    mu = _kmeans_pp(x, k, gen)
    r = torch.nn.functional.one_hot(torch.cdist(x, mu).argmin(1), k).to(x.dtype)
    w, mu, cov = _m_step(x, r + 1e-6, reg)
    prev, t0 = -math.inf, time.perf_counter()
    for i in range(1, max_iter + 1):
        r, ll = _e_step(x, w, mu, cov)
        w, mu, cov = _m_step(x, r, reg)
        left = (time.perf_counter() - t0) / i * (max_iter - i)
        yield Progress(i / max_iter, f"EM fit: iteration {i}/{max_iter}, log-likelihood "
                                     f"{ll:.4f}, at most {left:.0f} s left")
        if abs(ll - prev) < tol * (1.0 + abs(ll)):
            break
        prev = ll
    return GaussianMixture(w, mu, 0.5 * (cov + cov.transpose(1, 2)))

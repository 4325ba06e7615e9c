"""Gaussian-mixture prior with everything in closed form (SCIENCE.md §3.2).

``p_0(x) = Σ_k π_k N(x; μ_k, Σ_k)``. Its VP-noised marginal is again a mixture,
``p_t = Σ_k π_k N(√ᾱ_t μ_k, ᾱ_t Σ_k + (1-ᾱ_t) I)`` (VE: ``N(μ_k, Σ_k + σ² I)``), so scores, Tweedie
estimates ``E[x_0|x_t]`` and their Jacobians are exact, and for ``y = A x_0 + n`` the posterior
is a mixture too (Kalman update per component, re-weighted by the evidence).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch

from engine.diffusion.gmm_eval import MixtureEval

__all__ = ["GaussianMixture"]


def _as_tensor(v, name: str) -> torch.Tensor:
    t = v if isinstance(v, torch.Tensor) else torch.as_tensor(v, dtype=torch.float64)
    if not t.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {t.dtype}")
    return t


def _check_shapes(weights, means, covs) -> None:
    if weights.ndim != 1 or means.ndim != 2 or covs.ndim != 3:
        raise ValueError("GaussianMixture expects weights (K,), means (K, d) and covs (K, d, d); "
                         f"got {tuple(weights.shape)}, {tuple(means.shape)}, {tuple(covs.shape)}")
    K, d = means.shape
    if K < 1 or d < 1 or weights.shape[0] != K or covs.shape != (K, d, d):
        raise ValueError("GaussianMixture shapes disagree: weights "
                         f"{tuple(weights.shape)}, means {tuple(means.shape)}, covs "
                         f"{tuple(covs.shape)} (expected (K,), (K, d), (K, d, d))")
    if len({weights.dtype, means.dtype, covs.dtype}) != 1:
        raise ValueError("weights, means and covs must share one dtype")
    if len({weights.device, means.device, covs.device}) != 1:
        raise ValueError("weights, means and covs must be on one device")


def _check_values(weights, means, covs) -> None:
    """Finite values, a probability vector, symmetric positive-definite covariances."""
    for name, t in (("weights", weights), ("means", means), ("covs", covs)):
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"GaussianMixture: {name} contain NaN or infinite values")
    tol = 1e-5 if weights.dtype == torch.float32 else 1e-9
    if bool((weights < 0).any()):
        raise ValueError(f"mixture weights must be non-negative, got {weights.tolist()}")
    total = float(weights.sum())
    if abs(total - 1.0) > tol:
        raise ValueError(f"mixture weights must sum to 1, they sum to {total:.6g}")
    c64 = covs.detach().to("cpu", torch.float64)
    scale = c64.abs().amax(dim=(-1, -2)).clamp_min(1e-300)
    asym = (c64 - c64.transpose(-1, -2)).abs().amax(dim=(-1, -2)) / scale
    for k in torch.nonzero(asym > 1e-6).flatten().tolist():
        raise ValueError(f"covariance {k} is not symmetric")
    lam = torch.linalg.eigvalsh(c64)
    eps = torch.finfo(covs.dtype).eps
    for k in range(lam.shape[0]):
        lo, hi = float(lam[k, 0]), float(lam[k, -1])
        tol = 100 * eps * max(abs(hi), 1e-300)
        if lo < -tol or hi <= 0:
            raise ValueError(f"covariance {k} is not positive definite (smallest eigenvalue "
                             f"{lo:.3g})")
        if lo <= tol:
            raise ValueError(f"covariance {k} is singular (eigenvalues {lo:.3g} .. {hi:.3g}, "
                             "condition number too large)")


def _cholesky(covs: torch.Tensor) -> torch.Tensor:
    """Cholesky factors; degenerate (PSD) covariances — e.g. the σ_y = 0 posterior, which lives
    on ``{A x = y}`` — get their eigenvalues floored at ``eps·λ_max + 1e-30`` first."""
    L, info = torch.linalg.cholesky_ex(covs)
    if bool((info > 0).any()):
        lam, vec = torch.linalg.eigh(0.5 * (covs + covs.transpose(-1, -2)))
        eps = torch.finfo(covs.dtype).eps
        floor = 4 * eps * lam.abs().amax(-1, keepdim=True) + 1e-30
        fixed = (vec * lam.clamp_min(floor).unsqueeze(-2)) @ vec.transpose(-1, -2)
        L = torch.linalg.cholesky(0.5 * (fixed + fixed.transpose(-1, -2)))
    return L


class GaussianMixture:
    """Mixture ``Σ_k π_k N(μ_k, Σ_k)`` in R^d, batched over points (SCIENCE.md §3.2).

    Parameters
    ----------
    weights : Tensor (K,)
        Non-negative, summing to 1.
    means : Tensor (K, d)
    covs : Tensor (K, d, d)
        Symmetric positive-definite covariances.
    check : bool
        Validate the inputs (default). Internal constructions (noised marginals, posteriors,
        which may be degenerate for ``σ_y = 0``) skip it.

    Raises
    ------
    ValueError
        Wrong shapes, NaN, negative weights or weights not summing to 1, a non-symmetric,
        singular or non-positive-definite covariance.
    """

    def __init__(self, weights, means, covs, *, check: bool = True):
        weights, means, covs = (_as_tensor(weights, "weights"), _as_tensor(means, "means"),
                                _as_tensor(covs, "covs"))
        _check_shapes(weights, means, covs)
        if check:
            _check_values(weights, means, covs)
        self.weights, self.means, self.covs = weights, means, covs
        self.chol = _cholesky(covs)
        self._eval: Optional[MixtureEval] = None
        self._noised_cache: dict = {}

    # --- basic properties -------------------------------------------------------------------
    @property
    def n_components(self) -> int:
        """Number of components ``K``."""
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        """Dimension ``d``."""
        return self.means.shape[1]

    @property
    def dtype(self) -> torch.dtype:
        return self.means.dtype

    @property
    def device(self) -> torch.device:
        return self.means.device

    def __repr__(self) -> str:
        return f"GaussianMixture(K={self.n_components}, d={self.dim}, dtype={self.dtype})"

    def to(self, device=None, dtype=None) -> "GaussianMixture":
        """The same mixture on another device / dtype (no re-validation)."""
        conv = dict(device=device if device is not None else self.device,
                    dtype=dtype if dtype is not None else self.dtype)
        return GaussianMixture(self.weights.to(**conv), self.means.to(**conv),
                               self.covs.to(**conv), check=False)

    @property
    def evaluator(self) -> MixtureEval:
        """Cached whitened evaluator (:class:`~engine.diffusion.gmm_eval.MixtureEval`)."""
        if self._eval is None:
            self._eval = MixtureEval(torch.log(self.weights), self.means, self.chol)
        return self._eval

    def noised_evaluator(self, alpha_bar: float) -> MixtureEval:
        """Evaluator of :meth:`noised` ``(alpha_bar)``, cached on this mixture (shared by the
        sampler's score model and the per-frame metrics of a run)."""
        ab = float(alpha_bar)
        ev = self._noised_cache.get(ab)
        if ev is None:
            if len(self._noised_cache) >= 4096:
                self._noised_cache.clear()
            ev = self._noised_cache[ab] = self.noised(ab).evaluator
        return ev

    # --- densities -----------------------------------------------------------------------
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``log p(x)`` for ``x`` (N, d) → (N,)."""
        return self.evaluator.log_prob(x)

    def responsibilities(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior component probabilities ``w_k(x)`` (N, K) (log-space softmax)."""
        return self.evaluator.parts(x).w

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Exact score ``∇ log p(x) = -Σ_k w_k(x) Σ_k^{-1}(x - μ_k)`` (N, d) (SCIENCE §3.2)."""
        return self.evaluator.score(x)

    def hessian(self, x: torch.Tensor) -> torch.Tensor:
        """``∇² log p(x)`` (N, d, d) (SCIENCE §3.2)."""
        return self.evaluator.hessian(x)

    def mahalanobis_min(self, x: torch.Tensor) -> torch.Tensor:
        """``min_k √((x-μ_k)ᵀ Σ_k^{-1} (x-μ_k))`` (N,): distance to the nearest component (§3.3)."""
        return self.evaluator.mahalanobis_min(x)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` samples (n, d) drawn with ``generator`` (on the mixture's device)."""
        idx = torch.multinomial(self.weights, int(n), replacement=True, generator=generator)
        z = torch.randn(int(n), self.dim, generator=generator, dtype=self.dtype,
                        device=self.device)
        return self.means[idx] + torch.einsum("nij,nj->ni", self.chol[idx], z)

    # --- noising -------------------------------------------------------------------------
    def noised(self, alpha_bar: float) -> "GaussianMixture":
        """VP marginal ``p_t = Σ_k π_k N(√ᾱ μ_k, ᾱ Σ_k + (1-ᾱ) I)`` (SCIENCE §3.2)."""
        ab = float(alpha_bar)
        if not 0.0 <= ab <= 1.0:
            raise ValueError(f"alpha_bar must lie in [0, 1], got {ab}")
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        return GaussianMixture(self.weights, math.sqrt(ab) * self.means,
                               ab * self.covs + (1.0 - ab) * eye, check=False)

    def noised_ve(self, sigma: float) -> "GaussianMixture":
        """VE marginal ``Σ_k π_k N(μ_k, Σ_k + σ² I)`` (SCIENCE §3.1-3.2)."""
        sigma = float(sigma)
        if not sigma >= 0.0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        eye = torch.eye(self.dim, dtype=self.dtype, device=self.device)
        return GaussianMixture(self.weights, self.means, self.covs + sigma ** 2 * eye,
                               check=False)

    def marginal(self, dims: Sequence[int]) -> "GaussianMixture":
        """Marginal mixture of the coordinates ``dims`` (e.g. ``(0, 1)`` of a 3-D prior)."""
        idx = torch.as_tensor(list(dims), device=self.device)
        return GaussianMixture(self.weights, self.means[:, idx],
                               self.covs[:, idx][:, :, idx], check=False)

    # --- Tweedie -------------------------------------------------------------------------
    def tweedie(self, x: torch.Tensor, alpha_bar: float) -> torch.Tensor:
        """``E[x_0 | x_t = x] = (x + (1-ᾱ) ∇ log p_t(x)) / √ᾱ`` (N, d) (SCIENCE §3.1-3.2)."""
        ab = _check_ab(alpha_bar)
        return (x + (1.0 - ab) * self.noised(ab).score(x)) / math.sqrt(ab)

    def tweedie_jacobian(self, x: torch.Tensor, alpha_bar: float) -> torch.Tensor:
        """``∂x̂_0/∂x_t = (I + (1-ᾱ) ∇² log p_t) / √ᾱ`` (N, d, d), symmetric (SCIENCE §3.2)."""
        ab = _check_ab(alpha_bar)
        eye = torch.eye(self.dim, dtype=x.dtype, device=x.device)
        return (eye + (1.0 - ab) * self.noised(ab).hessian(x)) / math.sqrt(ab)

    def tweedie_vjp(self, x: torch.Tensor, alpha_bar: float,
                    v: torch.Tensor) -> torch.Tensor:
        """``(∂x̂_0/∂x_t)ᵀ v`` (N, d) without forming the Jacobian (it is symmetric)."""
        ab = _check_ab(alpha_bar)
        hv, _ = self.noised(ab).evaluator.hvp(x, v)
        return (v + (1.0 - ab) * hv) / math.sqrt(ab)

    def posterior_covariance(self, x: torch.Tensor, alpha_bar: float) -> torch.Tensor:
        """``Cov[x_0|x_t] = ((1-ᾱ)/ᾱ)(I + (1-ᾱ) ∇² log p_t)`` (N, d, d) (SCIENCE §3.2)."""
        ab = _check_ab(alpha_bar)
        return (1.0 - ab) / math.sqrt(ab) * self.tweedie_jacobian(x, ab)

    # --- measurement posterior --------------------------------------------------------------
    def posterior(self, A: torch.Tensor, y: torch.Tensor, sigma_y: float) -> "GaussianMixture":
        """Exact posterior of ``x_0`` given ``y = A x_0 + n``, ``n ~ N(0, σ_y² I)`` (SCIENCE §3.2).

        Per component the Kalman update ``G_k = Σ_k Aᵀ (A Σ_k Aᵀ + σ_y² I)^{-1}``,
        ``μ̃_k = μ_k + G_k (y - A μ_k)``, ``Σ̃_k = Σ_k - G_k A Σ_k``, and weights
        ``π̃_k ∝ π_k N(y; A μ_k, A Σ_k Aᵀ + σ_y² I)``. Computed in float64, returned in the
        prior's dtype/device. ``σ_y = 0`` is allowed when every ``A Σ_k Aᵀ`` is invertible
        (the posterior is then degenerate: it lives on ``{A x = y}``).

        Parameters
        ----------
        A : Tensor (m, d)
        y : Tensor (m,)
        sigma_y : float, >= 0
        """
        from engine.diffusion.linalg import check_measurement
        A64, y64 = check_measurement(A, y, sigma_y, self.dim)
        A64, y64 = A64.cpu(), y64.cpu()
        pi, mu, S = (t.detach().to("cpu", torch.float64) for t in (self.weights, self.means,
                                                                     self.covs))
        m = A64.shape[0]
        innov = A64 @ S @ A64.T + float(sigma_y) ** 2 * torch.eye(m, dtype=torch.float64)
        L, info = torch.linalg.cholesky_ex(innov)
        if bool((info > 0).any()):
            raise ValueError("A Σ_k Aᵀ + σ_y² I is singular: with σ_y = 0, A must have full row "
                             "rank and observe directions in which every component has spread")
        gain = torch.cholesky_solve(A64 @ S, L).transpose(-1, -2)              # (K, d, m)
        r = y64 - mu @ A64.T                                                  # (K, m)
        mu_post = mu + torch.einsum("kdm,km->kd", gain, r)
        cov_post = S - gain @ A64 @ S
        cov_post = 0.5 * (cov_post + cov_post.transpose(-1, -2))
        white = torch.linalg.solve_triangular(L, r.unsqueeze(-1), upper=False).squeeze(-1)
        logev = (-0.5 * white.square().sum(-1) - torch.log(torch.diagonal(L, dim1=-2, dim2=-1))
                 .sum(-1) - 0.5 * m * math.log(2 * math.pi))
        logw = torch.log(pi) + logev
        w = torch.softmax(logw, dim=0)
        conv = dict(device=self.device, dtype=self.dtype)
        return GaussianMixture(w.to(**conv), mu_post.to(**conv), cov_post.to(**conv),
                               check=False)


def _check_ab(alpha_bar: float) -> float:
    ab = float(alpha_bar)
    if not 0.0 < ab <= 1.0:
        raise ValueError(f"alpha_bar must lie in (0, 1] for Tweedie estimates, got {ab}")
    return ab

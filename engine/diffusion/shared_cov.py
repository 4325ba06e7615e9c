"""Gaussian mixtures whose components share one covariance ``Σ = I + U diag(δ) Uᵀ``, in any ``d``.

The MCGdiff / TMPD high-dimensional protocol (Cardoso et al. 2024, arXiv 2308.07983, §4.1;
Boys et al. 2023, arXiv 2310.06721, §5) uses a 25-component mixture with ``Σ_k = I`` in
``d ∈ {8, 80, 800}``; its posterior given ``y = A x + n`` again shares one covariance, equal to
the identity outside the ``m`` rows of ``A``. Every quantity of SCIENCE.md §3.2 then costs
``O(N K d + N d r)`` instead of ``O(N K d²)``: with ``C_t = ᾱ_t Σ + (1-ᾱ_t) I =
I + U diag(ᾱ_t δ) Uᵀ`` and ``m_k = √ᾱ_t μ_k``

- responsibilities ``w_k ∝ π_k exp(xᵀC⁻¹m_k - ½ m_kᵀC⁻¹m_k)`` (the common terms cancel);
- score ``s = -C⁻¹(x - Σ_k w_k m_k)``; Tweedie ``x̂_0 = (x + (1-ᾱ) s)/√ᾱ``;
- Hessian-vector product ``H v = Σ_k w_k s_k (s_kᵀv) - C⁻¹v - s (sᵀv)``.

:class:`SharedMixture` is the law (samples, posterior, the dense
:class:`~engine.diffusion.gmm.GaussianMixture` for small ``d``), :class:`SharedScore` its exact
denoiser behind the solver contract (:class:`~engine.sampling.contract.Denoiser`).
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch

from engine.diffusion.context import sample_noised
from engine.diffusion.gmm import GaussianMixture
from engine.sampling.schedule import Schedule

__all__ = ["SharedMixture", "SharedScore", "shared_or_none"]

D64 = torch.float64


class SharedMixture:
    """``Σ_k π_k N(μ_k, I + U diag(δ) Uᵀ)`` (float64, CPU), ``U`` (d, r) orthonormal, ``δ > -1``."""

    def __init__(self, weights, means, U=None, delta=None):
        self.weights = torch.as_tensor(weights, dtype=D64)
        self.means = torch.as_tensor(means, dtype=D64)
        d = self.means.shape[1]
        self.U = torch.zeros(d, 0, dtype=D64) if U is None else torch.as_tensor(U, dtype=D64)
        self.delta = torch.zeros(0, dtype=D64) if delta is None else torch.as_tensor(delta,
                                                                                     dtype=D64)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    def apply_cov(self, v: torch.Tensor, power: float = 1.0) -> torch.Tensor:
        """``Σ^power v`` for rows ``v`` (N, d) (``Σ = I + U diag(δ) Uᵀ``)."""
        coef = (1.0 + self.delta) ** power - 1.0
        return v + ((v @ self.U) * coef) @ self.U.T

    def covariance(self) -> torch.Tensor:
        """The shared ``Σ`` (d, d)."""
        return self.apply_cov(torch.eye(self.dim, dtype=D64))

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` samples (n, d) drawn with ``gen`` (component, then ``μ_k + Σ^{1/2} z``)."""
        idx = torch.multinomial(self.weights, int(n), replacement=True, generator=gen)
        z = torch.randn(int(n), self.dim, generator=gen, dtype=D64)
        return self.means[idx] + self.apply_cov(z, 0.5)

    def sample_noised(self, n: int, alpha_bar: float, gen: torch.Generator) -> torch.Tensor:
        """Exact samples of the VP marginal at ``ᾱ`` (SCIENCE §3.2)."""
        return sample_noised(self, n, alpha_bar, gen)

    def to_gmm(self) -> GaussianMixture:
        """The dense :class:`GaussianMixture` (K × d × d covariances: small ``d`` only)."""
        cov = self.covariance()
        K = self.n_components
        return GaussianMixture(self.weights, self.means,
                               (0.5 * (cov + cov.T)).expand(K, -1, -1).clone(), check=False)

    def posterior(self, A, y, sigma_y: float) -> "SharedMixture":
        """Exact posterior given ``y = A x + n``, ``n ~ N(0, σ_y² I)`` (SCIENCE §3.2, Kalman update
        shared by all components): ``G = ΣAᵀ(AΣAᵀ + σ_y² I)⁻¹``, ``μ̃_k = μ_k + G(y - Aμ_k)``,
        ``Σ̃ = Σ - GAΣ`` (identity plus a rank ``≤ r + m`` term), ``π̃_k ∝ π_k N(y; Aμ_k, AΣAᵀ +
        σ_y² I)``."""
        A, y = torch.as_tensor(A, dtype=D64), torch.as_tensor(y, dtype=D64)
        m = A.shape[0]
        sa = self.apply_cov(A).T                                       # Σ Aᵀ (d, m)
        innov = A @ sa + float(sigma_y) ** 2 * torch.eye(m, dtype=D64)
        L = torch.linalg.cholesky(innov)
        gain = torch.cholesky_solve(sa.T, L).T                         # (d, m)
        r = y - self.means @ A.T                                       # (K, m)
        white = torch.linalg.solve_triangular(L, r.T, upper=False).T
        logw = torch.log(self.weights) - 0.5 * white.square().sum(-1)
        means = self.means + r @ gain.T
        basis, _ = torch.linalg.qr(torch.cat([self.U, gain], dim=1))
        core = ((basis.T @ self.U) * self.delta) @ (self.U.T @ basis) - (basis.T @ gain) @ (
            sa.T @ basis)
        lam, vec = torch.linalg.eigh(0.5 * (core + core.T))
        keep = lam.abs() > 1e-12
        return SharedMixture(torch.softmax(logw, 0), means, basis @ vec[:, keep], lam[keep])


def shared_or_none(gmm: GaussianMixture, tol: float = 1e-10) -> Optional[SharedMixture]:
    """``gmm`` as a :class:`SharedMixture` when all its covariances are one matrix, else None."""
    covs = gmm.covs.detach().to("cpu", D64)
    if not bool(((covs - covs[0]).abs() <= tol).all()):
        return None
    lam, vec = torch.linalg.eigh(covs[0])
    keep = (lam - 1.0).abs() > tol
    return SharedMixture(gmm.weights.detach().cpu(), gmm.means.detach().cpu(), vec[:, keep],
                         lam[keep] - 1.0)


class SharedScore:
    """Exact denoiser of a :class:`SharedMixture` under a VP schedule (SCIENCE §3.2), any ``d``.

    Same methods as :class:`~engine.diffusion.context.ExactScore` (``denoise``,
    ``denoise_grad``, ``tweedie_jvp``, ``sample``, ``sample_noised``); computed in float64 and
    returned in the dtype/device of ``x``.
    """

    def __init__(self, mixture: SharedMixture, schedule: Schedule, device="cpu",
                 dtype=torch.float32):
        self.mixture, self.schedule = mixture, schedule
        self.device, self.dtype = torch.device(device), dtype
        self._levels: dict = {}

    def ab(self, t) -> float:
        return self.schedule.ab(t)

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return self.mixture.sample(n, _cpu(gen)).to(device=self.device, dtype=self.dtype)

    def sample_noised(self, n: int, alpha_bar: float, gen: torch.Generator) -> torch.Tensor:
        return sample_noised(self, n, alpha_bar, gen)

    def _level(self, ab: float) -> tuple:
        """``(γ, C⁻¹m (K, d), m·C⁻¹m (K,), m (K, d))`` at ``ᾱ``; ``C⁻¹ = I + U diag(γ) Uᵀ``."""
        if ab not in self._levels:
            mix = self.mixture
            gamma = 1.0 / (1.0 + ab * mix.delta) - 1.0
            m = math.sqrt(ab) * mix.means
            cm = self._prec(m, gamma)
            self._levels[ab] = (gamma, cm, (m * cm).sum(-1), m)
        return self._levels[ab]

    def _prec(self, v: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
        U = self.mixture.U
        return v + ((v @ U) * gamma) @ U.T

    def _parts(self, x: torch.Tensor, ab: float) -> tuple:
        """Responsibilities ``w`` (N, K), ``C⁻¹x`` and the score, float64."""
        gamma, cm, q, _ = self._level(ab)
        x64 = x.detach().to("cpu", D64)
        w = torch.softmax(torch.log(self.mixture.weights) + x64 @ cm.T - 0.5 * q, dim=-1)
        cx = self._prec(x64, gamma)
        return w, cx, w @ cm - cx, x64

    def score(self, x: torch.Tensor, t: int) -> torch.Tensor:
        """``∇ log p_t(x)`` (N, d)."""
        return self._parts(x, self.ab(t))[2].to(x)

    def denoise(self, x: torch.Tensor, t) -> tuple:
        """Tweedie ``x̂_0`` and ``ε̂`` at ``x_t = x`` (``t >= 1``)."""
        ab = self.ab(t)
        s = self._parts(x, ab)[2].to(x)
        return (x + (1.0 - ab) * s) / math.sqrt(ab), -math.sqrt(1.0 - ab) * s

    def _hvp(self, parts: tuple, v: torch.Tensor, ab: float) -> torch.Tensor:
        """``∇² log p_t v`` from :meth:`_parts`, float64 (no (N, d, d) tensor)."""
        w, cx, s, _ = parts
        gamma, cm, _, _ = self._level(ab)
        v64 = v.detach().to("cpu", D64)
        skv = v64 @ cm.T - (cx * v64).sum(-1, keepdim=True)           # s_k·v (N, K)
        wa = w * skv
        mixed = wa @ cm - cx * wa.sum(-1, keepdim=True)                # Σ_k w_k (s_k·v) s_k
        return mixed - self._prec(v64, gamma) - s * (s * v64).sum(-1, keepdim=True)

    def tweedie_jvp(self, x: torch.Tensor, t, v: torch.Tensor) -> torch.Tensor:
        """``(∂x̂_0/∂x_t) v = (v + (1-ᾱ) H v)/√ᾱ`` (SCIENCE §3.2)."""
        ab = self.ab(t)
        hv = self._hvp(self._parts(x, ab), v, ab).to(x)
        return (v + (1.0 - ab) * hv) / math.sqrt(ab)

    def denoise_grad(self, x: torch.Tensor, t, cotangent: Callable) -> tuple:
        """``(x̂_0, ε̂, Jᵀ cotangent(x̂_0))`` in closed form (J symmetric; SCIENCE §3.2)."""
        ab = self.ab(t)
        parts = self._parts(x, ab)
        s = parts[2].to(x)
        x0 = (x + (1.0 - ab) * s) / math.sqrt(ab)
        v = cotangent(x0)
        hv = self._hvp(parts, v, ab).to(x)
        return x0, -math.sqrt(1.0 - ab) * s, (v + (1.0 - ab) * hv) / math.sqrt(ab)


def _cpu(gen: torch.Generator) -> torch.Generator:
    """The mixture samples on the CPU: a CUDA generator is replaced by a CPU one seeded from it."""
    if gen.device.type == "cpu":
        return gen
    seed = int(torch.randint(0, 2**62, (1,), generator=gen, device=gen.device))
    return torch.Generator().manual_seed(seed)

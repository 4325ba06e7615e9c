"""The Gaussian-mixture model and measurement behind the shared solver contract (SCIENCE.md §3.2).

:class:`ExactScore` is the exact denoiser of a mixture prior (a
:class:`~engine.sampling.contract.Denoiser` with closed-form gradients through ``x̂_0``) and
:class:`LinearData` the toy measurement ``y = A x + n`` as a
:class:`~engine.sampling.contract.DataConsistency` object, so the solvers of
:mod:`engine.sampling` run on the toys unchanged. :class:`Context` and :class:`Step` are
re-exported from :mod:`engine.sampling.contract`.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch

from engine.diffusion.gmm import GaussianMixture
from engine.diffusion.gmm_eval import MixtureEval
from engine.diffusion.linalg import Measurement, dds_consistency
from engine.diffusion.score_kernel import QuadraticScore
from engine.sampling.contract import Context, Step
from engine.sampling.schedule import Schedule

__all__ = ["ExactScore", "LinearData", "Context", "Step"]


class ExactScore:
    """Exact score / denoiser of a Gaussian-mixture prior under a VP schedule (SCIENCE §3.2).

    ``score(x, t) = ∇ log p_t(x)``, ``denoise(x, t) = (x̂_0, ε̂)`` with
    ``x̂_0 = (x + (1-ᾱ_t) s)/√ᾱ_t`` and ``ε̂ = -√(1-ᾱ_t) s``. The noised covariances
    ``ᾱ_t Σ_k + (1-ᾱ_t) I`` of all ``t = 1..T`` are factorised once, batched, on first use
    (:class:`~engine.diffusion.score_kernel.QuadraticScore`); gradients through ``x̂_0`` use the
    whitened evaluator of :meth:`GaussianMixture.noised_evaluator`.
    """

    def __init__(self, gmm: GaussianMixture, schedule: Schedule):
        self.gmm, self.schedule = gmm, schedule
        self._table: Optional[QuadraticScore] = None

    def table(self) -> QuadraticScore:
        """Score kernels of ``p_t`` for every ``t = 1..T`` (member ``t - 1``)."""
        if self._table is None:
            g = self.gmm
            conv = dict(dtype=torch.float64, device=g.device)
            ab = torch.as_tensor(self.schedule.alpha_bar[1:], **conv)[:, None, None, None]
            eye = torch.eye(g.dim, **conv)
            cov = ab * g.covs.to(**conv) + (1.0 - ab) * eye                   # (T, K, d, d)
            chol = torch.linalg.cholesky(cov)
            prec = torch.cholesky_inverse(chol)
            logdet = 2.0 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
            const = (torch.log(g.weights.to(**conv)) - 0.5 * logdet
                     - 0.5 * g.dim * math.log(2 * math.pi))
            means = ab[..., 0].sqrt() * g.means.to(**conv)
            self._table = QuadraticScore(means, prec, const, dtype=g.dtype)
        return self._table

    def ab(self, t: int) -> float:
        """``ᾱ_t``."""
        return self.schedule.ab(t)

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` exact samples of the mixture (CCDF's prior-sample start)."""
        return self.gmm.sample(n, gen)

    def sample_noised(self, n: int, alpha_bar: float, gen: torch.Generator) -> torch.Tensor:
        """``n`` exact samples of ``p_t = Σ_k π_k N(√ᾱ μ_k, ᾱ Σ_k + (1-ᾱ) I)`` at ``ᾱ_t = alpha_bar``
        (``√ᾱ x_0 + √(1-ᾱ) ε``, SCIENCE §3.2): the exact start of a reverse path."""
        return sample_noised(self.gmm, n, alpha_bar, gen)

    def tweedie_jvp(self, x: torch.Tensor, t: int, v: torch.Tensor) -> torch.Tensor:
        """``(∂x̂_0/∂x_t) v = (v + (1-ᾱ) ∇² log p_t v)/√ᾱ`` (symmetric; SCIENCE §3.2)."""
        ab = self.schedule.ab(t)
        hv, _ = self.at(t).hvp(x, v)
        return (v + (1.0 - ab) * hv) / math.sqrt(ab)

    def at(self, t: int) -> MixtureEval:
        """Whitened evaluator of ``p_t`` (cached on the mixture)."""
        return self.gmm.noised_evaluator(self.schedule.ab(t))

    def score(self, x: torch.Tensor, t: int) -> torch.Tensor:
        """``∇ log p_t(x)`` (N, d)."""
        t = int(t)
        return self.table()(x, t - 1) if t > 0 else self.gmm.score(x)

    def denoise(self, x: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Tweedie ``x̂_0`` and the noise estimate ``ε̂`` at ``x_t = x`` (``t >= 1``)."""
        ab = self.schedule.ab(t)
        s = self.score(x, t)
        return (x + (1.0 - ab) * s) / math.sqrt(ab), -math.sqrt(1.0 - ab) * s

    def denoise_grad(self, x: torch.Tensor, t: int, cotangent: Callable):
        """``(x̂_0, ε̂, Jᵀ v)`` with ``v = cotangent(x̂_0)`` and the exact Tweedie Jacobian
        ``J = ∂x̂_0/∂x_t = (I + (1-ᾱ)∇² log p_t)/√ᾱ`` (symmetric; SCIENCE §3.2).

        This is the gradient ``∇_{x_t} L(x̂_0(x_t))`` when ``v = ∇L(x̂_0)`` — what autograd
        through a score network gives MCG and DPS, here in closed form.
        """
        ab = self.schedule.ab(t)
        ev = self.at(t)
        p = ev.parts(x)
        s = ev.score_from(p)
        x0 = (x + (1.0 - ab) * s) / math.sqrt(ab)
        v = cotangent(x0)
        hv, _ = ev.hvp_from(p, v)
        return x0, -math.sqrt(1.0 - ab) * s, (v + (1.0 - ab) * hv) / math.sqrt(ab)



def sample_noised(model, n: int, alpha_bar: float, gen: torch.Generator) -> torch.Tensor:
    """``√ᾱ x_0 + √(1-ᾱ) ε`` with ``x_0 ~ model.sample`` and ``ε ~ N(0, I)`` drawn from ``gen``."""
    ab = float(alpha_bar)
    x0 = model.sample(int(n), gen)
    eps = torch.randn(x0.shape, generator=gen, dtype=x0.dtype, device=x0.device)
    return torch.add(math.sqrt(ab) * x0, eps, alpha=math.sqrt(1.0 - ab))


class LinearData:
    """A toy :class:`~engine.diffusion.linalg.Measurement` as the solvers' data-consistency object.

    Points are rows ``x`` (N, d); ``project`` is the exact (relaxed) projection onto
    ``{A x = target}`` and accepts the diffused measurement ``y_t`` (§3.4 (a)).
    """
    noisy_targets = True

    def __init__(self, meas: Measurement):
        self.meas = meas
        self._tiny = torch.finfo(meas.A.dtype).tiny ** 0.5

    def project(self, x: torch.Tensor, target=None, lam: float = 1.0) -> torch.Tensor:
        """``x + λ A^†(target - A x)`` (``target`` defaults to ``y``)."""
        return self.meas.project(x, target, lam)

    def diffused_target(self, ab: float, z: Optional[torch.Tensor]) -> torch.Tensor:
        """``y_t = √ᾱ y + √(1-ᾱ) A z`` (``√ᾱ y`` without ``z``)."""
        y = math.sqrt(ab) * self.meas.y
        return y if z is None else y + math.sqrt(1.0 - ab) * self.meas.apply(z)

    def solve(self, x0: torch.Tensor, iters: int, gamma: Optional[float] = None):
        """DDS consistency by CG from ``x0``; noiseless data (σ_y = 0) ignore ``gamma``."""
        return dds_consistency(self.meas, x0, iters, None if self.meas.sigma_y == 0 else gamma)

    def initial(self) -> torch.Tensor:
        """``A^† y`` (d,)."""
        return self.meas.least_squares()

    @property
    def rows(self) -> torch.Tensor:
        """``A`` (m, d) (ΠGDM / TMPD / TDS, :mod:`engine.sampling.guided`)."""
        return self.meas.A

    @property
    def noise_var(self) -> float:
        """``σ_y²``."""
        return self.meas.sigma_y ** 2

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """``y - A x`` per row (N, m)."""
        return self.meas.residual(x)

    def residual_cotangent(self, x0: torch.Tensor) -> torch.Tensor:
        """``∇_{x̂_0} ‖y - A x̂_0‖ = -Aᵀ r/‖r‖`` per row (MCG/DPS non-squared norm)."""
        r = self.meas.residual(x0)
        return -(r / r.norm(dim=-1, keepdim=True).clamp_min(self._tiny)) @ self.meas.A

    def unobserved(self, g: torch.Tensor) -> torch.Tensor:
        """``(I - A^†A) g``: the part of ``g`` in the null space of ``A`` (MCG's ``I - PᵀP``)."""
        return g @ self.meas.null

    def data_grad(self, x: torch.Tensor, weight: float) -> torch.Tensor:
        """``-v Aᵀ(y - A x)/m`` (RED-diff's data-term gradient with weight ``v``)."""
        return (-weight / self.meas.m) * (self.meas.residual(x) @ self.meas.A)

    def residual_norm(self, x: torch.Tensor) -> float:
        """Mean ``‖y - A x‖`` over the rows."""
        return float(self.meas.residual(x).norm(dim=-1).mean())

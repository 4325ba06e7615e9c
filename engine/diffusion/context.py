"""What every sampler / solver sees: the score model, the time grid, the measurement, the RNG.

The narrow contract of ARCHITECTURE.md rule 4: a solver calls ``ctx.denoise(x, t)``
(Tweedie ``x̂_0`` and ``ε̂``, one NFE), ``ctx.denoise_grad`` (exact gradient through ``x̂_0``) and
``ctx.randn()``; it never touches the mixture directly, so a learned score model with the
same three methods can replace :class:`ExactScore`.

Every solver is a generator function ``fn(ctx, **params)`` that yields one :class:`Step` per
state: first the start, then the state after each update, the result last.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import torch

from engine.diffusion.gmm import GaussianMixture
from engine.diffusion.gmm_eval import MixtureEval
from engine.diffusion.linalg import Measurement
from engine.diffusion.schedule import Schedule
from engine.diffusion.score_kernel import QuadraticScore

__all__ = ["ExactScore", "Context", "Step"]


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


@dataclass
class Step:
    """One recorded state of a run.

    Attributes
    ----------
    i, n : int
        Step number (0 = start) and the number of steps of the run.
    t : int
        Diffusion time index of ``x`` (``T`` … ``0``).
    x : Tensor (N, d)
        Particles (RED-diff: the variational mean ``μ``).
    x0_hat : Tensor (N, d)
        Tweedie estimate ``E[x_0 | x_t]`` under the run's score model (``x`` itself at ``t = 0``).
    level : float
        ``ᾱ`` of the marginal ``x`` should follow (``ᾱ_t``; 1 for RED-diff's clean ``μ``); the
        off-manifold metrics compare ``x`` with the prior noised to this level.
    correction : Tensor (N, d) or None
        Displacement added by the conditioning in the step that produced ``x`` (projection,
        MCG/DPS gradient, CG correction).
    """
    i: int
    n: int
    t: int
    x: torch.Tensor
    x0_hat: torch.Tensor
    level: float
    correction: Optional[torch.Tensor] = None


@dataclass
class Context:
    """Run state shared with the solver functions (device tensors, explicit generators).

    Attributes
    ----------
    prior : GaussianMixture
        On the run's device / dtype.
    model : ExactScore
        Score the sampler follows (the prior's; the exact posterior's for the oracle).
    schedule : Schedule
    grid : ndarray (S + 1,)
        Respaced time indices ``[T, ..., 0]``.
    meas : Measurement or None
    posterior : GaussianMixture or None
    n : int
        Number of particles.
    gen : torch.Generator
        Drives every random draw of the path (start, ancestral noise, y_t injection).
    aux : torch.Generator
        Auxiliary draws that must not shift the path's stream (CCDF's initial estimate).
    nfe : int
        Score evaluations so far (a gradient through ``x̂_0`` counts one more).
    """
    prior: GaussianMixture
    model: ExactScore
    schedule: Schedule
    grid: np.ndarray
    meas: Optional[Measurement]
    posterior: Optional[GaussianMixture]
    n: int
    gen: torch.Generator
    aux: torch.Generator
    nfe: int = 0
    info: dict = field(default_factory=dict)

    @property
    def d(self) -> int:
        return self.prior.dim

    @property
    def n_steps(self) -> int:
        return len(self.grid) - 1

    def ab(self, t: int) -> float:
        """``ᾱ_t``."""
        return self.schedule.ab(t)

    def pairs(self, grid: Optional[np.ndarray] = None):
        """``(i, t, s)``: step ``i`` goes from time ``t`` to the next (smaller) time ``s``."""
        g = self.grid if grid is None else grid
        return [(i, int(g[i]), int(g[i + 1])) for i in range(len(g) - 1)]

    def randn(self) -> torch.Tensor:
        """Standard normal draw (N, d) from the path generator."""
        p = self.prior
        return torch.randn(self.n, p.dim, generator=self.gen, dtype=p.dtype, device=p.device)

    def denoise(self, x: torch.Tensor, t: int):
        """``(x̂_0, ε̂)`` at ``x_t = x`` from the run's score model (one NFE)."""
        self.nfe += 1
        return self.model.denoise(x, t)

    def denoise_grad(self, x: torch.Tensor, t: int, cotangent: Callable):
        """``(x̂_0, ε̂, (∂x̂_0/∂x_t)ᵀ cotangent(x̂_0))`` (one NFE + one backward pass = 2 NFE)."""
        self.nfe += 2
        return self.model.denoise_grad(x, t, cotangent)

    def noisy_y(self, t: int) -> torch.Tensor:
        """Measurement diffused to level ``t``: ``y_t = √ᾱ_t y + √(1-ᾱ_t) A z`` (N, m) (§3.4)."""
        ab = self.ab(t)
        y = math.sqrt(ab) * self.meas.y
        if ab >= 1.0:
            return y.expand(self.n, -1)
        return y + math.sqrt(1.0 - ab) * self.meas.apply(self.randn())

    def step(self, i: int, t: int, x: torch.Tensor, x0: torch.Tensor, n: Optional[int] = None,
             level: Optional[float] = None, correction=None) -> Step:
        """A :class:`Step` of this run (``level`` defaults to ``ᾱ_t``)."""
        return Step(i, self.n_steps if n is None else n, int(t), x, x0,
                    self.ab(t) if level is None else float(level), correction)

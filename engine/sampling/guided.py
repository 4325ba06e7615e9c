"""Likelihood-guided solvers with a Gaussian ``p(y | x_t)``: ΠGDM, TMPD and TDS (issue #18).

All three approximate ``p(y | x_t) ≈ N(y; A x̂_0(x_t), S_t)`` and add its gradient
``g = ∇_{x_t} log p̃(y | x_t) = (∂x̂_0/∂x_t)ᵀ Aᵀ S_t⁻¹ (y - A x̂_0)`` (``S_t`` held fixed) to the
prior score, i.e. ``x̂_0 ← x̂_0 + ((1-ᾱ_t)/√ᾱ_t) g`` in the ancestral DDPM step of SCIENCE.md
§3.1 (the conditional-score reading of each paper's update; DDPM = DDIM with η = 1):

- ΠGDM (Song, Vahdat, Mardani, Kautz, ICLR 2023, eq. 7): ``S_t = r_t² A Aᵀ + σ_y² I`` with
  ``r_t² = σ_t²/(1+σ_t²) = 1 - ᾱ_t`` (their VE ``σ_t² = (1-ᾱ_t)/ᾱ_t``); exact for a prior
  ``N(μ, I)``;
- TMPD (Boys, Girolami, Pidstrigach, Reich, Mosca, Akyildiz 2023, arXiv 2310.06721, eqs. 9-10):
  ``S_t = σ_y² I + A C_{0|t} Aᵀ`` with Tweedie's covariance ``C_{0|t} = ((1-ᾱ_t)/√ᾱ_t)
  ∂x̂_0/∂x_t`` per particle; exact for any Gaussian prior;
- TDS (Wu, Trippe, Naesseth, Blei, Cunningham, NeurIPS 2023, arXiv 2306.17775, Alg. 1): twisted
  sequential Monte Carlo with the ΠGDM twisting ``p̃_t``, the guided step as proposal and the
  weights ``p(x_s | x_t) p̃_s(y | x_s) / (p̃_t(y | x_t) q(x_s | x_t, y))``; multinomial
  resampling every step; asymptotically exact in the number of particles.

They need a data-consistency object with ``rows`` (``A``), ``residual(x)`` (``y - A x``) and
``noise_var`` (``σ_y²``): :class:`engine.diffusion.context.LinearData`.
"""
from __future__ import annotations

import math

import torch

from engine.sampling.contract import Context

__all__ = ["pigdm", "tmpd", "tds", "pigdm_cotangent"]


def pigdm_cotangent(dc, ab: float):
    """``x̂_0 ↦ Aᵀ (r² A Aᵀ + σ_y² I)⁻¹ (y - A x̂_0)``, ``r² = 1 - ᾱ`` (ΠGDM eq. 7)."""
    A = dc.rows
    S = (1.0 - ab) * (A @ A.T) + dc.noise_var * torch.eye(A.shape[0], dtype=A.dtype,
                                                           device=A.device)
    S_inv = torch.linalg.inv(S)
    return lambda x0: (dc.residual(x0) @ S_inv) @ A


def _guided_x0(x0: torch.Tensor, g: torch.Tensor, ab: float) -> torch.Tensor:
    """Tweedie estimate under the guided score ``s + g``: ``x̂_0 + ((1-ᾱ)/√ᾱ) g`` (§3.1)."""
    return torch.add(x0, g, alpha=(1.0 - ab) / math.sqrt(ab))


def _ddpm_mean(ctx: Context, x, x0, t: int, s: int):
    """Mean ``c_0 x̂_0 + c_t x_t`` and std of the ancestral step ``t → s`` (SCIENCE §3.1)."""
    ab_t, ab_s = ctx.ab(t), ctx.ab(s)
    beta = 1.0 - ab_t / ab_s
    c0 = math.sqrt(ab_s) * beta / (1.0 - ab_t)
    ct = math.sqrt(ab_t / ab_s) * (1.0 - ab_s) / (1.0 - ab_t)
    return torch.add(ct * x, x0, alpha=c0), math.sqrt(beta * (1.0 - ab_s) / (1.0 - ab_t))


def _guided_path(ctx: Context, cotangent_at):
    """Ancestral steps with the guided ``x̂_0``; ``cotangent_at(x, t)`` gives the cotangent map."""
    x, corr = ctx.draw_start(), None
    for i, t, s in ctx.pairs():
        x0, _, g = ctx.denoise_grad(x, t, cotangent_at(x, t))
        yield ctx.step(i, t, x, x0, correction=corr)
        mean, sd = _ddpm_mean(ctx, x, x0, t, s)
        mean_g, _ = _ddpm_mean(ctx, x, _guided_x0(x0, g, ctx.ab(t)), t, s)
        corr = mean_g - mean
        x = torch.add(mean_g, ctx.randn(), alpha=sd) if sd > 0 else mean_g
    yield ctx.step(ctx.n_steps, 0, x, x, correction=corr)


def _need(ctx: Context, name: str) -> None:
    ctx.need_measurement(name)
    if not all(hasattr(ctx.dc, a) for a in ("rows", "residual", "noise_var")):
        raise ValueError(f"solver {name!r} needs a linear measurement with rows, residual and "
                         f"noise_var ({type(ctx.dc).__name__} has not)")


def pigdm(ctx: Context):
    """ΠGDM (Song et al. 2023, eq. 7): guidance ``(∂x̂_0/∂x_t)ᵀ Aᵀ(r_t² AAᵀ + σ_y² I)⁻¹(y - Ax̂_0)``,
    ``r_t² = 1 - ᾱ_t``, added to the score of the DDPM step (module doc). 2 NFE per step."""
    _need(ctx, "pigdm")
    yield from _guided_path(ctx, lambda x, t: pigdm_cotangent(ctx.dc, ctx.ab(t)))


def _tmpd_cotangent(ctx: Context, x: torch.Tensor, t: int):
    """TMPD's ``x̂_0 ↦ Aᵀ S⁻¹ (y - A x̂_0)``, ``S = σ_y² I + ((1-ᾱ)/√ᾱ) A J Aᵀ`` per particle
    (``J = ∂x̂_0/∂x_t`` from ``m`` Jacobian-vector products; Boys et al. 2023, eq. 10)."""
    A, ab = ctx.dc.rows, ctx.ab(t)
    m = A.shape[0]
    ja = torch.stack([ctx.tweedie_jvp(x, t, row.expand_as(x)) for row in A], dim=1)  # (N, m, d)
    S = ((1.0 - ab) / math.sqrt(ab)) * (ja @ A.T).transpose(1, 2)
    S = 0.5 * (S + S.transpose(1, 2)) + ctx.dc.noise_var * torch.eye(m, dtype=S.dtype,
                                                                       device=S.device)
    return lambda x0: torch.linalg.solve(S, ctx.dc.residual(x0).unsqueeze(-1)).squeeze(-1) @ A


def tmpd(ctx: Context):
    """TMPD (Boys et al. 2023, eqs. 9-10): the likelihood ``N(y; A x̂_0, σ_y² I + A C_{0|t} Aᵀ)``
    with Tweedie's covariance ``C_{0|t} = ((1-ᾱ)/√ᾱ) ∂x̂_0/∂x_t``; its gradient (covariance
    held fixed) guides the DDPM step (module doc). ``2 + m`` NFE per step."""
    _need(ctx, "tmpd")
    yield from _guided_path(ctx, lambda x, t: _tmpd_cotangent(ctx, x, t))


def _log_twist(dc, x0: torch.Tensor, ab: float) -> torch.Tensor:
    """``log p̃(y | x_t) = log N(y; A x̂_0, r² AAᵀ + σ_y² I)`` up to a constant per ``ab`` (N,)."""
    A = dc.rows
    S = (1.0 - ab) * (A @ A.T) + dc.noise_var * torch.eye(A.shape[0], dtype=A.dtype,
                                                           device=A.device)
    L = torch.linalg.cholesky(S)
    white = torch.linalg.solve_triangular(L, dc.residual(x0).T, upper=False).T
    return -0.5 * white.square().sum(-1) - torch.log(torch.diagonal(L)).sum()


def _resample(ctx: Context, logw: torch.Tensor) -> torch.Tensor:
    """Multinomial resampling indices (drawn from the path generator)."""
    w = torch.softmax(logw.to(torch.float64), 0)
    return torch.multinomial(w.to(ctx.device), ctx.n, replacement=True, generator=ctx.gen)


def tds(ctx: Context):
    """Twisted diffusion sampler (TDS, Wu et al. 2023, Alg. 1) on the ``N`` particles as one
    SMC population: resample by the weights, propose with the ΠGDM-guided DDPM step, reweight
    by ``p(x_s|x_t) p̃_s(y|x_s) / (p̃_t(y|x_t) q(x_s|x_t, y))`` (Gaussians of equal variance); the
    noiseless last step is weighted by ``N(y; A x_0, σ_y² I) / p̃_1(y|x_1)`` and resampled.
    Needs ``σ_y > 0``. 3 NFE per step (the guided step and the twist at the new state)."""
    _need(ctx, "tds")
    if not ctx.dc.noise_var > 0:
        raise ValueError("solver 'tds' needs a noisy measurement (σ_y > 0): its final weight is "
                         "the likelihood N(y; A x_0, σ_y² I)")
    x, corr = ctx.draw_start(), None
    logw = torch.zeros(ctx.n, dtype=torch.float64, device=x.device)
    for i, t, s in ctx.pairs():
        ab = ctx.ab(t)
        x0, _, g = ctx.denoise_grad(x, t, pigdm_cotangent(ctx.dc, ab))
        yield ctx.step(i, t, x, x0, correction=corr)
        twist = _log_twist(ctx.dc, x0, ab)
        idx = _resample(ctx, logw + twist.to(torch.float64) if i == 0 else logw)
        x, x0, g, twist = x[idx], x0[idx], g[idx], twist[idx]
        mean, sd = _ddpm_mean(ctx, x, x0, t, s)
        mean_g, _ = _ddpm_mean(ctx, x, _guided_x0(x0, g, ab), t, s)
        corr = mean_g - mean
        x = torch.add(mean_g, ctx.randn(), alpha=sd) if sd > 0 else mean_g
        logw = _tds_weight(ctx, x, mean, mean_g, sd, s, twist)
    x = x[_resample(ctx, logw)]
    yield ctx.step(ctx.n_steps, 0, x, x, correction=corr)


def _tds_weight(ctx: Context, x, mean, mean_g, sd: float, s: int, twist) -> torch.Tensor:
    """``log [p(x_s|x_t) p̃_s(y|x_s) / (p̃_t(y|x_t) q(x_s|x_t, y))]`` (TDS Alg. 1), float64; at
    ``s = 0`` ``p̃_0`` is the likelihood and the proposal ratio is 1 (no noise is drawn)."""
    if s == 0:
        lik = _log_twist(ctx.dc, x, 1.0)
        return (lik - twist).to(torch.float64)
    ab_s = ctx.ab(s)
    x0_s, _ = ctx.denoise(x, s)
    ratio = ((x - mean_g).square().sum(-1) - (x - mean).square().sum(-1)) / (2 * sd ** 2)
    return (ratio + _log_twist(ctx.dc, x0_s, ab_s) - twist).to(torch.float64)

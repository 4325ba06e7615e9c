"""Conditional solvers for ``y = A x_0 + n`` (SCIENCE.md §3.4 (a)-(e), (g)).

Same shared signature as :mod:`engine.diffusion.samplers`: a generator function
``fn(ctx, **params)`` yielding one :class:`~engine.diffusion.context.Step` per state. Gradients
through the Tweedie estimate are exact (closed-form Jacobian of the mixture, §3.2), which is
what autograd through a score network gives the original codes.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from engine.diffusion.context import Context
from engine.diffusion.linalg import dds_consistency
from engine.diffusion.samplers import ddpm_update

__all__ = ["projection", "mcg", "dps", "ccdf", "dds", "reddiff", "CCDF_INITS"]

CCDF_INITS = ("prior_projection", "pinv")


def _need_measurement(ctx: Context, name: str) -> None:
    if ctx.meas is None:
        raise ValueError(f"solver {name!r} needs a measurement: pass A (m, d) and y (m,)")


def _grad_norm_residual(ctx: Context):
    """Cotangent of ``‖y - A x̂_0‖`` w.r.t. ``x̂_0``: ``-Aᵀ r/‖r‖`` (MCG/DPS non-squared norm)."""
    meas = ctx.meas
    tiny = torch.finfo(ctx.prior.dtype).tiny ** 0.5

    def cot(x0: torch.Tensor) -> torch.Tensor:
        r = meas.residual(x0)
        return -(r / r.norm(dim=-1, keepdim=True).clamp_min(tiny)) @ meas.A
    return cot


def _projection_path(ctx: Context, x: torch.Tensor, grid: np.ndarray, lam: float):
    """Reverse DDPM steps on ``grid``, each followed by the projection onto ``{A x = y_s}``."""
    n, corr = len(grid) - 1, None
    for i, t, s in ctx.pairs(grid):
        x0, _ = ctx.denoise(x, t)
        yield ctx.step(i, t, x, x0, n=n, correction=corr)
        x_unc = ddpm_update(ctx, x, x0, t, s)
        x = ctx.meas.project(x_unc, ctx.noisy_y(s), lam)
        corr = x - x_unc
    yield ctx.step(n, 0, x, x, n=n, correction=corr)


def projection(ctx: Context, lam: float = 1.0):
    """Projection ("vanilla") solver: DDPM step, then ``x ← x + λ A^†(y_s - A x)`` with the noised
    measurement ``y_s = √ᾱ_s y + √(1-ᾱ_s) A z`` (score SDE / ILVR; MCG baseline; SCIENCE §3.4 (a)).

    For inpainting ``A = P`` this is ``(I - PᵀP) x' + Pᵀ y_s``; ``λ = 1`` projects exactly.
    """
    _need_measurement(ctx, "projection")
    yield from _projection_path(ctx, ctx.randn(), ctx.grid, lam)


def mcg(ctx: Context, alpha: float = 0.1, lam: float = 1.0):
    """Manifold constrained gradient (MCG arXiv 2206.00941, inpainting update; SCIENCE §3.4 (b)).

    ``x' = `` DDPM step; ``x'' = x' - α (I - A^†A) ∇_{x_t} ‖y - A x̂_0(x_t)‖`` (gradient through the
    Tweedie estimate, restricted to the unobserved subspace); then the projection of
    :func:`projection` onto ``{A x = y_s}``. The inpainting code uses α = 1 on the non-squared
    norm of an image-sized residual; per 2-D particle that gradient has unit size, so the
    default here is α = 0.1 (α = 1 overshoots across thin components).
    """
    _need_measurement(ctx, "mcg")
    cot, corr, x = _grad_norm_residual(ctx), None, ctx.randn()
    for i, t, s in ctx.pairs():
        x0, _, g = ctx.denoise_grad(x, t, cot)
        yield ctx.step(i, t, x, x0, correction=corr)
        x_unc = ddpm_update(ctx, x, x0, t, s)
        x_mcg = torch.add(x_unc, g @ ctx.meas.null, alpha=-alpha)
        x = ctx.meas.project(x_mcg, ctx.noisy_y(s), lam)
        corr = x - x_unc
    yield ctx.step(ctx.n_steps, 0, x, x, correction=corr)


def dps(ctx: Context, zeta: float = 0.1):
    """Diffusion posterior sampling (DPS arXiv 2209.14687, Gaussian noise; SCIENCE §3.4 (d)).

    ``x_s = x' - ζ ∇_{x_t} ‖y - A x̂_0(x_t)‖`` after the DDPM step ``x'``; ``ζ`` is the code's scale
    (= 2ζ' of the paper's rule ``ζ_t = ζ'/‖y - A x̂_0‖`` on the squared norm). No projection.
    The code's 0.3-1.0 are image-space scales; 0.1 suits the 2-D toys at ~100 steps (use
    ~0.03 at 1000 steps: the step has unit size per particle whatever the residual).
    """
    _need_measurement(ctx, "dps")
    cot, corr, x = _grad_norm_residual(ctx), None, ctx.randn()
    for i, t, s in ctx.pairs():
        x0, _, g = ctx.denoise_grad(x, t, cot)
        yield ctx.step(i, t, x, x0, correction=corr)
        x_unc = ddpm_update(ctx, x, x0, t, s)
        corr = -zeta * g
        x = x_unc + corr
    yield ctx.step(ctx.n_steps, 0, x, x, correction=corr)


def _ccdf_initial(ctx: Context, init: str) -> torch.Tensor:
    """CCDF's initial estimate ``x̃_0`` (N, d): ``A^† y``, or a prior sample projected onto
    ``{A x = y}`` (drawn with the auxiliary generator so the path's noise stream is unchanged)."""
    if init == "pinv":
        return ctx.meas.least_squares().expand(ctx.n, ctx.d)
    return ctx.meas.project(ctx.prior.sample(ctx.n, ctx.aux))


def ccdf(ctx: Context, t0: float = 0.5, init: str = "prior_projection", lam: float = 1.0):
    """Come-closer-diffuse-faster (CCDF arXiv 2112.05146; SCIENCE §3.4 (c)).

    Forward-diffuse an initial estimate once, ``x_{N'} = √ᾱ x̃_0 + √(1-ᾱ) z`` at the respaced step
    ``N' = ⌊t_0 N⌋``, then run only ``N'`` reverse steps of :func:`projection` (DDPM step +
    non-expansive projection). At ``t_0 = 1`` the start is the usual ``x_T = z`` (ᾱ_T ≈ 4e-5), so
    the run equals the full projection run with the same seed (§3.6 item 7).
    """
    _need_measurement(ctx, "ccdf")
    if not 0.0 < t0 <= 1.0:
        raise ValueError(f"ccdf: t0 must lie in (0, 1], got {t0}")
    if init not in CCDF_INITS:
        raise ValueError(f"ccdf: init must be one of {', '.join(CCDF_INITS)}, got {init!r}")
    z = ctx.randn()
    S = ctx.n_steps
    n_sub = max(1, int(math.floor(t0 * S + 1e-9)))
    grid = ctx.grid[S - n_sub:]
    if n_sub < S:
        ab = ctx.ab(grid[0])
        z = torch.add(math.sqrt(1.0 - ab) * z, _ccdf_initial(ctx, init), alpha=math.sqrt(ab))
    ctx.info["ccdf_steps"] = n_sub
    yield from _projection_path(ctx, z, grid, lam)


def dds(ctx: Context, eta: float = 0.85, cg_iters: int = 5, gamma: float = 1.0):
    """Decomposed diffusion sampler (DDS arXiv 2303.05754, ``solver_2d.py``; SCIENCE §3.4 (e)).

    ``x̂'_0 = CG_M(x̂_0)`` (noiseless σ_y = 0: ``AᵀA x = Aᵀy``; noisy: ``(I + γAᵀA) x = x̂_0 + γAᵀy``,
    M CG iterations started at ``x̂_0``), then
    ``x_s = √ᾱ_s x̂'_0 + √(1-ᾱ_s) (η z + √(1-η²) ε̂)``; the last step returns ``x̂'_0``. 1 NFE/step.
    """
    _need_measurement(ctx, "dds")
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"dds: eta must lie in [0, 1], got {eta}")
    gam = None if ctx.meas.sigma_y == 0 else gamma
    x, corr = ctx.randn(), None
    for i, t, s in ctx.pairs():
        x0, eps = ctx.denoise(x, t)
        yield ctx.step(i, t, x, x0, correction=corr)
        x0c = dds_consistency(ctx.meas, x0, int(cg_iters), gam)
        ab_s = ctx.ab(s)
        noise = torch.add(math.sqrt(1.0 - eta ** 2) * eps, ctx.randn(), alpha=eta) \
            if (eta > 0 and s > 0) else math.sqrt(1.0 - eta ** 2) * eps
        x = torch.add(math.sqrt(ab_s) * x0c, noise, alpha=math.sqrt(1.0 - ab_s))
        corr = math.sqrt(ab_s) * (x0c - x0)
    yield ctx.step(ctx.n_steps, 0, x, x, correction=corr)


def reddiff(ctx: Context, lr: float = 0.1, lam: float = 0.25, obs_weight: float = 1.0):
    """RED-diff: variational posterior mean ``μ`` fitted with Adam (RED arXiv 2305.04391,
    ``reddiff.py``; SCIENCE §3.4 (g)).

    ``μ_0 = A^† y``; per step ``x_t = √ᾱ μ + √(1-ᾱ) ε`` and the gradient
    ``-v Aᵀ(y - Aμ)/m + λ (√(1-ᾱ)/√ᾱ)(ε̂(x_t) - ε)/d`` (stop-gradient through ε̂, "linear"
    weighting), Adam(0.9, 0.99). Recorded ``x`` is ``μ`` (clean: metrics at level ᾱ = 1).
    """
    _need_measurement(ctx, "reddiff")
    meas = ctx.meas
    mu = meas.least_squares().expand(ctx.n, ctx.d).clone()
    m1, m2 = torch.zeros_like(mu), torch.zeros_like(mu)
    corr = None
    for i, t, _ in ctx.pairs():
        ab = ctx.ab(t)
        eps = ctx.randn()
        x0, eps_hat = ctx.denoise(torch.add(math.sqrt(ab) * mu, eps, alpha=math.sqrt(1.0 - ab)), t)
        yield ctx.step(i, t, mu, x0, level=1.0, correction=corr)
        w = lam * math.sqrt((1.0 - ab) / ab)
        grad = (-obs_weight / meas.m) * (meas.residual(mu) @ meas.A) + (w / ctx.d) * (eps_hat - eps)
        m1 = 0.9 * m1 + 0.1 * grad
        m2 = 0.99 * m2 + 0.01 * grad.square()
        k = i + 1
        upd = (m1 / (1 - 0.9 ** k)) / ((m2 / (1 - 0.99 ** k)).sqrt() + 1e-8)
        corr = -lr * upd
        mu = mu + corr
    yield ctx.step(ctx.n_steps, 0, mu, mu, level=1.0, correction=corr)

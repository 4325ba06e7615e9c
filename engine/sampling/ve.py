"""Variance-exploding solvers of the CT codes: DiffusionMBIR and MCG-CT (SCIENCE.md §3.4 (b), (f)).

Same contract as :mod:`engine.sampling.solvers`; they need a model with the VE view of a VP
network (``ve_denoise(ū, σ) -> (û_0, s)``, ``sigma_bar(t)``, ``t_of_sigma(σ)``, ``T``; DDIM
coordinates ``ū = u_t/√ᾱ_t``, §3.1) and, for MBIR, a data term with ``admm_tv_z`` — i.e. they
make sense on volumes with the learned slice prior. The state ``x`` of each step is ``ū``.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from engine.sampling.contract import Context

__all__ = ["mbir", "mcg_ve", "ve_sigmas_for"]


def ve_sigmas_for(model, n_steps: int) -> np.ndarray:
    """Geometric VE levels ``σ_i`` from ``σ̄_T`` down to ``σ̄_1`` (n_steps + 1 values, §3.1)."""
    hi, lo = model.sigma_bar(model.T), model.sigma_bar(1)
    return hi * (lo / hi) ** (np.arange(n_steps + 1) / n_steps)


def _ve_predictor(ctx: Context, ubar, score, s_hi: float, s_lo: float):
    """VE reverse step ``ū + (σ_i² - σ_{i-1}²) s`` plus ancestral noise of variance
    ``σ_{i-1}² (σ_i² - σ_{i-1}²) / σ_i²`` (SMLD ancestral sampling; for the N = 2000 steps of
    DiffusionMBIR it equals the reverse-diffusion predictor's ``σ_i² - σ_{i-1}²`` to first
    order, and it keeps the marginal noise level right for the few steps used here, §3.1).
    Returns ``(mean, noise)``."""
    var = s_hi ** 2 - s_lo ** 2
    return ubar + var * score, math.sqrt(var) * (s_lo / s_hi) * ctx.randn()


def _langevin(ctx: Context, ubar, sigma, snr):
    """Langevin corrector ``u ← u + ε s + √(2ε) z``, ``ε = 2(r‖z‖/‖s‖)²`` per sample (§3.1)."""
    ctx.nfe += 1
    _, s = ctx.model.ve_denoise(ubar, sigma)
    z = ctx.randn()
    shape = (-1,) + (1,) * (ubar.ndim - 1)
    norm = lambda v: v.flatten(1).norm(dim=1).clamp_min(1e-12).reshape(shape)  # noqa: E731
    step = 2 * (snr * norm(z) / norm(s)) ** 2
    return ubar + step * s + (2 * step).sqrt() * z


def _ve_step(ctx: Context, i: int, sigma: float, ubar, u0, n: int, estimate=None):
    """A :class:`Step` at VE level ``σ`` (time index ``t(σ)``, level ``ᾱ = 1/(1 + σ²)``)."""
    t = int(round(ctx.model.t_of_sigma(sigma))) if i < n else 0
    return ctx.step(i, t, ubar, u0, n=n, level=1.0 / (1.0 + sigma ** 2), estimate=estimate)


def mbir(ctx: Context, tv_z: float = 0.0005, rho: float = 0.05, snr: float = 0.16,
         cg_iters: int = 3, corrector: bool = True, tv_sigma: float = 1.0):
    """DiffusionMBIR (arXiv 2211.10655; §3.4 (f)): VE predictor (+ Langevin corrector) on all
    slices, then one ADMM-TV-along-z iteration on the volume with ``cg_iters`` CG steps (``z, u``
    start at 0 and are carried across steps); one normalised Kaczmarz step at the end.

    With a few hundred steps instead of DiffusionMBIR's 2000, the noise changes a lot from one
    step to the next, and ADMM's ``z`` would remember the differences of the previous noise: the
    TV coupling starts once ``σ_i ≤ tv_sigma`` (model units); above, the step is plain CG."""
    ctx.need_measurement("mbir")
    n = ctx.n_steps
    sig = ve_sigmas_for(ctx.model, n)
    ubar, admm = float(sig[0]) * ctx.randn(), {}
    for i in range(n):
        s_hi, s_lo = float(sig[i]), float(sig[i + 1])
        ctx.nfe += 1
        u0, score = ctx.model.ve_denoise(ubar, s_hi)
        yield _ve_step(ctx, i, s_hi, ubar, u0, n)
        mean, noise = _ve_predictor(ctx, ubar, score, s_hi, s_lo)
        ubar = mean + noise
        if corrector:
            ubar = _langevin(ctx, ubar, s_lo, snr)
        ubar = ctx.dc.admm_tv_z(ubar, admm, tv_z if s_lo <= tv_sigma else 0.0, rho, cg_iters)
    x = ctx.dc.project(ubar)
    yield _ve_step(ctx, n, 0.0, x, x, n)


def mcg_ve(ctx: Context, alpha: float = 1.0, lam_start: float = 1.0, lam_end: float = 0.6,
           snr: float = 0.16, corrector: bool = False):
    """MCG, CT form (arXiv 2206.00941; §3.4 (b)), VE: predictor mean ``ū + Δσ² s``, minus
    ``α ∇_ū Σ‖ỹ - Ã x̂_0(ū)‖`` (autograd through the model, one norm per sample), then the
    projection ``x ← x + λ_i Ãᵀ(ỹ - Ãx)/(ÃᵀÃ1)`` (λ_i linear 1.0 → 0.6) on the mean, then the
    noise. The data term must offer ``residual_norms`` (differentiable)."""
    ctx.need_measurement("mcg_ve")
    n = ctx.n_steps
    sig = ve_sigmas_for(ctx.model, n)
    ubar = float(sig[0]) * ctx.randn()
    lams = np.linspace(lam_start, lam_end, n)
    for i in range(n):
        s_hi, s_lo = float(sig[i]), float(sig[i + 1])
        ctx.nfe += 2
        with torch.enable_grad():
            v = ubar.detach().requires_grad_(True)
            u0, score = ctx.model.ve_denoise(v, s_hi)
            g, = torch.autograd.grad(ctx.dc.residual_norms(u0).sum(), v)
        yield _ve_step(ctx, i, s_hi, ubar, u0.detach(), n)
        mean, noise = _ve_predictor(ctx, ubar, score.detach(), s_hi, s_lo)
        ubar = ctx.dc.project(mean - alpha * g, lam=float(lams[i])) + noise
        if corrector:
            ubar = _langevin(ctx, ubar, s_lo, snr)
    x = ctx.dc.project(ubar)
    yield _ve_step(ctx, n, 0.0, x, x, n)

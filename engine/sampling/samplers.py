"""Unconditional samplers and the oracle posterior sampler (SCIENCE.md §3.1, §3.4 (h)).

k-diffusion style: each sampler is one generator function ``fn(ctx, **params)`` yielding a
:class:`~engine.sampling.contract.Step` for the start and after every update (see
:mod:`engine.sampling.contract`). They see only ``ctx.model.denoise`` (any model: the exact
Gaussian mixture, the learned slice prior), are batched over the samples and draw randomness
only from ``ctx.gen``.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from engine.sampling.contract import Context

__all__ = ["ddpm", "ddim", "pf_euler", "pf_heun", "hb", "ghvb", "posterior", "ddpm_update",
           "ddim_update", "ddim_move", "hb_stability_interval", "ab_mix"]


def ddpm_update(ctx: Context, x: torch.Tensor, x0: torch.Tensor, t: int, s: int) -> torch.Tensor:
    """Ancestral step ``x_s = c_0 x̂_0 + c_t x_t + σ z`` from ``t`` to ``s < t`` (SCIENCE §3.1).

    With ``α = ᾱ_t/ᾱ_s``, ``β = 1 - α`` (respaced): ``c_0 = √ᾱ_s β/(1-ᾱ_t)``,
    ``c_t = √α (1-ᾱ_s)/(1-ᾱ_t)``, ``σ² = β (1-ᾱ_s)/(1-ᾱ_t)`` (= 0 at the last step: no draw).
    """
    ab_t, ab_s = ctx.ab(t), ctx.ab(s)
    alpha = ab_t / ab_s
    beta = 1.0 - alpha
    c0 = math.sqrt(ab_s) * beta / (1.0 - ab_t)
    ct = math.sqrt(alpha) * (1.0 - ab_s) / (1.0 - ab_t)
    out = torch.add(ct * x, x0, alpha=c0)
    var = beta * (1.0 - ab_s) / (1.0 - ab_t)
    return torch.add(out, ctx.randn(), alpha=math.sqrt(var)) if var > 0 else out


def ddim_update(ctx: Context, x0: torch.Tensor, eps: torch.Tensor, t, s, eta: float
                ) -> torch.Tensor:
    """DDIM step (Song, Meng, Ermon 2021, eq. 12) from ``(x̂_0, ε̂)`` at ``t`` to ``s < t``:
    ``x_s = √ᾱ_s x̂_0 + √(1-ᾱ_s-σ²) ε̂ + σ z``, ``σ = η √((1-ᾱ_s)/(1-ᾱ_t)) √(1-ᾱ_t/ᾱ_s)``.

    Shared by :func:`ddim` and CCDF's DDIM(η) path (SCIENCE §3.1, §3.4 (c)); ``z`` is drawn only
    when ``σ > 0``.
    """
    ab_t, ab_s = ctx.ab(t), ctx.ab(s)
    sig = eta * math.sqrt((1.0 - ab_s) / (1.0 - ab_t) * (1.0 - ab_t / ab_s))
    x = torch.add(math.sqrt(ab_s) * x0, eps, alpha=math.sqrt(max(1.0 - ab_s - sig ** 2, 0.0)))
    return torch.add(x, ctx.randn(), alpha=sig) if sig > 0 else x


def ddim_move(ctx: Context, x: torch.Tensor, t: int, s: int, u: torch.Tensor) -> torch.Tensor:
    """DDIM-coordinate step ``x̄_s = x̄_t + (σ̄_s - σ̄_t) u``, ``x̄ = x/√ᾱ``, ``σ̄ = √(1-ᾱ)/√ᾱ``.

    With ``u = ε̂`` this is one Euler step of ``dx̄/dσ̄ = ε̂``, i.e. DDIM with η = 0 (SCIENCE §3.1).
    """
    ab_t, ab_s = ctx.ab(t), ctx.ab(s)
    dsig = math.sqrt((1.0 - ab_s) / ab_s) - math.sqrt((1.0 - ab_t) / ab_t)
    return math.sqrt(ab_s) * torch.add(x / math.sqrt(ab_t), u, alpha=dsig)


def ddpm(ctx: Context):
    """Ancestral DDPM sampler (Ho et al. 2020, Alg. 2), respaced; SCIENCE §3.1."""
    x = ctx.draw_start()
    for i, t, s in ctx.pairs():
        x0, _ = ctx.denoise(x, t)
        yield ctx.step(i, t, x, x0)
        x = ddpm_update(ctx, x, x0, t, s)
    yield ctx.step(ctx.n_steps, 0, x, x)


def ddim(ctx: Context, eta: float = 0.0):
    """DDIM (Song, Meng, Ermon 2021, eq. 12): ``x_s = √ᾱ_s x̂_0 + √(1-ᾱ_s-σ²) ε̂ + σ z``.

    ``σ = η √((1-ᾱ_s)/(1-ᾱ_t)) √(1-ᾱ_t/ᾱ_s)``; η = 0 deterministic, η = 1 DDPM-like (§3.1).
    """
    x = ctx.draw_start()
    for i, t, s in ctx.pairs():
        x0, eps = ctx.denoise(x, t)
        yield ctx.step(i, t, x, x0)
        x = ddim_update(ctx, x0, eps, t, s, eta)
    yield ctx.step(ctx.n_steps, 0, x, x)


def _lam(ctx: Context, t: int) -> float:
    """Log-SNR-like time ``λ_t = -log ᾱ_t`` of the PF-ODE parametrisation."""
    return -math.log(ctx.ab(t))


def _pf_drift(ctx: Context, x: torch.Tensor, t: int):
    """PF-ODE velocity in ``λ = -log ᾱ``: ``dx/dλ = -½ (x + ∇ log p_t(x))``, and ``x̂_0``."""
    x0, eps = ctx.denoise(x, t)
    return -0.5 * (x - eps / math.sqrt(1.0 - ctx.ab(t))), x0


def pf_euler(ctx: Context):
    """Euler on the probability-flow ODE ``dx = -½β(t)(x + ∇ log p_t) dt`` (Song et al. 2021).

    Integrated in ``λ = -log ᾱ_t`` (``dλ = β dt``), unlike DDIM which is Euler in σ̄ (§3.1, §3.2).
    """
    x = ctx.draw_start()
    for i, t, s in ctx.pairs():
        f, x0 = _pf_drift(ctx, x, t)
        yield ctx.step(i, t, x, x0)
        x = torch.add(x, f, alpha=_lam(ctx, s) - _lam(ctx, t))
    yield ctx.step(ctx.n_steps, 0, x, x)


def pf_heun(ctx: Context):
    """Heun (trapezoidal predictor-corrector) on the PF-ODE in ``λ = -log ᾱ`` (Karras et al. 2022,
    Alg. 1); Euler on the last step into ``t = 0`` as in k-diffusion. 2 NFE per step."""
    x = ctx.draw_start()
    for i, t, s in ctx.pairs():
        f, x0 = _pf_drift(ctx, x, t)
        yield ctx.step(i, t, x, x0)
        h = _lam(ctx, s) - _lam(ctx, t)
        x_pred = torch.add(x, f, alpha=h)
        if s == 0:
            x = x_pred
        else:
            f2, _ = _pf_drift(ctx, x_pred, s)
            x = torch.add(x, f + f2, alpha=0.5 * h)
    yield ctx.step(ctx.n_steps, 0, x, x)


_AB = {1: lambda b: [b],
       2: lambda b: [(2 + b) / 2, -(2 - b) / 2],
       3: lambda b: [(18 + 5 * b) / 12, -(24 - 8 * b) / 12, (6 - b) / 12],
       4: lambda b: [(46 + 9 * b) / 24, -(78 - 19 * b) / 24, (42 - 5 * b) / 24, -(10 - b) / 24]}


def ab_mix(history: list, b: float) -> torch.Tensor:
    """β-dependent Adams–Bashforth combination of the newest-last ``history``, divided by β.

    ``b = 1``: classical AB/PLMS coefficients (order = ``len(history)`` ≤ 4); HB code
    ``AdamBmixer`` (HB; SCIENCE §3.4 (h)), e.g. order 2: ``((2+β) v_n - (2-β) v_{n-1})/(2β)``.
    """
    coef = _AB[len(history)](b)
    out = coef[0] * history[-1]
    for c, v in zip(coef[1:], reversed(history[:-1]), strict=True):
        out = torch.add(out, v, alpha=c)
    return out / b


def _check_momentum(beta: float, order: int) -> None:
    if not 0.0 < beta <= 1.0:
        raise ValueError(f"beta must lie in (0, 1], got {beta}")
    if order not in _AB:
        raise ValueError(f"order must be 1, 2, 3 or 4, got {order}")


def hb(ctx: Context, beta: float = 0.8, order: int = 1):
    """PLMS with Polyak heavy-ball momentum ("PLMS+HB", HB arXiv 2307.11118; SCIENCE §3.4 (h)).

    ``e_n`` = Adams–Bashforth (order k) combination of the last ε̂'s, ``v ← (1-β) v + β e_n``
    (``v_0 = ε̂_0``), ``x̄ ← x̄ + Δσ̄ v`` in DDIM coordinates. β = 1: plain PLMS (order 1: DDIM).
    """
    _check_momentum(beta, order)
    x, hist, v = ctx.draw_start(), [], None
    for i, t, s in ctx.pairs():
        x0, eps = ctx.denoise(x, t)
        yield ctx.step(i, t, x, x0)
        hist = (hist + [eps])[-order:]
        e = ab_mix(hist, 1.0)
        v = e if v is None else torch.add((1.0 - beta) * v, e, alpha=beta)
        x = ddim_move(ctx, x, t, s, v)
    yield ctx.step(ctx.n_steps, 0, x, x)


def ghvb(ctx: Context, beta: float = 0.8, order: int = 2):
    """Generalised heavy ball (GHVB, HB arXiv 2307.11118; SCIENCE §3.4 (h)); GHVB 1.8 = order 2.

    ``v ← (1-β) v + β ε̂_n`` (``v_0 = ε̂_0``); ``U`` = β-dependent AB combination of the last
    ``order`` v's divided by β; ``x̄ ← x̄ + Δσ̄ U``. Order 1 coincides with HB-Euler.
    """
    _check_momentum(beta, order)
    x, hist, v = ctx.draw_start(), [], None
    for i, t, s in ctx.pairs():
        x0, eps = ctx.denoise(x, t)
        yield ctx.step(i, t, x, x0)
        v = eps if v is None else torch.add((1.0 - beta) * v, eps, alpha=beta)
        hist = (hist + [v])[-order:]
        x = ddim_move(ctx, x, t, s, ab_mix(hist, beta))
    yield ctx.step(ctx.n_steps, 0, x, x)


def posterior(ctx: Context, base: str = "ddpm", eta: float = 0.0):
    """Oracle sampler: ``base`` (DDPM or DDIM(η)) driven by the exact posterior model.

    The driver runs it with ``ctx.model`` = the exact score of the noised posterior
    ``Σ π̃_k N(√ᾱ μ̃_k, ᾱ Σ̃_k + (1-ᾱ) I)`` (``SolverSpec.oracle``; SCIENCE §3.2), so the samples
    follow the exact posterior up to the sampler's discretisation — the reference the
    approximate solvers are compared with. Without a measurement it samples the prior.
    """
    if base not in ("ddpm", "ddim"):
        raise ValueError(f"posterior: base must be 'ddpm' or 'ddim', got {base!r}")
    yield from (ddpm(ctx) if base == "ddpm" else ddim(ctx, eta=eta))


def hb_stability_interval(beta: float, z_max: float = 100.0, resolution: float = 1e-3) -> float:
    """Left end ``z_min`` of the real stability interval of HB-Euler on ``y' = λ y``, ``z = hλ``.

    Numerical root test of ``r² - (2 - β + βz) r + (1 - β)`` (all ``|r| ≤ 1``); the closed form is
    ``-(4/β - 2)``: -2, -3, -6, -14 for β = 1, 0.8, 0.5, 0.25 (HB; SCIENCE §3.6 item 6).
    """
    z = -np.arange(0.0, z_max, resolution)
    b = 2.0 - beta + beta * z
    disc = np.sqrt((b * b - 4.0 * (1.0 - beta)).astype(complex))
    rmax = np.maximum(np.abs((b + disc) / 2), np.abs((b - disc) / 2))
    unstable = np.nonzero(rmax > 1.0 + 1e-9)[0]
    return float(z[unstable[0] - 1]) if len(unstable) else float(z[-1])

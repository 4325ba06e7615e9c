"""Conditional solvers for ``y = A x_0 + n`` (SCIENCE.md §3.4 (a)-(e), (g)).

Same shared signature as :mod:`engine.sampling.samplers`: a generator function
``fn(ctx, **params)`` yielding one :class:`~engine.sampling.contract.Step` per state. The
measurement is ``ctx.dc`` (:class:`~engine.sampling.contract.DataConsistency`), so the same
function runs on a toy linear measurement of the exact Gaussian mixture (gradients through the
Tweedie estimate in closed form, what autograd through a score network gives the original
codes) and on a CT/MRI volume with the learned slice prior.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from engine.sampling.contract import Context
from engine.sampling.samplers import ddim_update, ddpm_update

__all__ = ["projection", "mcg", "dps", "ccdf", "dds", "reddiff", "CCDF_INITS", "ccdf_grid",
           "ccdf_steps", "dds_renoise"]

CCDF_INITS = ("prior_projection", "pinv")


def _projection_path(ctx: Context, x: torch.Tensor, grid: np.ndarray, lam: float):
    """Reverse DDPM steps on ``grid``, each followed by the projection onto ``{A x = y_s}``."""
    n, corr = len(grid) - 1, None
    for i, t, s in ctx.pairs(grid):
        x0, _ = ctx.denoise(x, t)
        yield ctx.step(i, t, x, x0, n=n, correction=corr)
        x_unc = ddpm_update(ctx, x, x0, t, s)
        x = ctx.dc.project(x_unc, ctx.noisy_target(s), lam)
        corr = x - x_unc
    yield ctx.step(n, 0, x, x, n=n, correction=corr)


def projection(ctx: Context, lam: float = 1.0):
    """Projection ("vanilla") solver: DDPM step, then ``x ← x + λ A^†(y_s - A x)`` with the noised
    measurement ``y_s = √ᾱ_s y + √(1-ᾱ_s) A z`` (score SDE / ILVR; MCG baseline; SCIENCE §3.4 (a)).

    For inpainting ``A = P`` this is ``(I - PᵀP) x' + Pᵀ y_s``; ``λ = 1`` projects exactly.
    """
    ctx.need_measurement("projection")
    yield from _projection_path(ctx, ctx.draw_start(), ctx.grid, lam)


def mcg(ctx: Context, alpha: float = 0.1, lam: float = 1.0):
    """Manifold constrained gradient (MCG arXiv 2206.00941, inpainting update; SCIENCE §3.4 (b)).

    ``x' = `` DDPM step; ``x'' = x' - α (I - A^†A) ∇_{x_t} ‖y - A x̂_0(x_t)‖`` (gradient through the
    Tweedie estimate, restricted to the unobserved subspace); then the projection of
    :func:`projection` onto ``{A x = y_s}``. The inpainting code uses α = 1 on the non-squared
    norm of an image-sized residual; per 2-D particle that gradient has unit size, so the
    default here is α = 0.1 (α = 1 overshoots across thin components).
    """
    ctx.need_measurement("mcg")
    cot, corr, x = ctx.dc.residual_cotangent, None, ctx.draw_start()
    for i, t, s in ctx.pairs():
        x0, _, g = ctx.denoise_grad(x, t, cot)
        yield ctx.step(i, t, x, x0, correction=corr)
        x_unc = ddpm_update(ctx, x, x0, t, s)
        x_mcg = torch.add(x_unc, ctx.dc.unobserved(g), alpha=-alpha)
        x = ctx.dc.project(x_mcg, ctx.noisy_target(s), lam)
        corr = x - x_unc
    yield ctx.step(ctx.n_steps, 0, x, x, correction=corr)


def dps(ctx: Context, zeta: float = 0.1):
    """Diffusion posterior sampling (DPS arXiv 2209.14687, Gaussian noise; SCIENCE §3.4 (d)).

    ``x_s = x' - ζ ∇_{x_t} ‖y - A x̂_0(x_t)‖`` after the DDPM step ``x'``; ``ζ`` is the code's scale
    (= 2ζ' of the paper's rule ``ζ_t = ζ'/‖y - A x̂_0‖`` on the squared norm). No projection.
    The code's 0.3-1.0 are image-space scales; 0.1 suits the 2-D toys at ~100 steps (use
    ~0.03 at 1000 steps: the step has unit size per particle whatever the residual).
    """
    ctx.need_measurement("dps")
    cot, corr, x = ctx.dc.residual_cotangent, None, ctx.draw_start()
    for i, t, s in ctx.pairs():
        x0, _, g = ctx.denoise_grad(x, t, cot)
        yield ctx.step(i, t, x, x0, correction=corr)
        x_unc = ddpm_update(ctx, x, x0, t, s)
        corr = -zeta * g
        x = x_unc + corr
    yield ctx.step(ctx.n_steps, 0, x, x, correction=corr)


def _ccdf_initial(ctx: Context, init: str) -> torch.Tensor:
    """CCDF's initial estimate ``x̃_0``: the data term's cheap estimate (``A^† y``; FBP or zero
    filling for volumes), or a prior sample projected onto ``{A x = y}`` (drawn with the
    auxiliary generator so the path's noise stream is unchanged)."""
    if init == "pinv":
        return ctx.dc.initial().expand(ctx.shape)
    if not hasattr(ctx.model, "sample"):
        raise ValueError(f"ccdf: init 'prior_projection' needs a model that samples its prior; "
                         f"{type(ctx.model).__name__} does not (use init 'pinv')")
    return ctx.dc.project(ctx.model.sample(ctx.n, ctx.aux))


def ccdf_steps(n_steps: int, t0: float) -> int:
    """CCDF's reverse steps ``N' = ⌊t_0 N⌋`` (at least 1) out of ``N`` (§3.4 (c))."""
    if not 0.0 < t0 <= 1.0:
        raise ValueError(f"ccdf: t0 must lie in (0, 1], got {t0}")
    return max(1, int(math.floor(t0 * n_steps + 1e-9)))


def ccdf_grid(grid: np.ndarray, t0: float) -> np.ndarray:
    """The last :func:`ccdf_steps` steps of the respaced ``grid``."""
    n = len(grid) - 1
    return grid[n - ccdf_steps(n, t0):]


def _ddim_dc_path(ctx: Context, x: torch.Tensor, grid: np.ndarray, eta: float, dc_steps: int):
    """Reverse DDIM(η) steps on ``grid`` from ``x̂_0`` after ``dc_steps`` data-consistency maps."""
    n, corr = len(grid) - 1, None
    for i, t, s in ctx.pairs(grid):
        x0, eps = ctx.denoise(x, t)
        x0c = x0
        for _ in range(dc_steps):
            x0c = ctx.dc.project(x0c)
        yield ctx.step(i, t, x, x0, n=n, correction=corr, estimate=x0c)
        x = ddim_update(ctx, x0c, eps, t, s, eta)
        corr = math.sqrt(ctx.ab(s)) * (x0c - x0)
    yield ctx.step(n, 0, x, x, n=n, correction=corr)


def ccdf(ctx: Context, t0: float = 0.5, init: str = "prior_projection", lam: float = 1.0,
         eta: float = 1.0, dc_steps: int = 0):
    """Come-closer-diffuse-faster (CCDF arXiv 2112.05146; SCIENCE §3.4 (c)).

    Forward-diffuse an initial estimate once, ``x_{N'} = √ᾱ x̃_0 + √(1-ᾱ) z`` at the respaced step
    ``N' = ⌊t_0 N⌋``, then run only ``N'`` reverse steps, each a reverse step plus a
    non-expansive data-consistency map: with ``dc_steps = 0`` a DDPM step and the projection of
    :func:`projection` (toy form); with ``dc_steps > 0`` that many maps on ``x̂_0`` followed by a
    DDIM(η) step (the MRI/CT code form, used on volumes). At ``t_0 = 1`` the start is the usual
    ``x_T = z`` (ᾱ_T ≈ 4e-5), so the run equals the full run with the same seed (§3.6 item 7).
    """
    ctx.need_measurement("ccdf")
    grid = ccdf_grid(ctx.grid, t0)
    if init not in CCDF_INITS:
        raise ValueError(f"ccdf: init must be one of {', '.join(CCDF_INITS)}, got {init!r}")
    start = _ccdf_initial(ctx, init) if len(grid) < len(ctx.grid) else None
    z = ctx.randn() if start is not None else ctx.draw_start()
    if start is not None:
        ab = ctx.ab(grid[0])
        z = torch.add(math.sqrt(1.0 - ab) * z, start, alpha=math.sqrt(ab))
    ctx.info["ccdf_steps"] = len(grid) - 1
    if dc_steps > 0:
        yield from _ddim_dc_path(ctx, z, grid, eta, int(dc_steps))
    else:
        yield from _projection_path(ctx, z, grid, lam)


def dds_renoise(ctx: Context, x0c: torch.Tensor, eps: torch.Tensor, s, eta: float):
    """DDS re-noising ``x_s = √ᾱ_s x̂'_0 + √(1-ᾱ_s) (η z + √(1-η²) ε̂)`` (no draw at ``s = 0`` or
    η = 0; DDS ``solver_2d.py``, SCIENCE §3.4 (e))."""
    ab_s = ctx.ab(s)
    noise = torch.add(math.sqrt(1.0 - eta ** 2) * eps, ctx.randn(), alpha=eta) \
        if (eta > 0 and s > 0) else math.sqrt(1.0 - eta ** 2) * eps
    return torch.add(math.sqrt(ab_s) * x0c, noise, alpha=math.sqrt(1.0 - ab_s))


def dds(ctx: Context, eta: float = 0.85, cg_iters: int = 5, gamma: float = 1.0,
        final_cg: int = 0, tv_z: float = 0.0, rho: float = 0.05):
    """Decomposed diffusion sampler (DDS arXiv 2303.05754, ``solver_2d.py``; SCIENCE §3.4 (e)).

    ``x̂'_0 = CG_M(x̂_0)`` (noiseless: ``AᵀA x = Aᵀy``; noisy: ``(I + γAᵀA) x = x̂_0 + γAᵀy``, M
    CG iterations started at ``x̂_0``; ``final_cg > 0`` iterations on the last step), then
    :func:`dds_renoise`; the last step returns ``x̂'_0``. 1 NFE/step. With ``tv_z = λ > 0``
    the consistency is one ADMM-TV-along-z iteration (the 3-D variant, ``solver_3d.py``; the
    data term must offer ``admm_tv_z``).
    """
    ctx.need_measurement("dds")
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"dds: eta must lie in [0, 1], got {eta}")
    x, corr, admm = ctx.draw_start(), None, {}
    for i, t, s in ctx.pairs():
        x0, eps = ctx.denoise(x, t)
        if tv_z > 0 and s > 0:
            x0c = ctx.dc.admm_tv_z(x0, admm, tv_z, rho, int(cg_iters))
        else:
            x0c = ctx.dc.solve(x0, int(final_cg if (s == 0 and final_cg > 0) else cg_iters),
                               gamma)
        yield ctx.step(i, t, x, x0, correction=corr, estimate=x0c)
        x = dds_renoise(ctx, x0c, eps, s, eta)
        corr = math.sqrt(ctx.ab(s)) * (x0c - x0)
    yield ctx.step(ctx.n_steps, 0, x, x, correction=corr)


def reddiff(ctx: Context, lr: float = 0.1, lam: float = 0.25, obs_weight: float = 1.0):
    """RED-diff: variational posterior mean ``μ`` fitted with Adam (RED arXiv 2305.04391,
    ``reddiff.py``; SCIENCE §3.4 (g)).

    ``μ_0 = A^† y``; per step ``x_t = √ᾱ μ + √(1-ᾱ) ε`` and the gradient
    ``-v Aᵀ(y - Aμ)/m + λ (√(1-ᾱ)/√ᾱ)(ε̂(x_t) - ε)/d`` (stop-gradient through ε̂, "linear"
    weighting), Adam(0.9, 0.99). Recorded ``x`` is ``μ`` (clean: metrics at level ᾱ = 1).
    """
    ctx.need_measurement("reddiff")
    mu = ctx.dc.initial().expand(ctx.shape).clone()
    m1, m2 = torch.zeros_like(mu), torch.zeros_like(mu)
    corr = None
    for i, t, _ in ctx.pairs():
        ab = ctx.ab(t)
        eps = ctx.randn()
        x0, eps_hat = ctx.denoise(torch.add(math.sqrt(ab) * mu, eps, alpha=math.sqrt(1.0 - ab)), t)
        yield ctx.step(i, t, mu, x0, level=1.0, correction=corr)
        w = lam * math.sqrt((1.0 - ab) / ab)
        grad = ctx.dc.data_grad(mu, obs_weight) + (w / ctx.d) * (eps_hat - eps)
        m1 = 0.9 * m1 + 0.1 * grad
        m2 = 0.99 * m2 + 0.01 * grad.square()
        k = i + 1
        upd = (m1 / (1 - 0.9 ** k)) / ((m2 / (1 - 0.99 ** k)).sqrt() + 1e-8)
        corr = -lr * upd
        mu = mu + corr
    yield ctx.step(ctx.n_steps, 0, mu, mu, level=1.0, correction=corr)

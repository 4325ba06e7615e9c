"""Diffusion-prior reconstruction of 3-D volumes slice by slice: DDS, DiffusionMBIR, MCG, CCDF
(issue #6; SCIENCE.md §3.4 (b), (c), (e), (f)).

Every solver is a progress generator ``fn(prior, data, n_steps, gen, every, **params)`` that
yields :class:`~engine.core.Progress` every ``every`` steps with ``partial`` = the current
estimate ``x̂_0`` ``(z, n, n)`` (image units, after data consistency) and returns the final
volume. All slices go through the network together (in chunks of ``prior.max_batch``), on the
operator's device; randomness comes only from ``gen``. Stopping the generator cancels; the last
partial volume is the best estimate so far.
"""
from __future__ import annotations

import math
from typing import Generator

import numpy as np
import torch

from engine.core import Progress, drain
from engine.slice_prior.data_term import DataTerm
from engine.slice_prior.prior import SlicePrior, to_image, to_net

__all__ = ["METHODS", "diffusion_reconstruct", "diffusion_reconstruct_iter", "dds", "mbir",
           "mcg", "ccdf", "ve_sigmas_for"]


def _randn(gen: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    return torch.randn(like.shape, generator=gen, device=like.device, dtype=like.dtype)


def _report(i: int, n: int, every: int, name: str, x: torch.Tensor, data: DataTerm):
    if (i + 1) % every == 0 or i + 1 == n:
        res = data.residual_norm(x)
        return Progress((i + 1) / n, f"{name}: step {i + 1}/{n}, residual {res:.2e}",
                        partial=x.detach().clone())
    return None


@torch.no_grad()
def dds(prior: SlicePrior, data: DataTerm, n_steps: int, gen, every: int, eta: float = 0.85,
        cg_iters: int = 5, final_cg: int = 50, tv_z: float = 0.0, rho: float = 0.05):
    """DDS (arXiv 2303.05754; §3.4 (e)): respaced DDIM; per step one NFE, Tweedie ``x̂_0``, ``M``
    CG steps on the normal equations started at ``x̂_0`` (or, with ``tv_z = λ > 0``, one
    ADMM-TV-along-z iteration, the 3-D variant), then ``u_s = √ᾱ_s û'_0 + √(1-ᾱ_s)(η z +
    √(1-η²) ε̂)``. The last step returns ``x̂'_0`` after ``final_cg`` CG steps (data-consistent)."""
    grid = prior.schedule.grid(n_steps)
    u = _randn(gen, torch.zeros(data.shape, device=data.device))
    admm: dict = {}
    for i, (t, s) in enumerate(zip(grid[:-1], grid[1:])):
        u0, e = prior.denoise(u, float(t))
        x0 = to_image(u0)
        last = s == 0
        if tv_z > 0 and not last:
            x0 = data.admm_tv_z(x0, admm, tv_z, rho, cg_iters)
        else:
            x0 = data.solve(x0, final_cg if last else cg_iters)
        if (p := _report(i, n_steps, every, "DDS", x0, data)) is not None:
            yield p
        if last:
            return x0
        ab = prior.ab(float(s))
        noise = math.sqrt(1 - eta ** 2) * e + eta * _randn(gen, e)
        u = math.sqrt(ab) * to_net(x0) + math.sqrt(1 - ab) * noise
    return x0  # pragma: no cover - the grid always ends at 0


def ve_sigmas_for(prior: SlicePrior, n_steps: int) -> np.ndarray:
    """Geometric VE levels ``σ_i`` from ``σ̄_T`` down to ``σ̄_1`` (n_steps + 1 values, §3.1)."""
    hi, lo = prior.sigma_bar(prior.T), prior.sigma_bar(1)
    return hi * (lo / hi) ** (np.arange(n_steps + 1) / n_steps)


def _ve_predictor(ubar, score, s_hi: float, s_lo: float, gen):
    """VE reverse step ``ū + (σ_i² - σ_{i-1}²) s`` plus ancestral noise of variance
    ``σ_{i-1}² (σ_i² - σ_{i-1}²) / σ_i²`` (SMLD ancestral sampling; for the N = 2000 steps of
    DiffusionMBIR it equals the reverse-diffusion predictor's ``σ_i² - σ_{i-1}²`` to first
    order, and it keeps the marginal noise level right for the few steps used here, §3.1).
    Returns ``(mean, noise)``."""
    var = s_hi ** 2 - s_lo ** 2
    return ubar + var * score, math.sqrt(var) * (s_lo / s_hi) * _randn(gen, ubar)


def _langevin(prior, ubar, sigma, gen, snr):
    """Langevin corrector ``u ← u + ε s + √(2ε) z``, ``ε = 2(r‖z‖/‖s‖)²`` per slice (§3.1)."""
    _, s = prior.ve_denoise(ubar, sigma)
    z = _randn(gen, ubar)
    norm = lambda v: v.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]  # noqa: E731
    step = 2 * (snr * norm(z) / norm(s)) ** 2
    return ubar + step * s + (2 * step).sqrt() * z


@torch.no_grad()
def mbir(prior: SlicePrior, data: DataTerm, n_steps: int, gen, every: int,
         tv_z: float = 0.0005, rho: float = 0.05, snr: float = 0.16, cg_iters: int = 3,
         corrector: bool = True, tv_sigma: float = 1.0):
    """DiffusionMBIR (arXiv 2211.10655; §3.4 (f)): VE predictor (+ Langevin corrector) on all
    slices, then one ADMM-TV-along-z iteration on the volume with ``cg_iters`` CG steps (``z, u``
    start at 0 and are carried across steps); one normalised Kaczmarz step at the end.

    With a few hundred steps instead of DiffusionMBIR's 2000, the noise changes a lot from one
    step to the next, and ADMM's ``z`` would remember the differences of the previous noise: the
    TV coupling starts once ``σ_i ≤ tv_sigma`` (network units); above, the step is plain CG."""
    sig = ve_sigmas_for(prior, n_steps)
    ubar = float(sig[0]) * _randn(gen, torch.zeros(data.shape, device=data.device))
    admm: dict = {}

    def consistent(v, sigma):
        lam = tv_z if sigma <= tv_sigma else 0.0
        return to_net(data.admm_tv_z(to_image(v), admm, lam, rho, cg_iters))

    for i in range(n_steps):
        s_hi, s_lo = float(sig[i]), float(sig[i + 1])
        u0, score = prior.ve_denoise(ubar, s_hi)
        mean, noise = _ve_predictor(ubar, score, s_hi, s_lo, gen)
        ubar = mean + noise
        if corrector:
            ubar = _langevin(prior, ubar, s_lo, gen, snr)
        ubar = consistent(ubar, s_lo)
        if (p := _report(i, n_steps, every, "DiffusionMBIR", to_image(u0), data)) is not None:
            yield p
    return data.kaczmarz(to_image(ubar))


@torch.no_grad()
def mcg(prior: SlicePrior, data: DataTerm, n_steps: int, gen, every: int, alpha: float = 1.0,
        lam_start: float = 1.0, lam_end: float = 0.6, snr: float = 0.16, corrector: bool = False):
    """MCG (arXiv 2206.00941; §3.4 (b)), VE: predictor mean ``ū + Δσ² s``, minus ``α ∇_ū‖ỹ -
    Ã x̂_0(ū)‖`` (autograd through the network, summed per slice), then the projection
    ``x ← x + λ_i Ãᵀ(ỹ - Ãx)/(ÃᵀÃ1)`` (λ_i linear 1.0 → 0.6) on the mean, then the noise."""
    sig = ve_sigmas_for(prior, n_steps)
    ubar = float(sig[0]) * _randn(gen, torch.zeros(data.shape, device=data.device))
    lams = np.linspace(lam_start, lam_end, n_steps)
    for i in range(n_steps):
        s_hi, s_lo = float(sig[i]), float(sig[i + 1])
        with torch.enable_grad():
            v = ubar.detach().requires_grad_(True)
            u0, score = prior.ve_denoise(v, s_hi)
            res = (data.forward(to_image(u0)) - data.y).flatten(1).norm(dim=1).sum()
            g, = torch.autograd.grad(res, v)
        mean, noise = _ve_predictor(ubar, score.detach(), s_hi, s_lo, gen)
        mean = to_net(data.kaczmarz(to_image(mean - alpha * g), float(lams[i])))
        ubar = mean + noise
        if corrector:
            ubar = _langevin(prior, ubar, s_lo, gen, snr)
        if (p := _report(i, n_steps, every, "MCG", to_image(u0.detach()), data)) is not None:
            yield p
    return data.kaczmarz(to_image(ubar))


@torch.no_grad()
def ccdf(prior: SlicePrior, data: DataTerm, n_steps: int, gen, every: int, t0: float = 0.5,
         eta: float = 1.0, dc_steps: int = 3):
    """CCDF (arXiv 2112.05146; §3.4 (c)): start from FBP / zero filling, forward-diffuse once to
    ``t_0``, then ``⌊t_0 N⌋`` reverse DDIM(η) steps, each after ``dc_steps`` non-expansive
    data-consistency maps (normalised Kaczmarz for CT, gradient step for MRI) on ``x̂_0``."""
    if not 0.0 < t0 <= 1.0:
        raise ValueError(f"ccdf: t0 must lie in (0, 1], got {t0}")
    full = prior.schedule.grid(n_steps)
    n_sub = max(1, int(math.floor(t0 * n_steps + 1e-9)))
    grid = full[n_steps - n_sub:]
    x_init = data.initial().clamp(0.0, 1.0)
    ab0 = prior.ab(float(grid[0]))
    u = math.sqrt(ab0) * to_net(x_init) + math.sqrt(1 - ab0) * _randn(gen, x_init)
    for i, (t, s) in enumerate(zip(grid[:-1], grid[1:])):
        u0, e = prior.denoise(u, float(t))
        x0 = to_image(u0)
        for _ in range(dc_steps):
            x0 = data.kaczmarz(x0)
        if (p := _report(i, n_sub, every, "CCDF", x0, data)) is not None:
            yield p
        if s == 0:
            return x0
        ab_t, ab_s = prior.ab(float(t)), prior.ab(float(s))
        sd = eta * math.sqrt((1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s))
        dirn = math.sqrt(max(1 - ab_s - sd ** 2, 0.0)) * e
        u = math.sqrt(ab_s) * to_net(x0) + dirn + sd * _randn(gen, e)
    return x0  # pragma: no cover


METHODS = {"dds": dds, "mbir": mbir, "mcg": mcg, "ccdf": ccdf}


def diffusion_reconstruct_iter(method: str, prior: SlicePrior, op, y: torch.Tensor,
                               n_steps: int = 50, seed: int = 0, every: int = 5,
                               **params) -> Generator[Progress, None, torch.Tensor]:
    """Progress-generator form of :func:`diffusion_reconstruct`."""
    if method not in METHODS:
        raise ValueError(f"unknown diffusion method {method!r}; choose from "
                         f"{', '.join(METHODS)}")
    if n_steps < 1 or n_steps > prior.T:
        raise ValueError(f"n_steps must lie in 1..{prior.T}, got {n_steps}")
    data = DataTerm(op, y)
    if data.n != prior.size:
        raise ValueError(f"the slice prior was trained on {prior.size}² slices but the volume "
                         f"has {data.n}² slices: use in-plane size {prior.size} or a prior "
                         f"trained at {data.n}²")
    if prior.device != data.device:
        prior.to(data.device)
    gen = torch.Generator(device=data.device).manual_seed(int(seed))
    return (yield from METHODS[method](prior, data, int(n_steps), gen, max(1, int(every)),
                                       **params))


def diffusion_reconstruct(method: str, prior: SlicePrior, op, y: torch.Tensor,
                          n_steps: int = 50, seed: int = 0, **params) -> torch.Tensor:
    """Reconstruct a ``(z, n, n)`` volume from CT/MRI data with a learned slice prior (issue #6).

    Parameters
    ----------
    method : {"dds", "mbir", "mcg", "ccdf"}
        DDS (§3.4 (e)), DiffusionMBIR (§3.4 (f)), MCG (§3.4 (b)) or CCDF (§3.4 (c)).
    prior : SlicePrior
        From :func:`~engine.slice_prior.prior.load_slice_prior`; its size must equal ``n``.
    op : Radon or MRI (2-D, per slice)
    y : torch.Tensor
        ``op.forward`` of the volume (sinogram ``(z, views, n)`` or k-space ``(z, C, n, n)``).
    n_steps : int
        Diffusion steps (NFE: DDS, CCDF-full and MCG 1 per step; MBIR 2 with the corrector).
    seed : int
        Seed of all noise draws (results are reproducible).
    **params
        Method parameters (see each solver), e.g. ``eta``, ``cg_iters``, ``tv_z``, ``t0``.

    Returns
    -------
    torch.Tensor
        The reconstruction ``(z, n, n)`` in image units (float32, on the operator's device).
    """
    return drain(diffusion_reconstruct_iter(method, prior, op, y, n_steps, seed, **params))

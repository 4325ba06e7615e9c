"""Held-out evaluation of a slice prior: its Tweedie denoiser against the best Gaussian-smoothing
denoiser at each noise level (issue #6: "the score network's denoising error beats a plain
Gaussian-smoothing denoiser at every noise level on held-out slices").

The held-out set never enters training: axial slices of the brain volume from the z-fraction
band :data:`~engine.slice_prior.data.HELD_OUT_BRAIN`, slices of the exact (unjittered) 3-D
Shepp–Logan phantom, and random ellipse phantoms from a seed the trainer does not use.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch.nn import functional as F

from engine.sampling.schedule import Schedule
from engine.slice_prior.data import HELD_OUT_BRAIN, random_ellipse_slices
from engine.slice_prior.prior import SlicePrior, to_image, to_net

__all__ = ["held_out_slices", "held_out_brain_indices", "gaussian_blur", "denoising_table",
           "validation_loss", "EVAL_TIMES"]

#: VP time indices of the noise levels compared (σ̄ ≈ 0.07 … 6 in network units).
EVAL_TIMES = (25, 100, 250, 500, 750)
_HELD_OUT_SEED = 987_654_321


def held_out_slices(n: int, brain: Optional[torch.Tensor] = None, per_kind: int = 8) -> torch.Tensor:
    """``(B, n, n)`` held-out slices in [0, 1] (see module docstring)."""
    from engine.imaging.phantom import shepp_logan_3d   # lazy: importing the prior loads no imaging code
    parts = [shepp_logan_3d((per_kind + 2, n, n))[1:-1]]      # skip the empty edge slices
    gen = torch.Generator().manual_seed(_HELD_OUT_SEED)
    parts.append(random_ellipse_slices(per_kind, n, gen)[:, 0])
    if brain is not None:
        idx = held_out_brain_indices(brain.shape[0], per_kind)
        sl = brain[idx][:, None].float()
        parts.append(F.interpolate(sl, size=(n, n), mode="area")[:, 0].clamp(0, 1))
    return torch.cat(parts, 0)


def held_out_brain_indices(nz: int, count: int) -> torch.Tensor:
    """``count`` slice indices strictly inside the held-out band (training rounds positions
    to the nearest slice, so the band's edge slices are left out here)."""
    lo = math.ceil(HELD_OUT_BRAIN[0] * (nz - 1)) + 1
    hi = math.floor(HELD_OUT_BRAIN[1] * (nz - 1)) - 1
    return torch.linspace(lo, hi, count).round().long()


def gaussian_blur(x: torch.Tensor, sigma_px: float) -> torch.Tensor:
    """Separable Gaussian smoothing of ``(B, n, n)`` with standard deviation ``sigma_px``
    pixels (reflect padding); ``sigma_px = 0`` returns ``x``."""
    if sigma_px <= 0:
        return x
    r = max(1, int(math.ceil(3 * sigma_px)))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=x.dtype) / sigma_px) ** 2)
    k = (k / k.sum()).to(x.device)
    h = x[:, None]
    h = F.conv2d(F.pad(h, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    h = F.conv2d(F.pad(h, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1))
    return h[:, 0]


def denoising_table(prior: SlicePrior, clean: torch.Tensor, times: Sequence[int] = EVAL_TIMES,
                    seed: int = 0, widths=(0.0, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0,
                                           12.0, 16.0)) -> list[dict]:
    """Per noise level: MSE (image units) of the prior's Tweedie estimate ``x̂_0`` and of the
    best Gaussian smoothing of ``x_t/√ᾱ_t`` (width chosen per level with hindsight, so the
    baseline is as strong as it can be), on the same seeded noisy slices."""
    gen = torch.Generator().manual_seed(int(seed))
    u0 = to_net(clean.float())
    rows = []
    for t in times:
        ab = prior.ab(float(t))
        eps = torch.randn(u0.shape, generator=gen)
        ut = math.sqrt(ab) * u0 + math.sqrt(1 - ab) * eps
        with torch.no_grad():
            est, _ = prior.denoise(ut.to(prior.device), float(t))
        mse_net = float(((to_image(est.cpu()) - clean) ** 2).mean())
        scaled = ut / math.sqrt(ab)
        blur = [float(((to_image(gaussian_blur(scaled, w)) - clean) ** 2).mean()) for w in widths]
        best = min(range(len(widths)), key=blur.__getitem__)
        rows.append({"t": int(t), "sigma": prior.sigma_bar(float(t)), "mse_prior": mse_net,
                     "mse_gaussian": blur[best], "gaussian_width_px": widths[best]})
    return rows


def validation_loss(net, clean: torch.Tensor, seed: int = 0, draws: int = 4) -> float:
    """The training objective on held-out slices: ``mean ‖ε − ε_θ(√ᾱ_t u_0 + √(1−ᾱ_t) ε, t)‖²``
    (Ho et al. 2020 eq. 14; SCIENCE.md §3.1) in float32, without gradients.

    Parameters
    ----------
    net : SliceUNet
        The network (any device and memory format).
    clean : torch.Tensor
        ``(B, n, n)`` slices in [0, 1], e.g. :func:`held_out_slices`.
    seed : int
        Seeds the times ``t ~ U{1..T}`` and the noise ``ε``: the same draws for every network,
        so two networks' losses differ only by the networks.
    draws : int
        (t, ε) draws per slice.
    """
    gen = torch.Generator().manual_seed(int(seed))
    u0 = to_net(clean.float())[:, None].repeat(int(draws), 1, 1, 1)
    alpha_bar = torch.as_tensor(Schedule.linear().alpha_bar, dtype=torch.float32)
    t = torch.randint(1, alpha_bar.numel(), (u0.shape[0],), generator=gen)
    eps = torch.randn(u0.shape, generator=gen)
    ab = alpha_bar[t].view(-1, 1, 1, 1)
    device = next(net.parameters()).device
    with torch.no_grad():
        pred = net((ab.sqrt() * u0 + (1 - ab).sqrt() * eps).to(device), t.float().to(device))
    return float(((pred.float().cpu() - eps) ** 2).mean())

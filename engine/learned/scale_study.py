"""Scale shift: PSNR of trained nets on zoomed test slices (SCIENCE.md §6.4.4).

Each test image is zoomed about its centre by ρ (bicubic, then centre-cropped or zero-padded
back to ``n × n``), and new k-space is simulated from it with the *same* mask, coils and noise
level — k-space itself is never rescaled (§6.4.4). ρ ≠ 1 is out of distribution for nets
trained at ρ = 1. The zero-filled and CG-SENSE baselines are measured on the same slices.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Generator, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from engine.core import Progress, drain
from engine.learned.data import BrainSlices, Split, measure_slices

__all__ = ["ZOOMS", "zoom_images", "zoomed_data", "ScaleCurve", "psnr_vs_scale",
           "psnr_vs_scale_iter"]

ZOOMS = (0.6, 0.75, 0.9, 1.0, 1.15, 1.3, 1.5)


def zoom_images(images: torch.Tensor, zoom: float) -> torch.Tensor:
    """Real ``(N, n, n)`` images zoomed about the centre by ``zoom``, same ``n × n`` (§6.4.4).

    ``zoom = 1`` returns the images unchanged; > 1 magnifies (crops the border), < 1 shrinks
    (zero border). Values are clipped at 0 (bicubic overshoot).
    """
    if not 0.1 <= zoom <= 10:
        raise ValueError(f"zoom must be in [0.1, 10], got {zoom}")
    x = torch.as_tensor(images, dtype=torch.float32)
    if zoom == 1.0:
        return x.clone()
    n = x.shape[-1]
    m = max(int(round(n * zoom)), 2)
    z = F.interpolate(x[:, None], size=(m, m), mode="bicubic", align_corners=False)[:, 0]
    z = z.clamp_min(0)
    if m >= n:
        lo = (m - n) // 2
        return z[:, lo:lo + n, lo:lo + n].contiguous()
    lo = (n - m) // 2
    return F.pad(z, (lo, n - m - lo, lo, n - m - lo))


def zoomed_data(data: BrainSlices, zoom: float) -> BrainSlices:
    """``data`` with its test split re-simulated from zoomed images (same mask, maps, noise)."""
    images = data.test.target.real
    images = images / images.amax(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    k, target = measure_slices(zoom_images(images, zoom), data.operator(), data.noise,
                               data.seed)
    return replace(data, test=Split(k, target, data.test.index))


@dataclass
class ScaleCurve:
    """Mean test PSNR (dB) per zoom for each method title (SCIENCE.md §6.4.4)."""
    zooms: np.ndarray
    psnr: dict


def psnr_vs_scale(nets: dict, data: BrainSlices, zooms: Sequence[float] = ZOOMS,
                  device: str = "cpu", baselines: Sequence[str] = ("zero_filled", "cg_sense")
                  ) -> ScaleCurve:
    """PSNR vs zoom of trained nets (title → net) and classical baselines (§6.4.4):
    :func:`psnr_vs_scale_iter` run to the end.

    Returns
    -------
    ScaleCurve
        ``psnr[title]`` has one mean test PSNR per zoom; baselines are keyed by their names.
    """
    return drain(psnr_vs_scale_iter(nets, data, zooms, device, baselines))


def psnr_vs_scale_iter(nets: dict, data: BrainSlices, zooms: Sequence[float] = ZOOMS,
                       device: str = "cpu",
                       baselines: Sequence[str] = ("zero_filled", "cg_sense")) -> Generator:
    """:func:`psnr_vs_scale` as a progress generator (§6.4.4): one
    :class:`~engine.core.Progress` after each net or baseline at each zoom; returns the
    :class:`ScaleCurve`."""
    from engine.learned.train import evaluate
    out = {title: [] for title in [*nets, *baselines]}
    total, done = len(zooms) * max(1, len(out)), 0
    for zoom in zooms:
        zd = zoomed_data(data, float(zoom))
        for title in out:
            value = (evaluate(nets[title], zd, "test", device)[0] if title in nets
                     else zd.baseline_psnr(title))
            out[title].append(value)
            done += 1
            yield Progress(done / total, f"zoom {float(zoom):.2f}×: {title} {value:.2f} dB")
    return ScaleCurve(np.asarray(zooms, float), {t: np.asarray(v, float) for t, v in out.items()})

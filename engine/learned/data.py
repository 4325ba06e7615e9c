"""Paired multi-coil brain slices for training unrolled nets (SCIENCE.md §6.1).

Axial slices of the shipped MNI brain (``demo_volume("brain")``) from the middle 60 % of z,
padded to a square and area-resampled to ``size²``, split by contiguous z-blocks (train 60 %,
validation 10 %, test 30 %: neighbouring slices are near duplicates). One fixed random-line
mask (R, ACS 0.32/R) and fixed coil maps for every slice; complex Gaussian noise of standard
deviation ``noise`` on the sampled k-space. Each slice is normalised by ``s = max|Aᴴy|``
(§6.1); PSNR uses ``data_range = max|x_true|`` per slice, so it is the same in either unit.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from engine.imaging.masks import make_mask
from engine.imaging.metrics import psnr, ssim
from engine.imaging.mri import MRI, cg_sense

__all__ = ["BrainSlices", "Split", "brain_slices", "mean_psnr", "mean_ssim", "BASELINES",
           "measure_slices"]

BASELINES = ("zero_filled", "cg_sense")
MIN_SLICES = 10
CG_SENSE_ITERS = 20
CG_SENSE_LAM = 1e-3


@dataclass
class Split:
    """One split: k-space ``(N, C, n, n)``, targets ``(N, n, n)`` (complex), slice indices."""
    k: torch.Tensor
    target: torch.Tensor
    index: np.ndarray

    def __len__(self) -> int:
        return int(self.target.shape[0])


def mean_psnr(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean over slices of PSNR(|pred|, |target|) with ``data_range = max|target|`` (§4.8, §6.1)."""
    vals = [psnr(p.abs(), t.abs(), float(t.abs().max()) or 1.0) for p, t in zip(pred, target)]
    return float(np.mean(vals))


def mean_ssim(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean over slices of SSIM(|pred|, |target|) with ``data_range = max|target|`` (§4.8)."""
    vals = [ssim(p.abs(), t.abs(), float(t.abs().max()) or 1.0) for p, t in zip(pred, target)]
    return float(np.mean(vals))


@dataclass
class BrainSlices:
    """The data set of :func:`brain_slices`: splits, mask, coil maps and settings."""
    train: Split
    val: Split
    test: Split
    mask: torch.Tensor
    maps: torch.Tensor
    size: int
    acceleration: float
    noise: float
    seed: int

    def operator(self, device: str = "cpu") -> MRI:
        """The MRI operator of every slice (fixed mask and maps) on ``device``."""
        return MRI(self.mask, maps=self.maps, device=device)

    def reconstruct(self, method: str, split: str = "test") -> torch.Tensor:
        """A classical reconstruction of a split: ``"zero_filled"`` (``Aᴴy``) or ``"cg_sense"``
        (20 CG iterations, λ = 1e-3, one CG system per slice; SCIENCE.md §4.5)."""
        part, op = getattr(self, split), self.operator()
        if method == "zero_filled":
            return op.adjoint(part.k)
        if method == "cg_sense":
            return torch.stack([cg_sense(k, op, iters=CG_SENSE_ITERS, lam=CG_SENSE_LAM, tol=0)
                                for k in part.k])
        raise ValueError(f"unknown baseline {method!r}; choose one of {BASELINES}")

    def baseline_psnr(self, method: str, split: str = "test") -> float:
        """Mean PSNR (dB) of a classical method on a split (SCIENCE.md §6.1 baselines)."""
        return mean_psnr(self.reconstruct(method, split), getattr(self, split).target)


@functools.lru_cache(maxsize=1)
def _brain() -> torch.Tensor:
    """The shipped MNI brain (read once per process)."""
    from engine.imaging.volume_io import demo_volume
    return demo_volume("brain").data


def _axial_slices(volume: torch.Tensor, size: int) -> torch.Tensor:
    """Middle 60 % of z, zero-padded to square, area-resampled to ``size²``, in [0, 1]."""
    vol = torch.as_tensor(volume, dtype=torch.float32)
    if vol.dim() != 3:
        raise ValueError(f"the volume must be 3-D (z, y, x), got shape {tuple(vol.shape)}")
    nz = vol.shape[0]
    lo, hi = int(round(0.2 * nz)), int(round(0.8 * nz))
    vol = vol[lo:hi]
    if vol.shape[0] < MIN_SLICES:
        raise ValueError(f"the volume has {nz} slices; the middle 60 % gives {vol.shape[0]}, "
                         f"fewer than the {MIN_SLICES} a train/validation/test split needs")
    if min(vol.shape[1:]) < size // 2:
        raise ValueError(f"slices of {tuple(vol.shape[1:])} pixels are too small for "
                         f"{size}² training images (need at least {size // 2} per side)")
    side = max(vol.shape[1:])
    pad_y, pad_x = side - vol.shape[1], side - vol.shape[2]
    vol = torch.nn.functional.pad(vol, (pad_x // 2, pad_x - pad_x // 2,
                                        pad_y // 2, pad_y - pad_y // 2))
    out = torch.nn.functional.interpolate(vol[:, None], size=(size, size), mode="area")[:, 0]
    return (out - out.min()) / max(float(out.max() - out.min()), 1e-12)


def measure_slices(images: torch.Tensor, op: MRI, noise: float, seed: int) -> tuple:
    """k-space ``A x + σ n`` and targets, both divided by ``s = max|Aᴴy|`` per slice (§6.1)."""
    x = images.to(op.dtype)
    k = op.forward(x)
    g = torch.Generator().manual_seed(seed + 1)
    if noise > 0:
        shape = (*k.shape, 2)
        n = torch.randn(shape, generator=g, dtype=torch.float32) * (noise / np.sqrt(2))
        k = k + torch.view_as_complex(n) * op.mask
    s = op.adjoint(k).abs().amax(dim=(-2, -1)).clamp_min(1e-12)
    return k / s[:, None, None, None], x / s[:, None, None]


def brain_slices(size: int = 64, acceleration: float = 4.0, n_coils: int = 8, seed: int = 0,
                 noise: float = 0.01, volume: Optional[torch.Tensor] = None) -> BrainSlices:
    """Paired (undersampled k-space, fully sampled image) brain slices (SCIENCE.md §6.1).

    Parameters
    ----------
    size : int
        Image side n (64 on a CPU, 128 on a GPU).
    acceleration : float
        R of the fixed random-line mask (ACS 0.32/R, SCIENCE.md §4.5).
    n_coils : int
        Coils C of the synthetic maps.
    seed : int
        Seeds the mask, the maps and the noise.
    noise : float
        Standard deviation of the complex k-space noise (images in [0, 1]; MoDL's code 0.01).
    volume : torch.Tensor, optional
        A user's own ``(z, y, x)`` volume instead of the shipped brain.
    """
    if not 16 <= int(size) <= 256:
        raise ValueError(f"size must be in [16, 256], got {size}")
    if volume is None:
        volume = _brain()
    images = _axial_slices(volume, int(size))
    mask = make_mask("random", (size, size), acceleration, seed=seed)
    op = MRI(mask, n_coils=n_coils, seed=seed)
    k, target = measure_slices(images, op, float(noise), seed)
    n = len(images)
    a, b = int(round(0.6 * n)), int(round(0.7 * n))
    idx = np.arange(n)
    parts = [Split(k[s], target[s], idx[s]) for s in (slice(0, a), slice(a, b), slice(b, n))]
    return BrainSlices(*parts, mask=mask, maps=op.maps, size=int(size),
                       acceleration=float(acceleration), noise=float(noise), seed=int(seed))

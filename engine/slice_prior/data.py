"""Training slices for the slice prior: random ellipse phantoms, jittered Shepp–Logan slices and
augmented axial slices of a real brain volume (issue #6; SCIENCE.md §4.4).

Everything is generated batched on the training device from a private ``torch.Generator``, so a
seed fixes the data stream. Images lie in [0, 1] (the Reconstruction lab's units); row 0 is the
top of the image (y = +1), as in :func:`engine.imaging.shepp_logan_3d`.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch.nn import functional as F

__all__ = ["raster_ellipses", "random_ellipse_slices", "shepp_logan_slices", "brain_slices",
           "HELD_OUT_BRAIN", "SliceSource"]

#: Fraction range of the brain's axial slices never used for training (the held-out test set).
HELD_OUT_BRAIN = (0.45, 0.55)


def _grid(n: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    c = torch.linspace(-1.0, 1.0, n, device=device)
    return c[None, None, None, :], c.flip(0)[None, None, :, None]   # x (cols), y (rows, top=+1)


def raster_ellipses(params: torch.Tensor, n: int) -> torch.Tensor:
    """Sum of filled ellipses → ``(B, 1, n, n)``.

    ``params`` ``(B, K, 6)``: centre x, centre y, semi-axis a, semi-axis b, angle φ (radians),
    value; an ellipse with ``a`` or ``b`` ≤ 0 contributes nothing.
    """
    x, y = _grid(n, params.device)
    cx, cy, a, b, phi, val = (params[..., i, None, None] for i in range(6))
    cos, sin = torch.cos(phi), torch.sin(phi)
    xr = cos * (x[:, 0] - cx) + sin * (y[:, 0] - cy)
    yr = -sin * (x[:, 0] - cx) + cos * (y[:, 0] - cy)
    ok = (a > 0) & (b > 0)
    inside = ((xr / a.clamp_min(1e-6)) ** 2 + (yr / b.clamp_min(1e-6)) ** 2 <= 1) & ok
    return (inside * val).sum(1, keepdim=True)


def _uniform(gen, shape, lo, hi, device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=gen, device=device)


def random_ellipse_slices(batch: int, n: int, gen: torch.Generator, device="cpu",
                          max_inner: int = 10) -> torch.Tensor:
    """Random "head-like" phantoms: a body ellipse with a brighter rim and up to ``max_inner``
    random inner ellipses of random sign, clamped to [0, 1]."""
    u = lambda shape, lo, hi: _uniform(gen, shape, lo, hi, device)  # noqa: E731
    body = torch.stack([u((batch,), -0.1, 0.1), u((batch,), -0.1, 0.1), u((batch,), 0.55, 0.9),
                        u((batch,), 0.65, 0.95), u((batch,), -0.5, 0.5), u((batch,), 0.6, 1.0)],
                       -1)[:, None]
    rim = body.clone()
    rim[..., 2:4] *= u((batch, 1, 1), 0.9, 0.97)
    rim[..., 5] = -body[..., 5] * u((batch, 1), 0.5, 0.9)
    k = max_inner
    inner = torch.stack([u((batch, k), -0.5, 0.5), u((batch, k), -0.6, 0.6),
                         u((batch, k), 0.02, 0.35), u((batch, k), 0.02, 0.35),
                         u((batch, k), 0.0, math.pi), u((batch, k), -0.3, 0.4)], -1)
    keep = torch.rand((batch, k), generator=gen, device=device) < 0.6
    inner[..., 2] = torch.where(keep, inner[..., 2], torch.zeros_like(inner[..., 2]))
    params = torch.cat([body, rim, inner], 1)
    return raster_ellipses(params, n).clamp(0.0, 1.0)


def shepp_logan_slices(batch: int, n: int, gen: torch.Generator, device="cpu",
                       jitter: float = 0.15) -> torch.Tensor:
    """Axial slices ``z ∈ [-0.85, 0.85]`` of the modified 3-D Shepp–Logan phantom (§4.4) whose
    ellipsoids are jittered by up to ``jitter`` (relative sizes, offsets and densities)."""
    from engine.imaging.phantom import ELLIPSOIDS   # lazy: importing the prior loads no imaging code
    table = torch.tensor(ELLIPSOIDS, dtype=torch.float32, device=device)        # (K, 9)
    K = table.shape[0]
    j = lambda: 1.0 + jitter * (2 * torch.rand((batch, K), generator=gen, device=device) - 1)  # noqa: E731
    a, b, c = table[:, 0] * j(), table[:, 1] * j(), table[:, 2] * j()
    x0 = table[:, 3] + 0.1 * jitter * (2 * torch.rand((batch, K), generator=gen, device=device) - 1)
    y0 = table[:, 4] + 0.1 * jitter * (2 * torch.rand((batch, K), generator=gen, device=device) - 1)
    z = _uniform(gen, (batch, 1), -0.85, 0.85, device)
    frac = 1.0 - ((z - table[:, 5]) / c) ** 2
    scale = frac.clamp_min(0.0).sqrt()
    val = table[:, 8] * j()
    val[:, :2] = table[:, 8][:2]                     # keep the skull/brain levels exact
    phi = torch.deg2rad(table[:, 6]).expand(batch, K)
    params = torch.stack([x0, y0, a * scale, b * scale, phi, val], -1)
    return raster_ellipses(params, n).clamp(0.0, 1.0)


def brain_slices(volume: torch.Tensor, batch: int, n: int, gen: torch.Generator,
                 z_range=(0.15, 0.85), exclude=HELD_OUT_BRAIN, augment: bool = True) -> torch.Tensor:
    """Axial slices of ``volume`` ``(z, y, x)`` in [0, 1], resampled to ``n × n``.

    Slice positions are drawn from ``z_range`` (fractions of the depth) minus ``exclude``;
    with ``augment``: random rotation (±15°), scale (0.9–1.1), shift (±5 %), left-right flip
    and intensity gamma (0.8–1.25). The whole field of view maps onto the slice, as
    :func:`engine.imaging.resample_volume` does in the Reconstruction lab.
    """
    dev = volume.device
    nz = volume.shape[0]
    lo, hi = z_range
    span = (hi - lo) - max(0.0, min(hi, exclude[1]) - max(lo, exclude[0]))
    f = lo + span * torch.rand(batch, generator=gen, device=dev)
    f = torch.where(f >= exclude[0], f + (exclude[1] - exclude[0]), f)
    idx = (f * (nz - 1)).round().long().clamp(0, nz - 1)
    imgs = volume[idx][:, None].float()                                  # (B, 1, y, x)
    imgs = F.interpolate(imgs, size=(n, n), mode="area" if imgs.shape[-1] >= n else "bilinear")
    if not augment:
        return imgs.clamp(0.0, 1.0)
    u = lambda lo_, hi_: _uniform(gen, (batch,), lo_, hi_, dev)  # noqa: E731
    ang, s = u(-0.26, 0.26), u(0.9, 1.1)
    flip = torch.where(torch.rand(batch, generator=gen, device=dev) < 0.5, -1.0, 1.0)
    theta = torch.stack([torch.stack([s * torch.cos(ang) * flip, -s * torch.sin(ang),
                                      u(-0.05, 0.05)], -1),
                         torch.stack([s * torch.sin(ang) * flip, s * torch.cos(ang),
                                      u(-0.05, 0.05)], -1)], 1)
    grid = F.affine_grid(theta, list(imgs.shape), align_corners=False)
    out = F.grid_sample(imgs, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    gamma = u(0.8, 1.25)[:, None, None, None]
    return out.clamp(0.0, 1.0) ** gamma


class SliceSource:
    """The training mixture: ellipse phantoms, Shepp–Logan slices and (when a volume is given)
    brain slices, in proportions ``weights``; one seeded generator on ``device``."""

    def __init__(self, n: int, brain: Optional[torch.Tensor] = None, seed: int = 0,
                 device="cpu", weights=(0.35, 0.25, 0.4)):
        self.n, self.device = int(n), torch.device(device)
        self.brain = None if brain is None else brain.to(self.device, torch.float32)
        self.gen = torch.Generator(device=self.device).manual_seed(int(seed))
        w = torch.tensor(weights if self.brain is not None else weights[:2], dtype=torch.float64)
        self.weights = w / w.sum()

    def sample(self, batch: int) -> torch.Tensor:
        """A batch ``(batch, 1, n, n)`` in [0, 1]."""
        counts = (self.weights * batch).floor().long()
        counts[0] += batch - int(counts.sum())
        parts = [random_ellipse_slices(int(counts[0]), self.n, self.gen, self.device),
                 shepp_logan_slices(int(counts[1]), self.n, self.gen, self.device)]
        if self.brain is not None:
            parts.append(brain_slices(self.brain, int(counts[2]), self.n, self.gen))
        out = torch.cat([p for p in parts if len(p)], 0)
        perm = torch.randperm(batch, generator=self.gen, device=self.device)
        return out[perm]

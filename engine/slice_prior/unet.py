"""A small noise-prediction U-Net for 2-D slices (DDPM ε-parameterisation; SCIENCE.md §3.1).

``SliceUNet(cfg)(x, t)`` maps a batch of noisy slices ``x_t`` ``(B, 1, n, n)`` in the network's
[-1, 1] units and (possibly fractional) VP time indices ``t`` ``(B,)`` to the noise estimate
``ε̂(x_t, t)``. Architecture: Ho et al. 2020 (DDPM) without attention — residual blocks with
GroupNorm and SiLU, a sinusoidal time embedding added in every block, average-pool down and
nearest-neighbour up sampling, skip connections by concatenation. Fully convolutional, so one
network serves any ``n`` divisible by ``2 ** (len(mults) - 1)``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from engine.slice_prior.group_norm import group_norm

__all__ = ["UNetConfig", "SliceUNet", "time_embedding"]


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of :class:`SliceUNet` (stored beside the weights, checked on load).

    Attributes
    ----------
    base : int
        Channels at full resolution.
    mults : tuple of int
        Channel multipliers per resolution level (each level halves the size).
    emb : int
        Width of the time embedding.
    groups : int
        GroupNorm groups.
    """
    base: int = 32
    mults: tuple = (1, 2, 2)
    emb: int = 128
    groups: int = 8

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mults"] = list(self.mults)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "UNetConfig":
        known = {k: d[k] for k in ("base", "mults", "emb", "groups") if k in d}
        if "mults" in known:
            known["mults"] = tuple(int(m) for m in known["mults"])
        return cls(**known)


def time_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding of (fractional) time indices ``t`` (B,) → (B, dim) (Vaswani 2017)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device,
                                                           dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


def _normed(norm: nn.GroupNorm, x: torch.Tensor) -> torch.Tensor:
    """``norm(x)`` through :func:`~engine.slice_prior.group_norm.group_norm` (ATen's forward;
    a faster backward for channels-last bfloat16 on the CPU)."""
    return group_norm(x, norm.num_groups, norm.weight, norm.bias, norm.eps)


class ResBlock(nn.Module):
    """``x + conv(silu(norm(conv(silu(norm(x))) + emb)))`` with a 1×1 skip when channels change."""

    def __init__(self, c_in: int, c_out: int, emb: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(groups, c_in), c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.emb = nn.Linear(emb, c_out)
        self.norm2 = nn.GroupNorm(min(groups, c_out), c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(_normed(self.norm1, x)))
        h = h + self.emb(e)[:, :, None, None].to(h.dtype)
        h = self.conv2(F.silu(_normed(self.norm2, h)))
        return self.skip(x) + h


class SliceUNet(nn.Module):
    """ε-prediction U-Net on single-channel slices (see module docstring)."""

    def __init__(self, cfg: UNetConfig = UNetConfig()):
        super().__init__()
        self.cfg = cfg
        chans = [cfg.base * m for m in cfg.mults]
        self.embed = nn.Sequential(nn.Linear(cfg.emb, cfg.emb), nn.SiLU(),
                                   nn.Linear(cfg.emb, cfg.emb))
        self.inp = nn.Conv2d(1, chans[0], 3, padding=1)
        self.down = nn.ModuleList()
        c_prev = chans[0]
        for c in chans:
            self.down.append(ResBlock(c_prev, c, cfg.emb, cfg.groups))
            c_prev = c
        self.mid = nn.ModuleList([ResBlock(c_prev, c_prev, cfg.emb, cfg.groups)
                                  for _ in range(2)])
        self.up = nn.ModuleList()
        for c in reversed(chans):
            self.up.append(ResBlock(c_prev + c, c, cfg.emb, cfg.groups))
            c_prev = c
        self.out_norm = nn.GroupNorm(min(cfg.groups, c_prev), c_prev)
        self.out = nn.Conv2d(c_prev, 1, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    @property
    def multiple(self) -> int:
        """Slice sizes must be divisible by this."""
        return 2 ** (len(self.cfg.mults) - 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.multiple or x.shape[-2] % self.multiple:
            raise ValueError(f"slice size {tuple(x.shape[-2:])} must be divisible by "
                             f"{self.multiple}")
        e = self.embed(time_embedding(t.reshape(-1).expand(x.shape[0]), self.cfg.emb))
        h = self.inp(x)
        skips = []
        for i, block in enumerate(self.down):
            h = block(h, e)
            skips.append(h)
            if i < len(self.down) - 1:
                h = F.avg_pool2d(h, 2)
        for block in self.mid:
            h = block(h, e)
        for i, block in enumerate(self.up):
            if i > 0:
                h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            h = block(torch.cat([h, skips.pop()], dim=1), e)
        return self.out(F.silu(_normed(self.out_norm, h)))

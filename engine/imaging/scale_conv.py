"""Scale-equivariant convolutions and a scale-equivariant proximal CNN (SCIENCE.md §6.4).

Weights ``w ∈ R^{C'×C×F}`` are shared across scales ``σ_1 < … < σ_S``; each scale's kernel is
``κ_s = Σ_f w_f ψ_{f,σ_s}`` over a fixed multi-scale basis ``ψ`` (§6.4.2):

* :func:`hermite_basis` — SESN basis "A": ``G_σ(u) He_n(u/σ) · G_σ(v) He_m(v/σ)``, orders
  ``0 ≤ n, m < k_eff``, sampled on an odd grid of ``⌊k σ/σ_max⌋`` (odd) pixels, zero-padded to
  ``k × k``, every function divided by its norm at the smallest scale.
* :func:`dilated_basis` — the ``k_eff × k_eff`` delta basis dilated by integer scales, exactly
  equivariant under integer subsampling (§6.4.5 test 1).

:class:`ScaleLift` maps ``[B, C, H, W] → [B, C', S, H, W]`` (``out[:, :, s] = x ⋆ κ_s``),
:class:`ScaleConv` maps ``[B, C, S, H, W] → [B, C', S, H, W]`` (the same scale's kernel at every
scale, scale-axis filter length 1), and :class:`ScaleEquivariantCNN` is the drop-in proximal
CNN ``x ↦ conv1×1(maxₛ(HH(relu(Lift([Re x, Im x])))))`` whose last layer starts at zero, like
:class:`engine.imaging.unrolled.ConvNet`. Only the prior is equivariant, not the unrolled net.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["hermite_basis", "dilated_basis", "ScaleLift", "ScaleConv", "ScaleEquivariantCNN",
           "equivariance_error", "DEFAULT_SCALES"]

DEFAULT_SCALES = (1.0, math.sqrt(2.0), 2.0)


def _odd(n: int) -> int:
    return n // 2 * 2 + 1                     # SESN: int(k σ/σ_max) // 2 * 2 + 1


def hermite_basis(kernel: int, k_eff: int, scales: Sequence[float]) -> torch.Tensor:
    """SESN Hermite–Gaussian basis ``(S, k_eff², kernel, kernel)`` (SCIENCE.md §6.4.2)."""
    if kernel < 1 or kernel % 2 == 0 or not 1 <= k_eff <= kernel:
        raise ValueError(f"need an odd kernel >= 1 and 1 <= k_eff <= kernel, got {kernel}, {k_eff}")
    top = max(scales)
    out = []
    for sigma in scales:
        size = min(_odd(int(kernel * sigma / top)), kernel)
        u = np.arange(size, dtype=np.float64) - size // 2
        g = np.exp(-u ** 2 / (2 * sigma ** 2)) / sigma
        one_d = [g * np.polynomial.hermite_e.hermeval(u / sigma, [0] * n + [1])
                 for n in range(k_eff)]
        funcs = np.stack([np.outer(a, b) for a in one_d for b in one_d])
        pad = (kernel - size) // 2
        out.append(np.pad(funcs, ((0, 0), (pad, pad), (pad, pad))))
    basis = torch.tensor(np.stack(out), dtype=torch.float32)
    norm = basis[0].pow(2).sum(dim=(-2, -1), keepdim=True).sqrt().clamp_min(1e-12)
    return basis / norm


def dilated_basis(k_eff: int, scales: Sequence[int]) -> torch.Tensor:
    """Delta basis of ``k_eff × k_eff`` taps dilated by integer scales (SCIENCE.md §6.4.2);
    ``(S, k_eff², k, k)`` with ``k = (k_eff − 1)·max(scales) + 1``."""
    if any(int(s) != s or s < 1 for s in scales):
        raise ValueError(f"the dilated basis needs integer scales >= 1, got {tuple(scales)}")
    kernel = (k_eff - 1) * int(max(scales)) + 1
    c = kernel // 2
    basis = torch.zeros(len(scales), k_eff * k_eff, kernel, kernel)
    taps = np.arange(k_eff) - (k_eff - 1) // 2
    for si, s in enumerate(scales):
        for i, dy in enumerate(taps):
            for j, dx in enumerate(taps):
                basis[si, i * k_eff + j, c + int(s) * dy, c + int(s) * dx] = 1.0
    return basis


def _conv(x: torch.Tensor, weight: torch.Tensor, groups: int, padding_mode: str):
    pad = weight.shape[-1] // 2
    if padding_mode == "circular":
        return F.conv2d(F.pad(x, (pad,) * 4, mode="circular"), weight, groups=groups)
    return F.conv2d(x, weight, padding=pad, groups=groups)


class _BasisConv(nn.Module):
    """Weights ``(C', C, F)`` over a fixed basis ``(S, F, k, k)``; ``kernels()`` = ``κ_s``."""

    def __init__(self, c_in: int, c_out: int, basis: torch.Tensor, padding_mode: str):
        super().__init__()
        if padding_mode not in ("zeros", "circular"):
            raise ValueError(f"padding_mode must be 'zeros' or 'circular', got {padding_mode!r}")
        self.register_buffer("basis", basis.clone(), persistent=False)
        n_func = basis.shape[1]
        self.weight = nn.Parameter(torch.randn(c_out, c_in, n_func) / math.sqrt(c_in * n_func))
        self.bias = nn.Parameter(torch.zeros(c_out))
        self.padding_mode = padding_mode

    def kernels(self) -> torch.Tensor:
        """``(S, C', C, k, k)``: one kernel per scale from the shared weights."""
        return torch.einsum("oif,sfhw->soihw", self.weight, self.basis.to(self.weight.dtype))


class ScaleLift(_BasisConv):
    """Lifting Z2 → H: ``[B, C, H, W] → [B, C', S, H, W]``, ``out[:, :, s] = x ⋆ κ_s`` (§6.4.2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernels()                                  # (S, C', C, kh, kw)
        s, c_out = k.shape[:2]
        y = _conv(x, k.reshape(s * c_out, *k.shape[2:]), 1, self.padding_mode)
        y = y.reshape(x.shape[0], s, c_out, *y.shape[-2:]).transpose(1, 2)
        return y + self.bias[None, :, None, None, None]


class ScaleConv(_BasisConv):
    """H → H with a scale-axis filter of length 1: ``out[:, :, s] = x[:, :, s] ⋆ κ_s`` (§6.4.2)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernels()                                  # (S, C', C, kh, kw)
        s, c_out, c_in = k.shape[:3]
        b, h, w = x.shape[0], x.shape[-2], x.shape[-1]
        flat = x.transpose(1, 2).reshape(b, s * c_in, h, w)
        y = _conv(flat, k.reshape(s * c_out, c_in, *k.shape[3:]), s, self.padding_mode)
        y = y.reshape(b, s, c_out, h, w).transpose(1, 2)
        return y + self.bias[None, :, None, None, None]


class ScaleEquivariantCNN(nn.Module):
    """Scale-equivariant proximal CNN on complex images (SCIENCE.md §6.4.2, "Proximal map").

    ``[Re x, Im x] → Lift → ReLU → (depth − 2) × (ScaleConv → ReLU) → max over scales → 1×1
    conv → complex``. The 1×1 output layer starts at zero (an untrained net outputs 0).

    Parameters
    ----------
    width : int
        Channels per scale (activations are ``S`` times a plain CNN's of the same width).
    depth : int
        Layers counting the lift and the 1×1 output (>= 2).
    kernel, k_eff : int
        Kernel size and basis orders per axis (Hermite basis).
    scales : sequence of float
        ``σ_1 < … < σ_S`` (default 1, √2, 2).
    """

    def __init__(self, width: int = 8, depth: int = 3, kernel: int = 7, k_eff: int = 3,
                 scales: Sequence[float] = DEFAULT_SCALES, padding_mode: str = "zeros"):
        super().__init__()
        if depth < 2 or width < 1:
            raise ValueError(f"the CNN needs depth >= 2 and width >= 1, got {depth}, {width}")
        basis = hermite_basis(int(kernel), int(k_eff), tuple(scales))
        self.lift = ScaleLift(2, width, basis, padding_mode)
        self.hidden = nn.ModuleList(ScaleConv(width, width, basis, padding_mode)
                                    for _ in range(int(depth) - 2))
        self.out = nn.Conv2d(width, 2, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.lift(torch.stack((x.real, x.imag), dim=1)))
        for layer in self.hidden:
            h = torch.relu(layer(h))
        y = self.out(h.amax(dim=2))
        return torch.complex(y[:, 0].contiguous(), y[:, 1].contiguous())


def _bicubic_down(x: torch.Tensor, r: float) -> torch.Tensor:
    return F.interpolate(x, scale_factor=1.0 / r, mode="bicubic", align_corners=False,
                         recompute_scale_factor=False)


@torch.no_grad()
def equivariance_error(kernels: torch.Tensor, scales: Sequence[float], x: torch.Tensor) -> float:
    """DISCO's Δ, mean over scale pairs ``σ_i < σ_j`` (SCIENCE.md §6.4.3).

    ``Δ_ij = ‖L_r(x ⋆ κ_j) − (L_r x) ⋆ κ_i‖ / ‖(L_r x) ⋆ κ_i‖`` with ``r = σ_j/σ_i`` and ``L_r``
    bicubic downscaling, on the interior (crop ``k/2 + 1``). ``kernels``: ``(S, C', C, k, k)``
    (a plain conv passes the same kernel at every scale); ``x``: ``(B, C, H, W)``.
    """
    crop = kernels.shape[-1] // 2 + 1
    inner = (slice(None), slice(None), slice(crop, -crop), slice(crop, -crop))
    errors = []
    for i in range(len(scales)):
        for j in range(i + 1, len(scales)):
            r = scales[j] / scales[i]
            pad = kernels.shape[-1] // 2
            down_of_conv = _bicubic_down(F.conv2d(x, kernels[j], padding=pad), r)
            conv_of_down = F.conv2d(_bicubic_down(x, r), kernels[i], padding=pad)
            h = min(down_of_conv.shape[-1], conv_of_down.shape[-1])
            a, b = down_of_conv[..., :h, :h][inner], conv_of_down[..., :h, :h][inner]
            errors.append(float((a - b).norm() / b.norm().clamp_min(1e-12)))
    return float(np.mean(errors))

"""GroupNorm for the slice prior's channels-last bfloat16 training on the CPU (issue #16).

``group_norm(x, groups, weight, bias, eps)`` equals :func:`torch.nn.functional.group_norm`
(Wu & He 2018, eq. 1–3: per sample and group ``ŷ = (x − μ) / √(σ² + ε)``, then ``γ ŷ + β``;
the normalisation in every block of the DDPM U-Net, SCIENCE.md §3.1). Only the backward pass
differs, and only where PyTorch's own is slow: a channels-last bfloat16/float16 tensor on the
CPU whose channels per group are not a multiple of 16 (the U-Net's 32-, 64- and 96-channel
levels with 8 groups). There ATen's channels-last backward kernel runs scalar code, 2–4× slower
than its contiguous (NCHW) kernel, which is then used on contiguous copies of the gradient and
the input; the input gradient goes back to channels-last. The forward pass is ATen's own in
every case, so the network's outputs are bit for bit unchanged; the gradients agree with
ATen's to the rounding of the input's precision (tests/engine/test_slice_prior_train.py).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch.autograd.function import once_differentiable
from torch.nn import functional as F

__all__ = ["group_norm", "uses_contiguous_backward"]

#: Channels per group that ATen's channels-last GroupNorm kernels vectorise (AVX-512 floats).
_VECTOR_CHANNELS = 16


def uses_contiguous_backward(x: torch.Tensor, groups: int) -> bool:
    """Whether :func:`group_norm` runs its backward on contiguous copies (see module docstring).

    Parameters
    ----------
    x : torch.Tensor
        ``(B, C, H, W)`` input.
    groups : int
        Number of groups ``G`` (divides ``C``).
    """
    return (x.device.type == "cpu" and x.dim() == 4 and x.dtype in (torch.bfloat16, torch.float16)
            and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
            and (x.shape[1] // groups) % _VECTOR_CHANNELS != 0)


class _ContiguousBackwardGroupNorm(torch.autograd.Function):
    """ATen's GroupNorm forward; ATen's contiguous backward on copies (channels-last input)."""

    @staticmethod
    def forward(ctx, x, weight, bias, groups: int, eps: float):
        n, c = x.shape[:2]
        y, mean, rstd = torch.native_group_norm(x, weight, bias, n, c, x.numel() // (n * c),
                                                groups, eps)
        ctx.save_for_backward(x, weight, mean, rstd)
        ctx.groups = groups
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        x, weight, mean, rstd = ctx.saved_tensors
        n, c = x.shape[:2]
        mask = [ctx.needs_input_grad[0], weight is not None and ctx.needs_input_grad[1],
                ctx.needs_input_grad[2]]
        gx, gw, gb = torch.ops.aten.native_group_norm_backward(
            grad.contiguous(), x.contiguous(), mean, rstd, weight, n, c, x.numel() // (n * c),
            ctx.groups, mask)
        if gx is not None:
            gx = gx.contiguous(memory_format=torch.channels_last)
        return gx, gw, gb, None, None


def group_norm(x: torch.Tensor, groups: int, weight: Optional[torch.Tensor] = None,
               bias: Optional[torch.Tensor] = None, eps: float = 1e-5) -> torch.Tensor:
    """:func:`torch.nn.functional.group_norm` with a faster backward for channels-last
    bfloat16 input on the CPU (see module docstring; Wu & He 2018, eq. 1–3)."""
    if torch.is_grad_enabled() and uses_contiguous_backward(x, groups):
        return _ContiguousBackwardGroupNorm.apply(x, weight, bias, groups, eps)
    return F.group_norm(x, groups, weight, bias, eps)

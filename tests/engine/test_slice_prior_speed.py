"""Known-answer tests of the slice-prior training speed-ups (issue #16): the GroupNorm with a
contiguous backward equals ATen's, and the default precision trains as well as float32."""
import pytest
import torch
from torch.nn import functional as F

from engine.slice_prior.group_norm import group_norm, uses_contiguous_backward


def _grads(fn, x, w, b, g):
    x, w, b = (t.detach().clone().requires_grad_(True) for t in (x, w, b))
    y = fn(x, 8, w, b, 1e-5)
    y.backward(g)
    return y.detach(), x.grad, w.grad, b.grad


def _rel(a, b):
    return float((a.double() - b.double()).norm() / b.double().norm())


@pytest.mark.parametrize("channels", [32, 96])
def test_group_norm_equals_aten_forward_and_gradients(channels):
    gen = torch.Generator().manual_seed(0)
    x = (3 * torch.randn(2, channels, 12, 12, generator=gen) + 1).bfloat16()
    x = x.contiguous(memory_format=torch.channels_last)
    w = torch.rand(channels, generator=gen) + 0.5
    b = torch.randn(channels, generator=gen)
    g = torch.randn(x.shape, generator=gen).bfloat16().contiguous(memory_format=torch.channels_last)
    assert uses_contiguous_backward(x, 8)
    ours, aten = _grads(group_norm, x, w, b, g), _grads(F.group_norm, x, w, b, g)
    exact = _grads(F.group_norm, x.double(), w.double(), b.double(), g.double())
    assert torch.equal(ours[0], aten[0])                          # the forward is ATen's own
    assert ours[1].dtype == torch.bfloat16
    assert ours[1].is_contiguous(memory_format=torch.channels_last)
    for mine, theirs, truth in zip(ours[1:], aten[1:], exact[1:]):
        assert _rel(mine, truth) < 1e-2                           # bf16 rounding (2⁻⁸)
        assert _rel(mine, theirs) < 1e-2
        assert _rel(mine, truth) <= 1.5 * _rel(theirs, truth) + 1e-6


def test_group_norm_keeps_aten_where_it_is_fast():
    x = torch.randn(2, 32, 8, 8).contiguous(memory_format=torch.channels_last)
    assert not uses_contiguous_backward(x, 8)                           # float32
    assert not uses_contiguous_backward(x.bfloat16().contiguous(), 8)   # NCHW
    assert not uses_contiguous_backward(torch.randn(2, 128, 8, 8).bfloat16()
                                        .contiguous(memory_format=torch.channels_last), 8)
    w, b = torch.rand(32), torch.rand(32)
    assert torch.equal(group_norm(x, 8, w, b), F.group_norm(x, 8, w, b))

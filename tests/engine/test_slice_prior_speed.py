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


def _drain(gen):
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def test_default_precision_trains_as_well_as_float32_and_its_prior_reconstructs(tmp_path):
    """100 tiny steps from one seed: the default precision's training and held-out losses lie
    within 2 % of float32's (two seeds differ by 2–10 %); the prior it writes loads with
    ``weights_only=True`` and gives a finite DDS reconstruction."""
    from engine.imaging import Radon, shepp_logan_3d
    from engine.recon import diffusion_reconstruct
    from engine.slice_prior import load_slice_prior
    from engine.slice_prior.checkpoint import train_to_files_iter
    from engine.slice_prior.evaluate import held_out_slices, validation_loss
    from engine.slice_prior.train import TrainConfig, train_prior_iter, uses_bf16
    tiny = dict(size=16, base=8, mults=(1, 2), batch=8, warmup=2, every=5, steps=100, lr=2e-3)
    if not uses_bf16(TrainConfig(**tiny), "cpu"):
        pytest.skip("no native bfloat16 on this CPU: the default precision is float32 here")
    clean = held_out_slices(16)
    losses = {}
    for precision in ("float32", "auto"):
        state = _drain(train_prior_iter(TrainConfig(**tiny, precision=precision), "cpu"))
        curve = [loss for _, loss in state["curve"]]
        losses[precision] = (sum(curve[-5:]) / 5, validation_loss(state["net"], clean))
    untrained = validation_loss(_drain(train_prior_iter(TrainConfig(**{**tiny, "steps": 1}),
                                                        "cpu"))["net"], clean)
    for auto, fp32 in zip(losses["auto"], losses["float32"]):
        assert abs(auto - fp32) <= 0.02 * fp32
    assert losses["auto"][1] < 0.5 * untrained                     # it did learn
    out = tmp_path / "mine_16.pt"
    _drain(train_to_files_iter(TrainConfig(**{**tiny, "steps": 20}), "cpu", None, out))
    torch.load(out, weights_only=True)
    prior = load_slice_prior(16, path=out)
    radon = Radon(16, torch.linspace(0, 180, 9)[:-1])
    recon = diffusion_reconstruct("dds", prior, radon, radon.forward(shepp_logan_3d((2, 16, 16))),
                                  n_steps=5, seed=0)
    assert recon.shape == (2, 16, 16) and bool(torch.isfinite(recon).all())


def test_keep_freed_memory_applies_on_glibc_only_once():
    import platform
    import sys

    from engine.slice_prior.train import keep_freed_memory
    expected = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert keep_freed_memory() is expected
    assert keep_freed_memory() is expected and keep_freed_memory.cache_info().hits >= 1

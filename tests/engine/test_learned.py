"""Known answers of the unrolled nets and their training modes (SCIENCE.md §6.2.5, §6.3.4)."""
import numpy as np
import pytest
import torch

from engine.core import drain
from engine.imaging.masks import make_mask
from engine.imaging.mri import MRI, cg_sense
from engine.imaging.unrolled import unrolled_net
from engine.imaging.unrolled_io import load_unrolled, save_unrolled
from engine.learned import brain_slices, load_training, save_training, train_unrolled
from engine.learned.steps import module_ranges, run_step
from engine.learned.train import _optimizers


def _volume(seed=0, nz=24, n=24):
    g = torch.Generator().manual_seed(seed)
    v = torch.nn.functional.avg_pool2d(torch.rand(nz, 1, n, n, generator=g), 3, 1, 1)[:, 0]
    return v


@pytest.fixture(scope="module")
def data():
    return brain_slices(size=16, acceleration=4, n_coils=4, seed=0, volume=_volume())


def _op128(n=16, seed=1):
    return MRI(make_mask("random", (n, n), 4, seed=seed), n_coils=4, dtype=torch.complex128)


def _randomise(net, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return net


def test_modl_without_denoiser_is_cg_sense():
    """§6.2.5 test 2: D ≡ 0 → every unroll returns (AᴴA + λI)⁻¹Aᴴy = cg_sense(λ)."""
    op = _op128()
    g = torch.Generator().manual_seed(0)
    k = op.forward(torch.randn(2, 16, 16, dtype=torch.complex128, generator=g))
    net = unrolled_net("modl", 3, 8, 3, cg_iters=10).double()
    net.denoiser_off = True
    out = net(k, op)
    lam = float(net.lam(0).detach())
    for i in range(2):
        ref = cg_sense(k[i], op, iters=10, lam=lam, tol=0)
        assert torch.allclose(out[i], ref, rtol=0, atol=1e-12 * float(ref.abs().max()))


def test_varnet_untrained_is_zero_filled():
    """§6.2.5 test 5: R_t ≡ 0 → k^t = y, output Aᴴy exactly."""
    op = _op128()
    k = op.forward(torch.randn(2, 16, 16, dtype=torch.complex128))
    net = unrolled_net("varnet", 4, 8, 3).double()
    with torch.no_grad():
        for eta in net.eta:
            eta.fill_(1.7)
    assert torch.equal(net(k, op), op.adjoint(k))


def test_modl_full_sampling_dc_closed_form():
    """§6.2.5 test 4: A^H A = I → one unroll returns (Aᴴy + λz)/(1+λ)."""
    op = MRI(torch.ones(16, 16, dtype=torch.bool), n_coils=4, dtype=torch.complex128)
    k = op.forward(torch.randn(1, 16, 16, dtype=torch.complex128))
    net = _randomise(unrolled_net("modl", 1, 8, 3, cg_iters=3).double())
    x0 = op.adjoint(k)
    z = x0 + net.cnn(0)(x0)
    lam = net.lam(0)
    assert torch.allclose(net(k, op), (x0 + lam * z) / (1 + lam), atol=1e-13)


def test_modl_cg_is_per_sample():
    """§6.2.5 test 7: sample a's reconstruction is the same in batches [a, b] and [a, c]."""
    op = _op128()
    x = torch.randn(3, 16, 16, dtype=torch.complex128, generator=torch.Generator().manual_seed(2))
    x[2] *= 50.0                                   # a very different companion
    k = op.forward(x)
    net = _randomise(unrolled_net("modl", 3, 8, 3).double())
    assert torch.equal(net(k[[0, 1]], op)[0], net(k[[0, 2]], op)[0])


def test_parameter_count_against_unrolls():
    """§6.2.5 test 8: MoDL's count does not depend on K; VarNet's grows in proportion."""
    count = lambda net: sum(p.numel() for p in net.parameters())   # noqa: E731
    assert count(unrolled_net("modl", 2, 8, 3)) == count(unrolled_net("modl", 7, 8, 3))
    assert count(unrolled_net("varnet", 6, 8, 3)) == 3 * count(unrolled_net("varnet", 2, 8, 3))


def _grads(net, data, mode, modules):
    op = data.operator()
    k, target = data.train.k[:3], data.train.target[:3]
    ranges = module_ranges(net.n_unrolls, modules if mode == "gleam" else 1)
    opts = _optimizers(net, ranges, lr=0.0 + 1e-12)
    grads = {}
    for group in opts:                      # capture grads before the (tiny) step moves weights
        group.step = lambda *a, **kw: grads.update(
            {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None})
    out = run_step(net, mode, k, target, op, ranges, opts)
    return out.losses, grads


@pytest.mark.parametrize("kind", ["varnet", "modl"])
def test_checkpoint_gradients_equal_end_to_end(data, kind):
    """§6.3.4 test 3: same loss and gradients (float precision) with checkpointing."""
    net = _randomise(unrolled_net(kind, 4, 8, 3, cg_iters=4))
    loss_a, ga = _grads(net, data, "e2e", 1)
    loss_b, gb = _grads(net, data, "checkpoint", 1)
    assert loss_a == pytest.approx(loss_b, rel=1e-6)
    assert ga.keys() == gb.keys() and len(ga) > 0
    for n in ga:
        assert torch.allclose(ga[n], gb[n], rtol=1e-5, atol=1e-7), n


def test_gleam_one_module_is_end_to_end(data):
    """§6.3.4 test 1: G = 1 → the same trajectory as end-to-end for the same seed."""
    runs = []
    for mode in ("e2e", "gleam"):
        torch.manual_seed(3)
        net = unrolled_net("varnet", 3, 8, 3)
        r = drain(train_unrolled(net, data, mode, modules=1, steps=3, lr=1e-2, seed=1, batch=2))
        runs.append(r)
    np.testing.assert_array_equal(runs[0].loss, runs[1].loss)
    for a, b in zip(runs[0].net.parameters(), runs[1].net.parameters()):
        assert torch.equal(a, b)


def test_gleam_last_module_gradient_is_end_to_end(data):
    """§6.3.4 tests 2 and 4: the last module's gradient equals end-to-end's; earlier differ."""
    net = _randomise(unrolled_net("varnet", 6, 8, 3))
    _, ge = _grads(net, data, "e2e", 1)
    _, gg = _grads(net, data, "gleam", 3)
    last = [n for n in ge if n.startswith(("cnns.4.", "cnns.5.", "eta.4", "eta.5"))]
    first = [n for n in ge if n.startswith(("cnns.0.", "eta.0"))]
    for n in last:
        assert torch.allclose(ge[n], gg[n], rtol=1e-5, atol=1e-8), n
    assert max(float((ge[n] - gg[n]).abs().max()) for n in first) > 1e-6


def test_gleam_refuses_shared_and_uneven(data):
    with pytest.raises(ValueError, match="unshared"):
        drain(train_unrolled(unrolled_net("modl", 4, 8, 3), data, "gleam", modules=2, steps=1))
    with pytest.raises(ValueError, match="K/G"):
        drain(train_unrolled(unrolled_net("varnet", 4, 8, 3), data, "gleam", modules=3, steps=1))


def _saved(kind, mode, k_unrolls, modules, data):
    net = unrolled_net(kind, k_unrolls, 8, 3, cg_iters=3)
    op = data.operator()
    ranges = module_ranges(k_unrolls, modules)
    out = run_step(net, mode, data.train.k[:2], data.train.target[:2], op, ranges,
                   _optimizers(net, ranges, 1e-3), count=True)
    return out.saved_bytes


@pytest.mark.parametrize("kind", ["varnet", "modl"])
def test_saved_bytes_linear_in_unrolls(data, kind):
    """§6.3.4 test 5: end-to-end saves K·a (+ the loss); GLEAM saves (K/G)·a + |x|."""
    b2, b4, b6 = (_saved(kind, "e2e", k, 1, data) for k in (2, 4, 6))
    assert b6 - b4 == b4 - b2 > 0
    state_bytes = _state_bytes(kind, data)
    assert _saved(kind, "gleam", 6, 3, data) == b2 + state_bytes


def _state_bytes(kind, data):
    net = unrolled_net(kind, 1, 8, 3)
    return net.initial(data.train.k[:2], data.operator()).numel() * 8


def test_nan_loss_stops_and_keeps_last_good_weights(data):
    torch.manual_seed(0)
    net = unrolled_net("varnet", 2, 8, 3)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    bad = brain_slices(size=16, n_coils=4, seed=0, volume=_volume())
    bad.train.target[:] = float("nan")
    r = drain(train_unrolled(net, bad, "e2e", steps=3, seed=0, batch=2))
    assert r.steps == 0 and "nan" in r.message.lower() and "lower the learning rate" in r.message
    for n, p in net.named_parameters():
        assert torch.equal(p, before[n])


def test_resume_equals_uninterrupted(data, tmp_path):
    torch.manual_seed(5)
    straight = drain(train_unrolled(unrolled_net("varnet", 2, 8, 3), data, "gleam", modules=2,
                                    steps=4, lr=1e-2, seed=2, batch=2))
    torch.manual_seed(5)
    half = drain(train_unrolled(unrolled_net("varnet", 2, 8, 3), data, "gleam", modules=2,
                                steps=2, lr=1e-2, seed=2, batch=2))
    path = save_training(tmp_path / "run.pt", half)
    net, card, state = load_training(path)
    assert card["steps"] == 2
    resumed = drain(train_unrolled(net, data, "gleam", modules=2, steps=4, lr=1e-2, seed=2,
                                   batch=2, resume=state))
    np.testing.assert_array_equal(straight.loss, resumed.loss)
    for a, b in zip(straight.net.parameters(), resumed.net.parameters()):
        assert torch.equal(a, b)


def test_weights_files_roundtrip_and_refusals(tmp_path):
    net = _randomise(unrolled_net("modl", 3, 8, 3, shared=False, cg_iters=4))
    path = save_unrolled(tmp_path / "w.pt", net, {"note": "test"})
    loaded, card = load_unrolled(path)
    assert card == {"note": "test"} and loaded.arch() == net.arch()
    for a, b in zip(net.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a readable"):
        load_unrolled(tmp_path / "junk.pt")
    torch.save({"format": "something-else"}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not a Flowscope"):
        load_unrolled(tmp_path / "foreign.pt")
    blob = torch.load(path, weights_only=True)
    blob["state_dict"]["cnns.0.layers.0.weight"] = torch.zeros(1)
    torch.save(blob, tmp_path / "shape.pt")
    with pytest.raises(ValueError, match="wrong shape"):
        load_unrolled(tmp_path / "shape.pt")
    with pytest.raises(FileNotFoundError):
        load_unrolled(tmp_path / "missing.pt")


def test_brain_slices_split_and_bad_volume(data):
    assert (len(data.train), len(data.val), len(data.test)) == (8, 2, 4)   # 14 middle slices
    assert data.test.index.min() > data.val.index.max() > data.train.index.max()
    zf = data.reconstruct("zero_filled")
    assert torch.equal(zf, data.operator().adjoint(data.test.k))
    assert data.baseline_psnr("cg_sense") > data.baseline_psnr("zero_filled")
    with pytest.raises(ValueError, match="fewer than"):
        brain_slices(size=16, volume=torch.rand(8, 24, 24))
    with pytest.raises(ValueError, match="too small"):
        brain_slices(size=64, volume=torch.rand(30, 20, 20))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_memory_and_checkpoint_gradients(data):
    """§6.3.4 test 3 on a GPU (≤ 1e-6 relative) and the CUDA peak: GLEAM below end-to-end."""
    peaks = {}
    for mode, g in (("e2e", 1), ("checkpoint", 1), ("gleam", 3)):
        torch.manual_seed(0)
        net = unrolled_net("varnet", 6, 8, 3)
        r = drain(train_unrolled(net, data, mode, g, steps=2, seed=0, batch=4, device="cuda"))
        peaks[mode] = r.peak_bytes
        if mode == "e2e":
            e2e_loss = r.loss
        elif mode == "checkpoint":
            np.testing.assert_allclose(r.loss, e2e_loss, rtol=1e-6)
    assert 0 < peaks["gleam"] < peaks["e2e"] and 0 < peaks["checkpoint"] < peaks["e2e"]

"""Slice prior (issue #6): network, data, weights file, shipped priors' denoising quality."""
import math

import pytest
import torch

from engine.slice_prior import (SlicePrior, SliceUNet, UNetConfig, load_slice_prior, prior_path,
                                save_prior)
from engine.slice_prior.data import (HELD_OUT_BRAIN, SliceSource, brain_slices,
                                     raster_ellipses)
from engine.slice_prior.evaluate import (EVAL_TIMES, denoising_table, gaussian_blur,
                                         held_out_brain_indices, held_out_slices)
from engine.slice_prior.prior import to_image, to_net

TINY = UNetConfig(base=8, mults=(1, 2), emb=16, groups=4)


def test_unet_shapes_and_size_check():
    net = SliceUNet(TINY)
    x = torch.randn(3, 1, 16, 16)
    assert net(x, torch.tensor([5.0, 50.0, 500.0])).shape == x.shape
    assert net(x, torch.tensor(7.5)).shape == x.shape        # one (fractional) t for all
    with pytest.raises(ValueError, match="divisible"):
        net(torch.randn(1, 1, 15, 15), torch.tensor(1.0))


def test_raster_ellipses_area():
    # One ellipse with semi-axes 0.5 and 0.25 covers π·0.5·0.25/4 of the [-1, 1]² square.
    p = torch.tensor([[[0.0, 0.0, 0.5, 0.25, 0.3, 1.0]]])
    img = raster_ellipses(p, 400)
    assert img.mean().item() == pytest.approx(math.pi * 0.125 / 4, rel=0.01)


def test_slice_source_is_seeded_and_in_range():
    a = SliceSource(32, seed=3).sample(10)
    b = SliceSource(32, seed=3).sample(10)
    assert a.shape == (10, 1, 32, 32) and torch.equal(a, b)
    assert a.min() >= 0 and a.max() <= 1 and a.max() > 0.5
    assert not torch.equal(a, SliceSource(32, seed=4).sample(10))


def test_brain_slices_never_use_the_held_out_band():
    nz = 200
    vol = torch.arange(nz, dtype=torch.float32)[:, None, None].expand(nz, 8, 8) / nz
    gen = torch.Generator().manual_seed(0)
    sl = brain_slices(vol, 4000, 8, gen, augment=False)
    idx = (sl[:, 0, 4, 4] * nz).round().long()
    held = held_out_brain_indices(nz, 8)
    assert not set(idx.tolist()) & set(range(int(held.min()), int(held.max()) + 1))
    lo, hi = (f * (nz - 1) for f in HELD_OUT_BRAIN)
    assert ((idx <= lo + 0.5) | (idx >= hi - 0.5)).all()
    assert idx.min() <= 0.2 * nz and idx.max() >= 0.8 * nz      # both sides are used


def test_gaussian_blur_keeps_constants_and_mean():
    x = torch.full((2, 20, 20), 0.7)
    assert torch.allclose(gaussian_blur(x, 2.0), x, atol=1e-6)
    y = torch.rand(1, 32, 32, generator=torch.Generator().manual_seed(0))
    assert torch.equal(gaussian_blur(y, 0.0), y)
    assert gaussian_blur(y, 3.0).std() < y.std()


def test_weights_round_trip(tmp_path):
    torch.manual_seed(0)
    net = SliceUNet(TINY)
    for p in net.parameters():
        p.data.normal_(0, 0.1)
    path = save_prior(tmp_path / "p.pt", net, 16, {"steps": 1})
    prior = load_slice_prior(16, path=path)
    u = torch.randn(2, 16, 16)
    ref = net(u[:, None], torch.full((2,), 300.0))[:, 0]
    assert torch.allclose(prior.eps(u, 300.0), ref, atol=5e-2)   # float16 weights
    assert prior.card == {"steps": 1} and prior.size == 16


def test_bad_weight_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Train one"):
        load_slice_prior(64, path=tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a readable"):
        load_slice_prior(path=junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(ValueError, match="not a Flowscope slice-prior"):
        load_slice_prior(path=other)
    path = save_prior(tmp_path / "p.pt", SliceUNet(TINY), 16, {})
    blob = torch.load(path, weights_only=True)
    blob["unet"]["base"] = 12                      # claims another architecture
    torch.save(blob, path)
    with pytest.raises(ValueError, match="another architecture"):
        load_slice_prior(path=path)


def test_schedule_helpers_and_ve_view():
    prior = SlicePrior(SliceUNet(TINY), 16)
    for t in (1.0, 37.5, 500.0, 999.0):
        assert prior.t_of_sigma(prior.sigma_bar(t)) == pytest.approx(t, abs=1e-3)
    assert prior.ab(10.0) == pytest.approx(prior.schedule.ab(10))
    # VE Tweedie at σ̄_t on ū = u_t/√ᾱ_t equals the VP Tweedie at t (§3.1).
    u = torch.randn(2, 16, 16, generator=torch.Generator().manual_seed(1))
    t = 250.0
    vp, _ = prior.denoise(u, t)
    ve, _ = prior.ve_denoise(u / math.sqrt(prior.ab(t)), prior.sigma_bar(t))
    assert torch.allclose(vp, ve, atol=1e-4)
    assert torch.equal(to_image(to_net(u)), u) or torch.allclose(to_image(to_net(u)), u)


def test_oom_halves_the_batch(monkeypatch):
    prior = SlicePrior(SliceUNet(TINY), 16, max_batch=8)
    real = prior._eps_chunk

    def fake(chunk, t):
        if chunk.shape[0] > 2:
            raise torch.cuda.OutOfMemoryError("fake")
        return real(chunk, t)
    monkeypatch.setattr(prior, "_eps_chunk", fake)
    out = prior.eps(torch.zeros(7, 16, 16), 100.0)
    assert out.shape == (7, 16, 16) and prior.max_batch == 2
    assert any("out of memory" in n for n in prior.notes)


@pytest.mark.parametrize("size, per_kind", [(64, 8), (128, 3)])
def test_shipped_prior_beats_gaussian_smoothing_at_every_noise_level(size, per_kind):
    if not prior_path(size).is_file():
        pytest.fail(f"shipped prior {prior_path(size)} is missing")
    prior = load_slice_prior(size)
    try:
        from engine.recon import demo_volume
        brain = demo_volume("brain").data
    except FileNotFoundError:
        brain = None
    clean = held_out_slices(size, brain, per_kind=per_kind)
    rows = denoising_table(prior, clean, EVAL_TIMES)
    for r in rows:
        assert r["mse_prior"] < 0.8 * r["mse_gaussian"], r
    assert prior.card["steps"] > 1000 and "command" in prior.card

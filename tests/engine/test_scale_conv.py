"""Known answers of the scale-equivariant layer and the scale-shift study (SCIENCE.md §6.4.5)."""
import numpy as np
import pytest
import torch
from torch import nn

from engine.core import drain
from engine.imaging.masks import make_mask
from engine.imaging.mri import MRI
from engine.imaging.scale_conv import (DEFAULT_SCALES, ScaleConv, ScaleEquivariantCNN,
                                       ScaleLift, dilated_basis, equivariance_error,
                                       hermite_basis)
from engine.imaging.unrolled import unrolled_net
from engine.imaging.unrolled_io import load_unrolled, save_unrolled
from engine.learned import LearnedConfig, brain_slices
from engine.learned.lab import run_config
from engine.learned.scale_study import (psnr_vs_scale, psnr_vs_scale_iter, zoom_images,
                                        zoomed_data)


def _smooth(seed=0, n=96, batch=2, channels=1):
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(batch, channels, n // 4, n // 4, generator=g)
    return nn.functional.interpolate(coarse, size=(n, n), mode="bicubic", align_corners=False)


def test_dilated_lift_and_scale_conv_are_exactly_equivariant_under_subsampling():
    """§6.4.5 test 1: Φ(f↓2)[s] = (Φ(f)[2s])↓2 at scales (1, 2, 4), circular padding."""
    torch.manual_seed(0)
    basis = dilated_basis(3, (1, 2, 4))
    lift = ScaleLift(2, 3, basis, "circular").double()
    hh = ScaleConv(3, 3, basis, "circular").double()
    f = torch.randn(2, 2, 32, 32, dtype=torch.float64)
    with torch.no_grad():
        small = hh(torch.relu(lift(f[..., ::2, ::2])))
        big = hh(torch.relu(lift(f)))[..., ::2, ::2]
    for s in (0, 1):                          # σ_S = 4 has no partner (§6.4.5)
        torch.testing.assert_close(small[:, :, s], big[:, :, s + 1], rtol=0, atol=1e-12)
    assert (small[:, :, 2] - big[:, :, 2]).abs().max() > 1e-3     # the layer is not trivial


def test_translation_equivariance_with_circular_padding():
    """§6.4.5 test 2: Φ(roll x) = roll Φ(x)."""
    torch.manual_seed(1)
    lift = ScaleLift(1, 2, hermite_basis(7, 3, DEFAULT_SCALES), "circular").double()
    x = torch.randn(1, 1, 20, 20, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(lift(x.roll((3, -5), (-2, -1))),
                                   lift(x).roll((3, -5), (-2, -1)), rtol=0, atol=1e-12)


def test_one_weight_set_and_delta_basis_equals_conv2d():
    """§6.4.5 test 3: parameters do not depend on S; S = 1 with the delta basis is Conv2d."""
    counts = {len(s): sum(p.numel() for p in ScaleLift(2, 4, hermite_basis(7, 3, s),
                                                           "zeros").parameters())
              for s in ((1.0,), (1.0, 2.0), DEFAULT_SCALES)}
    assert len(set(counts.values())) == 1
    torch.manual_seed(2)
    lift = ScaleLift(3, 5, dilated_basis(3, (1,)), "zeros")
    conv = nn.Conv2d(3, 5, 3, padding=1)
    with torch.no_grad():
        conv.weight.copy_(lift.weight.reshape(5, 3, 3, 3))
        lift.bias.normal_()
        conv.bias.copy_(lift.bias)
        x = torch.randn(2, 3, 12, 12)
        torch.testing.assert_close(lift(x)[:, :, 0], conv(x), rtol=1e-5, atol=1e-6)


def test_hermite_equivariance_error_falls_with_kernel_size_below_plain_conv():
    """§6.4.5 test 4 / the table of §6.4.3 (Hermite, k_eff 3, scales 1, √2, 2; 96² smooth)."""
    torch.manual_seed(3)
    x = _smooth()
    errors = {}
    for k in (7, 9, 11):
        kernels = ScaleLift(1, 4, hermite_basis(k, 3, DEFAULT_SCALES), "zeros").kernels().detach()
        plain = kernels[:1].expand(len(DEFAULT_SCALES), -1, -1, -1, -1)
        errors[k] = (equivariance_error(kernels, DEFAULT_SCALES, x),
                     equivariance_error(plain, DEFAULT_SCALES, x))
        assert errors[k][0] < errors[k][1]
    assert errors[7][0] > errors[9][0] > errors[11][0]
    assert errors[11][0] < 0.1 < errors[11][1]


def test_scale_equivariant_varnet_is_a_drop_in_and_saves():
    """Last layer zero: the untrained scale-equivariant VarNet returns Aᴴy exactly (§6.2.5
    test 5); its arch round-trips through a weights file."""
    op = MRI(make_mask("random", (16, 16), 4, seed=1), n_coils=4, dtype=torch.complex128)
    k = op.forward(torch.randn(2, 16, 16, dtype=torch.complex128))
    net = unrolled_net("varnet", 2, 4, 3, denoiser="scale_equivariant").double()
    torch.testing.assert_close(net(k, op), op.adjoint(k), rtol=0, atol=1e-12)
    assert isinstance(net.cnns[0], ScaleEquivariantCNN)
    with pytest.raises(ValueError, match="unknown denoiser"):
        unrolled_net("modl", 2, 4, 3, denoiser="wavelet")


def test_weights_file_keeps_the_denoiser(tmp_path):
    net = unrolled_net("modl", 2, 4, 3, denoiser="scale_equivariant")
    with torch.no_grad():
        net.cnns[0].out.weight.fill_(0.1)
    save_unrolled(tmp_path / "se.pt", net)
    back, _ = load_unrolled(tmp_path / "se.pt")
    assert back.arch() == net.arch() and back.denoiser == "scale_equivariant"
    torch.testing.assert_close(back.cnns[0].out.weight, net.cnns[0].out.weight)
    blob = torch.load(tmp_path / "se.pt", weights_only=True)
    blob["arch"]["denoiser"] = "fourier"
    torch.save(blob, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="unknown denoiser"):
        load_unrolled(tmp_path / "bad.pt")


def test_zoom_and_zoomed_data():
    img = torch.zeros(1, 16, 16)
    img[0, 6:10, 6:10] = 1.0
    assert torch.equal(zoom_images(img, 1.0), img)
    big = zoom_images(img, 1.5)
    assert big.shape == img.shape and big.sum() > img.sum() * 1.8
    assert zoom_images(img, 0.5).sum() < img.sum() * 0.4
    with pytest.raises(ValueError, match="zoom"):
        zoom_images(img, 0.0)


def test_untrained_varnet_equals_zero_filled_at_every_zoom():
    """Known answer: R ≡ 0 → the net is Aᴴy, so its PSNR vs zoom is the zero-filled curve."""
    data = brain_slices(size=16, acceleration=4, n_coils=4, seed=0)
    curve = psnr_vs_scale({"net": unrolled_net("varnet", 2, 4, 2)}, data, zooms=(0.75, 1.0, 1.5))
    np.testing.assert_allclose(curve.psnr["net"], curve.psnr["zero_filled"], atol=1e-4)
    assert (curve.psnr["cg_sense"] > curve.psnr["zero_filled"]).all()
    zd = zoomed_data(data, 1.0)
    assert zd.test.k.shape == data.test.k.shape and zd.train is data.train


def test_scale_study_reports_each_net_and_baseline_at_each_zoom():
    """The study as a generator: one report per (zoom, method), the same curve as the
    blocking call (issue #17: it ran a minute without a report)."""
    data = brain_slices(size=16, acceleration=4, n_coils=4, seed=0)
    nets, zooms = {"net": unrolled_net("varnet", 2, 4, 2)}, (0.75, 1.5)
    gen, reports = psnr_vs_scale_iter(nets, data, zooms=zooms), []
    while True:
        try:
            reports.append(next(gen))
        except StopIteration as stop:
            curve = stop.value
            break
    assert [r.message.split(":")[0] for r in reports] == ["zoom 0.75×"] * 3 + ["zoom 1.50×"] * 3
    assert reports[-1].fraction == 1.0 and "cg_sense" in reports[-1].message
    blocking = psnr_vs_scale(nets, data, zooms=zooms)
    for title in ("net", "zero_filled", "cg_sense"):
        np.testing.assert_allclose(curve.psnr[title], blocking.psnr[title], rtol=1e-6)


def test_lab_scale_study_stage_and_refusal():
    cfg = LearnedConfig(size=16, n_unrolls=1, width=4, se_width=2, depth=2, steps=1, batch=2,
                        eval_every=1, train_gleam=False, shipped=False, scale_study=True)
    gen, stages = run_config(cfg, "cpu"), []
    try:
        while True:
            p = next(gen)
            if p.partial is not None:
                stages.append(p.partial.get("stage"))
    except StopIteration as stop:
        result = stop.value
    assert "run:scale_eq" in stages and stages[-1] == "scale"
    assert [r.mode for r in result.runs] == ["e2e", "scale_eq"]
    assert set(result.scale.psnr) == {"end-to-end", "scale-equivariant", "zero_filled",
                                      "cg_sense"}
    i = int(np.argmin(np.abs(result.scale.zooms - 1.0)))
    e2e = result.runs[0]
    assert result.scale.psnr["end-to-end"][i] == pytest.approx(e2e.test_psnr, abs=0.5)
    with pytest.raises(ValueError, match="end-to-end"):
        drain(run_config(LearnedConfig(scale_study=True, train_e2e=False), "cpu"))

"""Metrics equal scikit-image's (SCIENCE.md §4.8, §4.9.6)."""
import math

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from engine.recon import nmse, psnr, slice_metric, ssim, volume_metrics


@pytest.fixture(scope="module")
def pair2d():
    rng = np.random.default_rng(0)
    a = rng.random((48, 40))
    return a, np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1)


def test_psnr_matches_skimage(pair2d):
    a, b = pair2d
    for L in (1.0, 2.5):
        assert psnr(torch.from_numpy(b), torch.from_numpy(a), data_range=L) == pytest.approx(
            peak_signal_noise_ratio(a, b, data_range=L), abs=1e-6)
    assert psnr(a, a, data_range=1.0) == math.inf
    with pytest.raises(ValueError):
        psnr(a, b, data_range=0)


def test_ssim_matches_skimage_default_and_gaussian(pair2d):
    a, b = pair2d
    assert ssim(b, a, data_range=1.0) == pytest.approx(
        structural_similarity(a, b, data_range=1.0), abs=1e-6)
    assert ssim(b, a, data_range=1.0, gaussian_weights=True,
                use_sample_covariance=False) == pytest.approx(
        structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False), abs=1e-6)
    assert ssim(b, a, data_range=2.0, win_size=11) == pytest.approx(
        structural_similarity(a, b, data_range=2.0, win_size=11), abs=1e-6)
    assert ssim(a, a, data_range=1.0) == pytest.approx(1.0)


def test_ssim_3d_matches_skimage():
    rng = np.random.default_rng(1)
    a = rng.random((10, 14, 12)).astype(np.float32)
    b = a + 0.05 * rng.standard_normal(a.shape).astype(np.float32)
    assert ssim(torch.from_numpy(b), torch.from_numpy(a), data_range=1.0) == pytest.approx(
        structural_similarity(a.astype(np.float64), b.astype(np.float64), data_range=1.0),
        abs=1e-6)


def test_nmse_definition():
    a = torch.tensor([1.0, 2.0, 2.0])
    b = torch.tensor([1.0, 2.0, 3.0])
    assert nmse(b, a) == pytest.approx(1.0 / 9.0)
    assert nmse(a, a) == 0.0


def test_slice_metrics_along_each_axis():
    rng = np.random.default_rng(2)
    ref = rng.random((9, 10, 11))
    x = ref + 0.05 * rng.standard_normal(ref.shape)
    for axis in range(3):
        vals = slice_metric(x, ref, "psnr", axis, data_range=1.0)
        assert vals.shape == (ref.shape[axis],)
        want = [peak_signal_noise_ratio(np.take(ref, i, axis), np.take(x, i, axis),
                                        data_range=1.0) for i in range(ref.shape[axis])]
        assert np.allclose(vals.numpy(), want, atol=1e-6)
        s = slice_metric(x, ref, "ssim", axis, data_range=1.0)
        assert s[0] == pytest.approx(structural_similarity(
            np.take(ref, 0, axis), np.take(x, 0, axis), data_range=1.0), abs=1e-6)
    out = volume_metrics(x, ref, data_range=1.0)
    assert set(out) >= {"psnr", "nmse", "psnr_axial", "ssim_coronal", "ssim_sagittal"}
    with pytest.raises(ValueError):
        slice_metric(x, ref, "bogus")


def test_complex_inputs_use_magnitudes():
    rng = np.random.default_rng(3)
    ref = rng.random((16, 16))
    x = torch.from_numpy(ref * np.exp(1j * rng.random((16, 16))))
    assert psnr(x, torch.from_numpy(ref), data_range=1.0) > 200

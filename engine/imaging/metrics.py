"""Image-quality metrics with scikit-image conventions and an explicit data range (SCIENCE.md §4.8).

``psnr``/``ssim`` equal ``skimage.metrics.peak_signal_noise_ratio`` /
``structural_similarity`` (7×7 uniform window with sample covariance by default; Wang's 11×11
Gaussian σ = 1.5 with ``gaussian_weights=True``); computed in float64 with torch on the input's
device.  ``slice_metric`` gives per-slice curves along an axis; ``volume_metrics`` the mean over
axial, coronal and sagittal slices.
"""
from __future__ import annotations

import math

import torch

__all__ = ["mse", "nmse", "psnr", "slice_metric", "ssim", "volume_metrics"]


def _pair(x, ref) -> tuple[torch.Tensor, torch.Tensor]:
    x, ref = torch.as_tensor(x), torch.as_tensor(ref)
    if x.shape != ref.shape:
        raise ValueError(f"shape mismatch {tuple(x.shape)} vs {tuple(ref.shape)}")
    if x.is_complex() or ref.is_complex():  # MRI: metrics on magnitudes (§4.8)
        x, ref = x.abs(), ref.abs()
    return x.to(torch.float64), ref.to(x.device, torch.float64)


def mse(x, ref) -> float:
    """Mean squared error (§4.8)."""
    x, ref = _pair(x, ref)
    return float(((x - ref) ** 2).mean())


def nmse(x, ref) -> float:
    """Normalised MSE ``||x - ref||² / ||ref||²`` (fastMRI style, §4.8)."""
    x, ref = _pair(x, ref)
    den = float((ref ** 2).sum())
    num = float(((x - ref) ** 2).sum())
    return num / den if den > 0 else (0.0 if num == 0 else math.inf)


def psnr(x, ref, data_range: float) -> float:
    """PSNR ``10 log10(L² / MSE)`` with an explicit data range L (§4.8); ``inf`` if equal."""
    if data_range is None or data_range <= 0:
        raise ValueError("pass an explicit positive data_range")
    err = mse(x, ref)
    return math.inf if err == 0 else 10.0 * math.log10(data_range ** 2 / err)


def _filter(img: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable correlation along every axis, scipy ``mode="reflect"`` (half-sample) edges."""
    r = (kernel.numel() - 1) // 2
    k = kernel.view(1, 1, -1)
    for axis in range(img.dim()):
        n = img.shape[axis]
        idx = torch.arange(-r, n + r, device=img.device)
        idx = torch.where(idx < 0, -idx - 1, idx)
        idx = torch.where(idx >= n, 2 * n - 1 - idx, idx).clamp(0, n - 1)
        moved = img.index_select(axis, idx).movedim(axis, -1)
        flat = moved.reshape(-1, 1, moved.shape[-1])
        out = torch.nn.functional.conv1d(flat, k).reshape(*moved.shape[:-1], n)
        img = out.movedim(-1, axis)
    return img


def ssim(x, ref, data_range: float, win_size: int = 7, gaussian_weights: bool = False,
         sigma: float = 1.5, use_sample_covariance: bool = True,
         K1: float = 0.01, K2: float = 0.03) -> float:
    """Mean SSIM (Wang et al. 2004, §4.8), identical to ``skimage.metrics.structural_similarity``.

    Parameters
    ----------
    x, ref : tensor-like
        Images of equal shape (2-D or 3-D; a 3-D input gets a 3-D window as in scikit-image).
    data_range : float
        Explicit dynamic range L (``C1 = (K1 L)²``, ``C2 = (K2 L)²``).
    win_size, gaussian_weights, sigma, use_sample_covariance, K1, K2
        As in scikit-image; ``gaussian_weights=True, use_sample_covariance=False`` is Wang's
        original (11×11 Gaussian, σ = 1.5).
    """
    if data_range is None or data_range <= 0:
        raise ValueError("pass an explicit positive data_range")
    x, ref = _pair(x, ref)
    if gaussian_weights:
        r = int(3.5 * sigma + 0.5)
        win_size = 2 * r + 1
        t = torch.arange(-r, r + 1, dtype=torch.float64, device=x.device)
        kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    else:
        kernel = torch.ones(win_size, dtype=torch.float64, device=x.device)
    kernel = kernel / kernel.sum()
    if any(s < win_size for s in x.shape) or win_size % 2 == 0:
        raise ValueError(f"win_size {win_size} must be odd and <= every image side")
    npix = win_size ** x.dim()
    cov_norm = npix / (npix - 1) if use_sample_covariance else 1.0
    ux, uy = _filter(x, kernel), _filter(ref, kernel)
    vx = cov_norm * (_filter(x * x, kernel) - ux * ux)
    vy = cov_norm * (_filter(ref * ref, kernel) - uy * uy)
    vxy = cov_norm * (_filter(x * ref, kernel) - ux * uy)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
    pad = (win_size - 1) // 2
    crop = s[tuple(slice(pad, n - pad) for n in s.shape)]
    return float(crop.mean())


_METRICS = {"psnr": psnr, "ssim": ssim, "nmse": lambda a, b, data_range=None: nmse(a, b)}


def slice_metric(x, ref, metric: str = "psnr", axis: int = 0,
                 data_range: float = 1.0) -> torch.Tensor:
    """Per-slice metric of a volume ``(z, y, x)`` along ``axis`` (0 axial, 1 coronal, 2 sagittal).

    Returns a float64 tensor with one value per slice (``inf`` PSNR where a slice is exact).
    """
    if metric not in _METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose from {tuple(_METRICS)}")
    x, ref = _pair(x, ref)
    fn = _METRICS[metric]
    vals = [fn(x.select(axis, i), ref.select(axis, i), data_range=data_range)
            for i in range(x.shape[axis])]
    return torch.tensor(vals, dtype=torch.float64)


def volume_metrics(x, ref, data_range: float = 1.0) -> dict:
    """Volume PSNR/NMSE and mean per-slice PSNR/SSIM along each axis (§4.8, DiffusionMBIR style)."""
    out = {"psnr": psnr(x, ref, data_range), "nmse": nmse(x, ref)}
    for axis, name in enumerate(("axial", "coronal", "sagittal")):
        for m in ("psnr", "ssim"):
            vals = slice_metric(x, ref, m, axis, data_range)
            out[f"{m}_{name}"] = float(vals[torch.isfinite(vals)].mean()) if \
                torch.isfinite(vals).any() else math.inf
    return out

"""Filtered back-projection, scikit-image ``iradon`` conventions (SCIENCE.md §4.2)."""
from __future__ import annotations

import functools
import math

import numpy as np
import torch

from engine.imaging.ct import Radon

__all__ = ["FILTERS", "fbp", "fourier_filter"]

FILTERS = ("ramp", "shepp-logan", "cosine", "hamming", "hann")


def fourier_filter(size: int, name: str = "ramp") -> np.ndarray:
    """Frequency response of an FBP filter on ``size`` (padded) samples (SCIENCE.md §4.2).

    The ramp is built from the band-limited spatial Ram-Lak kernel (``h[0] = 1/4``,
    ``h[odd k] = -1/(πk)²``) as in ``skimage.transform.iradon``; the other filters multiply it
    by a sinc (Shepp–Logan), ``cos(πf)`` (cosine), or a Hamming/Hann window.

    Parameters
    ----------
    size : int
        Number of (zero-padded) detector samples.
    name : str
        One of :data:`FILTERS`.
    """
    if name not in FILTERS:
        raise ValueError(f"unknown filter {name!r}; choose from {FILTERS}")
    n = np.concatenate((np.arange(1, size / 2 + 1, 2, dtype=int),
                        np.arange(size / 2 - 1, 0, -2, dtype=int)))
    f = np.zeros(size)
    f[0] = 0.25
    f[1::2] = -1 / (np.pi * n) ** 2
    filt = 2 * np.real(np.fft.fft(f))
    if name == "shepp-logan":
        omega = np.pi * np.fft.fftfreq(size)[1:]
        filt[1:] *= np.sin(omega) / omega
    elif name == "cosine":
        filt *= np.fft.fftshift(np.sin(np.linspace(0, np.pi, size, endpoint=False)))
    elif name == "hamming":
        filt *= np.fft.fftshift(np.hamming(size))
    elif name == "hann":
        filt *= np.fft.fftshift(np.hanning(size))
    return filt


@functools.lru_cache(maxsize=16)
def _filter_matrix(n_det: int, name: str, scale: float, dtype: torch.dtype,
                   device: str) -> torch.Tensor:
    """``(n_det, n_det + 1)`` Toeplitz matrix of the padded circular filtering (§4.2), × ``scale``.

    With the data zero-padded to ``size`` samples, output ``j`` of the circular convolution is
    ``Σ_i s_i h[(j - i) mod size]`` where ``h`` is the filter's impulse response; only
    ``n_det + 1`` outputs are used, so one dense matrix product replaces the two FFTs (the
    detector is short, and a GEMM is several times faster than batched FFTs here).
    """
    diag = math.ceil(math.sqrt(2) * n_det)
    size = max(64, int(2 ** math.ceil(math.log2(2 * diag))))
    h = np.fft.ifft(fourier_filter(size, name)).real  # Re: windows need not be symmetric
    i, j = np.arange(n_det)[:, None], np.arange(n_det + 1)[None, :]
    return torch.from_numpy(h[(j - i) % size] * scale).to(device=device, dtype=dtype)


def _filtered(sino: torch.Tensor, name: str, scale: float = 1.0) -> torch.Tensor:
    dt = sino.dtype if sino.dtype in (torch.float32, torch.float64) else torch.float32
    h = _filter_matrix(int(sino.shape[-1]), name, float(scale), dt, str(sino.device))
    return torch.matmul(sino.to(dt), h)


def filter_sinogram(sino: torch.Tensor, name: str = "ramp") -> torch.Tensor:
    """Filter each projection along the detector axis (last axis), zero-padded (§4.2).

    As ``skimage.transform.iradon(circle=True)``: the detector is first padded to the square's
    diagonal ``⌈√2 n_det⌉`` and then to ``max(64, 2^⌈log2(2 · diagonal)⌉)`` samples (circular
    convolution is shift-invariant, so the data may sit at the start).  Returns ``n_det + 1``
    samples: the last is the filtered padding just past the detector, which
    :meth:`Radon.backproject` interpolates towards at the edge of the field of view.  The
    convolution is one product with a Toeplitz matrix (:func:`_filter_matrix`), computed in
    the sinogram's precision (float64 stays float64).
    """
    if name not in FILTERS:
        raise ValueError(f"unknown filter {name!r}; choose from {FILTERS}")
    return _filtered(sino, name).to(sino.dtype if sino.is_floating_point() else torch.float32)


def fbp(sino: torch.Tensor, radon: Radon, filter: str = "ramp") -> torch.Tensor:
    """Filtered back-projection of a sinogram ``(z, n_angles, n)`` → ``(z, n, n)`` (§4.2).

    Reproduces ``skimage.transform.iradon(sino[k].T, theta, filter_name=filter, circle=True)``
    (linear interpolation, output scaled by ``π / (2 n_θ)``, zero outside the inscribed disk).
    The scale is folded into the filter matrix.

    Parameters
    ----------
    sino : torch.Tensor
        Sinogram(s) in :class:`Radon` layout; a single ``(n_angles, n)`` sinogram also works.
    radon : Radon
        The operator that defines the angles and slice size.
    filter : str
        ``"ramp"``, ``"shepp-logan"``, ``"cosine"``, ``"hamming"`` or ``"hann"``.
    """
    if not sino.is_floating_point():
        sino = sino.to(radon.dtype)
    if sino.dim() < 2 or tuple(sino.shape[-2:]) != radon.sino_shape:
        raise ValueError(f"sinogram shape {tuple(sino.shape)} does not match {radon.sino_shape}")
    if filter not in FILTERS:
        raise ValueError(f"unknown filter {filter!r}; choose from {FILTERS}")
    q = _filtered(sino.to(radon.device), filter, math.pi / (2 * radon.n_angles))
    return radon.backproject(q)

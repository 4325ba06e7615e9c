"""Accelerated Cartesian MRI: multi-coil operator and reconstructions (SCIENCE.md §4.5).

Conventions: images ``x[..., y, x]`` (2-D operator) or ``x[..., z, y, x]`` (3-D operator);
k-space ``y[..., coil, *shape]``. The centred unitary DFT ``F x = fftshift(fftn(ifftshift(x),
norm="ortho"))`` acts on the last ``len(shape)`` axes, so leading axes are batch axes (e.g. the
axial slices of a volume for the 2-D operator). With coil maps normalised to ``Σ_c |S_c|² = 1``
and a fully sampled mask, ``A^H A = I`` (§4.9 test 4). Reconstructions return complex images;
take ``.abs()`` for display and metrics (§4.8).

This module holds the DFT, the coil maps, the operator and CG-SENSE; compressed sensing
(:func:`cs_recon_iter` and its sparsifying transforms) lives in :mod:`engine.imaging.mri_cs` and
is re-exported here.
"""
from __future__ import annotations

import math
from typing import Generator, Optional, Sequence

import numpy as np
import torch

from engine.core.algorithms import cg
from engine.core.linop import LinearOperator
from engine.core.progress import Progress, drain
from engine.imaging.mri_cs import (cs_recon, cs_recon_iter, div2, grad2, grad2_adjoint, haar2,
                                 haar_levels, ihaar2, soft)

__all__ = ["MRI", "cg_sense", "cg_sense_iter", "coil_maps", "cs_recon", "cs_recon_iter", "div2",
           "fft_c", "grad2", "grad2_adjoint", "haar2", "haar_levels", "ifft_c", "ihaar2", "soft",
           "zero_filled"]


def fft_c(x: torch.Tensor, ndim: int) -> torch.Tensor:
    """Centred unitary DFT over the last ``ndim`` axes (SCIENCE.md §4.5)."""
    dims = tuple(range(-ndim, 0))
    return torch.fft.fftshift(torch.fft.fftn(torch.fft.ifftshift(x, dim=dims), dim=dims,
                                             norm="ortho"), dim=dims)


def ifft_c(k: torch.Tensor, ndim: int) -> torch.Tensor:
    """Inverse (= adjoint) of :func:`fft_c` over the last ``ndim`` axes (SCIENCE.md §4.5)."""
    dims = tuple(range(-ndim, 0))
    return torch.fft.fftshift(torch.fft.ifftn(torch.fft.ifftshift(k, dim=dims), dim=dims,
                                              norm="ortho"), dim=dims)


def coil_maps(n_coils: int, shape: Sequence[int], seed: int = 0, width: float = 0.8,
              radius: float = 1.3, dtype=torch.complex64) -> torch.Tensor:
    """Smooth synthetic coil sensitivities normalised to ``Σ_c |S_c|² = 1`` (SCIENCE.md §4.5).

    Parameters
    ----------
    n_coils : int
        Number of coils C (1 gives a single uniform coil).
    shape : sequence of int
        ``(ny, nx)`` or ``(nz, ny, nx)``; the field of view is ``[-1, 1]`` on every axis.
    seed : int
        Seeds a small random rotation of the coil ring and phase offsets (deterministic).
    width, radius : float
        Gaussian width ``w`` and coil-ring radius (FOV units).

    Returns
    -------
    torch.Tensor
        ``(C, *shape)`` complex maps ``S_c ∝ exp(-|r - p_c|²/(2w²)) exp(iφ_c)`` with the coils
        on a circle in the y–x plane (3-D: alternately on two rings at z = ±0.5).
    """
    shape = tuple(int(s) for s in shape)
    if n_coils < 1:
        raise ValueError(f"n_coils must be >= 1, got {n_coils}")
    if n_coils == 1:
        return torch.ones((1, *shape), dtype=dtype)
    rng = np.random.default_rng(seed)
    axes = np.meshgrid(*[np.linspace(-1.0, 1.0, s) for s in shape], indexing="ij")
    offset = rng.uniform(0, 2 * np.pi / n_coils)
    maps = []
    for c in range(n_coils):
        ang = offset + 2 * np.pi * c / n_coils
        d2 = (axes[-1] - radius * np.cos(ang)) ** 2 + (axes[-2] - radius * np.sin(ang)) ** 2
        if len(shape) == 3:
            d2 = d2 + (axes[0] - (0.5 if c % 2 else -0.5)) ** 2
        phase = ang + rng.uniform(-0.1, 0.1)
        maps.append(np.exp(-d2 / (2 * width ** 2)) * np.exp(1j * phase))
    s = np.stack(maps)
    s = s / np.sqrt(np.sum(np.abs(s) ** 2, axis=0, keepdims=True))
    return torch.from_numpy(s).to(dtype)


class MRI(LinearOperator):
    """Multi-coil Cartesian MRI operator ``y_c = M ⊙ F(S_c ⊙ x)`` (SCIENCE.md §4.5).

    Parameters
    ----------
    mask : torch.Tensor
        Boolean sampling mask of ``shape``, or of ``shape[:-1]`` (broadcast along the fully
        sampled readout axis x, e.g. a ky–kz mask for a 3-D operator).
    n_coils : int
        Number of synthetic coils (see :func:`coil_maps`); ignored when ``maps`` is given.
    shape : sequence of int, optional
        Image shape ``(ny, nx)`` (2-D, per slice) or ``(nz, ny, nx)`` (3-D). Default: mask shape.
    maps : torch.Tensor, optional
        Explicit ``(C, *shape)`` coil maps.
    seed : int
        Seed of the synthetic coil maps.
    dtype : torch.dtype
        ``torch.complex64`` (default) or ``torch.complex128``.
    device : str
        Torch device of maps, mask and outputs.

    Notes
    -----
    A :class:`engine.core.linop.LinearOperator` with ``in_shape = shape``, ``out_shape = (C,
    *shape)`` and leading batch axes; :meth:`normal` is the fused ``AᴴA`` of CG-SENSE.
    """

    def __init__(self, mask: torch.Tensor, n_coils: int = 8,
                 shape: Optional[Sequence[int]] = None, maps: Optional[torch.Tensor] = None,
                 seed: int = 0, dtype=torch.complex64, device: str = "cpu"):
        mask = torch.as_tensor(mask).to(torch.bool)
        self.shape = tuple(int(s) for s in (shape if shape is not None else mask.shape))
        if len(self.shape) not in (2, 3):
            raise ValueError(f"shape must be 2-D or 3-D, got {self.shape}")
        if tuple(mask.shape) == self.shape[:-1]:
            mask = mask[..., None].expand(self.shape)
        if tuple(mask.shape) != self.shape:
            raise ValueError(f"mask shape {tuple(mask.shape)} does not match image {self.shape}")
        self.ndim = len(self.shape)
        self.dtype = dtype
        self.device = torch.device(device)
        self.mask = mask.to(self.device)
        self._m = self.mask.to(torch.float64 if dtype == torch.complex128 else torch.float32)
        if maps is None:
            maps = coil_maps(n_coils, self.shape, seed=seed, dtype=dtype)
        self.maps = maps.to(device=self.device, dtype=dtype)
        if tuple(self.maps.shape[1:]) != self.shape:
            raise ValueError(f"maps shape {tuple(self.maps.shape)} does not match {self.shape}")
        self.n_coils = int(self.maps.shape[0])
        self.in_shape, self.out_shape = self.shape, (self.n_coils, *self.shape)
        self._fused: Optional[_ShiftedNormal] = None

    @property
    def acceleration(self) -> float:
        """Acceleration R = 1 / sampled fraction."""
        return float(self.mask.numel() / max(int(self.mask.sum()), 1))

    def _as_image(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(x).to(device=self.device, dtype=self.dtype)
        if tuple(x.shape[-self.ndim:]) != self.shape:
            raise ValueError(f"image shape {tuple(x.shape)} does not end with {self.shape}")
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(*batch, *shape)`` image → ``(*batch, C, *shape)`` masked k-space."""
        x = self._as_image(x)
        return fft_c(x.unsqueeze(-self.ndim - 1) * self.maps, self.ndim) * self._m

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Exact adjoint ``A^H y = Σ_c conj(S_c) ⊙ F^{-1}(M ⊙ y_c)`` → ``(*batch, *shape)``."""
        y = torch.as_tensor(y).to(device=self.device, dtype=self.dtype)
        return (ifft_c(y * self._m, self.ndim) * self.maps.conj()).sum(dim=-self.ndim - 1)

    def normal(self, x: torch.Tensor) -> torch.Tensor:
        """``A^H A x`` by the fused operator of :class:`_ShiftedNormal` (same values)."""
        if self._fused is None:
            self._fused = _ShiftedNormal(self, 0.0)
        f = self._fused
        return f.unshift(f(f.shift(self._as_image(x))))


def zero_filled(k: torch.Tensor, op: MRI) -> torch.Tensor:
    """Zero-filled coil-combined reconstruction ``A^H y`` (complex; SCIENCE.md §4.5)."""
    return op.adjoint(k)


def _fft(x: torch.Tensor, axes: tuple, inverse: bool) -> torch.Tensor:
    """Uncentred unitary (i)FFT over ``axes``."""
    return (torch.fft.ifftn if inverse else torch.fft.fftn)(x, dim=axes, norm="ortho")


class _ShiftedNormal:
    """``A^H A + λI`` acting on ``ifftshift(x)``: one FFT pair per coil, no shifts (§4.5).

    With ``P = ifftshift``: ``F = P⁻¹ · fft · P`` on both grids, so ``A^H A = P⁻¹ N P`` with
    ``N x̃ = Σ_c conj(S̃_c) ifft(M̃ fft(S̃_c x̃))``, ``S̃ = P S`` and ``M̃ = P M``; CG is run on
    ``x̃ = P x`` (a unitary change of variables, same iterates).  ``M`` is applied once
    (``M² = M``) and along every axis on which ``M`` is constant (e.g. the readout of
    Cartesian line sampling) the FFT pair cancels (``F_x^H F_x = I``) and is skipped.
    """

    def __init__(self, op: MRI, lam: float):
        nd = op.ndim
        self.dims = tuple(range(-nd, 0))
        self.cdim = -nd - 1
        self.maps = torch.fft.ifftshift(op.maps, dim=self.dims).contiguous()
        self.cmaps = self.maps.conj().resolve_conj()
        m = torch.fft.ifftshift(op.mask, dim=self.dims)
        self.m_full = m.to(op._m.dtype)
        keep = [d for d in self.dims if not bool((m == m.any(dim=d, keepdim=True)).all())]
        self.axes = tuple(keep)           # axes along which M is constant need no FFT pair
        for d in self.dims:
            if d not in keep:
                m = m.any(dim=d, keepdim=True)
        self.m = m.to(op._m.dtype)
        self.lam = float(lam)

    def shift(self, x: torch.Tensor) -> torch.Tensor:
        return torch.fft.ifftshift(x, dim=self.dims)

    def unshift(self, x: torch.Tensor) -> torch.Tensor:
        return torch.fft.fftshift(x, dim=self.dims)

    def rhs(self, k: torch.Tensor) -> torch.Tensor:
        """``P A^H y`` from the measured (centred) k-space ``y``."""
        ks = torch.fft.ifftshift(k, dim=self.dims) * self.m_full
        return (_fft(ks, self.dims, True) * self.cmaps).sum(dim=self.cdim)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        k = _fft(x.unsqueeze(self.cdim) * self.maps, self.axes, False)
        k *= self.m
        out = (_fft(k, self.axes, True) * self.cmaps).sum(dim=self.cdim)
        return out.add_(x, alpha=self.lam) if self.lam else out


def cg_sense_iter(k: torch.Tensor, op: MRI, iters: int = 20, lam: float = 0.0,
                  every: int = 1, tol: float = 1e-10,
                  x0: Optional[torch.Tensor] = None) -> Generator[Progress, None, torch.Tensor]:
    """CG-SENSE: conjugate gradients on ``(A^H A + λI) x = A^H y`` (SCIENCE.md §4.5).

    The same iterates as sigpy's ``SenseRecon`` (zero start, same operator); the normal
    operator is fused (:class:`_ShiftedNormal`).

    Parameters
    ----------
    k : torch.Tensor
        Measured k-space ``(*batch, C, *shape)``.
    op : MRI
        The forward operator.
    iters : int
        Maximum number of CG iterations.
    lam : float
        Tikhonov weight λ (0 matches sigpy ``SenseRecon``'s default).
    every : int
        Yield ``Progress(partial=iterate)`` every ``every`` iterations (the last is always yielded).
    tol : float
        Stop when ``||r|| / ||A^H y|| < tol``.
    x0 : torch.Tensor, optional
        Initial image (default zero).

    Returns
    -------
    torch.Tensor
        Complex image ``(*batch, *shape)``. The whole batch is one CG system (block diagonal).
    """
    normal = _ShiftedNormal(op, lam)
    b = normal.rhs(torch.as_tensor(k).to(device=op.device, dtype=op.dtype))
    start = None if x0 is None else normal.shift(op._as_image(x0))
    b_norm = float(torch.linalg.vector_norm(b)) or 1.0
    run = cg(normal, b, start, iters, tol=tol, every=every)
    while True:
        try:
            state = next(run)
        except StopIteration as done:
            return normal.unshift(done.value)
        rel = math.sqrt(state.stats["rr"]) / b_norm
        yield Progress(state.k / iters, f"CG-SENSE {state.k}/{iters}, residual {rel:.2e}",
                       normal.unshift(state.x))


def cg_sense(k: torch.Tensor, op: MRI, iters: int = 20, lam: float = 0.0, **kw) -> torch.Tensor:
    """Run :func:`cg_sense_iter` to the end and return the complex image."""
    return drain(cg_sense_iter(k, op, iters=iters, lam=lam, **kw))


"""Reconstruction lab engine: 3-D volumes, sparse-view CT and undersampled MRI (SCIENCE.md §4).

CT: parallel-beam :class:`Radon` with exact adjoint (scikit-image geometry), :func:`fbp`,
iterative :func:`sirt`, :func:`cgls`, :func:`tv_pdhg` (and their progress generators), the 3-D
Shepp–Logan phantom. MRI: centred unitary FFT, sampling masks, synthetic coil maps, zero
filled, CG-SENSE and compressed sensing. Volumes carry ``data[z, y, x]``, spacing (mm) and an
affine; NIfTI, DICOM, NumPy and TIFF I/O. Metrics use scikit-image conventions. ``Radon`` and
``MRI`` are linear operators (:class:`engine.core.linop.LinearOperator`); the iterative
methods run the core CG, PDHG and FISTA of :mod:`engine.core.algorithms`.

Example
-------
>>> import torch
>>> from engine.recon import shepp_logan_3d, Radon, fbp, psnr
>>> ph = shepp_logan_3d((4, 64, 64))
>>> R = Radon(n=64, angles_deg=torch.linspace(0, 180, 61)[:-1])
>>> rec = fbp(R.forward(ph), R, filter="ramp")
"""
from engine.recon.ct import Radon, add_noise
from engine.recon.fbp import FILTERS, fbp, filter_sinogram, fourier_filter
from engine.recon.iterative import (TV_MODES, cgls, cgls_iter, div, grad, sirt, sirt_iter,
                                    tv_pdhg, tv_pdhg_iter)
from engine.recon.masks import KINDS as MASK_KINDS
from engine.recon.masks import make_mask
from engine.recon.metrics import mse, nmse, psnr, slice_metric, ssim, volume_metrics
from engine.recon.mri import (MRI, cg_sense, cg_sense_iter, coil_maps, cs_recon, cs_recon_iter,
                              zero_filled)
from engine.recon.phantom import ELLIPSOIDS, PHANTOM_KINDS, shepp_logan_3d
from engine.recon.volume_io import (Volume, demo_volume, load_volume, resample_volume,
                                    save_nifti)

__all__ = ["ELLIPSOIDS", "FILTERS", "MASK_KINDS", "MRI", "PHANTOM_KINDS", "TV_MODES", "Radon",
           "Volume", "add_noise", "cg_sense", "cg_sense_iter", "cgls", "cgls_iter", "coil_maps",
           "cs_recon", "cs_recon_iter", "demo_volume", "diffusion_reconstruct", "div", "fbp", "filter_sinogram",
           "fourier_filter", "grad", "load_slice_prior", "load_volume", "make_mask", "mse", "nmse", "psnr",
           "resample_volume", "save_nifti", "shepp_logan_3d", "sirt", "sirt_iter",
           "slice_metric", "ssim", "tv_pdhg", "tv_pdhg_iter", "volume_metrics", "zero_filled"]


def __getattr__(name):
    """Learned slice priors (issue #6) live in :mod:`engine.slice_prior`, which imports this
    package; they are re-exported lazily here as the issue's API (no import cycle)."""
    if name in ("diffusion_reconstruct", "diffusion_reconstruct_iter"):
        from engine.recon import diffusion
        return getattr(diffusion, name)
    if name == "load_slice_prior":
        import engine.slice_prior as sp
        return getattr(sp, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

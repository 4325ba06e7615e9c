"""Shared imaging package: operators, phantoms, volumes, masks, metrics (SCIENCE.md §4).

What more than one lab needs to reconstruct images lives here, not in a lab (ARCHITECTURE:
"Labs never import each other"): the Reconstruction lab (:mod:`engine.recon`), the learned
slice prior (:mod:`engine.slice_prior`) and the next imaging labs all import it.

CT: parallel-beam :class:`Radon` with exact adjoint (scikit-image geometry, matrices cached on
disk by :mod:`engine.imaging.operator_cache`), :func:`fbp`, iterative :func:`sirt`,
:func:`cgls`, :func:`tv_pdhg` (and their progress generators), the 3-D Shepp–Logan phantom.
MRI: centred unitary FFT, sampling masks, synthetic coil maps, zero filled, CG-SENSE and
compressed sensing. Volumes carry ``data[z, y, x]``, spacing (mm) and an affine; NIfTI,
DICOM, NumPy and TIFF I/O and the shipped demo brain. Metrics use scikit-image conventions.
``Radon`` and ``MRI`` are linear operators (:class:`engine.core.linop.LinearOperator`); the
classical reconstructions are generic in the operator (the baselines every imaging lab ranks
against) and run the core CG, PDHG and FISTA of :mod:`engine.core.algorithms`.

Example
-------
>>> import torch
>>> from engine.imaging import shepp_logan_3d, Radon, fbp, psnr
>>> ph = shepp_logan_3d((4, 64, 64))
>>> R = Radon(n=64, angles_deg=torch.linspace(0, 180, 61)[:-1])
>>> rec = fbp(R.forward(ph), R, filter="ramp")
"""
from engine.imaging.ct import Radon, add_noise
from engine.imaging.fbp import FILTERS, fbp, filter_sinogram, fourier_filter
from engine.imaging.iterative import (TV_MODES, cgls, cgls_iter, div, grad, sirt, sirt_iter,
                                      tv_pdhg, tv_pdhg_iter)
from engine.imaging.masks import KINDS as MASK_KINDS
from engine.imaging.masks import make_mask
from engine.imaging.metrics import mse, nmse, psnr, slice_metric, ssim, volume_metrics
from engine.imaging.mri import (MRI, cg_sense, cg_sense_iter, coil_maps, cs_recon, cs_recon_iter,
                                zero_filled)
from engine.imaging.phantom import ELLIPSOIDS, PHANTOM_KINDS, shepp_logan_3d
from engine.imaging.volume_io import (Volume, demo_volume, load_volume, resample_volume,
                                      save_nifti)

MODULES = ("ct", "fbp", "iterative", "masks", "metrics", "mri", "mri_cs", "operator_cache",
           "phantom", "volume_io")

__all__ = ["ELLIPSOIDS", "FILTERS", "MASK_KINDS", "MODULES", "MRI", "PHANTOM_KINDS", "TV_MODES",
           "Radon", "Volume", "add_noise", "cg_sense", "cg_sense_iter", "cgls", "cgls_iter",
           "coil_maps", "cs_recon", "cs_recon_iter", "demo_volume", "div", "fbp",
           "filter_sinogram", "fourier_filter", "grad", "load_volume", "make_mask", "mse",
           "nmse", "psnr", "resample_volume", "save_nifti", "shepp_logan_3d", "sirt",
           "sirt_iter", "slice_metric", "ssim", "tv_pdhg", "tv_pdhg_iter", "volume_metrics",
           "zero_filled"]

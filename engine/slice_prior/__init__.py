"""Learned slice priors for 3-D reconstruction (issue #6; SCIENCE.md §3.4 (b)–(f), §4).

A small ε-prediction U-Net (:mod:`~engine.slice_prior.unet`) trained on axial slices of
phantoms and of the MNI brain (:mod:`~engine.slice_prior.data`, :mod:`~engine.slice_prior.train`),
shipped in ``resources/priors/``. The prior is a denoiser behind the shared solver contract
(:mod:`engine.sampling`); the Reconstruction lab runs the solvers on whole volumes with it
(:func:`engine.recon.diffusion_reconstruct`: DDS, DiffusionMBIR, MCG, CCDF). This package
imports only :mod:`engine.core`, :mod:`engine.sampling` and :mod:`engine.imaging`, never a lab.

Example
-------
>>> import torch
>>> from engine.imaging import Radon, shepp_logan_3d
>>> from engine.recon import diffusion_reconstruct
>>> from engine.slice_prior import load_slice_prior
>>> prior = load_slice_prior(size=64)
>>> R = Radon(64, torch.linspace(0, 180, 9)[:-1])
>>> y = R.forward(shepp_logan_3d((4, 64, 64)))
>>> vol = diffusion_reconstruct("dds", prior, R, y, n_steps=50, seed=0)
"""
from engine.slice_prior.prior import (FORMAT, PRIOR_DIR, SlicePrior, load_slice_prior,
                                      prior_path, save_prior)
from engine.slice_prior.unet import SliceUNet, UNetConfig

__all__ = ["FORMAT", "PRIOR_DIR", "SlicePrior", "SliceUNet", "UNetConfig", "load_slice_prior",
           "prior_path", "save_prior"]


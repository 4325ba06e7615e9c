"""Learned slice priors for 3-D reconstruction (issue #6; SCIENCE.md §3.4 (b)–(f), §4).

A small ε-prediction U-Net (:mod:`~engine.slice_prior.unet`) trained on axial slices of
phantoms and of the MNI brain (:mod:`~engine.slice_prior.data`, :mod:`~engine.slice_prior.train`),
shipped in ``resources/priors/``, and the diffusion solvers that use it slice by slice on a
whole volume: DDS, DiffusionMBIR, MCG and CCDF (:mod:`~engine.slice_prior.solvers`).

Example
-------
>>> import torch
>>> from engine.recon import Radon, shepp_logan_3d
>>> from engine.slice_prior import load_slice_prior, diffusion_reconstruct
>>> prior = load_slice_prior(size=64)
>>> R = Radon(64, torch.linspace(0, 180, 9)[:-1])
>>> y = R.forward(shepp_logan_3d((4, 64, 64)))
>>> vol = diffusion_reconstruct("dds", prior, R, y, n_steps=50, seed=0)
"""
from engine.slice_prior.prior import (FORMAT, PRIOR_DIR, SlicePrior, load_slice_prior,
                                      prior_path, save_prior)
from engine.slice_prior.solvers import (METHODS, diffusion_reconstruct,
                                        diffusion_reconstruct_iter)
from engine.slice_prior.unet import SliceUNet, UNetConfig

__all__ = ["FORMAT", "METHODS", "PRIOR_DIR", "SlicePrior", "SliceUNet", "UNetConfig",
           "diffusion_reconstruct", "diffusion_reconstruct_iter", "load_slice_prior",
           "prior_path", "save_prior"]

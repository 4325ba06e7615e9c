"""Reconstruction lab engine: 3-D volumes, sparse-view CT and undersampled MRI (SCIENCE.md §4).

The lab itself is :mod:`engine.recon.lab` (config and ``run_config``), its methods table
:mod:`engine.recon.methods` and the volume diffusion solvers :mod:`engine.recon.diffusion`.
Operators, phantoms, volume I/O, masks, metrics and the classical reconstructions live in the
shared :mod:`engine.imaging` package (issue #12: labs never import each other) and are
re-exported here unchanged, so ``from engine.recon import Radon, fbp, psnr`` keeps working.

Example
-------
>>> import torch
>>> from engine.recon import shepp_logan_3d, Radon, fbp, psnr
>>> ph = shepp_logan_3d((4, 64, 64))
>>> R = Radon(n=64, angles_deg=torch.linspace(0, 180, 61)[:-1])
>>> rec = fbp(R.forward(ph), R, filter="ramp")
"""
import importlib
import sys

import engine.imaging as _imaging
from engine.imaging import *  # noqa: F401,F403  (the public names, re-exported)

# Old module paths (``engine.recon.ct``, ``engine.recon.mri`` …) name the very same module
# objects in engine.imaging, so imports and monkeypatches through either path agree.
for _name in _imaging.MODULES:
    _module = importlib.import_module(f"engine.imaging.{_name}")
    sys.modules[f"{__name__}.{_name}"] = _module
    globals().setdefault(_name, _module)   # ``fbp`` stays the function, as before
del _name, _module

__all__ = [n for n in _imaging.__all__ if n != "MODULES"] + [
    "diffusion_reconstruct", "load_slice_prior"]


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

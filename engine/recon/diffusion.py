"""Diffusion-prior reconstruction of 3-D volumes: the shared solver zoo on the learned slice prior
(issue #6; SCIENCE.md §3.4 (b), (c), (e), (f)).

The wiring between the three packages: :mod:`engine.sampling` has the solvers, the slice prior
(:class:`~engine.slice_prior.prior.SlicePrior`, a denoiser in network units) is the model, and
:class:`VolumeData` turns the CT/MRI data term (:class:`~engine.slice_prior.data_term.DataTerm`,
image units) into the solvers' data-consistency object. All slices go through the network
together (in chunks of ``prior.max_batch``; on the CPU at most :data:`CPU_SLICES_PER_BATCH`,
which is as fast there and keeps every network operation short, so a cancel lands within
0.2 s), on the operator's device; randomness comes only from the seed. Stopping the generator
cancels; the last partial volume is the best estimate so far.
"""
from __future__ import annotations

from typing import Generator, Optional

import torch

from engine.core import Progress, drain
from engine.sampling.contract import Context
from engine.sampling.table import SOLVERS, check_params
from engine.slice_prior.data_term import DataTerm
from engine.slice_prior.prior import SlicePrior, to_image, to_net

__all__ = ["VOLUME_SOLVERS", "VolumeData", "diffusion_reconstruct",
           "diffusion_reconstruct_iter"]

VOLUME_SOLVERS = {"dds": ("dds", "DDS"), "mbir": ("mbir", "DiffusionMBIR"),
                  "mcg": ("mcg_ve", "MCG"), "ccdf": ("ccdf", "CCDF")}
"""Reconstruction method → (zoo solver of :data:`engine.sampling.table.SOLVERS`, label)."""

#: Slices per network evaluation on the CPU (16×128² in one batch: single convolutions of
#: ~0.5 s at one thread; 4 slices: ~0.1 s and no slower in all, benchmarks/cancel.py).
CPU_SLICES_PER_BATCH = 4


class VolumeData:
    """A CT/MRI :class:`DataTerm` (image units ``x``) as the data-consistency object of a model
    working in network units ``u = 2x - 1`` (SCIENCE §3.4 (a), (e), (f)).

    ``project`` is the normalised Kaczmarz step onto the clean data (no diffused targets),
    ``solve`` CG on the normal equations (noiseless: ``gamma`` is not used), ``initial`` FBP /
    zero filling clipped to [0, 1].
    """
    noisy_targets = False

    def __init__(self, data: DataTerm):
        self.data = data

    def project(self, u: torch.Tensor, target=None, lam: float = 1.0) -> torch.Tensor:
        if target is not None:
            raise ValueError("volume data consistency projects onto the measured data only")
        return to_net(self.data.kaczmarz(to_image(u), lam))

    def diffused_target(self, ab: float, z: Optional[torch.Tensor]):
        return None

    def solve(self, u0: torch.Tensor, iters: int, gamma: Optional[float] = None):
        return to_net(self.data.solve(to_image(u0), iters))

    def initial(self) -> torch.Tensor:
        return to_net(self.data.initial().clamp(0.0, 1.0))

    def admm_tv_z(self, u: torch.Tensor, state: dict, lam: float, rho: float, iters: int):
        return to_net(self.data.admm_tv_z(to_image(u), state, lam, rho, iters))

    def residual_cotangent(self, u0: torch.Tensor) -> torch.Tensor:
        """``∇_u ‖Ã x(u) - ỹ‖`` per slice, ``x = (u + 1)/2`` (DPS/MCG non-squared norm, §3.4 (d))."""
        r = self.data.forward(to_image(u0)) - self.data.y
        norms = r.flatten(1).norm(dim=1).clamp_min(1e-12).reshape((-1,) + (1,) * (r.ndim - 1))
        return 0.5 * self.data.adjoint(r / norms)

    def residual_norms(self, u: torch.Tensor) -> torch.Tensor:
        """``‖Ã x - ỹ‖`` per slice (differentiable)."""
        return (self.data.forward(to_image(u)) - self.data.y).flatten(1).norm(dim=1)


def diffusion_reconstruct_iter(method: str, prior: SlicePrior, op, y: torch.Tensor,
                               n_steps: int = 50, seed: int = 0, every: int = 5,
                               **params) -> Generator[Progress, None, torch.Tensor]:
    """Progress-generator form of :func:`diffusion_reconstruct`: yields every ``every`` steps
    with ``partial`` = the current estimate ``x̂_0`` ``(z, n, n)`` (image units, after data
    consistency where the solver has one) and returns the final volume."""
    if method not in VOLUME_SOLVERS:
        raise ValueError(f"unknown diffusion method {method!r}; choose from "
                         f"{', '.join(VOLUME_SOLVERS)}")
    name, label = VOLUME_SOLVERS[method]
    knobs = check_params(name, params, volume=True)
    if n_steps < 1 or n_steps > prior.T:
        raise ValueError(f"n_steps must lie in 1..{prior.T}, got {n_steps}")
    data = DataTerm(op, y)
    if data.n != prior.size:
        raise ValueError(f"the slice prior was trained on {prior.size}² slices but the volume "
                         f"has {data.n}² slices: use in-plane size {prior.size} or a prior "
                         f"trained at {data.n}²")
    if prior.device != data.device:
        prior.to(data.device)
    ctx = Context(model=prior, grid=prior.schedule.grid(int(n_steps)), shape=data.shape,
                  gen=torch.Generator(device=data.device).manual_seed(int(seed)),
                  dc=VolumeData(data), dtype=torch.float32, device=data.device)
    batch = prior.max_batch
    if torch.device(data.device).type == "cpu":
        prior.max_batch = min(batch, CPU_SLICES_PER_BATCH)
    try:
        return (yield from _drive(SOLVERS[name].fn(ctx, **knobs), label, data,
                                  max(1, int(every))))
    finally:
        if prior.max_batch == min(batch, CPU_SLICES_PER_BATCH):   # not lowered after an OOM
            prior.max_batch = batch


def _drive(steps, label: str, data: DataTerm, every: int) -> Generator:
    """Pull the solver's steps (no autograd), report every ``every``-th; return the volume."""
    last = None
    while True:
        with torch.no_grad():
            st = next(steps, None)
        if st is None:
            return to_image(last.x)
        last = st
        if st.i < st.n and ((st.i + 1) % every == 0 or st.i + 1 == st.n):
            est = to_image(st.x0_hat if st.estimate is None else st.estimate)
            yield Progress((st.i + 1) / st.n, f"{label}: step {st.i + 1}/{st.n}, residual "
                           f"{data.residual_norm(est):.2e}", partial=est.detach().clone())


def diffusion_reconstruct(method: str, prior: SlicePrior, op, y: torch.Tensor,
                          n_steps: int = 50, seed: int = 0, **params) -> torch.Tensor:
    """Reconstruct a ``(z, n, n)`` volume from CT/MRI data with a learned slice prior (issue #6).

    Parameters
    ----------
    method : {"dds", "mbir", "mcg", "ccdf"}
        DDS (§3.4 (e)), DiffusionMBIR (§3.4 (f)), MCG (CT form, §3.4 (b)) or CCDF (§3.4 (c)).
    prior : SlicePrior
        From :func:`~engine.slice_prior.prior.load_slice_prior`; its size must equal ``n``.
    op : Radon or MRI (2-D, per slice)
    y : torch.Tensor
        ``op.forward`` of the volume (sinogram ``(z, views, n)`` or k-space ``(z, C, n, n)``).
    n_steps : int
        Diffusion steps (NFE: DDS, CCDF-full and MCG 1 per step; MBIR 2 with the corrector).
    seed : int
        Seed of all noise draws (results are reproducible).
    **params
        Solver knobs (``SolverSpec.VolumeParams``), e.g. ``eta``, ``cg_iters``, ``tv_z``, ``t0``.

    Returns
    -------
    torch.Tensor
        The reconstruction ``(z, n, n)`` in image units (float32, on the operator's device).
    """
    return drain(diffusion_reconstruct_iter(method, prior, op, y, n_steps, seed, **params))

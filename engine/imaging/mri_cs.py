"""Compressed-sensing MRI (SCIENCE.md §4.5, §4.3): sparsifying transforms and solvers.

Holds the orthonormal 2-D Haar transform (:func:`haar2`, :func:`ihaar2`), per-slice Neumann
finite differences (:func:`grad2`, :func:`div2`, :func:`grad2_adjoint`: the core
:class:`engine.core.linop.FiniteDifference` on the last two axes) and :func:`cs_recon_iter` /
:func:`cs_recon` (wavelet-ℓ1 by the core FISTA, TV by the core PDHG) for the multi-coil
operator :class:`engine.imaging.mri.MRI`; every name (and the complex soft threshold
:func:`engine.core.algorithms.soft`) is also importable from :mod:`engine.imaging.mri`.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Generator, Sequence

import torch

from engine.core.algorithms import fista, pdhg, project_group_ball, soft
from engine.core.linop import FiniteDifference, divergence, forward_differences
from engine.core.progress import Progress, drain

if TYPE_CHECKING:
    from engine.imaging.mri import MRI

__all__ = ["cs_recon", "cs_recon_iter", "div2", "grad2", "grad2_adjoint", "haar2", "haar_levels",
           "ihaar2", "soft"]


def _haar1(x: torch.Tensor, dim: int) -> torch.Tensor:
    x = x.movedim(dim, -1)
    a = (x[..., 0::2] + x[..., 1::2]) / math.sqrt(2.0)
    d = (x[..., 0::2] - x[..., 1::2]) / math.sqrt(2.0)
    return torch.cat([a, d], dim=-1).movedim(-1, dim)


def _ihaar1(c: torch.Tensor, dim: int) -> torch.Tensor:
    c = c.movedim(dim, -1)
    h = c.shape[-1] // 2
    a, d = c[..., :h], c[..., h:]
    x = torch.stack([(a + d) / math.sqrt(2.0), (a - d) / math.sqrt(2.0)], dim=-1)
    return x.reshape(*c.shape[:-1], 2 * h).movedim(-1, dim)


def haar_levels(shape: Sequence[int], levels: int) -> int:
    """Largest usable number of levels ≤ ``levels`` for which the last two axes divide by 2^L."""
    ny, nx = shape[-2], shape[-1]
    lv = 0
    while lv < levels and ny % (2 ** (lv + 1)) == 0 and nx % (2 ** (lv + 1)) == 0:
        lv += 1
    return lv


def haar2(x: torch.Tensor, levels: int) -> torch.Tensor:
    """Orthonormal 2-D Haar wavelet transform over the last two axes (Mallat layout, §4.5)."""
    out = x.clone()
    h, w = x.shape[-2], x.shape[-1]
    for _ in range(levels):
        out[..., :h, :w] = _haar1(_haar1(out[..., :h, :w], -2), -1)
        h, w = h // 2, w // 2
    return out


def ihaar2(c: torch.Tensor, levels: int) -> torch.Tensor:
    """Inverse (= adjoint) of :func:`haar2`."""
    out = c.clone()
    for lv in reversed(range(levels)):
        h, w = c.shape[-2] >> lv, c.shape[-1] >> lv
        out[..., :h, :w] = _ihaar1(_ihaar1(out[..., :h, :w], -1), -2)
    return out


def grad2(x: torch.Tensor) -> torch.Tensor:
    """Forward differences (Neumann) over the last two axes → ``(2, *x.shape)`` (§4.3)."""
    return forward_differences(x, (-2, -1))


def div2(q: torch.Tensor) -> torch.Tensor:
    """Discrete divergence, ``-div = grad2^T`` (adjoint of :func:`grad2`)."""
    return divergence(q, (-2, -1))


def grad2_adjoint(q: torch.Tensor) -> torch.Tensor:
    """``grad2^H q = -div q`` (exact adjoint of :func:`grad2`)."""
    return -div2(q)


def _progress(run, name: str, iters: int):
    """Progress reports of a core algorithm generator; returns its result."""
    while True:
        try:
            state = next(run)
        except StopIteration as done:
            return done.value
        yield Progress(state.k / iters, f"{name} {state.k}/{iters}", state.x)


def _fista_wavelet(k, op, lam, iters, every, levels):
    """ℓ1 of Haar coefficients by FISTA with step ``1 ≥ 1/‖A‖²`` (coarse band kept)."""
    lv = haar_levels(op.shape, levels)
    keep = torch.zeros(op.shape[-2:], dtype=torch.bool, device=op.device)
    keep[: op.shape[-2] >> lv, : op.shape[-1] >> lv] = lv > 0  # coarse band not thresholded

    def prox(g, step):
        c = haar2(g, lv)
        return ihaar2(torch.where(keep, c, soft(c, lam * step)), lv)

    run = fista(lambda z: op.adjoint(op.forward(z) - k), prox, op.adjoint(k), 1.0, iters,
                every=every)
    return (yield from _progress(run, "CS-wavelet FISTA", iters))


def _pdhg_tv(k, op, lam, iters, every):
    """Isotropic per-slice TV by PDHG with ``K = [A; ∇]``, ``στ‖K‖² < 1`` (``‖K‖² ≤ 1 + 8``)."""
    step = 0.99 / 3.0
    grad = FiniteDifference(op.shape[-2:], (-2, -1), op.dtype, op.device)
    lam = max(lam, 1e-30)
    run = pdhg([op, grad], [lambda v, s: (v - s * k) / (1 + s),
                            lambda q, s: project_group_ball(q, lam)],
               op.adjoint(k), step, step, iters, every=every)
    return (yield from _progress(run, "CS-TV PDHG", iters))


def cs_recon_iter(k: torch.Tensor, op: MRI, lam: float = 0.01, reg: str = "wavelet",
                  iters: int = 50, every: int = 1,
                  levels: int = 4) -> Generator[Progress, None, torch.Tensor]:
    """Compressed sensing ``min_x ½||Ax - y||² + λ R(x)`` (SCIENCE.md §4.5, §4.3).

    Parameters
    ----------
    k : torch.Tensor
        Measured k-space ``(*batch, C, *shape)``.
    op : MRI
        Forward operator (normalised coils ⇒ ``||A|| ≤ 1``).
    lam : float
        Regularisation weight λ (relative to image values ~1).
    reg : {"wavelet", "tv"}
        ``"wavelet"``: ℓ1 of orthonormal Haar coefficients (coarse band unpenalised) by FISTA
        with step 1. ``"tv"``: isotropic 2-D TV per slice by PDHG with ``K = [A; ∇]``.
    iters, every : int
        Iterations; yield ``Progress(partial=iterate)`` every ``every`` iterations.
    levels : int
        Haar levels (reduced so that the last two axes divide by 2^L).

    Returns
    -------
    torch.Tensor
        Complex image ``(*batch, *shape)``.
    """
    if reg == "wavelet":
        return (yield from _fista_wavelet(k, op, lam, iters, every, levels))
    if reg == "tv":
        return (yield from _pdhg_tv(k, op, lam, iters, every))
    raise ValueError(f"unknown regulariser {reg!r}; use 'wavelet' or 'tv'")


def cs_recon(k: torch.Tensor, op: MRI, lam: float = 0.01, reg: str = "wavelet",
             iters: int = 50, **kw) -> torch.Tensor:
    """Run :func:`cs_recon_iter` to the end and return the complex image."""
    return drain(cs_recon_iter(k, op, lam=lam, reg=reg, iters=iters, **kw))

"""Compressed-sensing MRI (SCIENCE.md §4.5, §4.3): sparsifying transforms and solvers.

Holds the orthonormal 2-D Haar transform (:func:`haar2`, :func:`ihaar2`), the complex soft
threshold, Neumann finite differences (:func:`grad2`, :func:`div2`, :func:`grad2_adjoint`) and
:func:`cs_recon_iter` / :func:`cs_recon` (wavelet-ℓ1 by FISTA, TV by PDHG) for the multi-coil
operator :class:`engine.recon.mri.MRI`; every name is also importable from
:mod:`engine.recon.mri`.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Generator, Sequence

import torch

from engine.core.progress import Progress, drain

if TYPE_CHECKING:
    from engine.recon.mri import MRI

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


def soft(z: torch.Tensor, tau) -> torch.Tensor:
    """Complex soft threshold ``z · max(0, 1 - τ/|z|)`` (SCIENCE.md §4.5)."""
    mag = z.abs()
    return z * torch.clamp(1 - tau / torch.clamp(mag, min=1e-30), min=0)


def grad2(x: torch.Tensor) -> torch.Tensor:
    """Forward differences (Neumann) over the last two axes → ``(2, *x.shape)`` (§4.3)."""
    gy = torch.zeros_like(x)
    gx = torch.zeros_like(x)
    gy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    gx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    return torch.stack([gy, gx])


def div2(q: torch.Tensor) -> torch.Tensor:
    """Discrete divergence, ``-div = grad2^T`` (adjoint of :func:`grad2`)."""
    qy, qx = q[0], q[1]
    dy = torch.zeros_like(qy)
    dx = torch.zeros_like(qx)
    dy[..., :-1, :] += qy[..., :-1, :]
    dy[..., 1:, :] -= qy[..., :-1, :]
    dx[..., :, :-1] += qx[..., :, :-1]
    dx[..., :, 1:] -= qx[..., :, :-1]
    return dy + dx


def _fista_wavelet(k, op, lam, iters, every, levels):
    lv = haar_levels(op.shape, levels)
    keep = torch.zeros(op.shape[-2:], dtype=torch.bool, device=op.device)
    keep[: op.shape[-2] >> lv, : op.shape[-1] >> lv] = lv > 0  # coarse band not thresholded
    x = op.adjoint(k)
    z, t = x.clone(), 1.0
    for it in range(1, iters + 1):
        g = z - op.adjoint(op.forward(z) - k)           # step 1/||A||² = 1
        c = haar2(g, lv)
        x_new = ihaar2(torch.where(keep, c, soft(c, lam)), lv)
        t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
        z = x_new + ((t - 1) / t_new) * (x_new - x)
        x, t = x_new, t_new
        if it % every == 0 or it == iters:
            yield Progress(it / iters, f"CS-wavelet FISTA {it}/{iters}", x)
    return x


def _pdhg_tv(k, op, lam, iters, every):
    tau = sigma = 0.99 / 3.0                            # στ||K||² < 1 with ||K||² ≤ 1 + 8
    x = op.adjoint(k)
    xbar = x.clone()
    p = torch.zeros_like(k)
    q = torch.zeros((2, *x.shape), dtype=x.dtype, device=x.device)
    for it in range(1, iters + 1):
        p = (p + sigma * (op.forward(xbar) - k)) / (1 + sigma)
        q = q + sigma * grad2(xbar)
        q = q / torch.clamp(torch.sqrt((q.abs() ** 2).sum(0)) / max(lam, 1e-30), min=1.0)
        x_new = x - tau * (op.adjoint(p) + grad2_adjoint(q))
        xbar = 2 * x_new - x
        x = x_new
        if it % every == 0 or it == iters:
            yield Progress(it / iters, f"CS-TV PDHG {it}/{iters}", x)
    return x


def grad2_adjoint(q: torch.Tensor) -> torch.Tensor:
    """``grad2^H q = -div q`` (exact adjoint of :func:`grad2`)."""
    return -div2(q)


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

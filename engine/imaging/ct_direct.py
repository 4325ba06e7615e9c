"""Projection and FBP back-projection without assembling their matrices (SCIENCE.md §4.1-4.2;
issue #16).

:class:`engine.imaging.ct.Radon` stores its projector ``A`` as a sorted, duplicate-free CSR
matrix: the right form for the iterative methods, which apply it hundreds of times, but
its assembly (sorting some 50 million bilinear weights at ``256²`` and 180 views) is most of
the time from "Run" to the first image of a new geometry.  A one-off projection (the lab's
simulated sinogram) does not need that form: :func:`project_direct` computes the same
"rotate by ``-θ`` with bilinear interpolation, sum the rotated image's rows" a few angles
at a time, from rows of a fixed stride — every ray sample ``v`` contributes its four
corners, duplicates left for the product to add, corners outside the image given weight 0
— that need no sort.  The weights are the ones :func:`engine.imaging.ct._rotation_entries`
computes (same float64 formulas), so the result equals ``A x`` up to the order in which
float rounding happens (relative ``1e-6`` in float32, ``1e-13`` in float64).
:func:`backproject_direct` likewise assembles FBP's back-projection one angle group at a
time, applies it and drops it: a first FBP writes no matrix.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["direct_rows", "project_direct", "backproject_direct"]

_ENTRIES_PER_CHUNK = 2 ** 20   # weights per block of angles: the block stays in the cache


def direct_rows(n: int, angles_rad: np.ndarray, dtype=np.float32) -> sp.csr_matrix:
    """Rows ``(angle, detector)`` of the projector for ``angles_rad``, fixed stride ``4 n``.

    Row ``(k, u)`` holds, for every ray sample ``v = 0 … n-1``, the four bilinear corners of
    the rotated sample point (SCIENCE.md §4.1, the skimage ``radon`` geometry of
    :func:`engine.imaging.ct._rotation_entries`); a corner outside the image, or with weight
    0, keeps weight 0 and column 0.  Summing the duplicates gives ``A``'s rows exactly.

    Returns
    -------
    scipy.sparse.csr_matrix, shape ``(len(angles_rad) * n, n * n)``, unsorted indices.
    """
    c, ka = n // 2, len(angles_rad)
    cos_a = np.cos(angles_rad)[:, None, None]
    sin_a = np.sin(angles_rad)[:, None, None]
    a = np.arange(n, dtype=np.float64)
    u, v = a[None, :, None], a[None, None, :]            # [angle, detector u, ray sample v]
    col = cos_a * u + sin_a * v - c * (cos_a + sin_a - 1)
    row = -sin_a * u + cos_a * v - c * (cos_a - sin_a - 1)
    r0, c0 = np.floor(row), np.floor(col)
    fr, fc = row - r0, col - c0
    ri, ci = r0.astype(np.int32), c0.astype(np.int32)
    r_in = ((ri >= 0) & (ri < n), (ri >= -1) & (ri < n - 1))
    c_in = ((ci >= 0) & (ci < n), (ci >= -1) & (ci < n - 1))
    wr, wc = (1 - fr, fr), (1 - fc, fc)
    pix0 = ri * n + ci
    index = np.empty((ka, n, n, 4), dtype=np.int32)
    weight = np.empty((ka, n, n, 4), dtype=dtype)
    for k, (dr, dc) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        inside = r_in[dr] & c_in[dc]
        np.multiply(pix0 + (dr * n + dc), inside, out=index[..., k])
        np.multiply(wr[dr] * wc[dc], inside, out=weight[..., k], casting="unsafe")
    stride = 4 * n
    indptr = np.arange(0, ka * n * stride + 1, stride, dtype=np.int32)
    return sp.csr_matrix((weight.ravel(), index.ravel(), indptr), shape=(ka * n, n * n),
                         copy=False)


def _slices(x: torch.Tensor, shape: tuple) -> tuple[torch.Tensor, bool]:
    """``x`` as a stack ``(z, *shape)`` and whether it was one slice; ValueError otherwise."""
    squeeze = x.dim() == len(shape)
    xb = x.unsqueeze(0) if squeeze else x
    if xb.dim() != len(shape) + 1 or tuple(xb.shape[1:]) != tuple(shape):
        raise ValueError(f"expected (..., {tuple(shape)}), got {tuple(x.shape)}")
    return xb, squeeze


def _torch_csr(m: sp.csr_matrix) -> torch.Tensor:
    with warnings.catch_warnings():                 # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(torch.from_numpy(m.indptr.astype(np.int32)),
                                       torch.from_numpy(m.indices.astype(np.int32)),
                                       torch.from_numpy(m.data), size=m.shape)


def project_direct(x: torch.Tensor, n: int, angles_rad: np.ndarray) -> torch.Tensor:
    """Sinogram ``A x`` of slices ``x (z, n, n)`` (or one ``(n, n)``) without assembling ``A``.

    Computed on the CPU in ``x``'s precision (float32 or float64), a block of angles at a
    time from :func:`direct_rows` (torch's sparse product adds the duplicates); returned
    on ``x``'s device, laid out ``(z, n_angles, n)`` (§4.1).
    """
    xb, squeeze = _slices(x, (n, n))
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    z, na = xb.shape[0], len(angles_rad)
    cols = xb.detach().to(device="cpu", dtype=dtype).reshape(z, n * n).T.contiguous()
    out = torch.empty((na * n, z), dtype=dtype)
    per = max(1, _ENTRIES_PER_CHUNK // (4 * n * n))
    for s in range(0, na, per):
        m = direct_rows(n, angles_rad[s:s + per],
                        np.float64 if dtype == torch.float64 else np.float32)
        out[s * n:s * n + m.shape[0]] = torch.sparse.mm(_torch_csr(m), cols)
    sino = out.T.reshape(z, na, n).contiguous().to(x.device)
    return sino[0] if squeeze else sino


def backproject_direct(q: torch.Tensor, n: int, angles_rad: np.ndarray, per: int,
                       build) -> torch.Tensor:
    """FBP's back-projection of ``q (z, n_angles, n + 1)`` one angle group at a time (§4.2).

    ``build(n, angles, per, dtype)`` is the back-projection assembly of
    :class:`~engine.imaging.ct.Radon` (``_assemble_backprojection``); each group of ``per``
    angles is assembled, applied and dropped, so a new geometry's first FBP allocates and
    writes no matrix (issue #16).  The groups are the bands of the stored matrix, added in
    the same order: equal to :meth:`Radon.backproject` with the matrix up to rounding.
    """
    qb, squeeze = _slices(q, (len(angles_rad), n + 1))
    dtype = torch.float64 if q.dtype == torch.float64 else torch.float32
    z, na = qb.shape[0], len(angles_rad)
    cols = qb.detach().to(device="cpu", dtype=dtype).reshape(z, na * (n + 1)).T.contiguous()
    out = None
    for s in range(0, na, per):
        m = build(n, angles_rad[s:s + per], per,
                  np.float64 if dtype == torch.float64 else np.float32)
        part = cols[s * (n + 1):(s + m.shape[1] // (n + 1)) * (n + 1)]
        out = (torch.sparse.mm(_torch_csr(m), part) if out is None
               else torch.addmm(out, _torch_csr(m), part))
    image = out.T.reshape(z, n, n).contiguous().to(q.device)
    return image[0] if squeeze else image

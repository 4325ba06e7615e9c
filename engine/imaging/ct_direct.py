"""Forward projection without assembling the Radon matrix (SCIENCE.md §4.1; issue #16).

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
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch

__all__ = ["direct_rows", "project_direct"]

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


def project_direct(x: torch.Tensor, n: int, angles_rad: np.ndarray) -> torch.Tensor:
    """Sinogram ``A x`` of slices ``x (z, n, n)`` without assembling ``A`` (§4.1).

    Computed on the CPU in ``x``'s precision (float32 or float64), a block of angles at a
    time from :func:`direct_rows` (torch's sparse product adds the duplicates); returned
    on ``x``'s device, laid out ``(z, n_angles, n)``.
    """
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
    z = x.shape[0]
    cols = x.detach().to(device="cpu", dtype=dtype).reshape(z, n * n).T.contiguous()
    out = torch.empty((len(angles_rad) * n, z), dtype=dtype)
    per = max(1, _ENTRIES_PER_CHUNK // (4 * n * n))
    for s in range(0, len(angles_rad), per):
        m = direct_rows(n, angles_rad[s:s + per], np.float64 if dtype == torch.float64
                        else np.float32)
        with warnings.catch_warnings():             # "sparse CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            block = torch.sparse_csr_tensor(torch.from_numpy(m.indptr),
                                            torch.from_numpy(m.indices),
                                            torch.from_numpy(m.data), size=m.shape)
        out[s * n:s * n + m.shape[0]] = torch.sparse.mm(block, cols)
    return out.T.reshape(z, len(angles_rad), n).contiguous().to(x.device)

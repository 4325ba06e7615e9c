"""Parallel-beam Radon transform with an exact adjoint, batched over axial slices (SCIENCE.md §4.1).

The projector is "rotate by -θ with bilinear interpolation, then sum the rotated image's rows",
the same geometry as ``skimage.transform.radon(image, theta, circle=True)`` (same angle
direction, detector axis and centre ``n // 2``), so both agree sample for sample.  It is stored
once per angle set as a sparse CSR matrix ``A`` of shape ``(n_angles * n, n * n)``; its transpose
is stored as well, so :meth:`Radon.adjoint` is the exact transpose of :meth:`Radon.forward`
(adjoint test to float precision).  Sinograms are laid out ``(z, n_angles, n_det)``.

Speed: the matrices (``A``, ``A^T``, FBP's back-projection, each on first use) are assembled
once per geometry and kept on disk (:mod:`engine.imaging.operator_cache`); the back-projection
is written straight into CSR arrays (no sort), and :meth:`Radon.project` computes a new
geometry's simulated sinogram without ``A`` (:mod:`engine.imaging.ct_direct`), so the first
FBP waits for neither sort (issue #16).  Each is split into :data:`COLUMN_BANDS` column bands
(pixel rows for ``A``, angle groups for ``A^T`` and FBP's back-projection), and is applied to
:data:`CHUNK_SLICES` slices at a time, band after band: the part of the input a band reads
(``n² / 16`` pixels × 32 slices × 4 bytes = 512 KiB at n = 256) stays in the L2 cache.  On a
2-core EPYC this is ≈5× faster than one product over a 64-slice volume.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch

from engine.core.linop import LinearOperator
from engine.imaging.ct_direct import backproject_direct, project_direct
from engine.imaging.operator_cache import cached_matrix, is_cached

__all__ = ["CHUNK_SLICES", "COLUMN_BANDS", "Radon", "add_noise"]

_CHUNK_ANGLES = 16
CHUNK_SLICES = 32   # CPU: slices per sparse product
COLUMN_BANDS = 16   # most column bands per matrix (cache blocking of the dense operand)
_BAND_COLUMNS = 4096  # columns per band at least: small operators stay in one piece


def _n_bands(cols: int) -> int:
    return min(COLUMN_BANDS, max(1, -(-cols // _BAND_COLUMNS)))


def _rotation_entries(n: int, theta: float):
    """Bilinear weights of one projection angle (skimage ``radon`` geometry, SCIENCE.md §4.1).

    Returns ``(det, pix, w)``: detector bin, flat pixel index ``row * n + col`` and weight of
    every non-zero entry of the rows of ``A`` belonging to this angle.
    """
    c = n // 2
    cos_a, sin_a = np.cos(theta), np.sin(theta)
    a = np.arange(n, dtype=np.float64)  # [u, v]: u = detector (output column), v = ray sample
    col = np.add.outer(cos_a * a, sin_a * a) - c * (cos_a + sin_a - 1)
    row = np.add.outer(-sin_a * a, cos_a * a) - c * (cos_a - sin_a - 1)
    r0, c0 = np.floor(row), np.floor(col)
    fr, fc = (row - r0).ravel(), (col - c0).ravel()
    ri, ci = r0.astype(np.int64).ravel(), c0.astype(np.int64).ravel()
    # corner (dr, dc) is kept when inside the image and its weight is > 0 (fr, fc ∈ [0, 1))
    r_in = ((ri >= 0) & (ri < n), (ri >= -1) & (ri < n - 1) & (fr > 0))
    c_in = ((ci >= 0) & (ci < n), (ci >= -1) & (ci < n - 1) & (fc > 0))
    pix0 = ri * n + ci
    out_det, out_pix, out_w = [], [], []
    for dr in (0, 1):
        for dc in (0, 1):
            idx = np.flatnonzero(r_in[dr] & c_in[dc])
            f_r, f_c = fr[idx], fc[idx]
            out_det.append(idx // n)
            out_pix.append(pix0[idx] + (dr * n + dc))
            out_w.append((f_r if dr else 1 - f_r) * (f_c if dc else 1 - f_c))
    return np.concatenate(out_det), np.concatenate(out_pix), np.concatenate(out_w)


def _assemble(n: int, angles_rad: np.ndarray, entries: Callable, n_det: int | None = None,
              bands: int = 1) -> sp.csr_matrix:
    """Sparse ``(n_angles * n_det, n * n)`` matrix from per-angle entries, built in angle chunks.

    With ``bands > 1`` the result comes stacked: a ``(bands · R, n²)`` matrix whose row block
    ``b`` holds the entries in pixel band ``b`` (columns ``[b w, (b + 1) w)``, ``w = ⌈n² /
    bands⌉``, global indices kept), so ``A = Σ_b block_b``; each angle chunk is split by band
    as it is converted, so no second pass is needed.
    """
    n_det = n if n_det is None else n_det
    width = -(-n * n // bands)
    chunks = []
    for start in range(0, len(angles_rad), _CHUNK_ANGLES):
        rows, cols, vals = [], [], []
        for k in range(start, min(start + _CHUNK_ANGLES, len(angles_rad))):
            det, pix, w = entries(n, float(angles_rad[k]))
            rows.append(det + (k - start) * n_det)
            cols.append(pix)
            vals.append(w)
        m = (min(start + _CHUNK_ANGLES, len(angles_rad)) - start) * n_det
        c = np.concatenate(cols)
        r = np.concatenate(rows) + (c // width) * m if bands > 1 else np.concatenate(rows)
        chunks.append((m, sp.coo_matrix((np.concatenate(vals), (r, c)),
                                        shape=(bands * m, n * n)).tocsr()))  # sums duplicates
    return sp.vstack([blk[b * m:(b + 1) * m] for b in range(bands) for m, blk in chunks],
                     format="csr")


def _assemble_backprojection(n: int, angles_rad: np.ndarray, per: int,
                             dtype=np.float64) -> sp.csr_matrix:
    """FBP's ``(n², n_angles · (n + 1))`` back-projection stacked in groups of ``per`` angles.

    Pixel ``(r, c)`` reads the projection at ``t = (c - n//2) cos θ - (r - n//2) sin θ``
    (detector index ``t + n//2``, linear interpolation as ``skimage.transform.iradon``, §4.2);
    pixels outside the inscribed circle are left out, and bin ``n`` is the first sample of the
    zero-padding that scikit-image filters along with the data.  The weights are written
    straight into CSR arrays: a pixel inside the circle reads two detector bins per angle, so
    every row of a group has ``2 · per`` entries, already in column order (angle, then bin):
    no COO sort, no transpose, no temporary copies (issue #16: this build was most of the
    time from "Run" to the first FBP of a new geometry).  Bins past the detector (``t``
    outside ``[0, n]`` by rounding) keep weight 0, as if left out.
    """
    c, na = n // 2, len(angles_rad)
    r, q = np.meshgrid(np.arange(n) - c, np.arange(n) - c, indexing="ij")
    inside = ((r ** 2 + q ** 2) <= c ** 2).ravel()
    r, q = r.ravel()[inside], q.ravel()[inside]
    data = np.empty(2 * len(r) * na, dtype=dtype)
    indices = np.empty(len(data), dtype=np.int32 if len(data) < 2 ** 31 - 1 else np.int64)
    indptr, start = [np.zeros(1, dtype=indices.dtype)], 0
    for s in range(0, na, per):
        th = angles_rad[s:s + per]
        t = q[:, None] * np.cos(th) - r[:, None] * np.sin(th) + c          # (pixels, angles)
        ok = (t >= 0) & (t <= n)
        i0 = np.clip(np.floor(t), 0, n - 1)
        w1 = t - i0
        end = start + 2 * t.size
        cols, vals = indices[start:end].reshape(*t.shape, 2), data[start:end].reshape(*t.shape, 2)
        cols[..., 0] = i0
        cols[..., 0] += ((s + np.arange(len(th))) * (n + 1)).astype(indices.dtype)
        cols[..., 1] = cols[..., 0] + 1
        np.multiply(1 - w1, ok, out=vals[..., 0], casting="unsafe")
        np.multiply(w1, ok, out=vals[..., 1], casting="unsafe")
        indptr.append(start + np.cumsum(inside * (2 * len(th)), dtype=indices.dtype))
        start = end
    return sp.csr_matrix((data, indices, np.concatenate(indptr)), copy=False,
                         shape=(len(indptr[1:]) * n * n, na * (n + 1)))


def _to_torch(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, shape: tuple,
              dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """CSR arrays → torch sparse CSR (int32 indices when they fit, to halve the memory).

    Takes the arrays, not a scipy matrix: a scipy matrix over slices of a larger (loaded or
    built) matrix copies them (its format check "prunes" views), which was ≈40 % of the time
    to read an operator back from the disk cache (issue #16).
    """
    idx = np.int32 if max(len(data), shape[1]) < 2 ** 31 - 1 else np.int64
    with warnings.catch_warnings():  # "sparse CSR is beta" / invariant-check notices
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(torch.from_numpy(indptr.astype(idx, copy=False)),
                                       torch.from_numpy(indices.astype(idx, copy=False)),
                                       torch.from_numpy(data).to(dtype),
                                       size=shape).to(device)


def _to_scipy(mat: torch.Tensor) -> sp.csr_matrix:
    """torch sparse CSR → scipy CSR (no copy on the CPU)."""
    mat = mat.cpu()
    return sp.csr_matrix((mat.values().numpy(), mat.col_indices().numpy(),
                          mat.crow_indices().numpy()), shape=tuple(mat.shape), copy=False)


def _transpose_bands(blocks: list, group: int) -> sp.csr_matrix:
    """``A^T`` stacked in bands of ``group`` columns, from ``A`` given as its pixel bands.

    Band ``b`` of ``A`` only has columns in pixel band ``b`` (width ``⌈C / n_bands⌉``), so
    the rows ``[r0, r1)`` of ``A^T``'s group are the transposed ``(r0:r1, band b)`` pieces,
    stacked over ``b``: small transposes, no pass over the whole matrix.
    """
    rows, cols = blocks[0].shape
    width = -(-cols // len(blocks))
    parts = []
    for r0 in range(0, rows, group):
        r1 = min(r0 + group, rows)
        pieces = []
        for b, blk in enumerate(blocks):
            c0, c1 = b * width, min((b + 1) * width, cols)
            if c1 > c0:
                sub = blk[r0:r1]
                pieces.append(sp.csr_matrix((sub.data, sub.indices - c0, sub.indptr),
                                            shape=(r1 - r0, c1 - c0)).T.tocsr())
        t = sp.vstack(pieces, format="csr")
        parts.append(sp.csr_matrix((t.data, t.indices + r0, t.indptr), shape=(cols, rows)))
    return sp.vstack(parts, format="csr")


def _unstack(stacked: sp.csr_matrix, rows: int) -> sp.csr_matrix:
    """The plain matrix ``Σ_b block_b`` of a stacked one (see :func:`_assemble`)."""
    r = np.repeat(np.arange(stacked.shape[0]) % rows, np.diff(stacked.indptr))
    return sp.csr_matrix((stacked.data, (r, stacked.indices)), shape=(rows, stacked.shape[1]))


def _np_dtype(dtype: torch.dtype):
    return np.float64 if dtype == torch.float64 else np.float32


class Radon(LinearOperator):
    """Parallel-beam Radon operator on ``n × n`` axial slices (SCIENCE.md §4.1).

    Parameters
    ----------
    n : int
        Slice size (pixels); the detector has ``n`` bins (circular field of view).
    angles_deg : array-like
        Projection angles in degrees (skimage convention), e.g. ``linspace(0, 180, 61)[:-1]``.
    device : str or torch.device
        Where the sparse matrices live and the products run.
    dtype : torch.dtype
        Default floating type of the matrices (float32 or float64).

    Notes
    -----
    A :class:`engine.core.linop.LinearOperator` with ``in_shape = (n, n)``, ``out_shape =
    (n_angles, n)`` and leading slice axes: ``forward`` maps ``(z, n, n)`` (or ``(n, n)``) to
    ``(z, n_angles, n)``; ``adjoint`` is its exact transpose; ``norm`` is the power-iteration
    estimate of the base class (cached).  ``backproject`` is FBP's interpolating back-projection (only approximately
    the adjoint, §4.1) used by :func:`engine.imaging.fbp`.
    """

    def __init__(self, n: int, angles_deg, device="cpu", dtype: torch.dtype = torch.float32):
        self.n = int(n)
        self.angles_deg = torch.as_tensor(angles_deg, dtype=torch.float64).flatten().cpu()
        if self.n < 2 or self.angles_deg.numel() < 1:
            raise ValueError("Radon needs n >= 2 and at least one angle")
        self.device = torch.device(device)
        self.dtype = dtype
        self._rad = np.deg2rad(self.angles_deg.numpy())
        self._mats: dict = {}  # (kind, dtype) → torch CSR, each built (or loaded) on first use
        self._b_used = False   # FBP's first back-projection ran without its matrix (#16)
        self.in_shape, self.out_shape = (self.n, self.n), self.sino_shape
        self.nonnegative = True  # bilinear weights ≥ 0: SIRT's row/column sums apply (§4.3)

    @property
    def n_angles(self) -> int:
        """Number of projection angles."""
        return int(self.angles_deg.numel())

    @property
    def sino_shape(self) -> tuple[int, int]:
        """Shape ``(n_angles, n_det)`` of one slice's sinogram."""
        return (self.n_angles, self.n)

    def _csr(self, kind: str, dtype: torch.dtype) -> list[torch.Tensor]:
        """Column bands of matrix ``kind`` ("A", "At" or "B") with values of ``dtype``."""
        if (kind, dtype) in self._mats:
            return self._mats[(kind, dtype)]
        n, na, rad, npt = self.n, self.n_angles, self._rad, _np_dtype(dtype)
        if kind == "A":
            rows, k = na * n, _n_bands(n * n)
            m = cached_matrix(self._a_kind(), n, rad, (k * rows, n * n), npt,
                              lambda: _assemble(n, rad, _rotation_entries, bands=k))
        elif kind == "At":
            per = -(-na // _n_bands(na * n))
            rows, k = n * n, -(-na // per)
            m = cached_matrix(f"radonT{k}", n, rad, (k * rows, na * n), npt,  # issue #16
                              lambda: _transpose_bands([_to_scipy(b)
                                                        for b in self._csr("A", dtype)], per * n))
        else:
            per, k = self._b_groups()
            rows = n * n                              # bands of whole angle groups
            m = cached_matrix(f"fbp{k}", n, rad, (k * rows, na * (n + 1)), npt,
                              lambda: _assemble_backprojection(n, rad, per, npt))
        blocks = []
        for b in range(k):
            ip = m.indptr[b * rows:(b + 1) * rows + 1]
            lo, hi = int(ip[0]), int(ip[-1])
            blocks.append(_to_torch(ip - lo, m.indices[lo:hi], m.data[lo:hi],
                                    (rows, m.shape[1]), dtype, self.device))
        self._mats[(kind, dtype)] = blocks
        return blocks

    def _b_groups(self) -> tuple[int, int]:
        """Angles per band of FBP's back-projection matrix, and its number of bands."""
        per = -(-self.n_angles // _n_bands(self.n_angles * (self.n + 1)))
        return per, -(-self.n_angles // per)

    def _a_kind(self) -> str:
        """Disk-cache name of the forward matrix (its number of pixel bands included)."""
        return f"radon{_n_bands(self.n * self.n)}"

    def has_matrix(self, dtype: torch.dtype | None = None) -> bool:
        """Whether the forward matrix ``A`` is in memory or in the disk cache (cheap to get)."""
        dtype = dtype or self.dtype
        return (("A", dtype) in self._mats
                or is_cached(self._a_kind(), self.n, self._rad, _np_dtype(dtype)))

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """``A x`` for a one-off projection, e.g. simulated data (§4.1; issue #16): :meth:`forward`
        when ``A`` is in memory or on disk (or off the CPU), else ``project_direct``, the same
        sinogram angle by angle without assembling ``A`` (equal up to float rounding)."""
        dt = self._dtype_of(x)
        if self.device.type != "cpu" or self.has_matrix(dt):
            return self.forward(x)
        return project_direct(x.to(dt), self.n, self._rad)

    def assemble(self) -> None:
        """Assemble (or load) ``A`` and FBP's back-projection now, both kept on disk (#16)."""
        for kind in ("A", "B"):
            self._csr(kind, self.dtype)

    def matrix(self, dtype: torch.dtype | None = None) -> sp.csr_matrix:
        """The forward matrix ``A`` ``(n_angles · n, n²)`` as a scipy CSR matrix (a copy)."""
        blocks = self._csr("A", dtype or self.dtype)
        return _unstack(sp.vstack([_to_scipy(b) for b in blocks], format="csr"),
                        blocks[0].shape[0])

    def operator_bytes(self) -> int:
        """Memory held by the sparse matrices built so far (bytes)."""
        return sum(t.numel() * t.element_size() for bl in self._mats.values() for m in bl
                   for t in (m.crow_indices(), m.col_indices(), m.values()))

    def _apply(self, blocks: list, x: torch.Tensor, in_shape, out_shape) -> torch.Tensor:
        squeeze = x.dim() == len(in_shape)
        xb = x.unsqueeze(0) if squeeze else x
        if tuple(xb.shape[1:]) != tuple(in_shape):
            raise ValueError(f"expected (..., {in_shape}), got {tuple(x.shape)}")
        flat = xb.to(self.device).reshape(xb.shape[0], -1)
        z = flat.shape[0]
        step = CHUNK_SLICES if self.device.type == "cpu" else max(z, 1)
        out = torch.empty((z, blocks[0].shape[0]), dtype=flat.dtype, device=flat.device)
        for i in range(0, z, step):
            cols = flat[i:i + step].T.contiguous()
            y = torch.sparse.mm(blocks[0], cols)
            for blk in blocks[1:]:
                y = torch.addmm(y, blk, cols)
            out[i:i + step] = y.T
        out = out.reshape(z, *out_shape)
        return out[0] if squeeze else out

    def _dtype_of(self, x: torch.Tensor) -> torch.dtype:
        return x.dtype if x.is_floating_point() else self.dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Sinogram ``(z, n_angles, n)`` of a volume ``(z, n, n)`` (or of one ``(n, n)`` slice)."""
        dt = self._dtype_of(x)
        return self._apply(self._csr("A", dt), x.to(dt), (self.n, self.n), self.sino_shape)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """Exact transpose ``A^T y``: ``(z, n_angles, n)`` → ``(z, n, n)``."""
        dt = self._dtype_of(y)
        return self._apply(self._csr("At", dt), y.to(dt), self.sino_shape, (self.n, self.n))

    def backproject(self, q: torch.Tensor) -> torch.Tensor:
        """Interpolating back-projection ``Σ_θ q_θ(x cos θ - y sin θ)`` of FBP (§4.2), circle-masked.

        ``q`` has ``n`` detector bins (zero beyond) or ``n + 1`` (the last one = the first
        sample past the detector, as scikit-image's padded filtered sinogram provides).
        Without the matrix in memory or on disk, the first call on the CPU goes group by group
        keeping nothing (``backproject_direct``, #16); later calls assemble (and cache) it."""
        dt, (per, k) = self._dtype_of(q), self._b_groups()
        if q.shape[-1] == self.n:
            q = torch.nn.functional.pad(q, (0, 1))
        if (self.device.type == "cpu" and ("B", dt) not in self._mats and not self._b_used
                and not is_cached(f"fbp{k}", self.n, self._rad, _np_dtype(dt))):
            self._b_used = True
            return backproject_direct(q.to(dt), self.n, self._rad, per,
                                      _assemble_backprojection)
        return self._apply(self._csr("B", dt), q.to(dt), (self.n_angles, self.n + 1),
                           (self.n, self.n))

    def approx_inverse(self, y: torch.Tensor) -> torch.Tensor:
        """Ramp-filtered back-projection :func:`engine.imaging.fbp` (§4.2)."""
        from engine.imaging.fbp import fbp  # fbp imports this module
        return fbp(y, self, filter="ramp")


def add_noise(sino: torch.Tensor, kind: str = "gaussian", level: float = 0.01,
              seed: int = 0, mu_max: float = 2.0) -> torch.Tensor:
    """Noisy copy of a sinogram (SCIENCE.md §4.1), seeded and deterministic.

    Parameters
    ----------
    sino : torch.Tensor
        Noise-free line integrals.
    kind : {"gaussian", "poisson"}
        ``"gaussian"``: add N(0, (level · max|sino|)²).  ``"poisson"``: Beer–Lambert photon
        counting with ``level`` incident photons per ray; the sinogram is scaled so its largest
        line integral is ``mu_max`` attenuation lengths, counts ~ Poisson(level · e^{-p}), and
        ``-log(max(counts, 1) / level)`` is scaled back.
    level : float
        Relative standard deviation (gaussian) or incident photon count I0 (poisson).
    seed : int
        Seed of the private generator.
    """
    gen = torch.Generator(device=sino.device).manual_seed(int(seed))
    x = sino.to(torch.float64)
    peak = float(x.abs().max()) or 1.0
    if kind == "gaussian":
        noise = torch.randn(x.shape, generator=gen, dtype=x.dtype, device=x.device)
        return (x + level * peak * noise).to(sino.dtype)
    if kind == "poisson":
        if level <= 0:
            raise ValueError("poisson level (I0) must be > 0")
        scale = peak / mu_max
        counts = torch.poisson(level * torch.exp(-x / scale), generator=gen)
        return (-torch.log(counts.clamp(min=1.0) / level) * scale).to(sino.dtype)
    raise ValueError(f"unknown noise kind {kind!r} (gaussian, poisson)")

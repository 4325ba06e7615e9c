"""Cartesian undersampling masks for accelerated MRI (SCIENCE.md §4.5).

1-D masks (``"equispaced"``, ``"random"``, ``"gaussian1d"``) sample whole phase-encode lines
along the **last** axis (columns ``mask[:, kx]``; the readout along y is fully sampled) and
always include a fully sampled centre (ACS). 2-D masks (``"variable_density"``, ``"poisson"``)
sample points of a ky–kz plane (use ``shape=(nz, ny)`` with a 3-D :class:`~engine.imaging.mri.MRI`,
broadcast along x) with a fully sampled calibration square. Line/point counts are drawn without
replacement so the acceleration ``R = 1 / sampled fraction`` is hit to within rounding
(Poisson disc: by bisection, within ~3%). All masks are deterministic for a given seed.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

KINDS = ("equispaced", "random", "gaussian1d", "variable_density", "poisson")


def _acs_lines(n: int, acceleration: float, acs: Optional[float]) -> np.ndarray:
    """Centre line indices: ACS fraction ``acs`` (default 0.32/R: 8% at R=4, 4% at R=8)."""
    frac = 0.32 / acceleration if acs is None else acs
    n_acs = max(1, min(n, int(round(n * frac))))
    start = n // 2 - n_acs // 2
    return np.arange(start, start + n_acs)


def _lines_to_mask(shape: Sequence[int], lines: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[..., np.unique(lines)] = True
    return mask


def _mask_1d(kind: str, shape, acceleration, rng, acs) -> np.ndarray:
    """Equispaced / uniform-random / Gaussian 1-D line masks (SCIENCE.md §4.5)."""
    n = shape[-1]
    centre = _acs_lines(n, acceleration, acs)
    n_target = max(len(centre), int(round(n / acceleration)))
    outer = np.setdiff1d(np.arange(n), centre)
    n_more = min(n_target - len(centre), len(outer))
    if n_more <= 0:
        return _lines_to_mask(shape, centre)
    if kind == "equispaced":
        step = len(outer) / n_more
        offset = rng.uniform(0, step)
        picked = outer[np.minimum((offset + step * np.arange(n_more)).astype(int), len(outer) - 1)]
    else:
        if kind == "gaussian1d":      # line index ~ N(N/2, (15N/128)^2)  (DDS gaussian1d)
            sd = 15.0 * n / 128.0
            w = np.exp(-0.5 * ((outer - n / 2) / sd) ** 2) + 1e-12
        else:
            w = np.ones(len(outer))
        picked = rng.choice(outer, size=n_more, replace=False, p=w / w.sum())
    return _lines_to_mask(shape, np.concatenate([centre, picked]))


def _calib_square(shape, n_target: int, calib: Optional[int]) -> np.ndarray:
    """Fully sampled centre square (default 24², capped to half the sample budget)."""
    side = calib if calib is not None else min(24, int(np.sqrt(n_target / 2)))
    side = max(0, min(side, *shape))
    mask = np.zeros(shape, dtype=bool)
    y0, x0 = shape[0] // 2 - side // 2, shape[1] // 2 - side // 2
    mask[y0:y0 + side, x0:x0 + side] = True
    return mask


def _radius(shape) -> np.ndarray:
    """Normalised k-space radius (1 at the edge midpoints, √2 at the corners)."""
    ky = (np.arange(shape[0]) - shape[0] // 2) / max(shape[0] / 2, 1)
    kx = (np.arange(shape[1]) - shape[1] // 2) / max(shape[1] / 2, 1)
    return np.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)


def _mask_vd(shape, acceleration, rng, calib, power: float = 3.0) -> np.ndarray:
    """2-D variable density ``p(k) ∝ (1 - |k|/k_max)^p`` (SCIENCE.md §4.5), exact count."""
    n_target = int(round(np.prod(shape) / acceleration))
    mask = _calib_square(shape, n_target, calib)
    r = _radius(shape)
    w = (1.0 - r / (r.max() * 1.0001)) ** power
    free = np.flatnonzero(~mask.ravel())
    n_more = min(max(n_target - int(mask.sum()), 0), len(free))
    p = w.ravel()[free]
    picked = rng.choice(free, size=n_more, replace=False, p=p / p.sum())
    mask.ravel()[picked] = True
    return mask


def _poisson_pass(shape, scale, alpha, order, calib_mask) -> np.ndarray:
    """Greedy dart throwing in ``order`` with radius ``scale·(1 + α|k|)`` (grid units)."""
    acc = calib_mask.copy()
    rad = scale * (1.0 + alpha * _radius(shape))
    ny, nx = shape
    for idx in order:
        y, x = divmod(int(idx), nx)
        rr = rad[y, x]
        ri = int(np.ceil(rr))
        y0, y1, x0, x1 = max(0, y - ri + 1), min(ny, y + ri), max(0, x - ri + 1), min(nx, x + ri)
        sub = acc[y0:y1, x0:x1]
        if sub.any():
            yy, xx = np.nonzero(sub)
            if np.any((yy + y0 - y) ** 2 + (xx + x0 - x) ** 2 < rr * rr):
                continue
        acc[y, x] = True
    return acc


def _mask_poisson(shape, acceleration, rng, calib, alpha: float = 1.0,
                  tol: float = 0.03, max_iter: int = 20) -> np.ndarray:
    """Variable-density Poisson disc (SCIENCE.md §4.5): radius scale bisected to hit R."""
    n_target = int(round(np.prod(shape) / acceleration))
    calib_mask = _calib_square(shape, n_target, calib)
    order = rng.permutation(np.flatnonzero(~calib_mask.ravel()))
    r0 = np.sqrt(np.prod(shape) / max(n_target, 1)) / (1.0 + 0.5 * alpha)  # spacing guess
    lo, hi = 0.3 * r0, 2.0 * r0
    best = None
    for _ in range(max_iter):
        scale = 0.5 * (lo + hi)
        mask = _poisson_pass(shape, scale, alpha, order, calib_mask)
        count = int(mask.sum())
        if best is None or abs(count - n_target) < abs(int(best.sum()) - n_target):
            best = mask
        if abs(count - n_target) <= tol * n_target:
            break
        lo, hi = (scale, hi) if count > n_target else (lo, scale)
    return best


def make_mask(kind: str, shape: Sequence[int], acceleration: float = 4.0, seed: int = 0,
              acs: Optional[float] = None, calib: Optional[int] = None,
              device: str = "cpu") -> torch.Tensor:
    """Boolean k-space sampling mask (SCIENCE.md §4.5).

    Parameters
    ----------
    kind : {"equispaced", "random", "gaussian1d", "variable_density", "poisson"}
        Mask family (see module docstring).
    shape : sequence of int
        2-D mask shape: ``(ny, nx)`` for a slice, or ``(nz, ny)`` for a ky–kz plane.
    acceleration : float
        Target R ≥ 1 (sampled fraction 1/R). ``R = 1`` gives a fully sampled mask.
    seed : int
        Seed of ``numpy.random.default_rng`` (deterministic).
    acs : float, optional
        1-D masks: fraction of centre lines fully sampled (default 0.32/R).
    calib : int, optional
        2-D masks: side of the fully sampled centre square (default ≤ 24).
    device : str
        Torch device of the result.

    Returns
    -------
    torch.Tensor
        Bool tensor of ``shape``.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"mask shape must be 2-D and non-empty, got {shape}")
    if not acceleration >= 1.0:
        raise ValueError(f"acceleration must be >= 1, got {acceleration}")
    rng = np.random.default_rng(seed)
    if acceleration == 1.0:
        mask = np.ones(shape, dtype=bool)
    elif kind in ("equispaced", "random", "gaussian1d"):
        mask = _mask_1d(kind, shape, acceleration, rng, acs)
    elif kind == "variable_density":
        mask = _mask_vd(shape, acceleration, rng, calib)
    elif kind == "poisson":
        mask = _mask_poisson(shape, acceleration, rng, calib)
    else:
        raise ValueError(f"unknown mask kind {kind!r}; choose one of {KINDS}")
    return torch.from_numpy(mask).to(device)

"""Exact cell count of a line arrangement in the plane (SCIENCE.md §2.7).

The lines are ``W[j]·x + b[j] = 0``. Adding the distinct lines one at a time, line ``i`` is cut
by the earlier lines into ``1 + (#distinct crossing points on it)`` pieces and each piece
splits one cell in two, so

``#cells = 1 + Σ_i (1 + #distinct points where earlier lines cross line i)``,

which equals ``1 + m' + Σ_p (k_p − 1)`` (Zaslavsky; ``k_p`` lines through the point ``p``) and
holds for any arrangement: parallel lines cross nowhere, concurrent lines meet in one point,
duplicate lines (also with opposite orientation) are counted once, ``W[j] = 0`` is no line.
Inside an open box only lines meeting its interior and crossing points strictly inside count
(``1 + m_B + Σ_{p ∈ B} (k_p − 1)``, Buck). Cost ``O(m² log m)``.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

__all__ = ["count_regions", "distinct_lines", "max_regions"]

LINE_TOL = 1e-9    # relative tolerance for "parallel", "same line" and "same point"
_ROWS = 512        # lines per block of the pairwise computations


def _normalise(W: np.ndarray, b: np.ndarray):
    """Unit normals ``n_j``, offsets ``c_j`` (``n_j·x + c_j = 0``) of the real lines."""
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if W.ndim != 2 or W.shape[1] != 2 or len(W) != len(b):
        raise ValueError(f"count_regions needs W (m, 2) and b (m,), got {W.shape}, {b.shape}")
    if not (np.isfinite(W).all() and np.isfinite(b).all()):
        raise ValueError("line coefficients contain NaN or infinite values")
    norms = np.linalg.norm(W, axis=1)
    scale = max(norms.max(initial=0.0), np.abs(b).max(initial=0.0), 1e-300)
    real = norms > LINE_TOL * scale
    return W[real] / norms[real, None], b[real] / norms[real]


def distinct_lines(W: np.ndarray, b: np.ndarray):
    """The distinct lines of ``W x + b = 0`` as unit normals and offsets (first occurrence).

    Returns
    -------
    N : array (m', 2), c : array (m',)
        ``N[i]·x + c[i] = 0``; a line given twice (or as ``−w, −b``) appears once.
    """
    N, c = _normalise(W, b)
    if len(N) == 0:
        return N, c
    T = np.stack([-N[:, 1], N[:, 0]], axis=1)                 # directions
    P0 = -c[:, None] * N                                       # foot points
    tol = LINE_TOL * max(1.0, np.abs(c).max())
    earlier = np.zeros(len(N), dtype=bool)
    for s in range(0, len(N), _ROWS):
        rows = slice(s, s + _ROWS)
        cross = np.abs(T[rows] @ N.T)                          # |t_i · n_j|: 0 ⇔ parallel
        dist = np.abs(P0[rows] @ N.T + c[None, :])             # distance of p0_i to line j
        same = (cross <= LINE_TOL) & (dist <= tol)
        same &= np.arange(len(N))[None, :] < np.arange(s, s + len(same))[:, None]
        earlier[rows] = same.any(axis=1)
    return N[~earlier], c[~earlier]


def _in_box_lines(N, c, box):
    """Mask of lines that meet the open box ``(xmin, xmax, ymin, ymax)``."""
    x0, x1, y0, y1 = box
    corners = np.array([[x0, y0], [x0, y1], [x1, y0], [x1, y1]], dtype=np.float64)
    vals = N @ corners.T + c[:, None]
    tol = LINE_TOL * max(1.0, np.abs(corners).max())
    return (vals.min(axis=1) < -tol) & (vals.max(axis=1) > tol)


def _crossing_params(N, c, rows: slice):
    """Position ``s_ij`` along line ``i`` (in ``rows``) of its crossing with each line ``j < i``.

    Line ``i`` is ``p0_i + s t_i``; entries with ``j ≥ i`` or parallel lines are NaN.
    """
    T = np.stack([-N[rows, 1], N[rows, 0]], axis=1)
    P0 = -c[rows, None] * N[rows]
    denom = T @ N.T                                            # (i, j): t_i · n_j
    numer = -(P0 @ N.T + c[None, :])                           # -(n_j · p0_i + c_j)
    i = np.arange(rows.start, rows.start + len(T))
    valid = (np.arange(len(N))[None, :] < i[:, None]) & (np.abs(denom) > LINE_TOL)
    with np.errstate(divide="ignore", invalid="ignore"):
        S = np.where(valid, numer / np.where(valid, denom, 1.0), np.nan)
    return S, P0, T


def _inside_box(S, P0, T, box):
    """Mask of crossing points (given by ``S``) strictly inside the open box."""
    x0, x1, y0, y1 = box
    X = P0[:, 0:1] + S * T[:, 0:1]
    Y = P0[:, 1:2] + S * T[:, 1:2]
    tol = LINE_TOL * max(1.0, abs(x0), abs(x1), abs(y0), abs(y1))
    return (X > x0 + tol) & (X < x1 - tol) & (Y > y0 + tol) & (Y < y1 - tol)


def _distinct_per_row(S: np.ndarray) -> np.ndarray:
    """Number of distinct finite values in each row of ``S`` (merging within tolerance)."""
    S = np.sort(np.where(np.isfinite(S), S, np.inf), axis=1)
    finite = np.isfinite(S)
    tol = LINE_TOL * np.maximum(1.0, np.abs(np.where(finite, S, 0.0)))
    new = np.ones_like(finite)
    with np.errstate(invalid="ignore"):
        new[:, 1:] = np.diff(S, axis=1) > tol[:, 1:]
    return (new & finite).sum(axis=1)


def count_regions(W, b, box: Optional[Sequence[float]] = None) -> int:
    """Exact number of cells of the arrangement ``{x ∈ R² : W[j]·x + b[j] = 0}``.

    Parameters
    ----------
    W : array (m, 2)
        Line normals (a neuron's input weights); rows that are zero are no line.
    b : array (m,)
        Offsets (biases).
    box : (xmin, xmax, ymin, ymax), optional
        Count only the cells meeting this open box (a viewport); default the whole plane.

    Returns
    -------
    int
        ``1 + Σ_i (1 + #distinct earlier crossings on line i)`` (module docstring, SCIENCE.md
        §2.7): ``1 + m + C(m, 2)`` in general position, ``2m`` for lines through one point.
    """
    N, c = distinct_lines(W, b)
    if box is not None:
        x0, x1, y0, y1 = (float(v) for v in box)
        if not (x0 < x1 and y0 < y1):
            raise ValueError(f"box must be (xmin, xmax, ymin, ymax) with min < max, got {box}")
        keep = _in_box_lines(N, c, (x0, x1, y0, y1))
        N, c = N[keep], c[keep]
    if len(N) == 0:
        return 1
    points = 0
    for s in range(0, len(N), _ROWS):                          # row blocks: O(m) memory
        S, P0, T = _crossing_params(N, c, slice(s, min(s + _ROWS, len(N))))
        if box is not None:
            S = np.where(_inside_box(S, P0, T, (x0, x1, y0, y1)), S, np.nan)
        points += int(_distinct_per_row(S).sum())
    return 1 + len(N) + points


def max_regions(m: int, bias: bool = True) -> int:
    """Maximum cells of ``m`` lines: ``1 + m + C(m, 2)`` (general position), ``2m`` through 0."""
    if not bias:
        return max(1, 2 * m)
    return 1 + m + m * (m - 1) // 2

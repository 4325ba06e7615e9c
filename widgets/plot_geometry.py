"""Pixel geometry of plot overlays (:mod:`widgets.plot_overlays`): data in view-box pixels,
samples along the plotted curves, a summed-area table that counts them in a box, and the
candidate boxes of a legend and of reference-line labels.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

__all__ = ["LABEL_PAD", "LEGEND_MARGIN", "LEGEND_POSITIONS", "SampleGrid", "edge_offset",
           "label_candidates", "legend_anchors", "legend_rect", "sample_polyline", "shifted_inside",
           "view_to_pixels"]

#: Legend positions: name → (fx, fy) of the legend's anchor in the view box (0 left/top).
LEGEND_POSITIONS = {
    "top-right": (1.0, 0.0), "top-left": (0.0, 0.0), "bottom-left": (0.0, 1.0),
    "bottom-right": (1.0, 1.0), "center-right": (1.0, 0.5), "center-left": (0.0, 0.5),
    "bottom-center": (0.5, 1.0), "top-center": (0.5, 0.0), "center": (0.5, 0.5)}
LEGEND_MARGIN = 10.0   # px between the legend and the view box edge
LABEL_PAD = 2.0        # px between a label and its line / the view box edge


def view_to_pixels(vb: pg.ViewBox, x, y) -> tuple[np.ndarray, np.ndarray]:
    """View (data) coordinates → view-box pixel coordinates (arrays; y grows downwards)."""
    r = vb.viewRect()
    w, h = max(r.width(), 1e-300), max(r.height(), 1e-300)
    fx = (np.asarray(x, dtype=float) - r.left()) / w
    fy = (np.asarray(y, dtype=float) - r.top()) / h
    fx = 1.0 - fx if vb.xInverted() else fx
    fy = fy if vb.yInverted() else 1.0 - fy
    return fx * vb.width(), fy * vb.height()


def sample_polyline(px, py, size: tuple[float, float], step: float = 3.0,
                    max_points: int = 40_000) -> np.ndarray:
    """Points every ``step`` pixels along a NaN-separated polyline, within the view.

    Parameters
    ----------
    px, py : ndarray of shape (N,)
        Vertices in view-box pixels; a non-finite vertex breaks the line.
    size : (width, height)
        View box size in pixels; segments wholly outside it are dropped.
    step : float
        Sampling distance in pixels (raised so that at most ``max_points`` come back).

    Returns
    -------
    ndarray of shape (M, 2)
        The finite vertices inside the view and samples along every segment.
    """
    px, py = np.asarray(px, dtype=float).ravel(), np.asarray(py, dtype=float).ravel()
    ok = np.isfinite(px) & np.isfinite(py)
    w, h = size
    inside = ok & (px >= 0) & (px <= w) & (py >= 0) & (py <= h)
    verts = np.column_stack([px[inside], py[inside]])
    seg = np.flatnonzero(ok[:-1] & ok[1:])
    a = np.column_stack([px[seg], py[seg]])
    b = np.column_stack([px[seg + 1], py[seg + 1]])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = (hi[:, 0] >= 0) & (lo[:, 0] <= w) & (hi[:, 1] >= 0) & (lo[:, 1] <= h)
    a, b = a[keep], b[keep]
    length = np.hypot(*(b - a).T)
    if not len(a):
        return verts
    step = max(step, float(length.sum()) / max_points)
    k = np.clip(np.ceil(length / step), 1, max_points).astype(np.int64)
    idx = np.repeat(np.arange(len(a)), k)
    t = (np.arange(int(k.sum())) - np.repeat(np.cumsum(k) - k, k)) / k[idx]
    samples = a[idx] + t[:, None] * (b - a)[idx]
    return np.concatenate([verts, samples])


class SampleGrid:
    """Counts of pixel samples per ``cell``-pixel cell, with O(1) box queries.

    Parameters
    ----------
    points : ndarray of shape (M, 2)
        Samples in view-box pixels.
    size : (width, height)
        View box size in pixels.
    cell : float
        Cell size in pixels; a box counts every cell it touches (a slight over-count).
    """

    def __init__(self, points: np.ndarray, size: tuple, cell: float = 2.0):
        self.cell = float(cell)
        nx, ny = (max(1, int(np.ceil(v / self.cell)) + 1) for v in size)
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        i = np.clip((pts[:, 0] / self.cell).astype(np.int64), 0, nx - 1)
        j = np.clip((pts[:, 1] / self.cell).astype(np.int64), 0, ny - 1)
        hist = np.bincount(j * nx + i, minlength=nx * ny).reshape(ny, nx)
        self.table = np.zeros((ny + 1, nx + 1), dtype=np.int64)     # summed-area table
        self.table[1:, 1:] = hist.cumsum(0).cumsum(1)

    def count(self, rect: QtCore.QRectF) -> int:
        """Samples in the cells that ``rect`` touches."""
        ny, nx = self.table.shape[0] - 1, self.table.shape[1] - 1
        i0 = int(np.clip(np.floor(rect.left() / self.cell), 0, nx))
        i1 = int(np.clip(np.floor(rect.right() / self.cell) + 1, 0, nx))
        j0 = int(np.clip(np.floor(rect.top() / self.cell), 0, ny))
        j1 = int(np.clip(np.floor(rect.bottom() / self.cell) + 1, 0, ny))
        t = self.table
        return int(t[j1, i1] - t[j0, i1] - t[j1, i0] + t[j0, i0])


def shifted_inside(rect: QtCore.QRectF, w: float, h: float) -> QtCore.QRectF:
    """``rect`` shifted (not resized) so that it lies inside ``[0, w] × [0, h]``."""
    dx = min(0.0, w - LABEL_PAD - rect.right()) or max(0.0, LABEL_PAD - rect.left())
    dy = min(0.0, h - LABEL_PAD - rect.bottom()) or max(0.0, LABEL_PAD - rect.top())
    return rect.translated(dx, dy)


def edge_offset(f: float) -> float:
    """Pixel offset of an anchor fraction: inward at the edges, none in between."""
    return LEGEND_MARGIN if f == 0.0 else -LEGEND_MARGIN if f == 1.0 else 0.0


def legend_rect(fx: float, fy: float, size: tuple, view: tuple) -> QtCore.QRectF:
    """Pixel box of a legend of ``size`` anchored at (fx, fy) of a view box of ``view``."""
    (lw, lh), (w, h) = size, view
    return QtCore.QRectF(fx * (w - lw) + edge_offset(fx), fy * (h - lh) + edge_offset(fy),
                         lw, lh)


def legend_anchors(preferred: tuple) -> list[tuple[float, float]]:
    """Anchor fractions tried for the legend, best first: ``preferred``, the named
    :data:`LEGEND_POSITIONS`, then positions sliding along the left, right and centre
    columns and the top and bottom rows (so that the legend can sit in a gap of the data)."""
    steps = [round(f, 3) for f in np.linspace(0.0, 1.0, 21)]
    slides = [(fx, fy) for fx in (0.0, 1.0, 0.5) for fy in steps]
    slides += [(fx, fy) for fy in (0.0, 1.0) for fx in steps]
    out = []
    for a in [preferred] + list(LEGEND_POSITIONS.values()) + slides:
        if a not in out:
            out.append(a)
    return out


def label_candidates(axis: int, pos: float, size: tuple, view: tuple) -> list[QtCore.QRectF]:
    """Boxes for the label of a line at pixel ``pos``, in order of preference.

    ``axis`` 1: horizontal line at ``y = pos`` — right end above, right end below, left end
    above, left end below. ``axis`` 0: vertical line at ``x = pos`` — top end right of it,
    top end left, bottom end right, bottom end left. Boxes are shifted inside the view.
    """
    (lw, lh), (w, h), g = size, view, LABEL_PAD
    if axis == 1:
        corners = [(w - g - lw, pos - g - lh), (w - g - lw, pos + g), (g, pos - g - lh),
                   (g, pos + g)]
    else:
        corners = [(pos + g, g), (pos - g - lw, g), (pos + g, h - g - lh),
                   (pos - g - lw, h - g - lh)]
    return [shifted_inside(QtCore.QRectF(x, y, lw, lh), w, h) for x, y in corners]

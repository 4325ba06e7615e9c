"""Array helpers of :class:`widgets.curve_plot.CurvePlot`: colours, line styles, bundles."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

__all__ = ["STYLES", "clean_xy", "color", "pack_lines", "subsample_columns", "to_view"]

STYLES = {"solid": QtCore.Qt.PenStyle.SolidLine, "dash": QtCore.Qt.PenStyle.DashLine,
          "dot": QtCore.Qt.PenStyle.DotLine}


def color(value, alpha: Optional[int] = None):
    """A QColor from an (r, g, b[, a]) tuple or a colour string, with optional alpha."""
    c = pg.mkColor(value)
    if alpha is not None:
        c.setAlpha(int(np.clip(alpha, 0, 255)))
    return c


def subsample_columns(n: int, max_lines: int) -> np.ndarray:
    """Evenly spaced, deterministic column indices: at most ``max_lines`` of ``n``."""
    if n <= max_lines:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, max(int(max_lines), 1))).astype(int))


def pack_lines(x: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the columns of ``Y`` into one NaN-separated polyline.

    Parameters
    ----------
    x : ndarray of shape (T,)
        Shared abscissa.
    Y : ndarray of shape (T, N)
        One trajectory per column.

    Returns
    -------
    xs, ys : ndarray of shape (N * (T + 1),)
        Flat arrays with a NaN after every trajectory (draw with ``connect="finite"``).
    """
    T, N = Y.shape
    xs, ys = np.full((N, T + 1), np.nan), np.full((N, T + 1), np.nan)
    xs[:, :T], ys[:, :T] = x[None, :], Y.T
    return xs.ravel(), ys.ravel()


def clean_xy(x, y, log=(False, False)) -> tuple[np.ndarray, np.ndarray]:
    """Float copies of ``x``, ``y`` with non-finite values (and, on the axes that ``log``
    marks logarithmic, non-positive ones) as NaN."""
    x = np.array(x, dtype=float, copy=True)
    y = np.array(y, dtype=float, copy=True)
    for arr, on_log in zip((x, y), log):
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(arr) | ((arr <= 0) if on_log else False)
        arr[bad] = np.nan
    return x, y


def to_view(value: float, log: bool) -> Optional[float]:
    """Data coordinate → view coordinate (log10 on a log axis; None when not drawable)."""
    value = float(value)
    if not np.isfinite(value) or (log and value <= 0):
        return None
    return float(np.log10(value)) if log else value

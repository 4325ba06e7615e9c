"""Array helpers of :class:`widgets.curve_plot.CurvePlot`: colours, line styles, bundles."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

__all__ = ["STYLES", "color", "subsample_columns", "pack_lines"]

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

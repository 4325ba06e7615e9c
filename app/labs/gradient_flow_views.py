"""Helpers of the gradient-flow presenter: curves coloured by θ(0) and the weight plane's key.

Issue #11: a colour bar must match what it colours, and every mark has a key that hides no
data. :mod:`app.labs.gradient_flow` owns the widgets; these functions only style them.
"""
from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from widgets.curve_data import subsample_columns
from widgets.trail_plot import TRAIL_COLOR

THETA_BINS = 8  # θ(0) colour bands of the curve plots (viridis over [0, π], as the colour bar)
THETA_ALPHA = 110


def theta_bands(theta0, bins: int = THETA_BINS) -> list[tuple[int, np.ndarray, tuple]]:
    """``(band, columns, rgb)`` per non-empty band of the initial angle θ(0) ∈ [0, π]: the
    band's viridis colour at its centre, as the weight plane's θ(0) colour bar (SCIENCE.md
    §1.4: the initial angle decides how long a run stays near the origin)."""
    theta0 = np.asarray(theta0, dtype=float)
    band = np.clip((np.nan_to_num(theta0) / np.pi * bins).astype(int), 0, bins - 1)
    rgb = pg.colormap.get("viridis").map((np.arange(bins) + 0.5) / bins, mode="byte")
    return [(k, np.flatnonzero(band == k), tuple(int(c) for c in rgb[k][:3]))
            for k in range(bins) if (band == k).any()]


def set_theta_lines(plot, t, Y, theta0, alpha: int = THETA_ALPHA, transform=None) -> None:
    """Curves ``transform(Y[:, i])`` of a CurvePlot coloured by θ(0) of run ``i`` (one item per
    band, keys ``theta<band>``; at most ~300 curves drawn in all). The drawn columns are picked
    first and only they are converted and transformed: a (frames, 100 000) array is never
    copied on the GUI thread."""
    keys, n = [], max(Y.shape[1], 1)
    for band, cols, rgb in theta_bands(theta0):
        key = f"theta{band}"
        max_lines = max(1, 300 * len(cols) // n)
        lines = np.asarray(Y[:, cols[subsample_columns(len(cols), max_lines)]], dtype=float)
        plot.set_lines(key, t, lines if transform is None else transform(lines), color=rgb,
                       alpha=alpha, max_lines=max_lines)
        keys.append(key)
    for key in plot.keys():
        if (key.startswith("theta") or key == "all") and key not in keys:
            plot.remove(key)


def _css(color) -> str:
    c = pg.mkColor(color)
    return f"rgb({c.red()},{c.green()},{c.blue()})"


def _symbol(item) -> str:
    """A rich-text glyph drawn like a legend sample: a line, a star, a dot or a ring."""
    if isinstance(item, pg.ScatterPlotItem):
        opts = item.opts
        brush = opts.get("brush")
        filled = brush is not None and pg.mkBrush(brush).style() != Qt.BrushStyle.NoBrush
        glyph = "★" if opts.get("symbol") == "star" else ("●" if filled else "◯")
        colour = pg.mkBrush(brush).color() if filled else pg.mkPen(opts.get("pen")).color()
        return f'<span style="color:{_css(colour)}; font-size:large">{glyph}</span>'
    pen = pg.mkPen(item.opts.get("pen")) if hasattr(item, "opts") else pg.mkPen("k")
    return f'<span style="color:{_css(pen.color())}; font-weight:900">━━</span>'


def legend_html(legend, extra=(), line_chars: int = 42) -> str:
    """The entries of a pyqtgraph legend (plus ``extra`` ``(symbol html, text)``) as rich
    text for a key placed outside the plot, packed into lines of at most ~``line_chars``
    characters of text. Explicit lines (no word wrap): a wrapping label's height-for-width
    squeezed the lab's lower row."""
    entries = [(_symbol(sample.item), label.text) for sample, label in legend.items]
    entries += list(extra)
    lines, line, used = [], [], 0
    for sym, text in entries:
        if line and used + len(text) + 3 > line_chars:
            lines.append(line)
            line, used = [], 0
        line.append(f"{sym}&nbsp;{html.escape(text)}")
        used += len(text) + 3
    lines += [line] if line else []
    body = "<br>".join("&nbsp;&nbsp; ".join(cells) for cells in lines)
    return f'<span style="font-size:small">{body}</span>'


def trails_entry() -> tuple[str, str]:
    """Key entry of the plain trails and the θ(0)-coloured heads of the weight plane."""
    viridis = pg.colormap.get("viridis").map(np.array([0.1, 0.5, 0.9]), mode="byte")
    heads = "".join(f'<span style="color:rgb({r},{g},{b})">●</span>' for r, g, b, _ in viridis)
    trail = f'<span style="color:{_css(TRAIL_COLOR)}">──</span>'
    return f"{trail}{heads}", "runs w(t), heads coloured by θ(0)"

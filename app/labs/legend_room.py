"""Room beside a chart's curves, so that its legend has a band that hides no data.

The legend placement itself (:class:`widgets.plot_overlays.OverlayPlacer`) picks the spot
that covers the fewest samples; when the curves fill the whole default range (region counts,
a diverging loss) there is no such spot, and a fixed range with room above (or right of) the
data gives it.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

MARGIN_PX = 28.0     # legend margins in the view box, and a little air


def legend_room(plot, axis: int = 1, most: float = 3.0) -> float:
    """Room beyond the data (fraction of its span, data drawn from 5 % before their minimum)
    that fits the plot's legend at the plot's current size.

    ``axis`` 1: room above for the legend's height, in two columns when it has four or more
    entries and two columns fit the width (the placer then picks that layout); 0: room on the
    right for its width (one column).
    """
    legend, vb = plot.plot_item.legend, plot.plot_item.vb
    size = vb.height() if axis == 1 else vb.width()
    if legend is None or not legend.items or size <= MARGIN_PX:
        return 0.1
    need = legend.height() if axis == 1 else legend.width()
    n = len(legend.items)
    if axis == 1 and legend.columnCount == 1 and n >= 4 and \
            2 * legend.width() + MARGIN_PX < vb.width():
        need *= ((n + 1) // 2) / n
    share = min((need + MARGIN_PX) / size, 0.75)
    return float(min(1.05 * share / (1.0 - share), most))


def leave_legend_room(plot, arrays, room: Optional[float] = None, log: bool = False,
                      axis: int = 1) -> None:
    """Fix a CurvePlot's range on ``axis`` (1: y, 0: x) with ``room`` × the data's span free
    beyond the data's maximum (with the default ``room``, again whenever the plot is resized:
    a plot in a hidden tab has no size yet).

    Parameters
    ----------
    plot : widgets.curve_plot.CurvePlot
    arrays : iterable of array_like or None
        Every coordinate drawn on that axis (None entries are skipped).
    room : float, optional
        Free band beyond the data, as a fraction of the data's span; by default as large as
        the legend plus margins (:func:`legend_room`).
    log : bool
        The axis is logarithmic: spans are measured in decades (non-positive values skipped).
    axis : {1, 0}
        1: room above the data; 0: room on their right.
    """
    values = np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in arrays
                             if a is not None] or [np.zeros(0)])
    values = values[np.isfinite(values) & ((values > 0) if log else True)]
    if not values.size:
        return
    values = np.log10(values) if log else values
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    vb = plot.plot_item.vb
    set_range = vb.setYRange if axis == 1 else vb.setXRange

    def apply(*_):
        extra = legend_room(plot, axis) if room is None else room
        set_range(lo - 0.05 * span, hi + extra * span, padding=0.0)

    previous = getattr(plot, "_legend_room", None)
    if previous is not None:
        vb.sigResized.disconnect(previous)
    plot._legend_room = apply if room is None else None
    if room is None:
        vb.sigResized.connect(apply)
    apply()


def release_legend_room(plot) -> None:
    """Back to auto-ranged axes (e.g. while a new run's curves grow)."""
    previous = getattr(plot, "_legend_room", None)
    if previous is not None:
        plot.plot_item.vb.sigResized.disconnect(previous)
    plot._legend_room = None
    plot.plot_item.enableAutoRange()

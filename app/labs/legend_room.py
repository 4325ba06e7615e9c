"""Head room above a chart's curves, so that its legend has a band that hides no data.

The legend placement itself (:class:`widgets.plot_overlays.OverlayPlacer`) picks the spot
that covers the fewest samples; when the curves fill the whole default range (region counts,
a diverging loss) there is no such spot, and a fixed range with room above the data gives it.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

MARGIN_PX = 28.0     # legend margins in the view box, and a little air


def legend_room(plot, most: float = 3.0) -> float:
    """Room above the data (fraction of its span, data drawn from 5 % below their minimum)
    that fits the plot's legend in one column at the plot's current height."""
    legend, height = plot.plot_item.legend, plot.plot_item.vb.height()
    if legend is None or not legend.items or height <= MARGIN_PX:
        return 0.1
    share = min((legend.height() + MARGIN_PX) / height, 0.75)
    return float(min(1.05 * share / (1.0 - share), most))


def leave_legend_room(plot, arrays, room: Optional[float] = None, log: bool = False) -> None:
    """Fix a CurvePlot's y range with ``room`` × the data's span free above the data (with
    the default ``room``, again whenever the plot is resized: a plot in a hidden tab has no
    size yet).

    Parameters
    ----------
    plot : widgets.curve_plot.CurvePlot
    arrays : iterable of array_like or None
        Everything drawn on the y axis (None entries are skipped).
    room : float, optional
        Free band above the data, as a fraction of the data's span; by default as tall as
        the legend (at the plot's current size) plus margins.
    log : bool
        The axis is logarithmic: spans are measured in decades (non-positive values skipped).
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

    def apply(*_):
        extra = legend_room(plot) if room is None else room
        vb.setYRange(lo - 0.05 * span, hi + extra * span, padding=0.0)

    previous = getattr(plot, "_legend_room", None)
    if previous is not None:
        vb.sigResized.disconnect(previous)
    plot._legend_room = apply if room is None else None
    if room is None:
        vb.sigResized.connect(apply)
    apply()

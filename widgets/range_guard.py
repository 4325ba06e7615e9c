"""Keeps an auto-ranged pyqtgraph plot from zooming into round-off.

A curve that is zero up to round-off (values like 1e-150) makes pyqtgraph's auto-range fit a
span of 1e-150, and the axes read "−2e-154"; a constant 1 + 1e-16 gives labels with sixteen
decimals. :class:`RangeGuard` watches the view range of each auto-ranged axis and replaces
such a range by a readable one (``−0.5 … 0.5`` around zero, ±5 % around a constant); the
next data change hands the axis back to pyqtgraph's auto-range.
"""
from __future__ import annotations

from typing import Optional

import pyqtgraph as pg

TINY = 1e-30          # |values| below this are zero up to round-off
FLAT = 1e-9           # a span below FLAT · |value| is a constant up to round-off

__all__ = ["RangeGuard", "sane_range"]


def sane_range(lo: float, hi: float) -> Optional[tuple[float, float]]:
    """A readable replacement for the view range ``[lo, hi]``, or None when it is fine."""
    scale = max(abs(lo), abs(hi))
    if scale < TINY:
        return None if (lo, hi) == (-0.5, 0.5) else (-0.5, 0.5)
    centre = 0.5 * (lo + hi)
    if hi - lo < FLAT * scale:
        half = 0.05 * abs(centre)
        return centre - half, centre + half
    return None


class RangeGuard:
    """Watches ``plot_item``'s view box; call :meth:`release` before new data are set."""

    def __init__(self, plot_item: pg.PlotItem):
        self.view_box = plot_item.getViewBox()
        self._held = [False, False]          # axes whose range this guard set
        self.view_box.sigRangeChanged.connect(self._check)

    def release(self) -> None:
        """Give the axes this guard fixed back to auto-range (new data may need it)."""
        for axis, held in enumerate(self._held):
            if held:
                self._held[axis] = False
                self.view_box.enableAutoRange(axis=axis, enable=True)

    def _check(self, *_args) -> None:
        auto = self.view_box.autoRangeEnabled()
        for axis, (lo, hi) in enumerate(self.view_box.viewRange()):
            if not auto[axis]:
                continue
            better = sane_range(float(lo), float(hi))
            if better is not None:
                self._held[axis] = True
                if axis == 0:
                    self.view_box.setXRange(*better, padding=0)
                else:
                    self.view_box.setYRange(*better, padding=0)

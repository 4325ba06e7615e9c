"""Small multiples of a sweep over three axes: one panel per value of the third axis.

Each panel is a heat map of a metric's mean over the first two axes (one colour scale and
one colour bar for all panels, so panels compare by colour), or — when the second axis holds
a few text values such as solver names — a line plot over the first axis with one curve per
value of the second and ± one standard deviation over seeds as error bars. Takes NumPy
arrays only; a click on a cell or a point emits ``(x index, y index, panel index)``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal

__all__ = ["SmallMultiples", "COLORS"]

COLORS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
          (140, 86, 75), (227, 119, 194), (127, 127, 127))
MAX_COLUMNS = 4


class SmallMultiples(pg.GraphicsLayoutWidget):
    """A grid of panels, one per value of the third axis."""

    sigPointClicked = Signal(object)      # (x index, y index, panel index)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self.panels: list = []
        self.images: list = []
        self.bar = None

    def reset(self) -> None:
        """Remove every panel."""
        self.clear()
        self.panels, self.images, self.bar = [], [], None

    def _panel(self, i: int, title: str, columns: int, x_label: str, y_label: str):
        item = self.addPlot(row=i // columns, col=i % columns, title=title)
        item.setLabel("bottom", x_label)
        item.setLabel("left", y_label)
        item.showGrid(x=True, y=True, alpha=0.2)
        self.panels.append(item)
        return item

    def show_heatmaps(self, x_label: str, x_ticks: Sequence[str], y_label: str,
                      y_ticks: Sequence[str], titles: Sequence[str], grids: np.ndarray,
                      metric: str) -> None:
        """``grids[i, j, k]``: panel ``i``, ``y`` value ``j``, ``x`` value ``k`` (NaN: not run
        yet); one colour scale over all panels."""
        self.reset()
        data = np.asarray(grids, float)
        finite = data[np.isfinite(data)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        hi = hi if hi > lo else lo + 1.0
        columns = min(MAX_COLUMNS, len(titles))
        for i, title in enumerate(titles):
            item = self._panel(i, title, columns, x_label, y_label)
            image = pg.ImageItem(data[i].T, levels=(lo, hi))
            image.setRect(-0.5, -0.5, data.shape[2], data.shape[1])
            image.setColorMap(pg.colormap.get("viridis"))
            item.addItem(image)
            item.getAxis("bottom").setTicks([list(enumerate(x_ticks))])
            item.getAxis("left").setTicks([list(enumerate(y_ticks))])
            image.mouseClickEvent = lambda ev, i=i: self._cell_click(ev, i, data.shape[1:])
            self.images.append(image)
        self.bar = pg.ColorBarItem(values=(lo, hi), colorMap=pg.colormap.get("viridis"),
                                   label=metric, interactive=False)
        self.addItem(self.bar, row=0, col=columns, rowspan=max(1, -(-len(titles) // columns)))

    def show_lines(self, x_label: str, x: np.ndarray, x_ticks: Sequence[str],
                   series: Sequence[str], titles: Sequence[str], mean: np.ndarray,
                   std: np.ndarray, metric: str, log_x: bool = False) -> None:
        """``mean[i, s, k]`` ± ``std`` against ``x`` in panel ``i``, curve ``s``; panels share
        the vertical range."""
        self.reset()
        columns = min(MAX_COLUMNS, len(titles))
        x = np.asarray(x, float)
        xs = np.log10(x) if log_x else x
        for i, title in enumerate(titles):
            item = self._panel(i, title, columns, x_label, metric)
            item.setLogMode(x=log_x, y=False)
            if i == 0 and len(series) > 1:
                item.addLegend(offset=(5, 5))
            for s, name in enumerate(series):
                color = COLORS[s % len(COLORS)]
                ok = np.isfinite(mean[i, s])
                item.addItem(pg.ErrorBarItem(x=xs[ok], y=mean[i, s][ok],
                                             height=2 * np.nan_to_num(std[i, s][ok]),
                                             pen=pg.mkPen(color, width=1)))
                line = item.plot(x[ok], mean[i, s][ok], pen=pg.mkPen(color, width=2),
                                 symbol="o", symbolBrush=color, symbolSize=7, name=name or None)
                line.sigPointsClicked.connect(
                    lambda _c, pts, _e=None, s=s, i=i: self._line_click(xs, pts, s, i))
            if x_ticks:
                item.getAxis("bottom").setTicks([list(enumerate(x_ticks))])
            if i:
                item.setYLink(self.panels[0])

    def _cell_click(self, event, panel: int, shape: tuple) -> None:
        pos = event.pos()
        k, j = int(np.floor(pos.x())), int(np.floor(pos.y()))
        if 0 <= j < shape[0] and 0 <= k < shape[1]:
            event.accept()
            self.sigPointClicked.emit((k, j, panel))

    def _line_click(self, xs: np.ndarray, points, series: int, panel: int) -> None:
        """``xs``: the positions as drawn (log10 of the values on a log axis)."""
        if len(points):
            k = int(np.argmin(np.abs(xs - points[0].pos().x())))
            self.sigPointClicked.emit((k, series, panel))

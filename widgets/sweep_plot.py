"""The result plot of a sweep: a line with error bars for one axis, a heat map for two,
small multiples (:class:`widgets.sweep_multiples.SmallMultiples`) for three.

Takes NumPy arrays only (the app reduces the sweep table): ``show_line`` draws the mean of a
metric over seeds against one axis with ± one standard deviation, one curve per value of an
optional second axis; ``show_heatmap`` draws a grid of means over two axes. A click on a
point or a cell emits ``sigPointClicked(tuple of axis indices)``.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from widgets.sweep_multiples import SmallMultiples

__all__ = ["SweepPlot"]

COLORS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
          (140, 86, 75), (227, 119, 194), (127, 127, 127))


class SweepPlot(QWidget):
    """Line plot (one axis), heat map (two axes) or small multiples (three axes) of a
    sweep's metric; clickable points."""

    sigPointClicked = Signal(object)      # tuple of indices into the axes' values

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.caption = QLabel("Run a sweep to see its results here.")
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.multiples = SmallMultiples()
        self.multiples.hide()
        self.multiples.sigPointClicked.connect(self.sigPointClicked)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.multiples, 1)
        layout.addWidget(self.caption)
        self.mode = "empty"
        self.image: Optional[pg.ImageItem] = None
        self.bar: Optional[pg.ColorBarItem] = None
        self._shape = (0, 0)

    def clear(self, text: str = "") -> None:
        """Remove everything drawn; show ``text`` below the plot."""
        if self.bar is not None:
            self.plot.getPlotItem().layout.removeItem(self.bar)
            self.bar.setParentItem(None)
            self.bar = None
        self.plot.clear()
        item = self.plot.getPlotItem()
        item.legend = None
        for side in ("left", "bottom"):
            item.getAxis(side).setTicks(None)
        self.image, self.mode = None, "empty"
        self.caption.setText(text)
        self.multiples.reset()
        self.multiples.hide()
        self.plot.show()

    def show_multiples(self, kind: str, caption: str = "", **panels) -> None:
        """One panel per value of a third axis: ``kind`` ``"heatmap"`` (arguments of
        :meth:`SmallMultiples.show_heatmaps`) or ``"line"`` (of ``show_lines``)."""
        self.clear(caption)
        self.plot.hide()
        self.multiples.show()
        if kind == "heatmap":
            self.multiples.show_heatmaps(**panels)
        else:
            self.multiples.show_lines(**panels)
        self.mode = "multiples-" + kind

    def show_line(self, x_label: str, x_ticks: Sequence[str], x: np.ndarray, mean: np.ndarray,
                  std: np.ndarray, metric: str, series: Sequence[str] = ("",),
                  log_x: bool = False, caption: str = "") -> None:
        """Means ``(S, K)`` ± ``std`` over the ``K`` values of one axis, one curve per series.

        ``x`` holds numeric positions (or ``0…K-1`` with ``x_ticks`` for text values); NaN
        means (points not finished yet) are left out.
        """
        self.clear(caption)
        self.mode = "line"
        item = self.plot.getPlotItem()
        item.setLogMode(x=log_x, y=False)
        if len(series) > 1:
            item.addLegend(offset=(10, 10))
        xs = np.log10(x) if log_x else np.asarray(x, float)
        for s, name in enumerate(series):
            color = COLORS[s % len(COLORS)]
            ok = np.isfinite(mean[s])
            err = pg.ErrorBarItem(x=xs[ok], y=mean[s][ok], height=2 * np.nan_to_num(std[s][ok]),
                                  pen=pg.mkPen(color, width=1))
            self.plot.addItem(err)
            line = self.plot.plot(np.asarray(x, float)[ok], mean[s][ok], pen=pg.mkPen(color,
                                  width=2), symbol="o", symbolBrush=color, symbolSize=9,
                                  name=name or None)
            line.sigPointsClicked.connect(lambda _i, pts, _e=None, s=s: self._line_click(s, pts))
        self._label(x_label, metric)
        if x_ticks:
            item.getAxis("bottom").setTicks([list(zip(range(len(x_ticks)), x_ticks))])
        self._x = np.asarray(x, float)

    def _line_click(self, series: int, points) -> None:
        if len(points):
            x = points[0].pos().x()
            k = int(np.argmin(np.abs(self._x - x)))
            self.sigPointClicked.emit((k, series))

    def show_heatmap(self, x_label: str, x_ticks: Sequence[str], y_label: str,
                     y_ticks: Sequence[str], grid: np.ndarray, metric: str,
                     caption: str = "") -> None:
        """Means ``grid[j, k]`` (``y`` value ``j``, ``x`` value ``k``; NaN: not yet run)."""
        self.clear(caption)
        self.mode = "heatmap"
        item = self.plot.getPlotItem()
        item.setLogMode(x=False, y=False)
        data = np.asarray(grid, float)
        finite = data[np.isfinite(data)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        hi = hi if hi > lo else lo + 1.0
        self.image = pg.ImageItem(np.where(np.isfinite(data), data, np.nan).T)
        self.image.setRect(-0.5, -0.5, data.shape[1], data.shape[0])
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(lo, hi), colorMap=pg.colormap.get("viridis"),
                                   label=metric, interactive=False)
        self.bar.setImageItem(self.image, insert_in=item)
        item.getAxis("bottom").setTicks([list(enumerate(x_ticks))])
        item.getAxis("left").setTicks([list(enumerate(y_ticks))])
        self._label(x_label, y_label)
        self._shape = data.shape
        self.image.mouseClickEvent = self._cell_click

    def _cell_click(self, event) -> None:
        pos = event.pos()      # image coordinates: (x index, y index) of the cell
        k, j = int(np.floor(pos.x())), int(np.floor(pos.y()))
        if 0 <= j < self._shape[0] and 0 <= k < self._shape[1]:
            event.accept()
            self.sigPointClicked.emit((k, j))

    def _label(self, bottom: str, left: str) -> None:
        item = self.plot.getPlotItem()
        item.setLabel("bottom", bottom)
        item.setLabel("left", left)
        item.showGrid(x=True, y=True, alpha=0.2)
        item.enableAutoRange()

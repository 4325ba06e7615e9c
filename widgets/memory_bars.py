"""Bars of peak training memory per run, labelled with the time per step (pyqtgraph)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from widgets.captioned_plot import fill_with_plot


class MemoryBars(QtWidgets.QWidget):
    """One bar per run: its peak memory (MB), a text above it with seconds per step.

    Parameters
    ----------
    title : str
        Plot title.
    """

    def __init__(self, title: str = "Peak training memory", parent=None):
        super().__init__(parent)
        self.plot_widget, self.plot_item = fill_with_plot(self)
        self.plot_item.setTitle(title)
        self.plot_item.setLabel("left", "peak memory (MB)")
        self.plot_item.getAxis("left").enableAutoSIPrefix(False)
        self.plot_item.showGrid(y=True, alpha=0.2)
        self.plot_item.setMouseEnabled(x=False, y=False)
        self._items: list = []

    def set_bars(self, names: Sequence[str], megabytes: Sequence[float],
                 seconds: Sequence[float], colors: Sequence[tuple]) -> None:
        """Draw the bars (replacing the old ones); an empty list clears the plot."""
        for item in self._items:
            self.plot_item.removeItem(item)
        self._items = []
        mb = np.asarray(megabytes, float)
        if mb.size == 0:
            return
        x = np.arange(mb.size)
        brushes = [pg.mkBrush(*c) for c in colors]
        bars = pg.BarGraphItem(x=x, height=mb, width=0.6, brushes=brushes)
        self.plot_item.addItem(bars)
        self._items.append(bars)
        top = float(mb.max()) or 1.0
        for xi, m, s in zip(x, mb, seconds):
            label = pg.TextItem(f"{m:.1f} MB\n{s:.3f} s/step", anchor=(0.5, 1.0),
                                color=(30, 30, 30))
            label.setPos(float(xi), float(m) + 0.02 * top)
            self.plot_item.addItem(label)
            self._items.append(label)
        self.plot_item.getAxis("bottom").setTicks([list(zip(x.tolist(), names))])
        self.plot_item.setXRange(-0.6, mb.size - 0.4, padding=0)
        self.plot_item.setYRange(0, top * 1.3, padding=0)

"""A white pyqtgraph plot with a grid, a key and a wrapped caption below it: the frame the
convex-duals structure views draw into."""
from __future__ import annotations

from typing import Optional

import pyqtgraph as pg
from PySide6 import QtWidgets

__all__ = ["CaptionedPlot"]


class CaptionedPlot(QtWidgets.QWidget):
    """``plot`` (PlotWidget), ``item`` (its PlotItem, exported as SVG), ``legend`` and
    ``caption``; :meth:`clear` empties plot and key for the next outcome."""

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None):
        super().__init__(parent)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.item = self.plot.getPlotItem()
        self.item.showGrid(x=True, y=True, alpha=0.2)
        self.legend = self.item.addLegend(offset=(-10, 10), brush=(255, 255, 255, 215))
        self.caption = QtWidgets.QLabel("")
        self.caption.setWordWrap(True)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.caption)

    def clear(self) -> None:
        """Remove every item and key entry."""
        self.item.clear()
        self.legend.clear()

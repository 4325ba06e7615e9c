"""A white pyqtgraph plot with a grid, a key and a wrapped caption below it: the frame the
convex-duals structure views draw into; :func:`fill_with_plot`, the frame of the plain ones."""
from __future__ import annotations

from typing import Optional

import pyqtgraph as pg
from PySide6 import QtWidgets

__all__ = ["CaptionedPlot", "fill_with_plot"]


def fill_with_plot(widget: QtWidgets.QWidget) -> tuple[pg.PlotWidget, pg.PlotItem]:
    """Lay a pyqtgraph ``PlotWidget`` over all of ``widget`` (a vertical layout without
    margins, so more can be added below); returns the plot widget and its ``PlotItem``."""
    lay = QtWidgets.QVBoxLayout(widget)
    lay.setContentsMargins(0, 0, 0, 0)
    plot_widget = pg.PlotWidget(widget)
    lay.addWidget(plot_widget)
    return plot_widget, plot_widget.getPlotItem()


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

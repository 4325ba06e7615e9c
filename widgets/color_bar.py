"""A vertical colour bar: the lookup table from low (bottom) to high (top) with the values.

Shows what the colours of an image mean: the top and bottom labels are the window's upper and
lower values, the middle one the level (centre). Set it with :meth:`ColorBar.set_lut` and
:meth:`ColorBar.set_range`; it paints itself (no pyqtgraph), so it can sit beside any view.
Run ``python -m widgets.color_bar`` for a demo.
"""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

__all__ = ["ColorBar", "format_value"]

BAR_PX = 14


def format_value(value: float) -> str:
    """Short label of a window value (4 significant digits, no ``e+00`` for ordinary
    numbers)."""
    return f"{value:.4g}"


class ColorBar(QtWidgets.QWidget):
    """Vertical gradient of a 256-entry RGB lookup table with its low, centre and high values.

    Parameters
    ----------
    parent : QWidget, optional
    """

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self._lut = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
        self._low, self._high = 0.0, 1.0
        self._unit = ""
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Fixed,
                           QtWidgets.QSizePolicy.Policy.Expanding)

    def set_lut(self, lut) -> None:
        """Colours from low to high: (N, 3|4) uint8."""
        lut = np.asarray(lut)
        if lut.ndim != 2 or lut.shape[1] not in (3, 4) or len(lut) < 2:
            raise ValueError(f"lut must be (N, 3|4) with N >= 2, got {lut.shape}")
        self._lut = lut[:, :3].astype(np.uint8)
        self.update()

    def set_range(self, low: float, high: float, unit: str = "") -> None:
        """Values at the bottom and top of the bar (a window ``level ± width/2``)."""
        self._low, self._high, self._unit = float(low), float(high), unit
        self.updateGeometry()
        self.update()

    def labels(self) -> tuple[str, str, str]:
        """(top, centre, bottom) texts as painted."""
        mid = 0.5 * (self._low + self._high)
        suffix = f" {self._unit}" if self._unit else ""
        return tuple(format_value(v) + suffix for v in (self._high, mid, self._low))

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802 (Qt name)
        metrics = self.fontMetrics()
        text = max(metrics.horizontalAdvance(t) for t in self.labels())
        return QtCore.QSize(BAR_PX + 6 + text + 4, 120)

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802 (Qt name)
        return QtCore.QSize(self.sizeHint().width(), 60)

    def paintEvent(self, _event) -> None:  # noqa: N802 (Qt name)
        painter = QtGui.QPainter(self)
        try:
            self._paint(painter)
        finally:
            painter.end()

    def _paint(self, painter: QtGui.QPainter) -> None:
        metrics = self.fontMetrics()
        pad = metrics.height() // 2 + 1
        top, bottom = pad, self.height() - pad
        gradient = QtGui.QLinearGradient(0, bottom, 0, top)
        n = len(self._lut)
        for k in range(0, n, max(1, n // 32)):
            gradient.setColorAt(k / (n - 1), QtGui.QColor(*map(int, self._lut[k])))
        gradient.setColorAt(1.0, QtGui.QColor(*map(int, self._lut[-1])))
        bar = QtCore.QRect(2, top, BAR_PX, max(1, bottom - top))
        painter.fillRect(bar, gradient)
        painter.setPen(self.palette().color(QtGui.QPalette.ColorRole.WindowText))
        painter.drawRect(bar)
        x = BAR_PX + 6
        high, mid, low = self.labels()
        for text, y in ((high, top), (mid, (top + bottom) // 2), (low, bottom)):
            painter.drawText(x, y + metrics.ascent() // 2 - 1, text)


if __name__ == "__main__":  # pragma: no cover - manual demo
    import sys

    import pyqtgraph as pg
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    bar = ColorBar()
    bar.set_lut(pg.colormap.get("viridis").getLookupTable(nPts=256, alpha=False))
    bar.set_range(-0.25, 1.75)
    bar.resize(90, 300)
    bar.show()
    app.exec()

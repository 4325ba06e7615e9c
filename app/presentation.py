"""Presentation mode: full screen, larger fonts and plot text for lectures."""
from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

NORMAL_PT = None
SCALE = 1.5


def set_app_font_scale(on: bool) -> None:
    """Scale the application font by :data:`SCALE` (restores the original size when off)."""
    global NORMAL_PT
    app = QApplication.instance()
    font = app.font()
    if NORMAL_PT is None:
        NORMAL_PT = font.pointSizeF() if font.pointSizeF() > 0 else 10.0
    font.setPointSizeF(NORMAL_PT * (SCALE if on else 1.0))
    app.setFont(font)


def scale_plot_fonts(plot_items, on: bool) -> None:
    """Larger tick and label fonts on pyqtgraph PlotItems."""
    size = 15 if on else 9
    font = QFont()
    font.setPointSize(size)
    for item in plot_items:
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setStyle(tickFont=font)
            axis.label.setFont(font)
        if item.titleLabel is not None and item.titleLabel.text:
            item.setTitle(item.titleLabel.text, size=f"{size + 2}pt")

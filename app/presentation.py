"""Presentation mode: full screen, larger fonts and plot text for lectures.

The enlargement depends on the screen: 1.5 × on a 1080p (or larger) projector, less on a
1280 × 720 one, where every pixel of height is needed for the views (the parameter dock is
hidden in presentation mode for the same reason; F5 still runs).
"""
from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

NORMAL_PT = None
SCALE = 1.5              # on screens at least FULL_SCALE_HEIGHT px high
FULL_SCALE_HEIGHT = 1000
PLOT_PT = 9              # tick and label size of plots outside presentation mode


def presentation_scale(screen_height: int) -> float:
    """Font enlargement for a screen ``screen_height`` px high: 1.5 from 1000 px on, 1.15 at
    720 px, linear in between (never below 1.15)."""
    if screen_height >= FULL_SCALE_HEIGHT:
        return SCALE
    low_h, low_s = 720, 1.15
    t = max(0.0, (screen_height - low_h) / (FULL_SCALE_HEIGHT - low_h))
    return round(low_s + t * (SCALE - low_s), 3)


def set_app_font_scale(on: bool, scale: float = SCALE) -> None:
    """Scale the application font by ``scale`` (restores the original size when off)."""
    global NORMAL_PT
    app = QApplication.instance()
    font = app.font()
    if NORMAL_PT is None:
        NORMAL_PT = font.pointSizeF() if font.pointSizeF() > 0 else 10.0
    font.setPointSizeF(NORMAL_PT * (scale if on else 1.0))
    app.setFont(font)


def scale_plot_fonts(plot_items, on: bool, scale: float = SCALE) -> None:
    """Larger tick and label fonts on pyqtgraph PlotItems (``PLOT_PT × scale`` when on)."""
    size = round(PLOT_PT * (scale if on else 1.0) + (1 if on else 0))
    font = QFont()
    font.setPointSize(size)
    for item in plot_items:
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setStyle(tickFont=font)
            axis.label.setFont(font)
        if item.titleLabel is not None and item.titleLabel.text:
            item.setTitle(item.titleLabel.text, size=f"{size + 2}pt")

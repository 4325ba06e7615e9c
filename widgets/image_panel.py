"""A titled 2-D image with axis labels (pyqtgraph): sinograms, k-space, masks, coil maps."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from widgets.captioned_plot import fill_with_plot


class ImagePanel(QtWidgets.QWidget):
    """One image in a plot with axes; ``image[row, col]`` is drawn with rows going up the y axis.

    Parameters
    ----------
    title, x_label, y_label : str
    """

    def __init__(self, title: str = "", x_label: str = "", y_label: str = "", parent=None):
        super().__init__(parent)
        self.plot_widget, self.plot_item = fill_with_plot(self)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot_item.addItem(self.image)
        self.overlay = pg.ImageItem(axisOrder="row-major")
        self.plot_item.addItem(self.overlay)
        self.set_labels(title, x_label, y_label)

    def set_labels(self, title: str = "", x_label: str = "", y_label: str = "") -> None:
        self.plot_item.setTitle(title or None)
        self.plot_item.setLabel("bottom", x_label)
        self.plot_item.setLabel("left", y_label)

    def set_image(self, image: Optional[np.ndarray], rect=None, cmap: str = "viridis",
                  levels=None) -> None:
        """Show ``image`` (H, W) over ``rect = (x0, y0, width, height)`` (default pixels).

        Non-finite values are drawn at the low end of the colour range.
        """
        if image is None:
            self.image.clear()
            return
        img = np.asarray(image, dtype=np.float32)
        finite = img[np.isfinite(img)]
        if levels is None:
            levels = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            if levels[1] <= levels[0]:
                levels = (levels[0], levels[0] + 1.0)
        img = np.where(np.isfinite(img), img, levels[0])
        self.image.setImage(img, levels=levels)
        self.image.setColorMap(pg.colormap.get(cmap))
        h, w = img.shape
        self.image.setRect(*(rect if rect is not None else (0, 0, w, h)))
        self.plot_item.getViewBox().autoRange(padding=0.0)

    def set_overlay(self, mask: Optional[np.ndarray], color=(255, 80, 0, 110)) -> None:
        """Tint the pixels where ``mask`` is True (same grid as the image)."""
        if mask is None:
            self.overlay.clear()
            return
        m = np.asarray(mask, dtype=bool)
        rgba = np.zeros(m.shape + (4,), np.uint8)
        rgba[m] = color
        self.overlay.setImage(rgba)
        self.overlay.setRect(self.image.boundingRect() if self.image.image is not None
                             else (0, 0, m.shape[1], m.shape[0]))


if __name__ == "__main__":  # pragma: no cover - manual demo
    import sys
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    panel = ImagePanel("Demo", "x", "y")
    yy, xx = np.mgrid[-1:1:128j, -1:1:128j]
    panel.set_image(np.exp(-(xx ** 2 + 2 * yy ** 2) * 4))
    panel.set_overlay((np.abs(xx) < 0.05))
    panel.resize(500, 450)
    panel.show()
    app.exec()

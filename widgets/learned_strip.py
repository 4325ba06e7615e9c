"""A strip of images side by side (the iterates x₀ … x_K of an unrolled net) with marked
boundaries between groups (GLEAM's modules), drawn with pyqtgraph."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from widgets.captioned_plot import fill_with_plot

MAX_SHOWN = 13
GAP = 2


def shown_indices(n: int, keep: Sequence[int] = (), most: int = MAX_SHOWN) -> list[int]:
    """At most ``most`` of ``range(n)``, evenly spaced, always with the ends and ``keep``."""
    if n <= most:
        return list(range(n))
    picks = set(np.round(np.linspace(0, n - 1, most)).astype(int).tolist())
    picks.update(int(k) for k in keep if 0 <= k < n)
    return sorted(picks)


class ImageStrip(QtWidgets.QWidget):
    """Images ``(N, h, w)`` in one row, labelled ``x0 … x_{N-1}``; boundary lines after the
    images whose index is in ``boundaries`` (drawn between image b and b+1)."""

    def __init__(self, title: str = "", parent=None):
        super().__init__(parent)
        self.plot_widget, self.plot_item = fill_with_plot(self)
        self.plot_item.setTitle(title or None)
        self.plot_item.hideAxis("left")
        self.plot_item.hideAxis("bottom")
        self.plot_item.setAspectLocked(True)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot_item.addItem(self.image)
        self._marks: list = []

    def set_title(self, title: str) -> None:
        self.plot_item.setTitle(title or None)

    def set_strip(self, images: np.ndarray, boundaries: Sequence[int] = ()) -> None:
        """Show ``images`` (N, h, w); ``boundaries``: indices b with a line between b and b+1."""
        for m in self._marks:
            self.plot_item.removeItem(m)
        self._marks = []
        images = np.asarray(images, np.float32)
        if images.ndim != 3 or images.shape[0] == 0:
            self.image.clear()
            return
        idx = shown_indices(images.shape[0], keep=[b for b in boundaries] +
                            [b + 1 for b in boundaries])
        h, w = images.shape[1:]
        row = np.full((h, len(idx) * (w + GAP) - GAP), np.nan, np.float32)
        for j, i in enumerate(idx):
            row[:, j * (w + GAP):j * (w + GAP) + w] = images[i][::-1]
        hi = float(np.nanmax(row)) or 1.0
        self.image.setImage(np.nan_to_num(row, nan=hi), levels=(0.0, hi))
        self.image.setColorMap(pg.colormap.get("CET-L1"))
        for j, i in enumerate(idx):
            text = pg.TextItem(f"x{i}", anchor=(0.5, 0.0), color=(20, 20, 20))
            text.setPos(j * (w + GAP) + w / 2, -1)
            self.plot_item.addItem(text)
            self._marks.append(text)
            if i in boundaries and j + 1 < len(idx):
                line = pg.InfiniteLine(pos=(j + 1) * (w + GAP) - GAP / 2, angle=90,
                                       pen=pg.mkPen((230, 60, 30), width=3))
                self.plot_item.addItem(line)
                self._marks.append(line)
        self.plot_item.setXRange(0, row.shape[1], padding=0.01)
        self.plot_item.setYRange(-0.25 * h, h, padding=0.02)

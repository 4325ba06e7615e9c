"""Structure of the convolutional denoiser's optimum (SCIENCE.md §7.5): the noisy, denoised
and clean crop, the pixels' activation-set clusters, the recovered filters, and the linear
filter the prediction applies at the pixel under the cursor (piecewise-linear filtering)."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

__all__ = ["DenoiserView"]


def _mosaic(filters: np.ndarray, cols: int = 6) -> np.ndarray:
    """Filters ``(k, 3, 3)`` tiled with one-pixel gaps, each scaled to its own max |·|."""
    k = max(len(filters), 1)
    rows = int(np.ceil(k / cols))
    out = np.full((rows * 4 - 1, min(k, cols) * 4 - 1), np.nan)
    for i, f in enumerate(filters):
        r, c = divmod(i, cols)
        out[r * 4:r * 4 + 3, c * 4:c * 4 + 3] = f / max(np.abs(f).max(), 1e-300)
    return out


class DenoiserView(QtWidgets.QWidget):
    """``show_outcome(outcome)`` reads ``outcome.arrays`` (keys of
    ``engine/convex_duals/denoiser.py``) by duck typing; hovering the denoised crop shows the
    3×3 filter applied at that pixel."""

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None):
        super().__init__(parent)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("w")
        self.item = self.graphics.addPlot(row=0, col=0, title="noisy")
        titles = ["denoised (convex)", "clean", "activation-set clusters", "recovered filters w_i",
                  "filter at the cursor"]
        self.boxes, self.images = [self.item], []
        for i, title in enumerate(titles):
            self.boxes.append(self.graphics.addPlot(row=(i + 1) // 3, col=(i + 1) % 3,
                                                    title=title))
        for box in self.boxes:
            box.setAspectLocked(True)
            box.invertY(True)
            box.hideAxis("left")
            box.hideAxis("bottom")
            img = pg.ImageItem(axisOrder="row-major")
            box.addItem(img)
            self.images.append(img)
        self.caption = QtWidgets.QLabel("")
        self.caption.setWordWrap(True)
        lay.addWidget(self.graphics, 1)
        lay.addWidget(self.caption)
        self._pixel_filters = None
        self.boxes[1].scene().sigMouseMoved.connect(self._hover)

    def show_outcome(self, outcome) -> None:
        a = outcome.arrays
        for img, key in zip(self.images[:3], ("noisy", "denoised", "clean")):
            img.setImage(np.asarray(a[key])[0], levels=(0.0, 1.0))
        lut = pg.colormap.get("CET-D1").getLookupTable(nPts=256)
        cl = np.asarray(a["pixel_cluster"], float)
        self.images[3].setImage(cl, levels=(0, max(cl.max(), 1)))
        self.images[3].setLookupTable(pg.colormap.get("CET-R2").getLookupTable(nPts=256))
        self.images[4].setImage(np.nan_to_num(_mosaic(np.asarray(a["filters"]))), levels=(-1, 1))
        self.images[4].setLookupTable(lut)
        self.images[5].setLookupTable(lut)
        self._pixel_filters = np.asarray(a["pixel_filters"])
        self._show_pixel(self._pixel_filters.shape[0] // 2, self._pixel_filters.shape[1] // 2)
        psnr = np.asarray(a["psnr"])
        exact = bool((np.asarray(a.get("group_sign", [1.0])) < 0).any())
        self.boxes[4].setTitle("recovered filters w_i, −z_i" if exact else "filters w_i")
        certified = getattr(outcome, "certificate_text", None)
        program = (certified() if callable(certified) else
                   "exact ReLU program" if exact else "gated relaxation")
        head = f"{'Cones kept' if exact else 'Cones dropped'}: {program}. "
        pixel = "Σ_i d_i (w_i − z_i)" if exact else "Σ_i d_i w_i"
        kept, clusters = len(a["filters"]), int(cl.max()) + 1
        survive = f"{kept} filter{'s' * (kept != 1)} survive{'s' * (kept == 1)}"
        self.caption.setText(f"{head}{survive} the path penalty; "
                             f"{clusters} activation-set cluster{'s' * (clusters != 1)}; PSNR "
                             f"{psnr[0]:.1f} → {psnr[1]:.1f} dB. Hover the denoised crop: the "
                             f"3×3 filter applied there ({pixel}).")

    def _show_pixel(self, row: int, col: int) -> None:
        f = self._pixel_filters[row, col]
        top = max(np.abs(f).max(), 1e-12)
        self.images[5].setImage(f, levels=(-top, top))
        self.boxes[5].setTitle(f"filter at pixel ({row}, {col})")

    def _hover(self, pos) -> None:
        if self._pixel_filters is None:
            return
        box = self.boxes[1]
        if not box.sceneBoundingRect().contains(pos):
            return
        p = box.vb.mapSceneToView(pos)
        row, col = int(np.floor(p.y())), int(np.floor(p.x()))
        s0, s1 = self._pixel_filters.shape[:2]
        if 0 <= row < s0 and 0 <= col < s1:
            self._show_pixel(row, col)

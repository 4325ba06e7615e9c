"""The acquisition panels of the reconstruction lab: sinogram or k-space, and the coil maps.

Pure presentation of a :class:`engine.recon.lab.ReconResult` on two
:class:`widgets.image_panel.ImagePanel`\\ s (tiling, windowing and labels; no engine maths).
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

#: Percentiles of the measured log-magnitudes that bound the k-space colour window.
KSPACE_WINDOW = (1.0, 99.9)


class AcquisitionPanels:
    """The sinogram / k-space panel and the coil-map panel of the lab (both ImagePanels)."""

    def __init__(self, acq_panel, coil_panel):
        self.acq, self.coils = acq_panel, coil_panel
        self._coil_labels: list = []

    def show(self, r) -> None:
        """Sinogram (CT) or k-space and coil maps (MRI) of the middle slice of result ``r``."""
        if r.config.modality == "ct":
            self.acq.set_labels("Sinogram (middle slice)", "detector", "view")
            self.acq.set_image(r.acquisition, cmap="magma")
            self.acq.set_overlay(None)
            self.coils.setVisible(False)
            _fit_on_resize(self.acq)
            return
        self.coils.setVisible(True)
        self.acq.set_labels("k-space log₁₀|k|", "kx (black: not sampled)", "ky")
        measured = r.acquisition if r.mask is None else \
            np.where(np.asarray(r.mask, dtype=bool), r.acquisition, np.nan)
        self.acq.set_image(measured, cmap="magma", levels=kspace_levels(r.acquisition, r.mask))
        self.acq.set_overlay(None)
        _fit_on_resize(self.acq)
        self.show_coils(r.coil_maps)

    def show_coils(self, maps: np.ndarray) -> None:
        """Every coil's sensitivity magnitude in one mosaic, numbered, without pixel axes."""
        mosaic, corners = tile(np.asarray(maps, dtype=np.float32))
        item = self.coils.plot_item
        for old in self._coil_labels:
            item.removeItem(old)
        top = float(np.nanmax(mosaic)) or 1.0
        self.coils.set_labels(f"{len(maps)} coil maps |S_c| (0–{top:.2f})")
        self.coils.set_image(mosaic, cmap="viridis", levels=(0.0, top))
        item.hideAxis("left")
        item.hideAxis("bottom")
        _fit_on_resize(self.coils)
        self._coil_labels = []
        for c, (x, y) in enumerate(corners):
            text = pg.TextItem(str(c + 1), color=(255, 255, 255), anchor=(0, 0))
            text.setPos(x, y)
            item.addItem(text)
            self._coil_labels.append(text)


def _fit_on_resize(panel) -> None:
    """Keep the whole image in view when the panel is resized (another panel shown or
    hidden beside it): the view box follows the image's bounds, without padding."""
    box = panel.plot_item.getViewBox()
    box.setDefaultPadding(0.0)
    box.enableAutoRange()


def kspace_levels(log_k: np.ndarray, mask) -> tuple[float, float]:
    """Colour window of a log-magnitude k-space: :data:`KSPACE_WINDOW` percentiles of the
    measured samples (the unsampled lines are exact zeros and would set the floor)."""
    values = np.asarray(log_k, dtype=float)
    if mask is not None and np.any(mask):
        values = values[np.asarray(mask, dtype=bool)]
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(values, KSPACE_WINDOW))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def tile_grid(n: int) -> tuple[int, int]:
    """Rows and columns of a near-square grid for ``n`` tiles, wider than tall (8 → 2 × 4)."""
    rows = max(1, int(math.floor(math.sqrt(n))))
    return rows, int(math.ceil(n / rows))


def tile(images: np.ndarray, gap: int = 2) -> tuple[np.ndarray, list]:
    """Mosaic of ``images[c, h, w]`` row by row (tile 0 top left) with NaN gutters of ``gap``
    pixels, and the (x, y) plot position of each tile's top-left corner (rows go up the y
    axis, so the mosaic's first row is drawn lowest)."""
    n, h, w = images.shape
    rows, cols = tile_grid(n)
    out = np.full((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap), np.nan,
                  dtype=np.float32)
    corners = []
    for c in range(n):
        r, k = divmod(c, cols)
        bottom = (rows - 1 - r) * (h + gap)
        out[bottom:bottom + h, k * (w + gap):k * (w + gap) + w] = images[c]
        corners.append((k * (w + gap), bottom + h))
    return out, corners

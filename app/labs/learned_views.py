"""The learned-reconstruction lab's views: training dashboard, compare view, memory vs PSNR.

They draw the engine's stages/result (``engine.learned.lab``) as they come; no engine maths.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel, QPushButton,
                               QVBoxLayout, QWidget)

from widgets.color_bar import ColorBar
from widgets.curve_plot import CurvePlot
from widgets.image_panel import ImagePanel
from widgets.learned_strip import ImageStrip
from widgets.memory_bars import MemoryBars

MODE_COLORS = {"e2e": (31, 119, 180), "checkpoint": (255, 127, 14), "gleam": (44, 160, 44),
               "shipped": (148, 103, 189), "scale_eq": (227, 119, 194),
               "otcycle": (140, 86, 75)}
BASE_COLORS = {"zero_filled": (127, 127, 127), "cg_sense": (214, 39, 40)}
BASE_TITLES = {"zero_filled": "zero-filled", "cg_sense": "CG-SENSE"}
ERROR_CMAP = "inferno"
ERROR_WINDOW = 0.25            # the error panel shows 0 … 25 % of the truth's maximum
ERROR_LUT = pg.colormap.get(ERROR_CMAP).getLookupTable(nPts=256, alpha=False)


def fit_to_image(panel: ImagePanel) -> None:
    """An image panel without pixel axes, aspect locked, the view kept on the image."""
    panel.plot_item.hideAxis("left")
    panel.plot_item.hideAxis("bottom")
    panel.plot_item.setAspectLocked(True)
    panel.plot_item.getViewBox().setDefaultPadding(0.0)


def _mb(b) -> float:
    return float(b) / 1e6


class Dashboard(QWidget):
    """Loss and validation-PSNR curves per mode (live), memory bars, the unroll strip."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.loss_plot = CurvePlot("Training loss (L1, output image)", "step", "loss",
                                   log_y=True)
        self.val_plot = CurvePlot("Validation PSNR", "step", "PSNR (dB)")
        self.bars = MemoryBars("Peak memory, time per step")
        self.strip = ImageStrip("Unroll strip")
        self.strip_box = QComboBox()
        self.strip_box.setToolTip("Which net's iterates x₀ … x_K to show for one test slice")
        self.strip_box.currentIndexChanged.connect(lambda _i: self._show_strip())
        self.save_button = QPushButton("Save trained net…")
        self.save_button.setToolTip("Save the weights of the net shown in the strip (plain "
                                    "tensors, loadable with weights_only=True)")
        self.save_button.setEnabled(False)
        self._runs: dict = {}
        grid = QGridLayout()
        grid.addWidget(self.loss_plot, 0, 0)
        grid.addWidget(self.val_plot, 0, 1)
        grid.addWidget(self.bars, 0, 2)
        row = QHBoxLayout()
        row.addWidget(QLabel("Strip of:"))
        row.addWidget(self.strip_box)
        row.addWidget(self.save_button)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(grid, 3)
        lay.addLayout(row)
        lay.addWidget(self.strip, 2)

    def clear(self) -> None:
        for plot in (self.loss_plot, self.val_plot):
            plot.clear_items()
        self.bars.set_bars([], [], [], [])
        self._runs = {}
        self.strip_box.blockSignals(True)
        self.strip_box.clear()
        self.strip_box.blockSignals(False)
        self.strip.set_strip(np.zeros((0, 1, 1)))
        self.save_button.setEnabled(False)

    def show_baselines(self, psnr: dict) -> None:
        for key, title in BASE_TITLES.items():
            self.val_plot.set_hline(f"base:{key}", psnr[key], color=BASE_COLORS[key])
            self.val_plot.set_curve(f"legend:{key}", [], [], color=BASE_COLORS[key],
                                    style="dash", name=f"{title} (test)")

    def show_curves(self, modes: dict, titles: dict) -> None:
        for mode, c in modes.items():
            color = MODE_COLORS.get(mode, (0, 0, 0))
            # checkpointing retraces end-to-end exactly: dashed on top, end-to-end wider
            line = {"style": "dash" if mode == "checkpoint" else "solid",
                    "width": 4 if mode == "e2e" else 2}
            if len(c["step"]):
                self.loss_plot.set_curve(mode, c["step"], c["loss"], color=color,
                                         name=titles.get(mode, mode), **line)
            if len(c["val_steps"]):
                self.val_plot.set_curve(mode, c["val_steps"], c["val_psnr"], color=color,
                                        symbol="o", name=titles.get(mode, mode), **line)

    def show_runs(self, runs: list) -> None:
        trained = [r for r in runs if r.mode != "shipped"]
        self.bars.set_bars([f"{r.title} K={r.n_unrolls}"
                            + (f"/{r.modules}" if r.modules > 1 else "")
                            for r in trained],
                           [_mb(r.peak_bytes) for r in trained],
                           [r.seconds_per_step for r in trained],
                           [MODE_COLORS.get(r.mode, (0, 0, 0)) for r in trained])
        current = self.strip_box.currentText()
        self._runs = {r.title: r for r in runs}
        self.strip_box.blockSignals(True)
        self.strip_box.clear()
        self.strip_box.addItems(list(self._runs))
        if current in self._runs:
            self.strip_box.setCurrentText(current)
        else:
            gleam = [r.title for r in runs if r.mode == "gleam"]
            if gleam:
                self.strip_box.setCurrentText(gleam[0])
        self.strip_box.blockSignals(False)
        self._show_strip()

    def shown_run(self):
        """The run whose strip is shown (None before any)."""
        return self._runs.get(self.strip_box.currentText())

    def _show_strip(self) -> None:
        run = self.shown_run()
        self.save_button.setEnabled(run is not None and bool(run.weights))
        if run is None:
            return
        marks = ", red lines: module boundaries" if len(run.boundaries) else ""
        self.strip.set_title(f"{run.title}: |x₀| … |x_{run.n_unrolls}| of one test slice{marks}")
        self.strip.set_strip(run.strip, [int(b) for b in run.boundaries])


class CompareView(QWidget):
    """Ground truth | chosen method | its error, for the shown test slice."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.method_box = QComboBox()
        self.method_box.currentIndexChanged.connect(lambda _i: self._show())
        self.truth = ImagePanel("ground truth")
        self.method = ImagePanel("method")
        self.error = ImagePanel("|method − truth|")
        self.error_bar = ColorBar()
        self.error_bar.set_lut(ERROR_LUT)
        self.error_bar.set_range(0.0, 100 * ERROR_WINDOW, "%")
        self.error_bar.setToolTip("|method − truth| in % of the truth's maximum intensity")
        self.info = QLabel("")
        row = QHBoxLayout()
        row.addWidget(QLabel("Method:"))
        row.addWidget(self.method_box)
        row.addWidget(self.info, 1)
        self.panel_box = QWidget()
        panels = QHBoxLayout(self.panel_box)
        panels.setContentsMargins(0, 0, 0, 0)
        self.panels = (self.truth, self.method, self.error)
        for p in self.panels:
            fit_to_image(p)
            panels.addWidget(p, 1)
        bar = QVBoxLayout()
        bar.addWidget(QLabel("% of max"), 0)
        bar.addWidget(self.error_bar, 1)
        panels.addLayout(bar)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row)
        lay.addWidget(self.panel_box)
        lay.addStretch(1)
        self._truth = None
        self._images: dict = {}
        self._psnr: dict = {}

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        """Square panels: as high as they are wide (plus the title), no empty bands."""
        super().resizeEvent(event)
        side = int(self.width() - self.error_bar.sizeHint().width()) // 3
        self.panel_box.setFixedHeight(max(120, min(side + 30, self.height() - 40)))

    def set_truth(self, truth: np.ndarray) -> None:
        self._truth = np.asarray(truth)
        self.truth.set_image(self._truth[::-1], cmap="CET-L1", levels=(0, float(truth.max())))

    def set_methods(self, images: dict, psnr: dict) -> None:
        """``images``: title → (h, w) magnitude; ``psnr``: title → mean test PSNR (dB)."""
        current = self.method_box.currentText()
        self._images, self._psnr = dict(images), dict(psnr)
        self.method_box.blockSignals(True)
        self.method_box.clear()
        self.method_box.addItems(list(images))
        if current in images:
            self.method_box.setCurrentText(current)
        elif images:     # the first net after the baselines (or the last baseline)
            self.method_box.setCurrentIndex(min(len(BASE_TITLES), len(images) - 1))
        self.method_box.blockSignals(False)
        self._show()

    def _show(self) -> None:
        name = self.method_box.currentText()
        if self._truth is None or name not in self._images:
            return
        img = self._images[name]
        top = float(self._truth.max()) or 1.0
        self.method.plot_item.setTitle(name)
        self.method.set_image(img[::-1], cmap="CET-L1", levels=(0, top))
        self.error.set_image(np.abs(img - self._truth)[::-1], cmap=ERROR_CMAP,
                             levels=(0, ERROR_WINDOW * top))
        self.info.setText(f"{name}: mean test PSNR {self._psnr.get(name, float('nan')):.2f} dB "
                          f"(error in % of the truth's maximum, colour bar at the right)")


class MemoryPsnrView(QWidget):
    """Test PSNR against peak training memory, one point per trained net (SCIENCE.md §6.3.3)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.plot = CurvePlot("Test PSNR vs peak training memory", "peak memory (MB)",
                              "test PSNR (dB)")
        self.note = QLabel("Equal memory: GLEAM with G modules of K unrolls needs the memory "
                           "of end-to-end with K. Compare the points at the same memory.")
        self.note.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.note)

    def show_points(self, runs: list, baselines: dict) -> None:
        self.plot.clear_items()
        for key, title in BASE_TITLES.items():
            if key in baselines:
                self.plot.set_hline(f"base:{key}", baselines[key], color=BASE_COLORS[key])
                self.plot.set_curve(f"legend:{key}", [], [], color=BASE_COLORS[key],
                                    style="dash", name=title)
        trained = [r for r in runs if r.mode != "shipped"]
        for r in trained:
            self.plot.set_curve(r.mode, [_mb(r.peak_bytes)], [r.test_psnr],
                                color=MODE_COLORS.get(r.mode, (0, 0, 0)), symbol="o",
                                name=f"{r.title} K={r.n_unrolls}, G={r.modules}: "
                                     f"{r.test_psnr:.2f} dB")
        if trained:           # memory from 0, PSNR around the points and the baselines
            top = max(_mb(r.peak_bytes) for r in trained)
            ys = [r.test_psnr for r in trained] + [baselines[k] for k in BASE_TITLES
                                                   if k in baselines]
            span = max(max(ys) - min(ys), 1.0)
            self.plot.plot_item.setXRange(0.0, 1.15 * top, padding=0)
            self.plot.plot_item.setYRange(min(ys) - 0.15 * span, max(ys) + 0.15 * span,
                                          padding=0)

"""The WGAN tab of the convex-duals lab: samples over the discriminator, objective and
covariance paths of gradient descent–ascent against the closed-form generator.

:meth:`DualsWganView.show_outcome` reads a model outcome by duck typing: the ``arrays`` keys
``real``, ``generated_convex``, ``generated_gda``, ``grid_x``, ``grid_y``, ``critic_convex``,
``critic_gda``, ``ellipse_*``, ``eig_real``, ``eig_convex``, ``eig_path``, ``steps``,
``beta_grid``, ``eig_vs_beta``, ``beta``, ``relu_critic_*``, ``relu_line_*`` — or, for the
ReLU-discriminator game (``mass_convex`` present, :mod:`widgets.duals_wgan_relu`),
``real``, ``generated_*``, ``mass_convex``, ``critic_*``, ``neurons_convex``,
``critic_path``, ``bound_upper``, ``bound_lower``, ``steps``, ``beta`` — and when
``standalone`` also ``convex_objective``,
``steps``, ``gd_objectives``, ``seeds``, ``notes``. It never computes the model, only draws it.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from widgets.color_bar import ColorBar
from widgets.curve_plot import CurvePlot
from widgets.duals_objective_plot import SEED_COLORS, clip_y, draw_seed_objectives
from widgets.duals_wgan_relu import (RELU_CRITICS, draw_critic_paths, draw_gap,
                                     draw_relu_samples, is_relu)

__all__ = ["DualsWganView", "SEED_COLORS"]

# the closed form is black like the objective plot's optimum line; GDA takes its seed's colour
REAL, CONVEX, BETA = (130, 130, 130), (0, 0, 0), (200, 40, 60)
DASH = QtCore.Qt.PenStyle.DashLine
CRITICS = {"Discriminator: convex optimum A*": "critic_convex",
           "Discriminator: GDA, best seed": "critic_gda"}


class DualsWganView(QtWidgets.QWidget):
    """Samples with the discriminator's quadratic form behind them, the eigenvalues of the
    generator's covariance along the GDA paths and of the closed form against β.

    Parameters
    ----------
    standalone : bool
        Also draw the GDA objective of every seed against p* and the outcome's notes (the
        lab's tab draws those itself, so the default leaves them out).
    parent : QWidget, optional

    Attributes
    ----------
    item : pyqtgraph.PlotItem
        The samples plot (the view's main plot, e.g. for SVG export).
    """

    def __init__(self, standalone: bool = False, parent: Optional[QtWidgets.QWidget] = None):
        super().__init__(parent)
        self.standalone = standalone
        self._arrays = None
        self._critic_names = CRITICS
        self.critic_choice = QtWidgets.QComboBox(self)
        self.critic_choice.addItems(list(CRITICS))
        self.critic_choice.currentTextChanged.connect(self._draw_critic)
        self.samples = pg.PlotWidget(self)
        self.samples_item = self.item = self.samples.getPlotItem()
        self.samples_item.setAspectLocked(True)
        self.samples_item.setLabels(bottom="x₁", left="x₂")
        self.legend = self.samples_item.addLegend(offset=(8, 8), brush=(255, 255, 255, 215),
                                                  pen=(160, 160, 160))
        self.critic_image = pg.ImageItem(axisOrder="row-major")
        self.critic_image.setZValue(-10)
        self.critic_image.setOpacity(0.55)          # the samples stay visible over it
        self.samples_item.addItem(self.critic_image)
        self.color_bar = ColorBar(self)
        self.objective_plot = CurvePlot("GDA objective", "step",
                                        "½‖W‖² + λ(‖C_x − C_g‖₂ − β)₊")
        self.objective_plot.setVisible(standalone)
        self.eig_plot = CurvePlot("eig(C_g) along GDA (λ₂ dashed)", "step", "eigenvalue")
        self.beta_plot = CurvePlot("C_g* = (C_x − βI)₊", "β", "eigenvalue")
        self.notes = QtWidgets.QLabel(self)
        self.notes.setWordWrap(True)
        self.notes.setVisible(standalone)
        self._layout()

    def _layout(self) -> None:
        """Samples on top, the paths below: fits the lab's tall, narrow tab and a wide
        window alike."""
        samples = QtWidgets.QHBoxLayout()
        samples.addWidget(self.samples, 1)
        samples.addWidget(self.color_bar)
        paths = QtWidgets.QHBoxLayout()
        for plot, stretch in ((self.objective_plot, 2), (self.eig_plot, 3), (self.beta_plot, 2)):
            plot.setMinimumSize(160, 150)
            paths.addWidget(plot, stretch)
        outer = QtWidgets.QVBoxLayout(self)
        outer.addWidget(self.critic_choice)
        outer.addLayout(samples, 3)
        outer.addLayout(paths, 2)
        outer.addWidget(self.notes)
        self.samples.setMinimumSize(200, 200)

    # ------------------------------------------------------------------ drawing
    def show_outcome(self, outcome) -> None:
        """Draw a WGAN outcome (see the module docstring for what is read); an object with
        only ``arrays`` (a partial result) draws the arrays alone."""
        self._arrays = a = outcome.arrays
        seeds = getattr(outcome, "seeds", None)
        self._set_critic_names(RELU_CRITICS if is_relu(a) else CRITICS)
        self._draw_samples(a, seeds)
        self._draw_critic()
        if is_relu(a):
            draw_critic_paths(self.eig_plot, a, seeds)
            draw_gap(self.beta_plot, a)
        else:
            self._draw_eigs(a, seeds)
            self._draw_beta(a)
        if self.standalone and hasattr(outcome, "gd_objectives"):
            self.objective_plot.set_labels(
                "GDA objective", "step", "½E‖g‖² + λ(critic − β)₊" if is_relu(a)
                else "½‖W‖² + λ(‖C_x − C_g‖₂ − β)₊")
            draw_seed_objectives(self.objective_plot, outcome,
                                 "certified game" if is_relu(a) else "closed form")
            self.notes.setText("\n".join(getattr(outcome, "notes", [])))

    def _set_critic_names(self, names: dict) -> None:
        """The discriminator choices of this outcome's game (the index is kept)."""
        if list(names) == [self.critic_choice.itemText(i)
                           for i in range(self.critic_choice.count())]:
            return
        index = self.critic_choice.currentIndex()
        self.critic_choice.blockSignals(True)
        self.critic_choice.clear()
        self.critic_choice.addItems(list(names))
        self.critic_choice.setCurrentIndex(max(index, 0))
        self.critic_choice.blockSignals(False)
        self._critic_names = names

    def _draw_samples(self, a: dict, seeds=None) -> None:
        for item in list(self.samples_item.listDataItems()):
            self.samples_item.removeItem(item)
        self.legend.clear()
        if is_relu(a):
            draw_relu_samples(self.samples_item, a, seeds)
            return
        best = int(a.get("gda_best", 0))
        seed = best if seeds is None else int(np.asarray(seeds)[best])
        gda_color = SEED_COLORS[best % len(SEED_COLORS)]
        marks = (("real", "ellipse_real", REAL, "real samples"),
                 ("generated_convex", "ellipse_convex", CONVEX, "generator, closed form"),
                 ("generated_gda", "ellipse_gda", gda_color,
                  f"generator, GDA seed {seed} (best)"))
        # one key per colour; the line of each colour is its 2σ covariance ellipse
        for points, ring, color, name in (m for m in marks if m[0] in a):
            pts = np.asarray(a[points])
            self.samples_item.addItem(pg.ScatterPlotItem(
                pts[:, 0], pts[:, 1], size=5, pen=None, brush=pg.mkBrush(*color, 170),
                name=name))
            ell = np.asarray(a[ring])
            self.samples_item.addItem(pg.PlotDataItem(
                ell[:, 0], ell[:, 1], pen=pg.mkPen(color, width=2), name="2σ ellipse"
                if points == "real" else None))
        for name, color, label in (("convex", CONVEX, "closed form"), ("gda", gda_color, "GDA")):
            line = np.asarray(a.get(f"relu_line_{name}", np.zeros((0, 2))))
            if line.size:
                value = float(a[f"relu_critic_{name}"])
                self.samples_item.addItem(pg.PlotDataItem(
                    line[:, 0], line[:, 1], pen=pg.mkPen(color, width=2, style=DASH),
                    name=f"ReLU critic's split, {label}: |Δ| = {value:.3g}"))

    def _draw_critic(self, *_args) -> None:
        if self._arrays is None:
            return
        a = self._arrays
        key = self._critic_names[self.critic_choice.currentText()]
        values = np.asarray(a[key] if key in a else a["critic_convex"], dtype=float)
        bound = float(np.nanmax(np.abs(values))) or 1.0
        cmap = pg.colormap.get("CET-D1")
        self.critic_image.setImage(values.astype(np.float32), levels=(-bound, bound))
        self.critic_image.setColorMap(cmap)
        x, y = np.asarray(a["grid_x"]), np.asarray(a["grid_y"])
        dx, dy = x[1] - x[0], y[1] - y[0]
        self.critic_image.setRect(x[0] - dx / 2, y[0] - dy / 2, x[-1] - x[0] + dx,
                                  y[-1] - y[0] + dy)
        # the view is the grid: a diverged generator's far samples must not shrink the data
        self.samples_item.setRange(xRange=(x[0], x[-1]), yRange=(y[0], y[-1]), padding=0.02)
        self.color_bar.set_lut(cmap.getLookupTable(nPts=256, alpha=False))
        self.color_bar.set_range(-bound, bound, "D(x)")
        self.samples_item.setTitle("Samples over D*(x) = Σ vⱼ relu(uⱼ·[x, 1])" if is_relu(a)
                                   else "Samples over D(x) = xᵀAx")

    def _draw_eigs(self, a: dict, seeds=None) -> None:
        """λ₁ (solid) and λ₂ (dashed) of every seed's path, in the objective plot's seed
        colours, against the closed form's and the data's eigenvalues."""
        plot = self.eig_plot
        plot.clear_items()
        plot.set_log(False, False)
        plot.set_labels("eig(C_g) along GDA (λ₂ dashed)", "step", "eigenvalue")
        path = np.asarray(a.get("eig_path", np.zeros((0, 0, 2))), dtype=float)
        seeds = np.arange(path.shape[0]) if seeds is None else np.asarray(seeds)
        for row in range(path.shape[0]):        # no paths in the convex partial (GDA not run)
            color = SEED_COLORS[row % len(SEED_COLORS)]
            for i, style in enumerate(("solid", "dash")):
                plot.set_curve(f"s{row}e{i}", np.asarray(a["steps"], dtype=float),
                               path[row, :, i], color=color, width=1.5, style=style,
                               name=f"GDA seed {int(seeds[row])}" if i == 0 else None)
        for i, value in enumerate(np.asarray(a["eig_convex"])):
            plot.set_hline(f"cf{i}", float(value), color=CONVEX,
                           name="closed form C_g*" if i == 0 else None)
        for i, value in enumerate(np.asarray(a["eig_real"])):
            plot.set_hline(f"real{i}", float(value), color=REAL,
                           name="data C_x" if i == 0 else None)
        if path.size:
            clip_y(plot, path, 0.0, float(np.max(a["eig_real"])))

    def _draw_beta(self, a: dict) -> None:
        plot = self.beta_plot
        plot.clear_items()
        plot.set_log(False, False)
        plot.set_labels("C_g* = (C_x − βI)₊", "β", "eigenvalue")
        grid, eig = np.asarray(a["beta_grid"]), np.asarray(a["eig_vs_beta"])
        for i, style in enumerate(("solid", "dash")):
            plot.set_curve(f"eig{i}", grid, eig[:, i], color=CONVEX, style=style, width=2,
                           name="eig C_g*" if i == 0 else None)
        beta = float(a["beta"])
        plot.set_vline("beta", beta, color=BETA, name=f"this β = {beta:.3g}")
        for i, value in enumerate(np.asarray(a["eig_real"])):
            plot.set_vline(f"drop{i}", float(value), color=REAL,
                           name="β = λᵢ(C_x)" if i == 0 else None)

"""The attention tab of the convex-duals lab: the low rank of the convex optimum against a
trained head, the heads' token maps and the token clusters they induce.

:meth:`DualsAttentionView.show_outcome` reads a model outcome by duck typing: the ``arrays``
keys ``sv_convex``, ``sv_trained``, ``beta_path``, ``sv_path``, ``maps_convex``,
``maps_trained``, ``clusters_convex``, ``clusters_trained``, ``head_strength_convex``,
``head_strength_trained`` (gated attention: ``clusters_keysets``), and when ``standalone``
also ``convex_objective``, ``steps``, ``gd_objectives``, ``seeds``, ``notes``. It only draws.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from widgets.color_bar import ColorBar
from widgets.curve_plot import CurvePlot
from widgets.duals_objective_plot import draw_seed_objectives

__all__ = ["DualsAttentionView"]

CONVEX, TRAINED = (230, 110, 0), (30, 110, 230)
CLUSTER_COLORS = [(230, 80, 60), (40, 150, 220), (60, 170, 80), (200, 150, 0), (150, 80, 200),
                  (90, 90, 90), (0, 170, 170), (220, 100, 170)]
BLOCK_COLORS = [(30, 110, 230), (230, 110, 0), (40, 160, 60), (190, 60, 190), (120, 120, 120)]
MAX_MAPS = 3


class DualsAttentionView(QtWidgets.QWidget):
    """Singular values of every block of Z (convex vs trained) and against β, token maps of
    the strongest heads, and token clusters of one sample.

    Parameters
    ----------
    standalone : bool
        Also draw the objective of every Adam seed against p* and the outcome's notes
        (the lab's tab draws those itself, so the default leaves them out).
    parent : QWidget, optional

    Attributes
    ----------
    item : pyqtgraph.PlotItem
        The singular-value plot (the view's main plot, e.g. for SVG export).
    """

    def __init__(self, standalone: bool = False, parent: Optional[QtWidgets.QWidget] = None):
        super().__init__(parent)
        self.standalone = standalone
        self.objective_plot = CurvePlot("Adam vs the optimum p*", "step", "objective")
        self.objective_plot.setVisible(standalone)
        self.sv_plot = CurvePlot("σ(Z) per block: heads", "index (blocks side by side)", "σ")
        self.path_plot = CurvePlot("σ(Z*) against β", "β", "σ", log_x=True)
        self.item = self.sv_plot.plot_item
        self.maps = pg.GraphicsLayoutWidget(self)
        self.color_bar = ColorBar(self)
        self.cluster_plot = pg.PlotWidget(self)
        self.cluster_item = self.cluster_plot.getPlotItem()
        self.cluster_item.setTitle("Token clusters, sample 0")
        self.cluster_item.setLabels(bottom="token")
        self.cluster_key = QtWidgets.QLabel(self)        # the key, beside (never over) the marks
        self.cluster_key.setWordWrap(True)
        self.notes = QtWidgets.QLabel(self)
        self.notes.setWordWrap(True)
        self.notes.setVisible(standalone)
        self._layout()

    def _layout(self) -> None:
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.objective_plot, 1)
        top.addWidget(self.sv_plot, 1)
        top.addWidget(self.path_plot, 1)
        middle = QtWidgets.QHBoxLayout()
        middle.addWidget(self.maps, 1)
        middle.addWidget(self.color_bar)
        outer = QtWidgets.QVBoxLayout(self)
        outer.addLayout(top, 5)
        outer.addLayout(middle, 5)
        self.cluster_plot.setMinimumHeight(130)
        outer.addWidget(self.cluster_plot, 2)
        outer.addWidget(self.cluster_key)
        outer.addWidget(self.notes)

    # ------------------------------------------------------------------ drawing
    def show_outcome(self, outcome) -> None:
        """Draw an attention outcome (see the module docstring for what is read); an object
        with only ``arrays`` (a partial result) draws the structure alone."""
        a = outcome.arrays
        if self.standalone and hasattr(outcome, "gd_objectives"):
            self._draw_objective(outcome)
            self.notes.setText("\n".join(getattr(outcome, "notes", [])))
        self._draw_singular_values(np.asarray(a["sv_convex"]), a.get("sv_trained"))
        self._draw_beta_path(np.asarray(a["beta_path"]), np.asarray(a["sv_path"]),
                             float(np.median(a["beta_path"])))
        self._draw_maps(a)
        self._draw_clusters(np.asarray(a["clusters_convex"]), a.get("clusters_trained"),
                            a.get("clusters_keysets"))

    def _draw_objective(self, o) -> None:
        draw_seed_objectives(self.objective_plot, o, "convex", percentile=90)

    def _draw_singular_values(self, sv_convex: np.ndarray, sv_trained) -> None:
        plot = self.sv_plot
        plot.clear_items()
        width = sv_convex.shape[1] + 1
        for b in range(sv_convex.shape[0]):
            x = b * width + np.arange(sv_convex.shape[1])
            plot.set_curve(f"c{b}", x, sv_convex[b], color=CONVEX, symbol="o",
                           name="convex optimum Z*" if b == 0 else None)
            if sv_trained is not None:                  # absent from the convex partial
                plot.set_curve(f"t{b}", x, np.asarray(sv_trained)[b], color=TRAINED,
                               symbol="x", style="dash",
                               name="trained heads (best seed)" if b == 0 else None)
            if b:
                plot.set_vline(f"sep{b}", b * width - 1, color=(170, 170, 170),
                               name="block boundary" if b == 1 else None)

    def _draw_beta_path(self, betas: np.ndarray, sv_path: np.ndarray, beta: float) -> None:
        plot = self.path_plot
        plot.clear_items()
        for b in range(sv_path.shape[1]):
            color = BLOCK_COLORS[b % len(BLOCK_COLORS)]
            plot.set_lines(f"b{b}", betas, sv_path[:, b, :], color=color, alpha=230, width=1.5)
            plot.set_curve(f"key{b}", betas, sv_path[:, b, 0], color=color, width=1.5,
                           name=f"block {b + 1}: σ₁ … σ_r" if sv_path.shape[1] > 1 else
                           "σ₁ … σ_r of Z*")
        plot.set_vline("beta", beta, color=(90, 90, 90), name=f"chosen β = {beta:.3g}")
        ticks = [(float(np.log10(b)), f"{b:.2g}") for b in betas[::2]]   # log axis: log10
        plot.plot_item.getAxis("bottom").setTicks([ticks, []])

    def _draw_maps(self, a: dict) -> None:
        self.maps.clear()
        rows = [row for row in (("convex", "maps_convex", "head_strength_convex"),
                                ("trained", "maps_trained", "head_strength_trained"))
                if row[1] in a]                    # trained maps arrive after Adam
        maps = [np.asarray(a[key]) for _, key, _ in rows]
        bound = max(float(np.max(np.abs(m))) if m.size else 0.0 for m in maps) or 1.0
        cmap = pg.colormap.get("CET-D1")
        columns = max(len(m[:MAX_MAPS]) for m in maps)
        self.maps.addLabel("Token maps, sample 0 (query ↓, key →; ‖W1‖·‖W2‖)", row=0, col=0,
                           colspan=columns, size="9pt")
        for r, (name, key, strength_key) in enumerate(rows):
            strengths = np.asarray(a[strength_key])
            for h, image in enumerate(np.asarray(a[key])[:MAX_MAPS]):
                plot = self.maps.addPlot(row=r + 1, col=h)
                plot.setTitle(f"{name} {h + 1}: {strengths[h]:.3g}", size="8pt")
                plot.addItem(_token_image(np.asarray(image, dtype=np.float32), cmap, bound))
                _token_axes(plot, image.shape[0])
        self.color_bar.set_lut(cmap.getLookupTable(nPts=256, alpha=False))
        self.color_bar.set_range(-bound, bound, "map")

    def _draw_clusters(self, convex: np.ndarray, trained=None, keysets=None) -> None:
        self.cluster_item.clear()
        rows = [(1, convex, "head {}")]
        ticks = [(0, "trained"), (1, "convex")]
        if trained is not None:
            rows.append((0, np.asarray(trained), "head {}"))
        if keysets is not None:
            rows.append((2, np.asarray(keysets), "key set {}"))
            ticks.append((2, "key sets"))
        self.cluster_item.getAxis("left").setTicks([ticks])
        key: dict[str, str] = {}                   # one key entry per label
        for y, labels, text in rows:
            symbol = ("s", "■") if "head" in text else ("t", "▼")
            for label in np.unique(labels):
                idx = np.flatnonzero(labels == label)
                color = CLUSTER_COLORS[int(label) % len(CLUSTER_COLORS)]
                self.cluster_item.addItem(pg.ScatterPlotItem(
                    idx, [y] * idx.size, size=13, symbol=symbol[0], pen=None,
                    brush=pg.mkBrush(*color)))
                name = text.format(int(label) + 1)
                key[name] = (f"<span style='color: rgb{color}'>{symbol[1]}</span>&nbsp;{name}")
        self.cluster_key.setText("Key: " + " &nbsp; ".join(key.values()) +
                                 " &nbsp;(■ the head each token's output owes most to; ▼ tokens "
                                 "with equal key sets under the active gates)" * (keysets is not None))
        count = max(len(convex), 1)
        self.cluster_item.getAxis("bottom").setTicks([[(t, str(t)) for t in range(count)]])
        self.cluster_item.setXRange(-0.5, count - 0.5, padding=0)
        self.cluster_item.setYRange(-0.5, len(ticks) - 0.5, padding=0)


def _token_image(image: np.ndarray, cmap, bound: float) -> pg.ImageItem:
    """An s×s token map with token t's pixel centred on t."""
    item = pg.ImageItem(image, axisOrder="row-major", levels=(-bound, bound))
    item.setColorMap(cmap)
    item.setRect(-0.5, -0.5, image.shape[1], image.shape[0])
    return item


def _token_axes(plot, count: int) -> None:
    """Integer token ticks, queries downwards, the map filling the plot."""
    ticks = [[(t, str(t)) for t in range(count)]]
    for side in ("left", "bottom"):
        plot.getAxis(side).setTicks(ticks)
    plot.invertY(True)
    plot.setAspectLocked(True)
    plot.setRange(xRange=(-0.5, count - 0.5), yRange=(-0.5, count - 0.5), padding=0)

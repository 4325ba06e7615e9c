"""Structure of the vector-output model's optimum (SCIENCE.md §7.1.8): the arg-max class
regions of the optimal network over the data with its neurons' directions; for whitened
data, the singular values of Y before and after soft thresholding; for d-dimensional data
(the relaxation on sampled patterns, §7.1.4) the singular values of Y and of the relaxation's
fit, with its blocks' ranks in the caption (no 2-D picture: d may be anything)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from widgets.captioned_plot import CaptionedPlot

__all__ = ["VectorOutputView", "CLASS_COLORS"]

CLASS_COLORS = np.array([(215, 48, 39), (49, 104, 198), (40, 150, 70), (150, 60, 170),
                         (230, 150, 20)], dtype=np.uint8)


class VectorOutputView(CaptionedPlot):
    """``show_outcome(outcome)`` reads ``outcome.arrays`` (keys of
    ``engine/convex_duals/vector_output.py``) by duck typing."""

    def show_outcome(self, outcome) -> None:
        self.clear()
        self.item.getAxis("bottom").setTicks(None)
        a = outcome.arrays
        if "grid_class" in a:
            self._show_regions(a)
        elif "sv_before" in a:
            self._show_singular_values(a)
        elif "sv_relaxation" in a:
            self._show_relaxation(a)

    def _show_regions(self, a) -> None:
        xs, ys, cls = a["grid_x"], a["grid_y"], np.asarray(a["grid_class"], int)
        rgb = (0.35 * CLASS_COLORS[cls % len(CLASS_COLORS)] + 0.65 * 255).astype(np.uint8)
        img = pg.ImageItem(rgb, axisOrder="row-major", levels=(0, 255))
        img.setRect(xs[0], ys[0], xs[-1] - xs[0], ys[-1] - ys[0])
        self.item.addItem(img)
        X, labels = a["X"][:, :2], np.asarray(a["labels"], int)
        for c in np.unique(labels):
            pts = X[labels == c]
            self.item.addItem(pg.ScatterPlotItem(
                pts[:, 0], pts[:, 1], size=9, pen=pg.mkPen("k"),
                brush=pg.mkBrush(*(int(v) for v in CLASS_COLORS[c % len(CLASS_COLORS)])),
                name=f"class {c}"))
        first = np.asarray(a["first_layer"])
        reach = 0.9 * min(abs(xs[[0, -1]]).max(), abs(ys[[0, -1]]).max())
        for k, u in enumerate(first if first.shape[1] == 2 else []):
            d = u / max(np.linalg.norm(u), 1e-300) * reach
            self.item.plot([0, d[0]], [0, d[1]], pen=pg.mkPen((30, 30, 30), width=1.5,
                                                                style=pg.QtCore.Qt.DashLine),
                           name="neuron directions u_j" if k == 0 else None)
        self.item.setLabels(left="x₂", bottom="x₁", title="Arg-max class of the optimal network")
        cells = len(np.unique(a.get("neuron_patterns", np.arange(len(first)))))
        self.caption.setText(f"{len(first)} neurons in {cells} active cells (patterns); "
                             "shaded: the class the convex optimum predicts.")

    def _show_singular_values(self, a) -> None:
        before, after = np.asarray(a["sv_before"]), np.asarray(a["sv_after"])
        x = np.arange(len(before))
        self.item.addItem(pg.BarGraphItem(x=x - 0.18, height=before, width=0.34,
                                          brush=(49, 104, 198), name="σ_k of Y"))
        self.item.addItem(pg.BarGraphItem(x=x + 0.18, height=after, width=0.34,
                                          brush=(215, 48, 39), name="(σ_k − β)₊ at the optimum"))
        self.item.setLabels(left="singular value", bottom="k",
                            title="Soft-thresholded SVD (whitened data)")
        diff = np.abs(np.asarray(a["prediction_convex"]) - a["prediction_closed_form"]).max()
        self.caption.setText(f"Network from the convex program vs the closed form: max "
                             f"|difference| = {diff:.1e}; {len(a['first_layer'])} neurons.")

    def _show_relaxation(self, a) -> None:
        target, fit = np.asarray(a["sv_target"]), np.asarray(a["sv_relaxation"])
        x = np.arange(len(target))
        self.item.addItem(pg.BarGraphItem(x=x - 0.18, height=target, width=0.34,
                                          brush=(49, 104, 198), name="σ_k of the targets Y"))
        self.item.addItem(pg.BarGraphItem(x=x + 0.18, height=fit, width=0.34,
                                          brush=(215, 48, 39),
                                          name="σ_k of the relaxation's fit Σ D_i X Z_i"))
        self.item.setLabels(left="singular value", bottom="k",
                            title=f"Relaxation on sampled patterns (d = {a['X'].shape[1]})")
        self.item.getAxis("bottom").setTicks([[(int(k), str(k + 1)) for k in x]])
        ratio, trace = np.asarray(a["block_rank_ratio"]), np.asarray(a["block_trace"])
        active = trace > 1e-7 * max(trace.max(), 1e-300)
        rank1 = "all rank 1" if ratio.max() <= 1e-3 else \
            f"{int((ratio > 1e-3).sum())} of rank > 1 (λ₂/λ₁ up to {ratio.max():.2f})"
        self.caption.setText(
            f"{int(active.sum())} of {len(trace)} sampled blocks active, {rank1}; read-off "
            f"network ({len(a['first_layer'])} neurons): objective "
            f"{float(a['network_objective'][0]):.6f}. Shrinkage of every σ_k is the weight "
            "decay's low-rank bias.")

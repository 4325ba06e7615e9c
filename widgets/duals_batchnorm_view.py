"""Structure of the batch-norm model's optimum (SCIENCE.md §7.2): the optimal BN network's
output over the 2-D plane with the data, or its prediction against the closed form."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from widgets.captioned_plot import CaptionedPlot

__all__ = ["BatchNormView"]


class BatchNormView(CaptionedPlot):
    """``show_outcome(outcome)`` reads ``outcome.arrays`` (keys of
    ``engine/convex_duals/batchnorm.py``) by duck typing."""

    def show_outcome(self, outcome) -> None:
        self.clear()
        a = outcome.arrays
        if "grid_prediction" in a:
            self._show_surface(a)
        else:
            self._show_fit(a)

    def _show_surface(self, a) -> None:
        xs, ys, y = a["grid_x"], a["grid_y"], np.asarray(a["y"])
        lim = max(np.abs(y).max(), 1e-9)
        img = pg.ImageItem(np.clip(a["grid_prediction"], -lim, lim), axisOrder="row-major")
        img.setLookupTable(pg.colormap.get("CET-D1").getLookupTable(nPts=256))
        img.setLevels((-lim, lim))
        img.setRect(xs[0], ys[0], xs[-1] - xs[0], ys[-1] - ys[0])
        self.item.addItem(img)
        lut = pg.colormap.get("CET-D1")
        X = a["X"]
        brushes = [pg.mkBrush(lut.map((v + lim) / (2 * lim), mode="qcolor")) for v in y]
        self.item.addItem(pg.ScatterPlotItem(X[:, 0], X[:, 1], size=11,
                                             pen=pg.mkPen("k", width=1.5),
                                             brush=brushes, name="data (colour = target y)"))
        self.item.setLabels(left="x₂", bottom="x₁",
                            title="Optimal BN network's output (batch statistics of the data)")
        self.caption.setText(f"{len(a['v'])} BN neurons (γ, α, v) at the optimum; colour: "
                             f"output clipped to ±{lim:.2f}. The data are anisotropic and "
                             "off-centre; BN whitens them, so the fit does not depend on that.")

    def _show_fit(self, a) -> None:
        y, pred, closed = (np.asarray(a[k]) for k in ("y", "prediction", "prediction_closed_form"))
        x = np.arange(len(y))
        self.item.addItem(pg.BarGraphItem(x=x - 0.25, height=y, width=0.25, brush=(150, 150, 150),
                                          name="target y"))
        self.item.addItem(pg.BarGraphItem(x=x, height=pred, width=0.25, brush=(49, 104, 198),
                                          name="convex program's network"))
        self.item.addItem(pg.BarGraphItem(x=x + 0.25, height=closed, width=0.25,
                                          brush=(215, 48, 39), name="closed form (1 − β/‖y±‖)₊ y±"))
        self.item.setLabels(left="output", bottom="sample",
                            title="Over-parameterized BN: closed form")
        self.caption.setText(f"max |network − closed form| = {np.abs(pred - closed).max():.1e}; "
                             f"{len(a['v'])} BN neurons.")

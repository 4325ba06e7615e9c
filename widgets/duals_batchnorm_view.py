"""Structure of the batch-norm model's optimum (SCIENCE.md §7.2): the optimal BN network's
output over the 2-D plane with the data, or its prediction against the closed form; for the
gradient-descent variant (§7.2.4) the GD objectives against the truncated-whitening ladder
p*(0) ≥ p*(1) ≥ … ≥ p*."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from widgets.captioned_plot import CaptionedPlot
from widgets.duals_objective_plot import SEED_COLORS

__all__ = ["BatchNormView", "LADDER_COLORS"]

LADDER_COLORS = [(120, 120, 120), (230, 150, 20), (150, 60, 170), (0, 0, 0)]


class BatchNormView(CaptionedPlot):
    """``show_outcome(outcome)`` reads ``outcome.arrays`` (keys of
    ``engine/convex_duals/batchnorm.py``) by duck typing."""

    def show_outcome(self, outcome) -> None:
        self.clear()
        a = outcome.arrays
        self.item.setLogMode(x=False, y=False)
        self.legend.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-10, 10))
        if "ladder_value" in a:
            self._show_ladder(a, outcome)
        elif "grid_prediction" in a:
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

    def _show_ladder(self, a, outcome) -> None:
        ks, values = np.asarray(a["ladder_k"], int), np.asarray(a["ladder_value"], float)
        self.item.setLogMode(x=True, y=False)
        self.legend.anchor(itemPos=(0, 1), parentPos=(0, 1), offset=(10, -10))
        steps, objs = self._draw_runs(outcome)
        ends = [steps[0], max(steps[-1], steps[0] + 1)]
        for j, (k, v) in enumerate(zip(ks, values)):
            last = j == len(ks) - 1
            label = (f"p* = p*({k}) = {v:.4f}: convex BN optimum" if last else
                     f"p*(0) = {v:.4f}: the mean only (best constant fit)" if k == 0 else
                     f"p*({k}) = {v:.4f}: top {k} whitened direction(s) only (ours)")
            self.item.plot(ends, [v, v], name=label, pen=pg.mkPen(
                LADDER_COLORS[min(j, 2) if not last else 3], width=2,
                style=pg.QtCore.Qt.SolidLine if last else pg.QtCore.Qt.DashLine))
        finite = objs[np.isfinite(objs)]
        top = max(float(np.percentile(finite, 97)) if finite.size else values[0], values[0])
        span = top - values.min()                  # room below p* for the key (bottom left)
        self.item.setYRange(values.min() - 0.4 * span, top + 0.05 * span, padding=0)
        self.item.setLabels(left="objective", bottom="step + 1",
                            title="GD on the BN net against the truncated-whitening ladder")
        self.caption.setText(
            "Plain GD learns whitened direction k at a rate ∝ σ_k² (§7.2.4), so on anisotropic "
            "data it lingers near p*(k) of the high-variance directions before it reaches p*. "
            "p*(k) with k < r is our surrogate for GD's implicit regulariser, not the paper's.")

    def _draw_runs(self, outcome) -> tuple[np.ndarray, np.ndarray]:
        """Every seed's objective (a partial has none yet); returns ``(steps + 1, rows)``."""
        steps = np.asarray(getattr(outcome, "steps", [0, 1]), float) + 1.0
        objs = np.atleast_2d(np.asarray(getattr(outcome, "gd_objectives", np.zeros((0, 2)))))
        for row, seed in enumerate(np.asarray(getattr(outcome, "seeds", []))[:len(objs)]):
            ok = np.isfinite(objs[row])
            pen = pg.mkPen(SEED_COLORS[row % len(SEED_COLORS)], width=2)
            self.item.plot(steps[ok], objs[row][ok], pen=pen,
                           name=f"{getattr(outcome, 'optimizer', 'GD')} seed {int(seed)}")
        return steps, objs

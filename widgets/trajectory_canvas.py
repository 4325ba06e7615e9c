"""2-D weight-plane view of many gradient-flow trajectories (pyqtgraph).

Shows where a student ReLU neuron's weight ``w(t) ∈ R²`` travels under gradient flow towards
the teacher ``v`` (SCIENCE.md §1), for many initialisations at once, animated over recorded
frames: short trails, heads at the current frame, one highlighted run with its activation
boundary ``{x : w·x = 0}`` and the data points it currently sees as active.

Shared pieces live in ``widgets.trail_plot``. Run ``python -m widgets.trajectory_canvas`` for a demo.
"""


from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from widgets.trail_plot import (
    ACTIVE_COLOR, HIGHLIGHT_COLOR, INACTIVE_COLOR, SUPPORT_COLOR, TEACHER_COLOR,
    TrailPlot, brushes_for, cache_static, finite_bounds, run_demo, sample_activity,
    synthetic_trajectories,
)

__all__ = ["TrajectoryCanvas", "synthetic_trajectories", "brushes_for", "finite_bounds"]


class TrajectoryCanvas(TrailPlot):
    """Trajectories of a 2-D student weight under gradient flow, with teacher and data.

    Equal-aspect axes; teacher ``v`` as a star with a faint circle of radius ‖v‖; a
    highlighted run with its activation boundary; data points active / inactive / support.
    Same parameters and signals as :class:`TrailPlot`.
    """

    def __init__(self, parent=None, trail_length=50, max_drawn=None):
        super().__init__(parent, trail_length, max_drawn)
        self.plot_item.setAspectLocked(True)
        self._w = np.zeros((0, 0, 2))
        self._highlight = self._samples = self._active = self._support = None
        self._make_items(self.plot_item)
        self.set_axis_labels("w₁", "w₂")
        self._update_legend()

    def _make_items(self, pi):
        """Create every plot item once; later calls only update their data."""
        dash, dot = Qt.PenStyle.DashLine, Qt.PenStyle.DotLine
        self.circle_item = pg.PlotDataItem(pen=pg.mkPen(200, 200, 200, 70, style=dash))
        self.boundary_item = pg.InfiniteLine(pos=(0, 0), angle=90, movable=False,
                                             pen=pg.mkPen(HIGHLIGHT_COLOR, width=1.5, style=dash))
        self._sample_brushes = (pg.mkBrush(ACTIVE_COLOR), pg.mkBrush(INACTIVE_COLOR))
        self.samples_item = pg.ScatterPlotItem(size=6, pen=None, brush=self._sample_brushes[1])
        self.support_item = pg.ScatterPlotItem(size=14, pen=pg.mkPen(SUPPORT_COLOR, width=2),
                                               brush=None)
        self.future_item = pg.PlotDataItem(pen=pg.mkPen(HIGHLIGHT_COLOR, width=1, style=dot))
        self.highlight_item = pg.PlotDataItem(pen=pg.mkPen(HIGHLIGHT_COLOR, width=3))
        self.highlight_head = pg.ScatterPlotItem(size=13, pen=pg.mkPen("w", width=1.5),
                                                 brush=pg.mkBrush(HIGHLIGHT_COLOR))
        self.origin_item = pg.ScatterPlotItem(pos=np.zeros((1, 2)), symbol="+", size=14,
                                              pen=pg.mkPen(220, 220, 220), brush=None)
        self.teacher_item = pg.ScatterPlotItem(symbol="star", size=20, pen=pg.mkPen("k"),
                                               brush=pg.mkBrush(TEACHER_COLOR))
        self.teacher_label = pg.TextItem("v", color=TEACHER_COLOR, anchor=(-0.3, 1.0))
        z_order = (self.circle_item, self.boundary_item, self.samples_item, self.support_item,
                   self.future_item, self.highlight_item, self.highlight_head,
                   self.origin_item, self.teacher_item, self.teacher_label)
        for z, item in zip((0, 0.5, 2, 2.5, 4, 5, 6, 7, 8, 9), z_order):
            item.setZValue(z)      # trails sit at 1 and heads at 3 (TrailLayer)
            pi.addItem(item)
        for item in z_order[1:7]:
            item.setVisible(item is self.samples_item)
        cache_static(self.circle_item, self.origin_item, self.teacher_item)

    def set_trajectories(self, w, teacher):
        """Store trajectories and teacher; fit the view to data, teacher and origin.

        Parameters
        ----------
        w : array_like, shape (T, N, 2)
            Recorded weights per frame and trajectory (non-finite values allowed).
        teacher : array_like, shape (2,)
            Teacher vector ``v`` (a star labelled "v", with a circle of radius ‖v‖).
        """
        w = np.asarray(w, dtype=float)
        if w.ndim != 3 or w.shape[2] != 2:
            raise ValueError(f"w must have shape (T, N, 2), got {w.shape}")
        teacher = np.asarray(teacher, dtype=float).reshape(2)
        self._w = w
        self._set_layer_data(w)
        self.teacher_item.setData(pos=teacher[None, :])
        self.teacher_label.setPos(*teacher)
        phi = np.linspace(0.0, 2 * np.pi, 129)
        nu = float(np.linalg.norm(teacher))
        self.circle_item.setData(nu * np.cos(phi), nu * np.sin(phi))
        lo, hi = finite_bounds(w, teacher[None], np.zeros((1, 2)))
        self.plot_item.getViewBox().setRange(xRange=(lo[0], hi[0]), yRange=(lo[1], hi[1]),
                                             padding=0.0)
        self.plot_item.disableAutoRange()
        if self._highlight is not None and self._highlight >= w.shape[1]:
            self.set_highlight(None)
        self.set_frame(0)

    def _include_in_view(self, points):
        """Grow the view so that ``points`` (M, 2) are visible too."""
        (x0, x1), (y0, y1) = self.plot_item.getViewBox().viewRange()
        lo, hi = finite_bounds(points, np.array([[x0, y0], [x1, y1]]))
        self.plot_item.getViewBox().setRange(xRange=(lo[0], hi[0]), yRange=(lo[1], hi[1]),
                                             padding=0.0)

    def set_highlight(self, index):
        """Draw run ``index`` in full (past thick, future dotted) with its boundary (None: off)."""
        n = self._w.shape[1]
        self._highlight = None if index is None or not 0 <= int(index) < n else int(index)
        for item in (self.highlight_item, self.future_item, self.highlight_head,
                     self.boundary_item):
            item.setVisible(self._highlight is not None)
        self._update_legend()
        self.set_frame(self._frame)

    def set_samples(self, X):
        """Data points ``X`` of shape (n, 2) drawn as small dots (None removes them)."""
        self._samples = None if X is None else np.asarray(X, dtype=float).reshape(-1, 2)
        self._active = self._support = None
        self.samples_item.setData(pos=np.zeros((0, 2)) if X is None else self._samples)
        self.support_item.setVisible(False)
        if self._samples is not None:
            self._include_in_view(self._samples)
        self._update_legend()
        self.set_frame(self._frame)

    def set_sample_state(self, active, support=None):
        """Colour samples as active/inactive and ring the support vectors.

        Parameters
        ----------
        active : array_like of bool, shape (n,), or None
            ``w·x > 0`` for the highlighted neuron; None computes it from the highlighted
            run at the current frame.
        support : array_like of bool, shape (n,), or None
            Support vectors (active at the limit), drawn with a larger ring.
        """
        self._active = None if active is None else np.asarray(active, dtype=bool).ravel()
        self._support = None if support is None else np.asarray(support, dtype=bool).ravel()
        show = self._samples is not None and self._support is not None
        if show:
            self.support_item.setData(pos=self._samples[self._support])
        self.support_item.setVisible(show)
        self._update_legend()
        self.set_frame(self._frame)

    def _redraw(self):
        """Per frame: highlighted run, its boundary and the samples' activity."""
        if self._highlight is not None and self._w.shape[0]:
            self._update_highlight()
        self._update_sample_colors()

    def _highlight_w(self):
        """Weight of the highlighted run at the current frame, or None if unusable."""
        if self._highlight is None or not self._w.shape[0]:
            return None
        w = self._w[self._frame, self._highlight]
        return w if np.isfinite(w).all() and np.any(w != 0) else None

    def _update_highlight(self):
        """Full past (thick), future (dotted), head and activation boundary of one run."""
        traj, i = self._w[:, self._highlight], self._frame
        self.highlight_item.setData(traj[:i + 1, 0], traj[:i + 1, 1], connect="finite")
        self.future_item.setData(traj[i:, 0], traj[i:, 1], connect="finite")
        w = self._highlight_w()
        self.highlight_head.setData(pos=np.zeros((0, 2)) if w is None else w[None])
        self.boundary_item.setVisible(w is not None)
        if w is not None:
            self.boundary_item.setAngle(np.degrees(np.arctan2(w[1], w[0])) + 90.0)

    def _update_sample_colors(self):
        """Recolour the samples: explicit state, else from the highlighted run (n is small)."""
        if self._samples is None or not len(self._samples):
            return
        active = sample_activity(self._samples, self._active, self._highlight_w())
        self.samples_item.setBrush(np.where(active, *self._sample_brushes))

    def _update_legend(self):
        """Legend entries for teacher, highlight and sample colours."""
        entries = [(self.teacher_item, "teacher v")]
        if self._highlight is not None:
            entries.append((self.highlight_item, f"run {self._highlight} (dashed: w·x = 0)"))
        if self._samples is not None:
            dots = [pg.ScatterPlotItem(size=8, pen=None, brush=b) for b in self._sample_brushes]
            entries += [(dots[0], "active"), (dots[1], "inactive")]
            if self._support is not None:
                entries.append((self.support_item, "support vector (active at the limit)"))
        self._set_legend(entries)


def _demo_canvas():
    """Build a TrajectoryCanvas filled with synthetic data, samples and a highlight."""
    w, v = synthetic_trajectories(400, 120, 2)
    canvas = TrajectoryCanvas()
    canvas.set_trajectories(w, v)
    canvas.set_colors(np.linalg.norm(w[0], axis=1), label="‖w(0)‖")
    X = np.random.default_rng(1).normal(scale=1.5, size=(40, 2))
    canvas.set_samples(X)
    canvas.set_sample_state(None, support=X @ v > 0)
    canvas.set_highlight(0)
    canvas.sigTrajectoryClicked.connect(canvas.set_highlight)
    return canvas





if __name__ == "__main__":  # pragma: no cover - manual demo
    run_demo(_demo_canvas, "TrajectoryCanvas demo")

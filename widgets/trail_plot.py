"""Shared pieces of the trajectory views: trails + heads layer, base plot widget, demo runner.

Used by ``widgets.trajectory_canvas``, ``widgets.phase_portrait`` and
``widgets.trajectory_view3d``.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGraphicsItem, QVBoxLayout, QWidget

from widgets.trajectory_layer import (  # noqa: F401 (public names of this module)
    HEAD_COLOR, TRAIL_COLOR, TrailLayer, cache_static, move_spots,
)

__all__ = ["TrailPlot", "TrailLayer", "brushes_for", "cache_axes", "cache_static",
           "move_spots", "sample_activity", "finite_bounds", "run_demo",
           "synthetic_trajectories"]

HIGHLIGHT_COLOR = "#ff3355"
TEACHER_COLOR = "#ffc000"
ACTIVE_COLOR = "#ff8c00"
INACTIVE_COLOR = "#9a9a9a"
SUPPORT_COLOR = "#00d0c0"
BAD_COLOR = (128, 128, 128, 200)
_LUT_SIZE = 64


def synthetic_trajectories(n_frames=400, n_traj=200, dim=2, seed=0):
    """Spiralling trajectories converging to a teacher vector (demo and benchmark data).

    Parameters
    ----------
    n_frames, n_traj, dim, seed : int
        Frames ``T``, trajectories ``N``, dimension ``d`` (≥ 2) and NumPy seed.

    Returns
    -------
    w : ndarray, shape (T, N, d)
        ``w(t) = v + e^{-λt} R(ωt)(w₀ - v)``, ``R`` a rotation in the (x, y) plane.
    teacher : ndarray, shape (d,)
        The common limit ``v``.
    """
    rng = np.random.default_rng(seed)
    teacher = np.zeros(dim)
    teacher[:2] = (1.0, 0.5)
    t = np.linspace(0.0, 6.0, n_frames)[:, None]
    d0 = rng.normal(scale=1.5, size=(n_traj, dim)) - teacher
    decay = np.exp(-rng.uniform(0.4, 1.2, n_traj) * t)
    ang = rng.uniform(-1.5, 1.5, n_traj) * t
    w = np.empty((n_frames, n_traj, dim))
    w[..., 0] = decay * (np.cos(ang) * d0[:, 0] - np.sin(ang) * d0[:, 1])
    w[..., 1] = decay * (np.sin(ang) * d0[:, 0] + np.cos(ang) * d0[:, 1])
    if dim > 2:
        w[..., 2:] = decay[..., None] * d0[None, :, 2:]
    return w + teacher, teacher


def finite_bounds(*arrays, pad=0.05):
    """Bounding box over the finite rows of several point arrays.

    Parameters
    ----------
    *arrays : array_like, shape (..., d)
        Point sets; non-finite coordinates are ignored.
    pad : float
        Relative padding added on every side.

    Returns
    -------
    lo, hi : ndarray, shape (d,)
        Corners; ``[-1, 1]`` on axes where nothing is finite.
    """
    dim = np.asarray(arrays[0]).shape[-1]
    lo, hi = np.full(dim, np.inf), np.full(dim, -np.inf)
    for a in arrays:
        a = np.asarray(a, dtype=float).reshape(-1, dim)
        ok = np.isfinite(a)
        lo = np.minimum(lo, np.where(ok, a, np.inf).min(axis=0, initial=np.inf))
        hi = np.maximum(hi, np.where(ok, a, -np.inf).max(axis=0, initial=-np.inf))
    bad = ~np.isfinite(lo) | ~np.isfinite(hi)
    lo[bad], hi[bad] = -1.0, 1.0
    span = np.maximum(hi - lo, 1e-9)
    return lo - pad * span, hi + pad * span


def brushes_for(values, cmap="viridis", limits=None):
    """Quantised colormap brushes for per-trajectory values (computed once, reused per frame).

    Parameters
    ----------
    values : array_like, shape (N,)
        Values to colour by; non-finite entries get a grey brush.
    cmap : str or pyqtgraph.ColorMap
        Colormap name (``pg.colormap.get``) or object.
    limits : (float, float) or None
        Value range mapped onto the colormap; the finite min/max when None.

    Returns
    -------
    brushes : ndarray of QBrush, shape (N,)
        At most ``_LUT_SIZE + 1`` distinct brush objects (cheap for the symbol atlas).
    limits : (float, float)
        The range used.
    cmap : pyqtgraph.ColorMap
    """
    values = np.asarray(values, dtype=float).ravel()
    cmap = pg.colormap.get(cmap) if isinstance(cmap, str) else cmap
    finite = np.isfinite(values)
    if limits is None:
        limits = (float(values[finite].min()), float(values[finite].max())) if finite.any() \
            else (0.0, 1.0)
    lo, hi = limits
    lut = [pg.mkBrush(c) for c in cmap.mapToQColor(np.linspace(0.0, 1.0, _LUT_SIZE))]
    palette = np.array(lut + [pg.mkBrush(BAD_COLOR)], dtype=object)
    scaled = (np.where(finite, values, lo) - lo) / (hi - lo if hi > lo else 1.0)
    idx = np.clip((scaled * (_LUT_SIZE - 1)).round(), 0, _LUT_SIZE - 1).astype(int)
    idx[~finite] = _LUT_SIZE
    return palette[idx], (lo, hi), cmap


def sample_activity(samples, active, w):
    """Active flags of the samples: the explicit ``active`` state, else ``samples @ w > 0``
    for the highlighted run's weight ``w`` (all False when neither is known)."""
    if active is None and w is not None:
        active = samples @ w > 0
    if active is None or len(active) != len(samples):
        active = np.zeros(len(samples), dtype=bool)
    return np.asarray(active, dtype=bool)


def cache_axes(*plot_items):
    """Render axes (ticks, labels, grid) from a pixmap cache: they rarely change, while
    repainting them with a grid costs ~2 ms per axis per frame on a software rasteriser."""
    for item in plot_items:
        for name in ("left", "bottom", "top", "right"):
            item.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


class TrailPlot(QWidget):
    """Base widget: a pyqtgraph plot with a :class:`TrailLayer`, a legend and a colour bar.

    Parameters
    ----------
    parent : QWidget or None
    trail_length : int
        Initial trail length in frames (0: whole history).
    max_drawn : int or None
        Draw at most this many trajectories (evenly subsampled).

    Signals
    -------
    sigTrajectoryClicked(int)
        The user clicked the head of trajectory ``index`` (original index).
    """

    sigTrajectoryClicked = Signal(int)

    def __init__(self, parent=None, trail_length=50, max_drawn=None):
        super().__init__(parent)
        self.plot_widget = pg.PlotWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)
        self.plot_item = pi = self.plot_widget.getPlotItem()
        pi.setMenuEnabled(False)
        pi.showGrid(x=True, y=True, alpha=0.12)
        for side in ("left", "bottom"):
            pi.getAxis(side).enableAutoSIPrefix(False)
        cache_axes(pi)
        self.layer = TrailLayer(pi, max_drawn=max_drawn)
        self.layer.trail_length = int(trail_length)
        self.layer.heads.sigClicked.connect(self._on_heads_clicked)
        self.legend = pg.LegendItem(offset=(8, 8), labelTextSize="8pt",
                                     brush=(255, 255, 255, 215), pen=(160, 160, 160))
        self.legend.setParentItem(pi.getViewBox())
        self.legend.setZValue(100)
        self.color_bar = None
        self._frame = 0

    @property
    def frame(self):
        """Index of the frame shown."""
        return self._frame

    def set_frame(self, i):
        """Show frame ``i`` (clipped to the recording): trails, heads, then :meth:`_redraw`."""
        self._frame = int(np.clip(i, 0, max(self.layer.n_frames - 1, 0)))
        self.layer.update(self._frame)
        self._redraw()

    def _redraw(self):
        """Per-frame hook for subclasses."""

    def set_trail_length(self, k):
        """Trail length in frames (0 draws the whole history)."""
        self.layer.trail_length = max(0, int(k))
        self.set_frame(self._frame)

    def _set_layer_data(self, w):
        """Give the layer new (T, N, 2) data; colours survive only if N is unchanged."""
        self.layer.set_data(w)
        if self.color_bar is not None and not self.layer.colored:
            self.color_bar.setVisible(False)

    def set_colors(self, values, cmap="viridis", limits=None, label=""):
        """Colour heads by one value per trajectory (None: a single colour).

        Parameters
        ----------
        values : array_like, shape (N,), or None
            E.g. initial angle or final loss; non-finite values are drawn grey.
        cmap : str
            pyqtgraph colormap name.
        limits : (float, float) or None
            Colour range; the finite min/max when None.
        label : str
            Colour-bar title.
        """
        if values is None:
            self.layer.set_brushes(None)
            if self.color_bar is not None:
                self.color_bar.setVisible(False)
        else:
            brushes, limits, cmap = brushes_for(values, cmap, limits)
            self.layer.set_brushes(brushes)
            if self.color_bar is None:
                self.color_bar = pg.ColorBarItem(colorMap=cmap, values=limits, width=12,
                                                 interactive=False)
                self.plot_item.layout.addItem(self.color_bar, 2, 5)
                cache_axes(self.color_bar)
            self.color_bar.setColorMap(cmap)
            self.color_bar.setLevels(limits)
            self.color_bar.getAxis("left").setLabel(label)
            self.color_bar.setVisible(True)
        self.set_frame(self._frame)

    def set_axis_labels(self, x, y):
        """Axis titles."""
        self.plot_item.setLabel("bottom", x)
        self.plot_item.setLabel("left", y)

    def _set_legend(self, entries):
        """Replace the legend by ``(item, text)`` entries (structural changes only)."""
        self.legend.clear()
        for item, name in entries:
            self.legend.addItem(item, name)
        for sample, _label in self.legend.items:
            sample.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def _on_heads_clicked(self, _item, points, _ev=None):
        """Emit the original index of the first clicked head."""
        if len(points):
            self.sigTrajectoryClicked.emit(int(self.layer.head_index[points[0].index()]))


def run_demo(build, title, n_frames=400):
    """Show ``build()`` (a widget with ``set_frame``) animated over ``n_frames`` frames.

    ``--screenshot PATH`` on the command line saves a PNG after 1.5 s and quits.
    """
    import sys

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv)
    widget = build()
    widget.setWindowTitle(title)
    widget.resize(900, 700)
    widget.show()
    state = {"i": 0}

    def tick():
        state["i"] = (state["i"] + 2) % n_frames
        widget.set_frame(state["i"])

    timer = QTimer(widget, interval=30, timeout=tick)
    timer.start()
    if "--screenshot" in sys.argv:
        path = sys.argv[sys.argv.index("--screenshot") + 1]
        QTimer.singleShot(1500, lambda: (timer.stop(), widget.grab().save(path), app.quit()))
    app.exec()

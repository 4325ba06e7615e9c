"""Shared pieces of the trajectory views: trails + heads layer, base plot widget, demo runner.

Used by ``widgets.trajectory_canvas``, ``widgets.phase_portrait`` and
``widgets.trajectory_view3d``.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGraphicsItem, QVBoxLayout, QWidget

__all__ = ["TrailPlot", "TrailLayer", "brushes_for", "cache_axes", "sample_activity",
           "finite_bounds", "run_demo", "synthetic_trajectories"]

HEAD_COLOR = "#4c9be8"
TRAIL_COLOR = (140, 170, 210, 110)
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


class TrailLayer:
    """Trails and heads of many 2-D trajectories as exactly two pyqtgraph items.

    Trails are one ``PlotDataItem`` whose data is all trajectories' recent points separated by
    a NaN (``connect`` array, so the path is built vectorised); heads are one
    ``ScatterPlotItem``. Both are created once and updated in place.

    Parameters
    ----------
    plot_item : pyqtgraph.PlotItem
        Where the items are added.
    max_drawn : int or None
        Draw at most this many trajectories (evenly subsampled); all when None.
    head_size : float
        Head symbol size in pixels.
    """

    def __init__(self, plot_item, max_drawn=None, head_size=7):
        self.max_drawn = max_drawn
        self.trail_length = 50
        self.trails = pg.PlotDataItem(pen=pg.mkPen(TRAIL_COLOR, width=1))
        self.heads = pg.ScatterPlotItem(size=head_size, pen=pg.mkPen(20, 20, 20, 160),
                                        brush=pg.mkBrush(HEAD_COLOR), pxMode=True, useCache=True)
        self.trails.setZValue(1)
        self.heads.setZValue(3)
        plot_item.addItem(self.trails)
        plot_item.addItem(self.heads)
        self._data = np.zeros((2, 0, 0))       # (2, n, T), contiguous per trajectory
        self._index = np.zeros(0, dtype=int)   # drawn trajectory -> original index
        self.n_total = 0                       # N, including trajectories not drawn
        self._brushes = self._all_brushes = None  # QBrush object arrays (drawn / all N)
        self._buf = np.empty(0)
        self.head_index = np.zeros(0, dtype=int)  # head spot -> original trajectory index

    @property
    def n_frames(self):
        """Number of recorded frames."""
        return self._data.shape[2]

    def set_data(self, w):
        """Store trajectories ``w`` of shape (T, N, 2); keep the drawn subset contiguous."""
        w = np.asarray(w, dtype=float)
        n = w.shape[1]
        index = np.arange(n)
        if self.max_drawn is not None and n > self.max_drawn:
            index = np.unique(np.linspace(0, n - 1, self.max_drawn).round().astype(int))
        self._index, self.n_total = index, n
        self._data = np.ascontiguousarray(w[:, index, :2].transpose(2, 1, 0))
        keep = self._all_brushes is not None and len(self._all_brushes) == n
        self.set_brushes(self._all_brushes if keep else None)

    @property
    def colored(self):
        """Whether per-trajectory brushes are in use."""
        return self._brushes is not None

    def set_brushes(self, brushes):
        """Per-trajectory brushes (object array over all N) or None for one colour."""
        if brushes is not None and len(brushes) != self.n_total:
            raise ValueError(f"need {self.n_total} colours (one per run), got {len(brushes)}")
        self._all_brushes = None if brushes is None else np.asarray(brushes, dtype=object)
        self._brushes = None if brushes is None else self._all_brushes[self._index]

    def _trail_arrays(self, start, stop):
        """Fill the preallocated NaN-separated buffer with frames ``start:stop``."""
        n, length = self._data.shape[1], stop - start
        size = 2 * n * (length + 1)
        if self._buf.size < size:
            self._buf = np.empty(max(size, 2 * self._buf.size))
        out = self._buf[:size].reshape(2, n, length + 1)
        out[:, :, :length] = self._data[:, :, start:stop]
        out[:, :, length] = np.nan
        x, y = out[0].reshape(-1), out[1].reshape(-1)
        ok = np.isfinite(x) & np.isfinite(y)
        connect = ok.copy()
        connect[:-1] &= ok[1:]
        return x, y, connect

    def update(self, i):
        """Show trails ending at frame ``i`` and the heads at frame ``i``."""
        n_frames = self._data.shape[2]
        if n_frames == 0:
            self.trails.setData([], [])
            self.heads.setData(pos=np.zeros((0, 2)))
            self.head_index = np.zeros(0, dtype=int)
            return
        i = int(np.clip(i, 0, n_frames - 1))
        start = 0 if self.trail_length <= 0 else max(0, i - self.trail_length)
        x, y, connect = self._trail_arrays(start, i + 1)
        # an explicit connect array builds the QPainterPath vectorised (connect="finite"
        # loops over the N pieces in Python); the finite check back-fills NaNs for Qt
        self.trails.setData(x, y, connect=connect.astype(np.int32), skipFiniteCheck=False)
        pos = self._data[:, :, i].T
        ok = np.isfinite(pos).all(axis=1)
        self.head_index = self._index[ok]
        extra = {} if self._brushes is None else {"brush": self._brushes[ok]}
        self.heads.setData(pos=pos[ok], **extra)


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

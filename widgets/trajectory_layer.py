"""The trails and heads of many 2-D trajectories as a few pyqtgraph items, drawn per
playback frame at the least cost a software rasteriser allows (issue #16).

Used by :class:`widgets.trail_plot.TrailPlot` (the trajectory canvas and phase portrait).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem

__all__ = ["TrailLayer", "cache_static", "move_spots", "HEAD_COLOR", "TRAIL_COLOR"]

HEAD_COLOR = "#4c9be8"
TRAIL_COLOR = (140, 170, 210, 110)
SMOOTH_MAX = 100          # trails of more trajectories are drawn without antialiasing
SETTLE_POINTS = 4_000     # whole-history trails with more points split off a cached part
SETTLE_FRAMES = 16        # ... re-stroked once every this many frames


def cache_static(*items):
    """Paint items that do not change per frame from a pixmap cache: a playback frame that
    repaints the plot (moving heads, a cursor) then blits them instead of stroking their
    paths again. ``PlotDataItem`` s cache their curve and scatter children."""
    for item in items:
        for part in (getattr(item, "curve", None), getattr(item, "scatter", None)) \
                if isinstance(item, pg.PlotDataItem) else (item,):
            if part is not None:
                part.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


def move_spots(scatter, pos):
    """Move the ``len(pos)`` spots of ``scatter`` to ``pos`` (M, 2), keeping their brushes,
    pens and symbols: what ``setData(pos=..., brush=...)`` would show, without rebuilding the
    spot table and its brush objects (the per-frame cost of many coloured heads)."""
    data = scatter.data
    data["x"] = pos[:, 0]
    data["y"] = pos[:, 1]
    scatter.prepareGeometryChange()
    scatter.informViewBoundsChanged()
    scatter.bounds = [None, None]
    scatter.invalidate()


class TrailLayer:
    """Trails and heads of many 2-D trajectories as exactly two pyqtgraph items.

    Trails are one ``PlotDataItem`` whose data is all trajectories' recent points separated by
    a NaN (``connect`` array, so the path is built vectorised); heads are one
    ``ScatterPlotItem``. Both are created once and updated in place: a frame moves the heads
    (:func:`move_spots`) and re-strokes the trails. Whole-history trails of more than
    ``SETTLE_POINTS`` points keep frames ``0 … s`` (``s`` a multiple of ``SETTLE_FRAMES``) in
    a second, pixmap-cached curve (``settled``), so a frame strokes at most
    ``SETTLE_FRAMES`` frames of every trail; more than ``SMOOTH_MAX`` trails are drawn
    without antialiasing (a software rasteriser strokes them ~4x faster).

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
        self.settled = pg.PlotCurveItem(pen=pg.mkPen(TRAIL_COLOR, width=1))
        cache_static(self.settled)
        self.heads = pg.ScatterPlotItem(size=head_size, pen=pg.mkPen(20, 20, 20, 160),
                                        brush=pg.mkBrush(HEAD_COLOR), pxMode=True, useCache=True)
        for z, item in ((1, self.settled), (1, self.trails), (3, self.heads)):
            item.setZValue(z)
            plot_item.addItem(item)
        self._settled_to = -1                  # last frame in ``settled`` (-1: empty)
        self._heads_stale = True               # brushes or count changed: full setData
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
        smooth = len(index) <= SMOOTH_MAX
        self.trails.setData(antialias=smooth)
        self.settled.setData(antialias=smooth)
        self._settle(-1)
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
        self._heads_stale = True

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
            self._settle(-1)
            self.trails.setData([], [])
            self.heads.setData(pos=np.zeros((0, 2)))
            self.head_index = np.zeros(0, dtype=int)
            return
        i = int(np.clip(i, 0, n_frames - 1))
        start = 0 if self.trail_length <= 0 else max(0, i - self.trail_length)
        settled = self._settle(self._settled_frame(i) if start == 0 else -1)
        x, y, connect = self._trail_arrays(max(start, settled), i + 1)
        # an explicit connect array builds the QPainterPath vectorised (connect="finite"
        # loops over the N pieces in Python); the finite check back-fills NaNs for Qt
        self.trails.setData(x, y, connect=connect.astype(np.int32), skipFiniteCheck=False)
        self._update_heads(self._data[:, :, i].T)

    def _settled_frame(self, i):
        """Last frame of the cached part of whole-history trails ending at ``i`` (-1: none)."""
        if self._data.shape[1] * (i + 1) <= SETTLE_POINTS:
            return -1
        return (i // SETTLE_FRAMES) * SETTLE_FRAMES

    def _settle(self, last):
        """Put frames ``0 … last`` in the cached curve (re-stroked only when ``last``
        changes; -1 empties it). Returns ``last``: the live trails start there."""
        if last != self._settled_to:
            if last < 1:
                self.settled.setData([], [])
            else:
                x, y, connect = self._trail_arrays(0, last + 1)
                self.settled.setData(x.copy(), y.copy(), connect=connect.astype(np.int32),
                                     skipFiniteCheck=False)
            self._settled_to = last
        return last

    def _update_heads(self, pos):
        """Heads at ``pos`` (n, 2): moved in place while every head stays finite."""
        ok = np.isfinite(pos).all(axis=1)
        if ok.all() and not self._heads_stale and len(self.heads.data) == len(pos):
            move_spots(self.heads, pos)
            return
        self.head_index = self._index[ok]
        extra = {} if self._brushes is None else {"brush": self._brushes[ok]}
        self.heads.setData(pos=pos[ok], **extra)
        self._heads_stale = not ok.all()

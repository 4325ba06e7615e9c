"""Legend and reference-line labels of a pyqtgraph plot, placed where they hide no data.

:class:`OverlayPlacer` owns the placement of a plot's ``LegendItem`` and of the text labels of
its horizontal/vertical reference lines (``pg.InfiniteLine``). Everything is computed in
view-box pixels: the plotted curves are sampled every few pixels (:func:`sample_polyline`)
and each candidate box is scored by the number of samples it covers (:class:`SampleGrid`).

* The legend goes to the candidate position that covers the fewest samples: the preferred
  corner, the other corners, edge middles and centre (matplotlib's ``loc="best"``), then
  positions sliding along the left/right/centre columns and top/bottom rows (a gap between
  curves). Earlier candidates win ties; the current position is kept while it is as good as
  any other (no jumping while the data change).
* A line label is anchored *inside* the view at one end of its line, above/below (or
  left/right of) it, wherever it covers the fewest samples and does not meet the legend or an
  earlier label; it is shifted inside the view box when it would stick out.

Placement is re-evaluated (coalesced by a zero-time timer) when the data, the view range or
the view size change.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from widgets.plot_geometry import (LEGEND_MARGIN, LEGEND_POSITIONS, SampleGrid, edge_offset,
                                   label_candidates, legend_anchors, legend_rect,
                                   sample_polyline, view_to_pixels)

__all__ = ["OverlayPlacer", "LegendProxy", "LEGEND_POSITIONS", "sample_polyline",
           "SampleGrid", "view_to_pixels"]

_LEGEND_CLEARANCE = 4.0   # px around the legend that must be free of data too
_BLOCKED = 1e9         # score of a box that meets the legend or another label


class LegendProxy(pg.PlotDataItem):
    """Legend sample for items drawn elsewhere (a band, a reference line); toggling it in the
    legend shows/hides them."""

    def __init__(self, parts, **kwargs):
        super().__init__(**kwargs)
        self._parts = parts

    def setVisible(self, visible):  # noqa: N802 (Qt naming)
        super().setVisible(visible)
        for item in getattr(self, "_parts", ()):
            item.setVisible(visible)


def set_legend_columns(legend: pg.LegendItem, cols: int) -> None:
    """Lay the legend's entries out in ``cols`` columns (row by row, order kept).

    ``LegendItem.setColumnCount`` re-uses a grid layout that never shrinks, so going back to
    fewer columns leaves empty cells; the entries are re-added to a fresh layout instead.
    """
    if cols == legend.columnCount:
        return
    entries = [(sample.item, label.text) for sample, label in legend.items]
    old = legend.layout
    legend.clear()
    layout = QtWidgets.QGraphicsGridLayout()
    layout.setVerticalSpacing(old.verticalSpacing())
    layout.setHorizontalSpacing(old.horizontalSpacing())
    legend.layout = layout
    legend.setLayout(layout)
    legend.columnCount, legend.rowCount = int(cols), 1
    for item, name in entries:
        legend.addItem(item, name)


# ---------------------------------------------------------------------- placer
class OverlayPlacer(QtCore.QObject):
    """Places a plot's legend and reference-line labels where they hide the fewest samples.

    Parameters
    ----------
    plot_item : pyqtgraph.PlotItem
    legend : pyqtgraph.LegendItem
        A legend whose parent is the plot's view box.
    data_items : callable
        Returns the items whose drawing must stay visible: ``PlotDataItem`` (their displayed
        data are sampled) and ``InfiniteLine`` (sampled across the view).
    """

    def __init__(self, plot_item: pg.PlotItem, legend: pg.LegendItem,
                 data_items: Callable[[], Iterable], parent: Optional[QtCore.QObject] = None):
        super().__init__(parent)
        self.plot_item, self.legend, self._data_items = plot_item, legend, data_items
        self.preferred, self.auto = "top-left", True
        self.position = LEGEND_POSITIONS[self.preferred]      # current anchor (fx, fy)
        self._labels: dict[str, tuple[pg.InfiniteLine, pg.TextItem, int]] = {}
        self._sizes: dict[tuple, tuple[float, float]] = {}     # (columns, names) → size
        self._timer = QtCore.QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self.update)
        vb = plot_item.vb
        vb.sigRangeChanged.connect(self.schedule)
        vb.sigResized.connect(self.schedule)

    # -- configuration ---------------------------------------------------------------------
    def set_preferred(self, corner: str, auto: bool = True) -> None:
        """Preferred legend position (a key of :data:`LEGEND_POSITIONS`); ``auto=False`` pins
        it there, else it moves away when another position hides fewer samples."""
        if corner not in LEGEND_POSITIONS:
            raise ValueError(f"corner must be one of {', '.join(LEGEND_POSITIONS)}, "
                             f"got {corner!r}")
        self.preferred, self.auto = corner, bool(auto)
        self.position = LEGEND_POSITIONS[corner]
        self._anchor_legend(self.position)
        self.schedule()

    def set_label(self, key: str, line: pg.InfiniteLine, text: str, axis: int) -> pg.TextItem:
        """Create or update the label of reference line ``line`` (``axis`` 1: horizontal)."""
        entry = self._labels.get(key)
        if entry is None or entry[0] is not line:
            self.remove_label(key)
            label = pg.TextItem("", color=(40, 40, 40), fill=(255, 255, 255, 170),
                                anchor=(0, 0))
            label.setParentItem(self.plot_item.vb)      # view-box pixels: fixed while panning
            label.setZValue(1500)
            entry = (line, label, axis)
            self._labels[key] = entry
        entry[1].setText(text)
        self.schedule()
        return entry[1]

    def remove_label(self, key: str) -> None:
        """Drop the label of ``key`` (unknown keys are ignored)."""
        entry = self._labels.pop(key, None)
        if entry is not None:
            entry[1].setParentItem(None)
            scene = entry[1].scene()
            if scene is not None:
                scene.removeItem(entry[1])

    def label(self, key: str) -> Optional[pg.TextItem]:
        """The label item of ``key`` (None without a label)."""
        entry = self._labels.get(key)
        return None if entry is None else entry[1]

    # -- placement -------------------------------------------------------------------------
    def schedule(self, *_) -> None:
        """Re-place everything once control returns to the event loop."""
        self._timer.start()

    def samples(self) -> np.ndarray:
        """Pixel samples (M, 2) of every visible data item and reference line."""
        vb = self.plot_item.vb
        size = (vb.width(), vb.height())
        out = [np.zeros((0, 2))]
        for item in self._data_items():
            if not item.isVisible():
                continue
            if isinstance(item, pg.InfiniteLine):
                xs, ys = self._line_ends(item)
            else:
                x, y = item.getData()
                if x is None or not len(x):
                    continue
                xs, ys = view_to_pixels(vb, x, y)
            out.append(sample_polyline(xs, ys, size))
        return np.concatenate(out)

    def _line_ends(self, line: pg.InfiniteLine):
        """Pixel end points of a horizontal/vertical line across the view."""
        vb, r = self.plot_item.vb, self.plot_item.vb.viewRect()
        v = line.value()
        if line.angle % 180 == 0:
            return view_to_pixels(vb, [r.left(), r.right()], [v, v])
        return view_to_pixels(vb, [v, v], [r.top(), r.bottom()])

    def update(self) -> None:
        """Place the legend, then every label (each avoiding the ones placed before)."""
        self._timer.stop()
        vb = self.plot_item.vb
        vb.prepareForPaint()                             # apply a pending auto-range
        if vb.width() <= 0 or vb.height() <= 0:
            return
        grid = SampleGrid(self.samples(), (vb.width(), vb.height()))
        taken = []
        if self.legend.isVisible() and self.legend.items:
            taken.append(self._place_legend(grid))
        for key in sorted(self._labels):
            rect = self._place_label(*self._labels[key], grid, taken)
            if rect is not None:
                taken.append(rect)

    def _anchor_legend(self, anchor: tuple) -> None:
        fx, fy = anchor
        self.legend.anchor(itemPos=(fx, fy), parentPos=(fx, fy),
                           offset=(edge_offset(fx), edge_offset(fy)))

    def legend_scores(self, grid: SampleGrid, size=None) -> dict[tuple, float]:
        """Samples covered by the legend (of ``size``, default its own) at each anchor of
        :func:`legend_anchors`; infinite when the legend is larger than the view."""
        vb = self.plot_item.vb
        size = size or (self.legend.width(), self.legend.height())
        view = (vb.width(), vb.height())
        anchors = legend_anchors(LEGEND_POSITIONS[self.preferred])
        if size[0] > view[0] - 2 * LEGEND_MARGIN or size[1] > view[1] - 2 * LEGEND_MARGIN:
            return {a: np.inf for a in anchors}
        pad = _LEGEND_CLEARANCE
        return {a: grid.count(legend_rect(*a, size, view).adjusted(-pad, -pad, pad, pad))
                for a in anchors}

    def _legend_size(self, cols: int) -> tuple[float, float]:
        """Size of the legend laid out in ``cols`` columns (measured once per entry list)."""
        key = (cols, tuple(label.text for _, label in self.legend.items))
        if key not in self._sizes:
            if len(self._sizes) > 64:                 # entry lists come and go: stay small
                self._sizes.clear()
            current = self.legend.columnCount
            set_legend_columns(self.legend, cols)
            self._sizes[key] = (self.legend.width(), self.legend.height())
            set_legend_columns(self.legend, current)
        return self._sizes[key]

    def _choose_legend(self, grid: SampleGrid) -> float:
        """Set the legend's columns (1 unless only 2 or 3 clear more data) and anchor (the
        current one while it is as good as any); returns the samples it covers."""
        best, current = None, (self.legend.columnCount, self.position)
        for cols in range(1, min(3, len(self.legend.items)) + 1):
            scores = self.legend_scores(grid, self._legend_size(cols))
            low = min(scores.values())
            if best is None or low < best[0]:
                keep = cols == current[0] and scores.get(current[1], np.inf) == low
                best = (low, cols, current[1] if keep else
                        next(a for a, n in scores.items() if n == low))
            if low == 0:
                break
        low, cols, self.position = best
        set_legend_columns(self.legend, cols)
        return low

    def _place_legend(self, grid: SampleGrid) -> QtCore.QRectF:
        """Move the legend to the best anchor; returns its pixel box. A legend that cannot
        avoid the data gets a more transparent background."""
        covered = self._choose_legend(grid) if self.auto else 0
        self.legend.setBrush(pg.mkBrush(255, 255, 255, 215 if covered == 0 else 120))
        self._anchor_legend(self.position)
        vb = self.plot_item.vb
        return legend_rect(*self.position, (self.legend.width(), self.legend.height()),
                           (vb.width(), vb.height()))

    def _place_label(self, line, label, axis, grid: SampleGrid, taken) -> Optional[QtCore.QRectF]:
        """Put one label at its best candidate box; None when its line is out of view."""
        vb = self.plot_item.vb
        w, h = vb.width(), vb.height()
        px, py = self._line_ends(line)
        pos = float(py[0] if axis == 1 else px[0])
        limit = h if axis == 1 else w
        visible = line.isVisible() and bool(label.textItem.toPlainText()) and 0 <= pos <= limit
        label.setVisible(visible)
        if not visible:
            return None
        br = label.boundingRect()
        boxes = label_candidates(axis, pos, (br.width(), br.height()), (w, h))
        scores = [grid.count(b) + _BLOCKED * any(b.intersects(t) for t in taken)
                  for b in boxes]
        rect = boxes[int(np.argmin(scores))]
        label.setPos(rect.topLeft())
        return rect

"""A keyed 2-D line plot: trajectory bundles, named curves, bands, reference lines, a cursor.

Every item is addressed by a string key. Setting a key again updates the existing pyqtgraph
item in place (``setData``), so the plot can be refreshed at frame rate. Data are kept raw;
log axes are applied here (non-positive values are dropped) so toggling ``set_log`` is safe.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from widgets.captioned_plot import fill_with_plot
from widgets.curve_data import (STYLES as _STYLES, clean_xy, color as _color, pack_lines,
                                subsample_columns, to_view)
from widgets.plot_overlays import LegendProxy, OverlayPlacer
from widgets.range_guard import RangeGuard

__all__ = ["CurvePlot", "subsample_columns", "pack_lines"]


class CurvePlot(QtWidgets.QWidget):
    """One pyqtgraph plot whose items are created once per key and updated in place.

    Parameters
    ----------
    title, x_label, y_label : str
        Plot title and axis labels.
    log_x, log_y : bool
        Logarithmic axes.
    parent : QWidget, optional
        Qt parent.

    Attributes
    ----------
    plot_widget, plot_item : pyqtgraph.PlotWidget, pyqtgraph.PlotItem

    Signals
    -------
    sigClicked(float, float)
        Left click inside the plot, in data coordinates.
    """

    sigClicked = QtCore.Signal(float, float)

    def __init__(self, title: str = "", x_label: str = "", y_label: str = "",
                 log_x: bool = False, log_y: bool = False,
                 parent: Optional[QtWidgets.QWidget] = None):
        super().__init__(parent)
        self.plot_widget, self.plot_item = fill_with_plot(self)
        self.plot_item.showGrid(x=True, y=True, alpha=0.2)
        for side in ("left", "bottom"):
            self.plot_item.getAxis(side).enableAutoSIPrefix(False)
        self._legend = self.plot_item.addLegend(offset=(10, 10), brush=(255, 255, 255, 215),
                                                pen=(160, 160, 160))
        self._legend.setZValue(2000)  # above the data
        self._legend.setVisible(False)
        self._items: dict[str, dict] = {}
        self.range_guard = RangeGuard(self.plot_item)   # no "−2e-154" axes for ~0 data
        self.overlays = OverlayPlacer(self.plot_item, self._legend, self._data_items, self)
        self._log = (bool(log_x), bool(log_y))
        self._cursor_x: Optional[float] = None
        self._cursor = pg.InfiniteLine(angle=90, movable=False,
                                       pen=pg.mkPen((255, 200, 0), width=1.5))
        self._cursor.setZValue(1000)
        self._cursor.setVisible(False)
        self.plot_item.addItem(self._cursor, ignoreBounds=True)
        self.set_labels(title, x_label, y_label)
        self.set_log(*self._log)
        self.plot_widget.scene().sigMouseClicked.connect(self._on_scene_click)

    # ------------------------------------------------------------------ axes
    def set_labels(self, title: str = "", x_label: str = "", y_label: str = "") -> None:
        """Set the title and axis labels."""
        self.plot_item.setTitle(title or None)
        self.plot_item.setLabel("bottom", x_label)
        self.plot_item.setLabel("left", y_label)

    def set_legend_corner(self, corner: str, auto: bool = True) -> None:
        """Preferred legend position: ``"top-left"``, ``"top-right"``, ``"bottom-left"``,
        ``"bottom-right"`` (or another key of :data:`widgets.plot_overlays.LEGEND_POSITIONS`).

        With ``auto`` (default) the legend still moves to the position that hides the fewest
        plotted points when the data change; ``auto=False`` pins it to ``corner``.
        """
        self.overlays.set_preferred(corner, auto)

    def update_overlays(self) -> None:
        """Place the legend and the reference-line labels now (normally done on the next
        pass of the event loop after the data, range or size change)."""
        self.overlays.update()

    def line_label(self, key: str):
        """The text item labelling reference line ``key`` (None without a label)."""
        return self.overlays.label(key)

    def _data_items(self) -> list:
        """Items the legend and labels must not hide: curves, bands' edges, reference lines."""
        out = []
        for entry in self._items.values():
            out += [p for p in entry["parts"] if not isinstance(p, pg.FillBetweenItem)]
        return out

    def set_log(self, x: bool, y: bool) -> None:
        """Switch the axes between linear and log scale; every item is redrawn."""
        self._log = (bool(x), bool(y))
        self.range_guard.release()
        self.plot_item.setLogMode(x=self._log[0], y=self._log[1])
        for entry in self._items.values():
            entry["apply"]()
        self.set_cursor(self._cursor_x)
        self.overlays.schedule()

    # ------------------------------------------------------------------ key bookkeeping
    def _entry(self, key: str, kind: str, make) -> dict:
        """The entry of ``key``; created with ``make()`` when missing or of another kind."""
        self.range_guard.release()
        entry = self._items.get(key)
        if entry is not None and entry["kind"] != kind:
            self.remove(key)
            entry = None
        if entry is None:
            entry = {"kind": kind, "name": None, **make()}
            self._items[key] = entry
        return entry

    def _set_legend(self, entry: dict, name: Optional[str]) -> None:
        """Add, rename or drop the legend entry of an item (never duplicated)."""
        sample = entry.get("legend_item", entry["item"])
        if entry["name"] == name:
            return
        if entry["name"] is not None:
            self._legend.removeItem(sample)
        if name is not None:
            self._legend.addItem(sample, name)
        entry["name"] = name
        self._legend.setVisible(len(self._legend.items) > 0)

    def _show(self, entry: dict, apply, name: Optional[str] = None) -> None:
        """Draw ``entry`` with ``apply()`` (kept: redrawn on every log-axis switch), place the
        overlays again and give it its legend ``name`` (None: none)."""
        entry["apply"] = apply
        apply()
        self.overlays.schedule()
        self._set_legend(entry, name)

    def keys(self) -> list[str]:
        """Keys of the items currently in the plot (the cursor is not one)."""
        return list(self._items)

    def item(self, key: str):
        """The main pyqtgraph item of ``key`` (PlotDataItem, FillBetweenItem or line)."""
        return self._items[key]["item"]

    def remove(self, key: str) -> None:
        """Remove the item(s) of ``key``; unknown keys are ignored."""
        entry = self._items.pop(key, None)
        if entry is None:
            return
        if entry["name"] is not None:
            self._legend.removeItem(entry.get("legend_item", entry["item"]))
            self._legend.setVisible(len(self._legend.items) > 0)
        for part in entry["parts"]:
            self.plot_item.removeItem(part)
        self.overlays.remove_label(key)
        self.overlays.schedule()

    def clear_items(self) -> None:
        """Remove every keyed item (the cursor stays)."""
        for key in list(self._items):
            self.remove(key)

    # ------------------------------------------------------------------ data items
    def _make_curve(self) -> dict:
        item = pg.PlotDataItem()
        # Long curves (training objectives: 10⁴ steps) are drawn at about the pixel
        # resolution, keeping each pixel column's min and max: same picture, far less paint.
        item.opts["autoDownsampleFactor"] = 1.5     # pyqtgraph's default keeps 5 per pixel
        item.setDownsampling(auto=True, method="peak")
        item.setClipToView(True)
        self.plot_item.addItem(item)
        return {"item": item, "parts": [item]}

    def set_lines(self, key: str, x, Y, color=(100, 160, 255), alpha: int = 80,
                  max_lines: int = 300, width: float = 1) -> None:
        """Draw many trajectories as one item.

        Parameters
        ----------
        key : str
            Item key.
        x : array_like of shape (T,)
            Shared abscissa.
        Y : array_like of shape (T, N) or (T,)
            One trajectory per column; non-finite values break the line.
        color : tuple or str
            Line colour; ``alpha`` (0-255) is applied on top.
        max_lines : int
            At most this many evenly spaced columns are drawn (deterministic).
        width : float
            Line width in pixels.
        """
        x = np.asarray(x, dtype=float).ravel()
        Y = np.asarray(Y, dtype=float)
        Y = Y[:, None] if Y.ndim == 1 else Y
        if Y.ndim != 2 or Y.shape[0] != x.size:
            raise ValueError(f"set_lines: x has shape {x.shape}, Y has shape {Y.shape}")
        Y = Y[:, subsample_columns(Y.shape[1], max_lines)]
        entry = self._entry(key, "lines", self._make_curve)
        pen = pg.mkPen(_color(color, alpha), width=width)

        def apply():
            xs, ys = clean_xy(*pack_lines(x, Y), self._log)
            entry["item"].setData(xs, ys, pen=pen, connect="finite")

        self._show(entry, apply)

    def set_curve(self, key: str, x, y, color=(255, 255, 255), width: float = 2,
                  style: str = "solid", symbol: Optional[str] = None,
                  name: Optional[str] = None) -> None:
        """Draw one curve; ``name`` (if given) appears once in the legend.

        Parameters
        ----------
        key : str
            Item key.
        x, y : array_like of shape (T,)
            Curve data; non-finite values break the line.
        color : tuple or str
            Line (and symbol) colour.
        width : float
            Line width in pixels.
        style : {"solid", "dash", "dot"}
            Line style.
        symbol : str, optional
            pyqtgraph symbol (``"o"``, ``"s"``, ``"t"``, ``"x"``, ...) drawn at each point.
        name : str, optional
            Legend text.
        """
        if style not in _STYLES:
            raise ValueError(f"style must be one of {', '.join(_STYLES)}, got {style!r}")
        x = np.asarray(x, dtype=float).ravel()
        y = np.asarray(y, dtype=float).ravel()
        if x.shape != y.shape:
            raise ValueError(f"set_curve: x has shape {x.shape}, y has shape {y.shape}")
        entry = self._entry(key, "curve", self._make_curve)
        pen = pg.mkPen(_color(color), width=width, style=_STYLES[style])
        sym = dict(symbol=symbol, symbolSize=6, symbolPen=None,
                   symbolBrush=_color(color)) if symbol else dict(symbol=None)

        def apply():
            xs, ys = clean_xy(x, y, self._log)
            lone = not symbol and np.count_nonzero(np.isfinite(xs) & np.isfinite(ys)) == 1
            marks = dict(sym, symbol="o", symbolSize=6, symbolPen=None,
                         symbolBrush=_color(color)) if lone else sym   # one point: a dot
            entry["item"].setData(xs, ys, pen=pen, connect="finite", **marks)

        self._show(entry, apply, name)

    def _make_band(self) -> dict:
        lo, hi = pg.PlotDataItem(), pg.PlotDataItem()
        fill = pg.FillBetweenItem(lo, hi)
        for part in (fill, lo, hi):
            self.plot_item.addItem(part)
        proxy = LegendProxy([fill, lo, hi])
        return {"item": fill, "lo": lo, "hi": hi, "parts": [fill, lo, hi],
                "legend_item": proxy}

    def set_band(self, key: str, x, lo, hi, color=(100, 160, 255), alpha: int = 50,
                 name: Optional[str] = None) -> None:
        """Shade the region between ``lo`` and ``hi`` (e.g. a bound envelope).

        Parameters
        ----------
        key : str
            Item key.
        x, lo, hi : array_like of shape (T,)
            Abscissa, lower and upper edge; samples with non-drawable values are dropped.
        color : tuple or str
            Fill colour (edges are drawn in the same colour, faintly).
        alpha : int
            Fill opacity, 0-255.
        name : str, optional
            Legend text.
        """
        x, lo, hi = (np.asarray(a, dtype=float).ravel() for a in (x, lo, hi))
        if not x.shape == lo.shape == hi.shape:
            raise ValueError(f"set_band: shapes {x.shape}, {lo.shape}, {hi.shape} differ")
        entry = self._entry(key, "band", self._make_band)
        brush = pg.mkBrush(_color(color, alpha))
        edge = pg.mkPen(_color(color, min(255, 2 * alpha + 60)), width=1)
        entry["item"].setBrush(brush)
        entry["legend_item"].setData([], [], pen=edge, fillLevel=0, fillBrush=brush)

        def apply():
            xs, ylo = clean_xy(x, lo, self._log)
            _, yhi = clean_xy(x, hi, self._log)
            keep = np.isfinite(xs) & np.isfinite(ylo) & np.isfinite(yhi)
            entry["lo"].setData(xs[keep], ylo[keep], pen=edge)
            entry["hi"].setData(xs[keep], yhi[keep], pen=edge)
            entry["item"].updatePath()

        self._show(entry, apply, name)

    # ------------------------------------------------------------------ reference lines
    def _set_line(self, key: str, kind: str, angle: int, value: float, color,
                  label: Optional[str], name: Optional[str]) -> None:
        """A dashed reference line; its label is placed inside the view by the overlays."""
        def make():
            line = pg.InfiniteLine(angle=angle, movable=False)
            line.setZValue(500)
            self.plot_item.addItem(line)
            return {"item": line, "parts": [line], "legend_item": LegendProxy([line])}

        entry = self._entry(key, kind, make)
        line = entry["item"]
        pen = pg.mkPen(_color(color), width=1, style=QtCore.Qt.PenStyle.DashLine)
        line.setPen(pen)
        entry["legend_item"].setData([], [], pen=pen)
        axis = 1 if angle == 0 else 0
        if label:
            self.overlays.set_label(key, line, label, axis)
        else:
            self.overlays.remove_label(key)

        def apply():
            pos = to_view(value, self._log[axis])
            line.setVisible(pos is not None)
            if pos is not None:
                line.setValue(pos)

        self._show(entry, apply, name)

    def set_hline(self, key: str, y: float, color=(200, 200, 200),
                  label: Optional[str] = None, name: Optional[str] = None) -> None:
        """A horizontal reference line at ``y``: optional text ``label`` beside it (kept
        inside the view, away from the data) and/or ``name`` in the legend."""
        self._set_line(key, "hline", 0, y, color, label, name)

    def set_vline(self, key: str, x: float, color=(200, 200, 200),
                  label: Optional[str] = None, name: Optional[str] = None) -> None:
        """A vertical reference line at ``x`` (optional text ``label`` / legend ``name``)."""
        self._set_line(key, "vline", 90, x, color, label, name)

    def set_cursor(self, x: Optional[float]) -> None:
        """Move the time cursor to ``x`` (data coordinates); ``None`` hides it."""
        self._cursor_x = None if x is None else float(x)
        pos = None if x is None else to_view(x, self._log[0])
        self._cursor.setVisible(pos is not None)
        if pos is not None:
            self._cursor.setValue(pos)

    def cursor_item(self) -> pg.InfiniteLine:
        """The cursor line (created once)."""
        return self._cursor

    # ------------------------------------------------------------------ mouse
    def _on_scene_click(self, event) -> None:
        """Emit ``sigClicked`` for left clicks inside the view box."""
        if event.button() == QtCore.Qt.MouseButton.LeftButton:
            self.handle_scene_click(event.scenePos())

    def handle_scene_click(self, scene_pos: QtCore.QPointF) -> None:
        """Map a scene position to data coordinates and emit ``sigClicked``."""
        vb = self.plot_item.vb
        if not vb.sceneBoundingRect().contains(scene_pos):
            return
        p = vb.mapSceneToView(scene_pos)
        x = 10.0 ** p.x() if self._log[0] else p.x()
        y = 10.0 ** p.y() if self._log[1] else p.y()
        self.sigClicked.emit(float(x), float(y))


if __name__ == "__main__":  # pragma: no cover - manual demo
    from widgets.curve_plot_demo import main
    main()

"""Input-plane view of a ReLU network on 2-D input: activation regions, output, lines, data.

A ReLU net is affine on each cell where its activation pattern is constant. The app hands
this widget per-pixel pattern ids ``(ny, nx)`` on the grid ``x = linspace(*xlim, nx)``,
``y = linspace(*ylim, ny)`` (pixel ``[j, i]`` is centred on the node ``(x[i], y[j])``) and,
optionally, the network output on the same grid. Regions are coloured by a hash of their id
into a 256-colour pastel LUT, so a pattern keeps its colour across updates. Everything is drawn
by a fixed set of pyqtgraph items updated in place (colours: :mod:`widgets.region_style`).
Run ``python -m widgets.region_map`` for a demo (:mod:`widgets.region_map_demo`).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from widgets.region_style import (RegionKey, boundary_mask, clip_lines, data_brushes,
                                  draw_isocurves, hash_index, hover_anchor, node_rect,
                                  region_palette)

__all__ = ["MODES", "RegionMap", "boundary_mask", "clip_lines", "hash_index", "region_palette"]

MODES = ("regions", "output", "both")
_PANEL = {"color": (30, 30, 30), "fill": (255, 255, 255, 215), "border": (160, 160, 160)}


class RegionMap(QtWidgets.QWidget):
    """Activation regions of a ReLU net on 2-D input, with output, neuron lines and data.

    Attributes
    ----------
    plot_widget, plot_item : pyqtgraph.PlotWidget, pyqtgraph.PlotItem
    region_image, boundary_image, output_image, fade_image : pyqtgraph.ImageItem
    lines_item : pyqtgraph.PlotDataItem
        All neuron lines (and their positive-side ticks) as vertex pairs.
    line_marks, data_item : pyqtgraph.ScatterPlotItem
    isocurves : list of pyqtgraph.IsocurveItem
    hover_item : pyqtgraph.TextItem
    caption : QLabel
        Text above the map (:meth:`set_info`): never drawn over the regions.
    key : QLabel
        Key below the map, one entry per kind of mark drawn (:meth:`key_entries`).
    region_key : widgets.region_style.RegionKey
        What fills ``key`` (its ``names``: the words of each entry).

    Signals
    -------
    sigHover(float, float)
        Mouse position over the plot in data coordinates (at most ~30 Hz).
    sigClicked(float, float)
        Left click inside the plot, in data coordinates.
    """

    sigHover = QtCore.Signal(float, float)
    sigClicked = QtCore.Signal(float, float)
    iso_max_samples = 160   # the isocurves trace a strided copy of the output (pure-Python path)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(1)
        self.caption, self.key = QtWidgets.QLabel(self), QtWidgets.QLabel(self)
        for label in (self.caption, self.key):
            label.setWordWrap(True)
            label.setTextFormat(QtCore.Qt.TextFormat.RichText)
            label.setVisible(False)
        self.plot_widget = pg.PlotWidget(self)
        self.plot_item = self.plot_widget.getPlotItem()
        lay.addWidget(self.caption)
        lay.addWidget(self.plot_widget, 1)
        lay.addWidget(self.key)
        self.region_key = RegionKey(self.key, self.key_entries)
        self._data_kinds: tuple = ()
        self.plot_item.setAspectLocked(True)
        self.plot_item.layout.setContentsMargins(2, 8, 12, 2)   # room for the end tick labels
        self.plot_item.setLabel("bottom", "x₁")
        self.plot_item.setLabel("left", "x₂")
        self._lut = region_palette(256)
        self._rect: tuple | None = None
        self._ids = self._index = self._output = self._lines = None
        self._faded = False
        self._mode, self._show_boundaries = "regions", False
        self._hover_pos = QtCore.QPointF(0, 0)
        self._make_items()
        vb = self.plot_item.vb
        vb.setRange(xRange=(-1, 1), yRange=(-1, 1), padding=0.0)   # also ends auto-range
        vb.sigRangeChanged.connect(self._update_lines)
        vb.sigResized.connect(self._place_hover)
        scene = self.plot_widget.scene()
        scene.sigMouseClicked.connect(self._on_scene_click)
        # A bound method, not a lambda: the proxy (no Qt parent) would keep a lambda, and
        # through it this map, alive after its window is deleted.
        self._hover_proxy = pg.SignalProxy(scene.sigMouseMoved, rateLimit=30,
                                           slot=self._proxied_scene_move)

    def _make_items(self) -> None:
        """Create every item once (z: output 0, regions 1, boundaries 2, isolines 3, ...)."""
        self.output_image = pg.ImageItem(axisOrder="row-major")
        self.output_image.setLookupTable(pg.colormap.get("CET-D1").getLookupTable(nPts=256))
        self.region_image = pg.ImageItem(axisOrder="row-major")
        self.boundary_image = pg.ImageItem(axisOrder="row-major")
        self.boundary_image.setLookupTable(np.array([[0, 0, 0, 0], [40, 40, 40, 150]], np.uint8))
        self.fade_image = pg.ImageItem(axisOrder="row-major")
        self.fade_image.setLookupTable(np.array([[0, 0, 0, 0], [250, 250, 250, 225]], np.uint8))
        self.isocurves: list[pg.IsocurveItem] = []
        self.lines_item = pg.PlotDataItem(pen=pg.mkPen((35, 35, 35, 210), width=1.5))
        self.line_marks = pg.ScatterPlotItem(size=6, pen=pg.mkPen((30, 30, 30), width=0.8))
        self.data_item = pg.ScatterPlotItem(size=8, pen=pg.mkPen((25, 25, 25), width=1))
        items = (self.output_image, self.region_image, self.fade_image, self.boundary_image,
                 self.lines_item, self.line_marks, self.data_item)
        for z, item in zip((0, 1, 1.5, 2, 4, 4.5, 5), items):
            item.setZValue(z)
            item.setVisible(False)
            self.plot_item.addItem(item, ignoreBounds=z in (4, 4.5))  # lines follow the view
        self.hover_item = pg.TextItem(**_PANEL)
        self.hover_item.setAnchor((0, 0))     # placed by its top-left corner (hover_anchor)
        self.hover_item.setParentItem(self.plot_item.vb)  # view-box pixels: fixed while panning
        self.hover_item.setZValue(1000)
        self.hover_item.setVisible(False)

    # ------------------------------------------------------------------ regions
    def set_pattern_ids(self, ids, xlim, ylim, keys=None) -> None:
        """Colour the regions of a per-pixel pattern-id map (updated in place).

        Parameters
        ----------
        ids : array_like of int, shape (ny, nx)
            Pattern id of each grid node; equal ids = same region.
        xlim, ylim : (float, float)
            Grid extent: node ``[j, i]`` is ``(linspace(*xlim, nx)[i], linspace(*ylim, ny)[j])``.
            A new extent also resets the view to it.
        keys : array_like of int, shape (K,), optional
            Stable key of each id when ids are renumbered every frame (``ids`` in ``0..K−1``,
            e.g. the engine's pattern hashes); colours then follow the keys.
        """
        ids = np.asarray(ids)
        if ids.ndim != 2 or ids.dtype.kind not in "iu":
            raise ValueError(f"ids must be a 2-D integer array, got {ids.dtype} {ids.shape}")
        reuse = self._index is not None and self._index.shape == ids.shape and keys is None
        self._ids, self._faded = ids, False
        self._index = hash_index(keys)[ids] if keys is not None else \
            hash_index(ids, out=self._index if reuse else None)
        self.region_image.setImage(self._index, autoLevels=False, levels=(0, 255), lut=self._lut)
        rect = (float(xlim[0]), float(xlim[1]), float(ylim[0]), float(ylim[1]), ids.shape)
        if rect != self._rect:
            self._rect = rect
            for item in (self.region_image, self.boundary_image, self.output_image,
                         self.fade_image):
                if item.image is not None:    # setRect needs the image size
                    item.setRect(node_rect(*rect))
            self.plot_item.vb.setRange(xRange=xlim, yRange=ylim, padding=0.0)
        self._update_boundaries()
        self._apply_mode()

    def set_faded(self, mask) -> None:
        """Wash out the pixels where ``mask`` is True (e.g. regions not in use).

        Parameters
        ----------
        mask : array_like of bool, shape (ny, nx), or None
            On the grid of the last :meth:`set_pattern_ids` (which clears it); None clears.
        """
        if mask is None or self._ids is None:
            self._faded = False
            return self._apply_mode()
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != self._ids.shape:
            raise ValueError(f"mask must match the pattern-id grid {self._ids.shape}, "
                             f"got {mask.shape}")
        self.fade_image.setImage(mask.view(np.uint8), autoLevels=False, levels=(0, 1))
        self.fade_image.setRect(node_rect(*self._rect))
        self._faded = True
        self._apply_mode()

    def set_boundaries(self, show: bool) -> None:
        """Draw region boundaries (pixels where the id changes) as a dark overlay."""
        self._show_boundaries = bool(show)
        self._update_boundaries()
        self._apply_mode()

    def _update_boundaries(self) -> None:
        if not self._show_boundaries or self._ids is None:
            return
        width = 2 if self._ids.shape[1] > 1.2 * self.plot_item.vb.width() else 1
        mask = boundary_mask(self._ids, width).view(np.uint8)
        self.boundary_image.setImage(mask, autoLevels=False, levels=(0, 1))
        self.boundary_image.setRect(node_rect(*self._rect))

    # ------------------------------------------------------------------ output
    def set_output(self, values, levels=None) -> None:
        """Network output on the same grid: heat map (CET-D1, centred at 0) and isolines.

        Parameters
        ----------
        values : array_like of float, shape (ny, nx), or None
            Output at the grid nodes (same grid as the last ``set_pattern_ids``); None hides.
        levels : sequence of float, optional
            Isoline levels; default ``0`` (decision boundary, bold) and ``±max|f|/2``.
        """
        if values is None:
            self._output = None
            return self._apply_mode()
        v = np.asarray(values, dtype=float)
        if v.ndim != 2 or (self._ids is not None and v.shape != self._ids.shape):
            raise ValueError(f"values must match the pattern-id grid, got shape {v.shape}")
        finite = v[np.isfinite(v)]
        vmax = float(np.abs(finite).max()) if finite.size else 0.0
        vmax, self._output = (vmax if vmax > 0 else 1.0), v
        self.output_image.setImage(v, autoLevels=False, levels=(-vmax, vmax))
        if self._rect is not None:
            self.output_image.setRect(node_rect(*self._rect))
        levels = (0.0, -vmax / 2, vmax / 2) if levels is None else tuple(map(float, levels))
        draw_isocurves(self.plot_item, self.isocurves, v, levels, self._rect,
                       self.iso_max_samples)
        self._apply_mode()

    def set_mode(self, mode: str) -> None:
        """``"regions"``, ``"output"`` (heat map) or ``"both"`` (translucent regions on it)."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        self._mode = mode
        self._apply_mode()

    def _apply_mode(self) -> None:
        """Show the items the mode asks for (isolines whenever an output is set)."""
        has_ids, has_out = self._ids is not None, self._output is not None
        show_out = has_out and self._mode in ("output", "both")
        show_regions = has_ids and (self._mode != "output" or not has_out)
        self.output_image.setVisible(show_out)
        self.region_image.setVisible(show_regions)
        self.region_image.setOpacity(0.45 if show_out else 1.0)
        self.boundary_image.setVisible(show_regions and self._show_boundaries)
        self.fade_image.setVisible(show_regions and self._faded)
        for iso in self.isocurves:
            iso.setVisible(has_out and iso.data is not None)
        self.region_key.refresh()

    # ------------------------------------------------------------------ lines and data
    def set_lines(self, W, b, colors=None, ticks: bool = True) -> None:
        """First-layer neuron lines ``{x : W[j]·x + b[j] = 0}``, clipped to the view.

        Parameters
        ----------
        W : array_like, shape (m, 2), or None
            Normals; ``set_lines(None, None)`` hides the lines.
        b : array_like, shape (m,), or None
            Offsets.
        colors : sequence of colours, optional
            One per neuron: the dot at the tip of its positive-side tick.
        ticks : bool
            Draw a short tick from each line's midpoint towards ``W[j]·x + b[j] > 0``.
        """
        if W is None:
            self._lines = None
        else:
            W = np.asarray(W, dtype=float).reshape(-1, 2)
            b = np.asarray(b, dtype=float).reshape(-1)
            if len(b) != len(W):
                raise ValueError(f"W has {len(W)} rows but b has {len(b)} entries")
            cols = None if colors is None else [pg.mkBrush(c) for c in colors]
            self._lines = (W, b, cols, bool(ticks))
        self._update_lines()

    def _update_lines(self, *_) -> None:
        """Re-clip the lines to the current view (also called on every range change)."""
        show = self._lines is not None
        self.lines_item.setVisible(show)
        self.line_marks.setVisible(show)
        if not show:
            return self.region_key.refresh()
        W, b, cols, ticks = self._lines
        (x0, x1), (y0, y1) = self.plot_item.vb.viewRange()
        seg, keep = clip_lines(W, b, (x0, x1), (y0, y1))
        pts = seg.reshape(-1, 2)
        if ticks and len(keep):
            mid = seg.mean(axis=1)
            unit = W[keep] / np.linalg.norm(W[keep], axis=1, keepdims=True)
            tip = mid + 0.035 * min(x1 - x0, y1 - y0) * unit
            pts = np.concatenate([pts, np.stack([mid, tip], 1).reshape(-1, 2)])
            brush = [cols[j] for j in keep] if cols is not None and len(cols) == len(W) \
                else pg.mkBrush(255, 255, 255)
            self.line_marks.setData(pos=tip, brush=brush)
        else:
            self.line_marks.setData(pos=np.zeros((0, 2)))
        self.lines_item.setData(pts[:, 0], pts[:, 1], connect="pairs")
        self.region_key.refresh()

    def set_data(self, X, y=None, kind: str = "class") -> None:
        """Data scatter with dark edges (``X=None`` hides it).

        Parameters
        ----------
        X : array_like, shape (n, 2), or None
            Inputs; rows with non-finite entries are skipped.
        y : array_like, shape (n,), optional
            Labels (``"class"``: ±1 or 0/1, positive red, negative blue) or targets
            (``"regression"``: viridis over their range).
        kind : {"class", "regression"}
        """
        if kind not in ("class", "regression"):
            raise ValueError(f"kind must be 'class' or 'regression', got {kind!r}")
        if X is None:
            self.data_item.setData(pos=np.zeros((0, 2)))
            self.data_item.setVisible(False)
            self._data_kinds = ()
            return self.region_key.refresh()
        X = np.asarray(X, dtype=float).reshape(-1, 2)
        y = np.ones(len(X)) if y is None else np.asarray(y, dtype=float).reshape(-1)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} entries")
        ok = np.isfinite(X).all(axis=1) & np.isfinite(y)
        X, y = X[ok], y[ok]
        brush, self._data_kinds = data_brushes(y, kind)
        self.data_item.setData(pos=X, brush=brush)
        self.data_item.setVisible(True)
        self.region_key.refresh()

    # ------------------------------------------------------------------ key and text
    def set_key_names(self, **names: str) -> None:
        """Rename key entries (keys of :data:`widgets.region_style.KEY_NAMES`), e.g. when the
        lines are not neurons (gate space: the data points' lines)."""
        self.region_key.rename(**names)

    def key_entries(self) -> list[str]:
        """Kinds of marks drawn now, in key order: ``boundary`` (f = 0, thick black),
        ``isolines`` (dashed), ``lines`` (neuron lines), ``ticks`` (white dots on stems),
        ``pos``/``neg``/``targets`` (data), ``output`` (heat map), ``faded``."""
        out = []
        if self._output is not None:
            levels = [iso.level for iso in self.isocurves if iso.isVisible()]
            out += ["boundary"] * any(lv == 0 for lv in levels)
            out += ["isolines"] * any(lv != 0 for lv in levels)
        if self._lines is not None and self.lines_item.isVisible() and \
                self.lines_item.xData is not None and len(self.lines_item.xData):
            out.append("lines")
            out += ["ticks"] * (len(self.line_marks.data) > 0)
        if self.data_item.isVisible():
            out += list(self._data_kinds)
        out += ["output"] * self.output_image.isVisible()
        out += ["faded"] * (self._faded and self.fade_image.isVisible())
        return out

    def set_info(self, text: str | None) -> None:
        """Caption above the map (e.g. the exact region count; rich text, newlines kept);
        ''/None hides it. It is never drawn over the regions."""
        self.caption.setText((text or "").replace("\n", "<br>"))
        self.caption.setVisible(bool(text))

    def info_text(self) -> str:
        """The caption as plain text."""
        return QtGui.QTextDocumentFragment.fromHtml(self.caption.text()).toPlainText()

    def set_hover_text(self, text: str | None) -> None:
        """Show the app's answer to the last ``sigHover`` next to the cursor; ''/None hides."""
        self.hover_item.setText(text or "")
        self.hover_item.setVisible(bool(text))
        self._place_hover()

    def _place_hover(self, *_) -> None:
        """Put the hover text beside the cursor, flipped so that it stays inside the view."""
        vb, p, box = self.plot_item.vb, self._hover_pos, self.hover_item.boundingRect()
        self.hover_item.setPos(*hover_anchor(p.x(), p.y(), vb.width(), vb.height(),
                                             (box.width(), box.height())))

    # ------------------------------------------------------------------ mouse
    def _proxied_scene_move(self, args) -> None:
        self.handle_scene_move(args[0])

    def handle_scene_move(self, scene_pos: QtCore.QPointF) -> None:
        """Emit ``sigHover`` for a scene position inside the view box (else hide the text)."""
        vb = self.plot_item.vb
        if not vb.sceneBoundingRect().contains(scene_pos):
            self.hover_item.setVisible(False)
            return
        self._hover_pos = vb.mapFromScene(scene_pos)
        p = vb.mapSceneToView(scene_pos)
        self.sigHover.emit(float(p.x()), float(p.y()))

    def _on_scene_click(self, event) -> None:
        if event.button() == QtCore.Qt.MouseButton.LeftButton:
            self.handle_scene_click(event.scenePos())

    def handle_scene_click(self, scene_pos: QtCore.QPointF) -> None:
        """Emit ``sigClicked`` for a scene position inside the view box."""
        vb = self.plot_item.vb
        if vb.sceneBoundingRect().contains(scene_pos):
            p = vb.mapSceneToView(scene_pos)
            self.sigClicked.emit(float(p.x()), float(p.y()))


if __name__ == "__main__":  # pragma: no cover - manual demo
    from widgets.region_map_demo import main
    main()

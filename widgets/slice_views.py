"""The parts of one view of :class:`widgets.slice_viewer.SliceViewer`.

Holds the axis table of the three planes (array axes z=0, y=1, x=2 of ``data[z, y, x]``), the
crosshair colours, :func:`auto_window` (the initial window of a volume), :class:`SliceBox` (the
ViewBox that turns mouse input into cursor, slice and window changes) and :func:`make_view`,
which builds one view: GraphicsView, SliceBox, ImageItem, crosshair lines and corner tag.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

if TYPE_CHECKING:
    from widgets.slice_viewer import SliceViewer

__all__ = ["AXES", "PLANE_OF_AXIS", "VIEWS", "SliceBox", "auto_window", "make_view"]

VIEWS = ("axial", "coronal", "sagittal")
# per view: (horizontal array axis, vertical array axis, slice array axis); array axes z=0, y=1, x=2
AXES = {"axial": (2, 1, 0), "coronal": (2, 0, 1), "sagittal": (1, 0, 2)}
PLANE_OF_AXIS = {0: "axial", 1: "coronal", 2: "sagittal"}
_COLORS = {"axial": (220, 60, 50), "coronal": (40, 170, 60), "sagittal": (50, 110, 230)}
_PANEL = {"color": (30, 30, 30), "fill": (255, 255, 255, 200), "border": (160, 160, 160)}
_Qt = QtCore.Qt


def auto_window(data: np.ndarray) -> tuple[float, float]:
    """(level, width) from the 0.5–99.5 % percentiles of a ≤ 64³ subsample's finite values."""
    step = max(1, int(np.ceil(max(data.shape) / 64)))
    sub = data[::step, ::step, ::step]
    sub = sub[np.isfinite(sub)]
    lo, hi = (float(v) for v in np.percentile(sub, (0.5, 99.5))) if sub.size else (0.0, 1.0)
    if hi <= lo:                                  # (nearly) constant: a unit window around it
        lo, hi = lo - 0.5, lo + 0.5
    return (lo + hi) / 2, hi - lo


class SliceBox(pg.ViewBox):
    """ViewBox that turns mouse input into cursor, slice and window/level changes."""

    def __init__(self, viewer: SliceViewer, name: str):
        super().__init__(lockAspect=True, enableMenu=False)
        self.viewer, self.name = viewer, name

    def mouseClickEvent(self, ev):
        if ev.button() == _Qt.MouseButton.LeftButton:
            ev.accept()
            self.viewer._cursor_to(self.name, self.mapSceneToView(ev.scenePos()))

    def mouseDragEvent(self, ev, axis=None):
        button, ctrl = ev.button(), bool(ev.modifiers() & _Qt.KeyboardModifier.ControlModifier)
        if button == _Qt.MouseButton.RightButton or (button == _Qt.MouseButton.LeftButton and ctrl):
            ev.accept()
            self.viewer._window_drag(ev)
        elif button == _Qt.MouseButton.LeftButton:
            ev.accept()
            self.viewer._cursor_to(self.name, self.mapSceneToView(ev.scenePos()))
        else:
            self.viewer.user_zoomed = True
            super().mouseDragEvent(ev, axis)

    def wheelEvent(self, ev, axis=None):
        if ev.modifiers() & _Qt.KeyboardModifier.ControlModifier:
            self.viewer.user_zoomed = True
            return super().wheelEvent(ev, axis)
        ev.accept()
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        if delta:
            self.viewer.step_slice(self.name, 1 if delta > 0 else -1)


def make_view(viewer: SliceViewer, name: str):
    """Build view ``name`` of ``viewer``: a GraphicsView holding a :class:`SliceBox`, its
    ImageItem, the crosshair lines and the corner tag.

    Returns
    -------
    tuple
        ``(graphics_view, view_box, image_item, (vline, hline), tag)``.
    """
    gv = pg.GraphicsView(viewer)
    gv.setFocusPolicy(_Qt.FocusPolicy.NoFocus)
    vb = SliceBox(viewer, name)
    gv.setCentralItem(vb)
    vb.invertY(name == "axial")                 # axial: y down; coronal/sagittal: z up
    img = pg.ImageItem(axisOrder="row-major")
    vb.addItem(img)
    h_axis, v_axis, _ = AXES[name]
    vline = pg.InfiniteLine(angle=90, pen=pg.mkPen(_COLORS[PLANE_OF_AXIS[h_axis]], width=1))
    hline = pg.InfiniteLine(angle=0, pen=pg.mkPen(_COLORS[PLANE_OF_AXIS[v_axis]], width=1))
    for line in (vline, hline):
        line.setZValue(10)
        vb.addItem(line, ignoreBounds=True)
    tag = pg.TextItem(**_PANEL)
    tag.setParentItem(vb)                       # view-box pixels: fixed while panning
    tag.setPos(4, 4)
    tag.setZValue(1000)
    return gv, vb, img, (vline, hline), tag


def nice_length(span: float) -> float:
    """The largest 1, 2 or 5 × 10^k not above ``span`` (a scale-bar length; ``span`` > 0)."""
    if not span > 0:
        raise ValueError(f"span must be positive, got {span}")
    power = 10.0 ** np.floor(np.log10(span))
    for step in (5.0, 2.0, 1.0):
        if step * power <= span * (1 + 1e-12):
            return float(step * power)
    return float(power)


_SCALE_COLOR = (235, 170, 0)


def add_scale_bar(vb: pg.ViewBox) -> pg.ScaleBar:
    """A scale bar in the lower right corner of ``vb`` (view units are mm)."""
    bar = pg.ScaleBar(size=10.0, width=4, brush=_SCALE_COLOR, pen=pg.mkPen("k", width=0.5),
                      suffix="", offset=(-12, -12))
    bar.text.setColor(_SCALE_COLOR)             # amber: readable on black and on white
    bar.setParentItem(vb)
    bar.setZValue(1000)
    return bar


def set_scale_bar(bar: pg.ScaleBar, field_mm: float) -> None:
    """About a quarter of the field of view ``field_mm``, a round number of mm."""
    bar.size = nice_length(0.25 * field_mm)
    bar.text.setText(f"{bar.size:g} mm")
    bar.updateBar()

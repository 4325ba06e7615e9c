"""Tri-planar slice viewer of a 3-D volume: axial, coronal and sagittal views, linked crosshairs.

Volumes are ``data[z, y, x]`` (float32) with voxel spacing ``(sz, sy, sx)`` in mm. The cursor
is the voxel ``(i, j, k)`` = (x, y, z) index; the views show ``data[k]`` (axial, rows y,
columns x), ``data[:, j]`` (coronal, rows z, columns x) and ``data[:, :, i]`` (sagittal, rows
z, columns y). View coordinates are mm with voxel centres at ``index · spacing``, so pixels
are not square when the spacing differs. Each slice is shown as a zero-copy view of the
volume in an ImageItem whose levels carry the window, so moving a slice re-renders one
256² image only. Mouse: left click/drag moves the cursor, wheel (or arrows / PageUp/PageDown)
moves the slice of the view under the mouse, right-drag or Ctrl+left-drag sets the window
(horizontal = width, vertical = level), middle-drag pans, Ctrl+wheel zooms. The parts of one
view (axis table, mouse-handling ViewBox, view factory) live in :mod:`widgets.slice_views`.
Run ``python -m widgets.slice_viewer``.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from widgets.color_bar import ColorBar
from widgets.slice_views import (AXES, PLANE_OF_AXIS, VIEWS, add_scale_bar, auto_window,
                                 make_view, set_scale_bar)

__all__ = ["COLORMAPS", "VIEWS", "SliceViewer", "colormap_lut"]

COLORMAPS = ("gray", "viridis", "magma", "CET-D1")
_Qt = QtCore.Qt
_SLICE_STEPS = {_Qt.Key.Key_Up: 1, _Qt.Key.Key_Right: 1, _Qt.Key.Key_Down: -1,
                _Qt.Key.Key_Left: -1, _Qt.Key.Key_PageUp: 5, _Qt.Key.Key_PageDown: -5}


def colormap_lut(name: str) -> np.ndarray:
    """The 256-entry RGB lookup table (uint8 ``(256, 3)``) of one of ``COLORMAPS``."""
    if name not in COLORMAPS:
        raise ValueError(f"colormap must be one of {', '.join(COLORMAPS)}, got {name!r}")
    if name == "gray":
        return np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    return pg.colormap.get(name).getLookupTable(nPts=256, alpha=False)


class SliceViewer(QtWidgets.QWidget):
    """Axial, coronal and sagittal slices of a volume with linked crosshairs and window/level.

    Attributes
    ----------
    views : dict of str → pyqtgraph.ViewBox
        One per name in ``VIEWS``; view coordinates are mm.
    images : dict of str → pyqtgraph.ImageItem
        The slice shown in each view (``image`` is a view of the volume, no copy).
    lines : dict of str → (InfiniteLine, InfiniteLine)
        Vertical and horizontal crosshair lines of each view.
    title_label, status_label : QLabel
    color_bar : ColorBar
        The colour map with the window's low, level and high values.
    scale_bars : dict of str → pyqtgraph.ScaleBar
        A round number of mm in each view.

    Signals
    -------
    sigCursorChanged(int, int, int)
        New cursor voxel ``(i, j, k)`` (x, y, z indices).
    sigWindowChanged(float, float)
        New window ``(level, width)``.
    """

    sigCursorChanged = QtCore.Signal(int, int, int)
    sigWindowChanged = QtCore.Signal(float, float)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setFocusPolicy(_Qt.FocusPolicy.StrongFocus)
        self._data: np.ndarray | None = None
        self._spacing = np.ones(3)
        self._pos = np.zeros(3, dtype=int)          # cursor as (k, j, i) = array axes (z, y, x)
        self._level, self._width = 0.5, 1.0
        self._cmap, self._active, self._hover = "gray", "axial", None
        self._drag_start: tuple[float, float] | None = None
        self._linked: list[SliceViewer] = []
        self._build_ui()
        self.set_colormap("gray")

    def _build_ui(self) -> None:
        """Title, the three graphics views in a row, and the status line."""
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.setSpacing(2)
        self.title_label = QtWidgets.QLabel("", self, visible=False,
                                            styleSheet="font-weight: bold;")
        self._grid = QtWidgets.QHBoxLayout()
        self.status_label = QtWidgets.QLabel("no volume", self)
        self.status_label.setTextInteractionFlags(_Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label.setWordWrap(True)       # narrow viewers (compare mode): wrap, not clip
        lay.addWidget(self.title_label)
        lay.addLayout(self._grid, 1)
        lay.addWidget(self.status_label)
        self.views, self.images, self.lines, self._gviews, self._tags = {}, {}, {}, {}, {}
        self.scale_bars = {}
        for name in VIEWS:
            self._make_view(name)
        self.color_bar = ColorBar(self)
        self._grid.addWidget(self.color_bar)

    def _make_view(self, name: str) -> None:
        """Build view ``name`` (:func:`widgets.slice_views.make_view`) and add it to the row."""
        gv, vb, img, lines, tag = make_view(self, name)
        gv.scene().sigMouseMoved.connect(lambda pos, n=name: self._on_move(n, pos))
        self.views[name], self.images[name], self.lines[name] = vb, img, lines
        self._gviews[name], self._tags[name] = gv, tag
        self.scale_bars[name] = add_scale_bar(vb)
        self._grid.addWidget(gv, 1)

    # ------------------------------------------------------------------ volume
    def set_volume(self, data, spacing=(1.0, 1.0, 1.0), name: str = "") -> None:
        """Show a volume ``data[z, y, x]`` with voxel ``spacing = (sz, sy, sx)`` in mm.

        A volume of the same shape as the current one keeps the cursor, window and zoom
        (live updates of an iterative reconstruction); otherwise the cursor goes to the centre,
        the window to the 0.5–99.5 % percentiles and the views are fitted. ``name`` sets the
        title when given.
        """
        data = np.asarray(data, dtype=np.float32)
        if data.ndim != 3 or min(data.shape) < 1:
            raise ValueError(f"volume must be 3-D data[z, y, x], got shape {data.shape}")
        spacing = np.asarray(spacing, dtype=float).reshape(-1)
        if spacing.shape != (3,) or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
            raise ValueError(f"spacing must be three positive mm (sz, sy, sx), got {spacing}")
        same = self._data is not None and self._data.shape == data.shape
        geometry_changed = not same or not np.allclose(spacing, self._spacing)
        self._data, self._spacing = data, spacing
        if name:
            self.set_title(name)
        if not same:
            self._pos = np.array(data.shape) // 2
            self._level, self._width = auto_window(data)
        self._refresh(VIEWS)
        if geometry_changed:
            self._fit_views()
        self._apply_levels()
        self._update_status()

    def update_data(self, data) -> None:
        """Replace the voxel values (same shape); redraws the three current slices only."""
        data = np.asarray(data, dtype=np.float32)
        if self._data is None or data.shape != self._data.shape:
            shape = None if self._data is None else self._data.shape
            raise ValueError(f"update_data needs the current shape {shape}, got {data.shape}")
        self._data = data
        self._refresh(VIEWS)
        self._update_status()

    def volume(self) -> np.ndarray | None:
        """The volume shown (``data[z, y, x]``), or None."""
        return self._data

    def spacing(self) -> tuple[float, float, float]:
        """Voxel spacing ``(sz, sy, sx)`` in mm."""
        return tuple(float(s) for s in self._spacing)

    def slice_image(self, name: str) -> np.ndarray:
        """The 2-D array the view ``name`` shows (rows = its vertical axis)."""
        index: list = [slice(None)] * 3
        s_axis = AXES[name][2]
        index[s_axis] = int(self._pos[s_axis])
        return self._data[tuple(index)]

    def _refresh(self, names) -> None:
        """Re-set the slice images of ``names`` and move every crosshair and tag."""
        if self._data is None:
            return
        for name in names:
            self.images[name].setImage(self.slice_image(name), autoLevels=False,
                                       levels=self._levels())
        for name in VIEWS:
            h_axis, v_axis, s_axis = AXES[name]
            vline, hline = self.lines[name]
            vline.setValue(self._pos[h_axis] * self._spacing[h_axis])
            hline.setValue(self._pos[v_axis] * self._spacing[v_axis])
            n = self._data.shape[s_axis]
            self._tags[name].setText(f"{name} {'zyx'[s_axis]} {self._pos[s_axis]}/{n - 1}")

    def resizeEvent(self, event):  # noqa: N802 (Qt name)
        """Keep the slices fitted to the views until the user zooms or pans."""
        super().resizeEvent(event)
        if self._data is not None and not getattr(self, "user_zoomed", False):
            QtCore.QTimer.singleShot(0, self._fit_views)

    def _fit_views(self) -> None:
        """Place each image in mm (voxel centres at index · spacing) and fit the view to it."""
        for name in VIEWS:
            h_axis, v_axis, _ = AXES[name]
            dh, dv = self._spacing[h_axis], self._spacing[v_axis]
            nh, nv = self._data.shape[h_axis], self._data.shape[v_axis]
            rect = QtCore.QRectF(-dh / 2, -dv / 2, nh * dh, nv * dv)
            self.images[name].setRect(rect)
            self.views[name].setRange(rect=rect, padding=0.02)
            set_scale_bar(self.scale_bars[name], nh * dh)

    # ------------------------------------------------------------------ cursor
    def set_cursor(self, i: int, j: int, k: int) -> None:
        """Move the cursor to voxel ``(i, j, k)`` (x, y, z indices; clipped to the volume)."""
        if self._data is None:
            return
        new = np.array([k, j, i], dtype=int)
        new = np.clip(new, 0, np.array(self._data.shape) - 1)
        changed = new != self._pos
        if not changed.any():
            return
        self._pos = new
        self._refresh([PLANE_OF_AXIS[a] for a in range(3) if changed[a]])
        self._update_status()
        self.sigCursorChanged.emit(*self.cursor())

    def cursor(self) -> tuple[int, int, int]:
        """The cursor voxel ``(i, j, k)``."""
        k, j, i = (int(v) for v in self._pos)
        return i, j, k

    def step_slice(self, name: str, delta: int) -> None:
        """Move the slice shown by view ``name`` by ``delta`` voxels."""
        pos = self._pos.copy()
        pos[AXES[name][2]] += int(delta)
        self.set_cursor(pos[2], pos[1], pos[0])

    def _index_at(self, name: str, u: float, v: float) -> np.ndarray:
        """Array index (k, j, i), unclipped, of the point ``(u, v)`` mm in view ``name``."""
        h_axis, v_axis, _ = AXES[name]
        pos = self._pos.copy()
        pos[h_axis] = int(np.floor(u / self._spacing[h_axis] + 0.5))
        pos[v_axis] = int(np.floor(v / self._spacing[v_axis] + 0.5))
        return pos

    def voxel_at(self, name: str, u: float, v: float) -> tuple[int, int, int] | None:
        """Voxel ``(i, j, k)`` under the point ``(u, v)`` mm of view ``name`` (None outside)."""
        if self._data is None:
            return None
        pos = self._index_at(name, u, v)
        if np.any(pos < 0) or np.any(pos >= self._data.shape):
            return None
        return int(pos[2]), int(pos[1]), int(pos[0])

    def _cursor_to(self, name: str, point: QtCore.QPointF) -> None:
        """Left click/drag: move the cursor to the (clipped) voxel under ``point``."""
        self.setFocus()
        self._active = name
        if self._data is not None:
            pos = self._index_at(name, point.x(), point.y())
            self.set_cursor(pos[2], pos[1], pos[0])

    # ------------------------------------------------------------------ window / colormap
    def set_window(self, level: float, width: float) -> None:
        """Show values in ``[level − width/2, level + width/2]`` (``width`` > 0) in all views."""
        level, width = float(level), max(float(width), 1e-12)
        if not (np.isfinite(level) and np.isfinite(width)):
            return
        if (level, width) == (self._level, self._width):
            return
        self._level, self._width = level, width
        self._apply_levels()
        self.sigWindowChanged.emit(level, width)

    def window(self) -> tuple[float, float]:
        """The window ``(level, width)``."""
        return self._level, self._width

    def _levels(self) -> tuple[float, float]:
        return self._level - self._width / 2, self._level + self._width / 2

    def _apply_levels(self) -> None:
        for img in self.images.values():
            if img.image is not None:
                img.setLevels(self._levels())
        self.color_bar.set_range(*self._levels())

    def drag_window(self, dx: float, dy: float, start: tuple[float, float] | None = None) -> None:
        """Window from a drag of ``(dx, dy)`` screen px from ``start`` (default: current).

        Right = wider, up = higher level; 200 px change the width ×e, and the level by one width.
        """
        level, width = start if start is not None else self.window()
        self.set_window(level - dy * width / 200.0, width * float(np.exp(dx / 200.0)))

    def _window_drag(self, ev) -> None:
        """Right-drag / Ctrl+left-drag handler of the views."""
        if ev.isStart() or self._drag_start is None:
            self._drag_start = self.window()
        d = ev.screenPos() - ev.buttonDownScreenPos()
        self.drag_window(d.x(), d.y(), self._drag_start)
        if ev.isFinish():
            self._drag_start = None

    def set_colormap(self, name: str) -> None:
        """Colour map of the three views: one of ``COLORMAPS``."""
        lut = colormap_lut(name)
        self._cmap = name
        for img in self.images.values():
            img.setLookupTable(lut)
        self.color_bar.set_lut(lut)

    def colormap(self) -> str:
        """Name of the current colour map."""
        return self._cmap

    # ------------------------------------------------------------------ linking, layout, text
    def link(self, other: SliceViewer) -> None:
        """Lock cursor, window/level and zoom between this viewer and ``other`` (both ways)."""
        if other is self or other in self._linked:
            return
        self._linked.append(other)
        other._linked.append(self)
        self.sigCursorChanged.connect(other.set_cursor)
        other.sigCursorChanged.connect(self.set_cursor)
        self.sigWindowChanged.connect(other.set_window)
        other.sigWindowChanged.connect(self.set_window)
        for name in VIEWS:
            other.views[name].setXLink(self.views[name])
            other.views[name].setYLink(self.views[name])
        other.set_cursor(*self.cursor())
        other.set_window(*self.window())

    def set_title(self, text: str) -> None:
        """Title above the views (''/None hides it)."""
        self.title_label.setText(text or "")
        self.title_label.setVisible(bool(text))

    def set_layout(self, layout: str) -> None:
        """``"tri"``: the three views in a row; ``"axial"``: one big axial view."""
        if layout not in ("tri", "axial"):
            raise ValueError(f"layout must be 'tri' or 'axial', got {layout!r}")
        for name in ("coronal", "sagittal"):
            self._gviews[name].setVisible(layout == "tri")

    def event(self, ev) -> bool:
        """Claim the slice keys before window shortcuts (e.g. the playback bar's ←/→) see
        them: a focused viewer gets its arrows (Qt's ShortcutOverride)."""
        if ev.type() == QtCore.QEvent.Type.ShortcutOverride and ev.key() in _SLICE_STEPS \
                and not ev.modifiers() & ~_Qt.KeyboardModifier.KeypadModifier:
            ev.accept()
            return True
        return super().event(ev)

    def keyPressEvent(self, ev) -> None:
        """Arrows ±1 and PageUp/PageDown ±5 slices in the view under the mouse."""
        if ev.key() in _SLICE_STEPS:
            self.step_slice(self._active, _SLICE_STEPS[ev.key()])
            ev.accept()
        else:
            super().keyPressEvent(ev)

    def _on_move(self, name: str, scene_pos: QtCore.QPointF) -> None:
        vb = self.views[name]
        if vb.sceneBoundingRect().contains(scene_pos):
            p = vb.mapSceneToView(scene_pos)
            self.hover(name, p.x(), p.y())

    def hover(self, name: str, u: float, v: float) -> str:
        """Make view ``name`` active and show the voxel under ``(u, v)`` mm; returns the text."""
        self._active, self._hover = name, (name, float(u), float(v))
        return self._update_status()

    def _update_status(self) -> str:
        """Status line: voxel (i, j, k), its mm position and value (hovered voxel, else cursor)."""
        if self._data is None:
            text = "no volume"
        else:
            vox = self.voxel_at(*self._hover) if self._hover else None
            label = "mouse" if vox is not None else "cursor"
            i, j, k = vox if vox is not None else self.cursor()
            sz, sy, sx = self._spacing
            value = float(self._data[k, j, i])
            text = (f"{label} (i, j, k) = ({i}, {j}, {k})   "
                    f"(x, y, z) = ({i * sx:.1f}, {j * sy:.1f}, {k * sz:.1f}) mm   "
                    f"value = {value:.4g}")
        self.status_label.setText(text)
        return text

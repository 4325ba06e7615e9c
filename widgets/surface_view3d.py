"""3-D surface of a function on the input plane, coloured per node (vispy ``SurfacePlot``).

Made for ReLU nets on 2-D input: the height is the network output ``f(x₁, x₂)`` on the grid
``x = linspace(*xlim, nx)``, ``y = linspace(*ylim, ny)`` (node ``[j, i]`` = ``(x[i], y[j])``,
the convention of :class:`widgets.region_map.RegionMap`), the colour of each node is that of
its activation region (see :func:`widgets.region_style.region_colors`), so each linear piece
is one flat, one-coloured facet and the creases are the neurons' lines. Data points are
markers at their targets ``(x₁, x₂, t)``, with a stem to the surface when the fitted values
are given. A rectangle at height 0 marks the decision level.

Heights are drawn on a scale fixed by :meth:`SurfaceView3D.set_zlim` (by default the data's
target range, padded), so an animation does not jump; the surface is clipped to that range.
Grids larger than ``max_nodes`` per side are sampled down (ends kept).

Hover: the mouse ray is cast onto the drawn surface (:mod:`widgets.surface_pick`); the point
hit is marked and ``sigHover(x₁, x₂)`` asks the app for a readout, shown beside the cursor by
:meth:`SurfaceView3D.set_hover_text` (the protocol of :class:`widgets.region_map.RegionMap`).
:meth:`SurfaceView3D.link_camera` makes two views turn and zoom together.

Needs OpenGL: without it (see :func:`widgets.gl.opengl_available`) the widget shows a message,
every ``set_*`` call is a no-op and :meth:`SurfaceView3D.render` raises ``RuntimeError``.
Run ``python -m widgets.surface_view3d [--screenshot PATH]`` for a demo.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from widgets.gl import VispyHost, opengl_available
from widgets.region_style import hover_anchor
from widgets.surface_pick import ray_heightfield

__all__ = ["SurfaceView3D", "node_subsample", "value_colors"]

NO_GL_TEXT = "The 3-D surface view needs OpenGL, which this display does not provide."
_FLOOR_RGBA = (0.25, 0.25, 0.25, 0.9)
_STEM_RGBA = (0.2, 0.2, 0.2, 0.7)
_HOVER_STYLE = ("QLabel { color: rgb(30, 30, 30); background: rgba(255, 255, 255, 215); "
                "border: 1px solid rgb(160, 160, 160); padding: 2px 4px; }")


def node_subsample(n: int, max_nodes: int) -> np.ndarray:
    """At most ``max_nodes`` evenly spread indices of ``range(n)``, both ends included."""
    if n <= max_nodes:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, max(2, max_nodes))).astype(int))


def value_colors(z: np.ndarray, cmap: str = "CET-D1") -> np.ndarray:
    """RGBA float colours (``z.shape + (4,)``) of values by a diverging map centred at 0."""
    import pyqtgraph as pg

    finite = np.isfinite(z)
    vmax = float(np.abs(z[finite]).max()) if finite.any() else 1.0
    t = 0.5 + 0.5 * np.where(finite, z, 0.0) / (vmax if vmax > 0 else 1.0)
    lut = pg.colormap.get(cmap).getLookupTable(nPts=256, alpha=False) / 255.0
    rgb = lut[np.clip(np.round(255 * t), 0, 255).astype(int)]
    return np.concatenate([rgb, np.ones(z.shape + (1,))], axis=-1)


def _rgba(colors, shape) -> np.ndarray:
    """Colours (``shape + (3|4,)``, uint8 0–255 or float 0–1) as float32 RGBA."""
    c = np.asarray(colors)
    if c.shape[:-1] != tuple(shape) or c.shape[-1] not in (3, 4):
        raise ValueError(f"colors must have shape {tuple(shape)} + (3 or 4,), got {c.shape}")
    c = c.astype(np.float32) / (255.0 if c.dtype.kind in "ui" else 1.0)
    if c.shape[-1] == 3:
        c = np.concatenate([c, np.ones(c.shape[:-1] + (1,), np.float32)], axis=-1)
    return c


class SurfaceView3D(QWidget):
    """Height field ``f`` on a planar grid, with data markers at their targets.

    Parameters
    ----------
    parent : QWidget or None
    max_nodes : int
        Largest number of grid nodes per side drawn (larger grids are sampled down).

    Attributes
    ----------
    canvas, view : vispy SceneCanvas and its view (None without OpenGL)
    surface : vispy SurfacePlot; points, hover_marker : vispy Markers; stems, floor : vispy Line
    legend : QLabel under the canvas (:meth:`set_info`)
    hover_label : QLabel over the canvas, beside the cursor (:meth:`set_hover_text`)

    Signals
    -------
    sigHover(float, float)
        The input point ``(x₁, x₂)`` of the surface under the mouse.
    """

    sigHover = Signal(float, float)

    def __init__(self, parent=None, max_nodes: int = 128):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.max_nodes = int(max_nodes)
        host = self.host = VispyHost(self, layout, opengl_available(), NO_GL_TEXT, "white")
        self.available, self.canvas, self.view = host.available, host.canvas, host.view
        self._box: tuple | None = None
        self._zlim: tuple | None = None
        self._auto_zlim = True
        self._points = self._shape = self._field = self._last_surface = None
        self._mouse, self._hover_text = (0.0, 0.0), ""
        if self.available:
            self._build_scene(layout)

    def render(self):
        """Render the scene off-screen: (H, W, 4) uint8 RGBA (RuntimeError without OpenGL)."""
        return self.host.render()

    def _build_scene(self, layout) -> None:
        """Camera and every visual, once."""
        from vispy import scene

        ignored = QSizePolicy.Policy.Ignored          # no 600 × 500 size hint: the layout
        self.host.widget.setSizePolicy(ignored, ignored)     # sizes it like a 2-D map
        self.view.camera = scene.TurntableCamera(fov=35, elevation=28, azimuth=-35)
        s, vis = self.view.scene, scene.visuals
        self.surface = vis.SurfacePlot(z=np.zeros((2, 2), np.float32), shading="flat",
                                       parent=s)
        sf = self.surface.shading_filter           # soft light: region colours stay readable
        sf.ambient_light, sf.diffuse_light = (1, 1, 1, 0.62), (1, 1, 1, 0.45)
        sf.specular_light = (1, 1, 1, 0.0)
        self.floor = vis.Line(pos=np.zeros((2, 3), np.float32), color=_FLOOR_RGBA, width=1.5,
                              method="gl", parent=s)
        self.stems = vis.Line(pos=np.zeros((2, 3), np.float32), color=_STEM_RGBA, width=1,
                              connect="segments", method="gl", parent=s)
        self.points = vis.Markers(parent=s)
        self.hover_marker = vis.Markers(parent=s)
        self.hover_marker.set_gl_state("translucent", depth_test=False)   # never half-buried
        for item in (self.surface, self.floor, self.stems, self.points, self.hover_marker):
            item.visible = False
        self.legend = QLabel(textFormat=Qt.TextFormat.RichText)
        self.legend.setStyleSheet("padding: 2px 6px;")
        self.legend.setWordWrap(True)
        layout.addWidget(self.legend)
        self.hover_label = QLabel(self.host.widget)
        self.hover_label.setStyleSheet(_HOVER_STYLE)
        self.hover_label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hover_label.hide()
        self.canvas.events.mouse_move.connect(self._on_mouse_move)
        self.host.widget.installEventFilter(self)

    # ------------------------------------------------------------------ data in
    def set_zlim(self, zlim) -> None:
        """Height range drawn (``(lo, hi)``; None: from the targets, else the surface)."""
        self._auto_zlim = zlim is None
        self._zlim = None if zlim is None else (float(zlim[0]), float(zlim[1]))
        if self._zlim is not None and not self._zlim[1] > self._zlim[0]:
            raise ValueError(f"zlim must be (lo, hi) with hi > lo, got {zlim}")

    def set_surface(self, z, xlim, ylim, colors=None) -> None:
        """Show the height field ``z`` (ny, nx) on the grid spanning ``xlim`` × ``ylim``.

        Parameters
        ----------
        z : array_like, shape (ny, nx)
            Heights at the grid nodes (non-finite values are drawn at 0).
        xlim, ylim : (float, float)
            Grid extent; a new extent re-frames the camera.
        colors : array_like, shape (ny, nx, 3 or 4), optional
            Per-node colours (uint8 0–255 or float 0–1), e.g. the activation-region colours;
            default: the heights by a diverging colormap centred at 0.
        """
        z = np.asarray(z, dtype=float)
        if z.ndim != 2 or min(z.shape) < 2:
            raise ValueError(f"z must be a 2-D array of at least 2 × 2 nodes, got {z.shape}")
        rgba = None if colors is None else _rgba(colors, z.shape)
        if not self.available:
            return
        self._last_surface = (z, xlim, ylim, colors)   # redrawn when the height scale changes
        ny, nx = z.shape
        jy, ix = node_subsample(ny, self.max_nodes), node_subsample(nx, self.max_nodes)
        z = np.where(np.isfinite(z), z, 0.0)[np.ix_(jy, ix)]
        rgba = value_colors(z) if rgba is None else rgba[np.ix_(jy, ix)]
        box = (float(xlim[0]), float(xlim[1]), float(ylim[0]), float(ylim[1]))
        gx = np.linspace(box[0], box[1], nx)[ix].astype(np.float32)
        gy = np.linspace(box[2], box[3], ny)[jy].astype(np.float32)
        if self._zlim is None:
            self._zlim = _padded(z)
        reframe, self._box = box != self._box, box
        h = self._height(z).T.astype(np.float32)              # SurfacePlot: z[x, y]
        self._field = (gx.astype(float), gy.astype(float), h.T.astype(float))   # for picking
        if self._shape != h.shape:              # vispy checks colours against the old mesh
            self.surface.set_data(x=gx, y=gy, z=h)
            self._shape = h.shape
        self.surface.set_data(x=gx, y=gy, z=h,
                              colors=np.ascontiguousarray(rgba.transpose(1, 0, 2)))
        self.surface.visible = True
        if reframe:
            self._frame_camera()
        self._update_points()
        self.canvas.update()

    def set_points(self, X, targets, colors=None, fitted=None) -> None:
        """Data markers at ``(x₁, x₂, target)``; stems to ``fitted`` when given.

        Parameters
        ----------
        X : array_like, shape (n, 2), or None (hides the points)
        targets : array_like, shape (n,)
        colors : array_like, shape (n, 3 or 4), optional
            Marker colours (uint8 or float); default dark grey.
        fitted : array_like, shape (n,), optional
            The surface's value at each point: a stem joins it to the target (the residual).
        """
        if X is None:
            self._points = None
        else:
            X = np.asarray(X, dtype=float).reshape(-1, 2)
            t = np.asarray(targets, dtype=float).reshape(-1)
            if len(t) != len(X):
                raise ValueError(f"X has {len(X)} rows but targets has {len(t)} entries")
            c = None if colors is None else _rgba(colors, (len(X),))
            f = None if fitted is None else np.asarray(fitted, dtype=float).reshape(-1)
            if f is not None and len(f) != len(X):
                raise ValueError(f"X has {len(X)} rows but fitted has {len(f)} entries")
            self._points = (X, t, c, f)
            if self._auto_zlim and len(t) and _padded(t) != self._zlim:
                self._zlim = _padded(t)
                if self.available and self._last_surface is not None:
                    self.set_surface(*self._last_surface)   # on the points' height scale
        if self.available:
            self._update_points()
            self.canvas.update()

    def set_info(self, text: str | None) -> None:
        """Rich text under the canvas (''/None hides it)."""
        if self.available:
            self.legend.setText(text or "")
            self.legend.setVisible(bool(text))

    def link_camera(self, other: "SurfaceView3D") -> None:
        """Turn and zoom together with ``other`` (both ways); no-op without OpenGL."""
        if self.available and other.available:
            self.view.camera.link(other.view.camera)

    # ------------------------------------------------------------------ hover
    def pick(self, x: float, y: float):
        """The surface point under canvas pixel ``(x, y)``: ``(x₁, x₂, scene height)``, or
        None when the ray misses the surface (or nothing is shown)."""
        if not self.available or self._field is None:
            return None
        tr = self.canvas.scene.node_transform(self.view.scene)       # canvas → scene
        near, far = (np.asarray(tr.map([x, y, depth, 1.0]), float) for depth in (-1.0, 0.5))
        near, far = near[:3] / near[3], far[:3] / far[3]
        hit = ray_heightfield(near, far - near, *self._field)
        return None if hit is None else tuple(float(v) for v in hit)

    def handle_mouse_move(self, x: float, y: float) -> None:
        """Mark the surface point under canvas pixel ``(x, y)`` and emit ``sigHover`` (the
        readout and marker are hidden when the mouse is off the surface)."""
        self._mouse = (float(x), float(y))
        hit = self.pick(x, y)
        if hit is None:
            self.set_hover_text(None)
            return
        self.hover_marker.set_data(pos=np.array([hit], np.float32), size=11, edge_width=2,
                                   face_color=(1, 1, 1, 0.9), edge_color=(0, 0, 0, 1))
        self.hover_marker.visible = True
        self.canvas.update()
        self.sigHover.emit(hit[0], hit[1])

    def set_hover_text(self, text: str | None) -> None:
        """Show the app's answer to the last ``sigHover`` beside the cursor; ''/None hides it
        (and the marker)."""
        self._hover_text = text or ""
        if not self.available:
            return
        self.hover_label.setText(text or "")
        self.hover_label.setVisible(bool(text))
        if not text and self.hover_marker.visible:
            self.hover_marker.visible = False
            self.canvas.update()
        if text:
            self.hover_label.adjustSize()
            native, size = self.host.widget, self.hover_label.size()
            left, top = hover_anchor(*self._mouse, native.width(), native.height(),
                                     (size.width(), size.height()))
            self.hover_label.move(int(left), int(top))
            self.hover_label.raise_()

    def hover_text(self) -> str:
        """The readout last given to :meth:`set_hover_text` ('' when hidden)."""
        return self._hover_text

    def _on_mouse_move(self, event) -> None:
        if event.is_dragging:                      # turning the view: no readout
            self.set_hover_text(None)
            return
        self.handle_mouse_move(*event.pos[:2])

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        """Hide the readout when the mouse leaves the canvas."""
        if event.type() == QEvent.Type.Leave:
            self.set_hover_text(None)
        return super().eventFilter(obj, event)

    # ------------------------------------------------------------------ drawing
    def scale(self) -> float:
        """Scene units per unit of height (heights in ``zlim`` span half the grid's width)."""
        if self._box is None or self._zlim is None:
            return 1.0
        span = max(self._box[1] - self._box[0], self._box[3] - self._box[2])
        return 0.6 * span / (self._zlim[1] - self._zlim[0])

    def _height(self, z: np.ndarray) -> np.ndarray:
        lo, hi = self._zlim if self._zlim is not None else (-1.0, 1.0)
        return np.clip(z, lo, hi) * self.scale()

    def _frame_camera(self) -> None:
        """Centre the camera on the box at height 0 and draw the height-0 rectangle."""
        x0, x1, y0, y1 = self._box
        self.floor.set_data(pos=np.array([[x0, y0, 0], [x1, y0, 0], [x1, y1, 0], [x0, y1, 0],
                                          [x0, y0, 0]], np.float32))
        self.floor.visible = True
        self.view.camera.center = ((x0 + x1) / 2, (y0 + y1) / 2, 0.0)
        self.view.camera.scale_factor = 1.45 * max(x1 - x0, y1 - y0)

    def _update_points(self) -> None:
        show = self._points is not None and len(self._points[0]) > 0
        self.points.visible = show
        self.stems.visible = show and self._points[3] is not None
        if not show:
            return
        X, t, c, f = self._points
        top = np.column_stack([X, self._height(t)]).astype(np.float32)
        face = (0.25, 0.25, 0.25, 1.0) if c is None else c
        self.points.set_data(pos=top, size=9, edge_width=1, face_color=face,
                             edge_color=(0.1, 0.1, 0.1, 1.0))
        if f is not None:
            foot = np.column_stack([X, self._height(f)]).astype(np.float32)
            self.stems.set_data(pos=np.stack([foot, top], 1).reshape(-1, 3))


def _padded(values) -> tuple:
    """Finite range of ``values`` widened by 25 % on each side (never empty)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (-1.0, 1.0)
    pad = 0.25 * (hi - lo) if hi > lo else max(1.0, abs(hi))
    return lo - pad, hi + pad


def _demo_view():
    """A random width-10 ReLU net on [-2, 2]², animated by a slow rotation of its weights."""
    from widgets.region_style import region_colors

    rng = np.random.default_rng(4)
    W1 = rng.normal(size=(10, 2))
    b1 = rng.uniform(-1.2, 1.2, 10) * np.linalg.norm(W1, axis=1)
    w2 = rng.normal(size=10) / 2
    g = np.linspace(-2, 2, 200)
    P = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    X = rng.uniform(-1.8, 1.8, size=(30, 2))
    view = SurfaceView3D()

    def net(W, pts):
        pre = pts @ W.T + b1
        return np.maximum(pre, 0) @ w2, (pre > 0) @ (1 << np.arange(10))

    t = net(W1, X)[0] + rng.normal(scale=0.2, size=30)
    cls = np.where(t > 0, 0, 1)
    view.set_points(X, t, colors=np.array([(215, 48, 39), (49, 104, 198)], np.uint8)[cls])

    def set_frame(i):
        c, s = np.cos(0.3 * np.sin(i / 20)), np.sin(0.3 * np.sin(i / 20))
        W = W1 @ np.array([[c, -s], [s, c]])
        f, ids = net(W, P)
        view.set_surface(f.reshape(200, 200), (-2, 2), (-2, 2),
                         colors=region_colors(ids.reshape(200, 200)))
        view.set_points(X, t, colors=np.array([(215, 48, 39), (49, 104, 198)], np.uint8)[cls],
                        fitted=net(W, X)[0])
        view.set_info(f"frame {i}: height = f(x), colours = activation regions")

    view.set_frame = set_frame
    set_frame(0)
    return view


if __name__ == "__main__":  # pragma: no cover - manual demo
    from widgets.trail_plot import run_demo

    run_demo(_demo_view, "SurfaceView3D demo")

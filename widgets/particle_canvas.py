"""Particle view of diffusion sampler paths (vispy scene, 2-D or 3-D).

Particles ``x[s, n, :]`` (recorded step ``s``, particle ``n``) move from Gaussian noise to the
data distribution (SCIENCE.md §3). One frame shows the cloud as one bare GL points visual
(:func:`widgets.particle_layers.make_points`; ``Markers`` costs 2-4x more per point on
llvmpipe), the trails of a few highlighted particles as one ``Line`` visual with emphasised
heads, and an optional second cloud (Tweedie estimates x̂0). Under them
(:mod:`widgets.particle_layers`): a heat map of the (log-)density, contour sets, extra point
sets and, in 2-D, the dashed measurement line ``{x : a·x = y}``. In 3-D the heat map and the
contours lie on the floor plane ``z = zlim[0]`` (0 until :meth:`ParticleCanvas.set_range`
gives ``zlim``).

Interaction (2-D): a left click emits ``sigClicked``; in draw mode a left drag emits the
stroke as ``sigPointsDrawn``; a left drag starting within a few pixels of the constraint line
moves it along its normal (``sigConstraintMoved``). The camera does not pan during either drag.
The handlers live in :class:`widgets.particle_interaction.ParticleInteraction` (``interaction``).

Needs OpenGL: without it the widget shows a message, every ``set_*`` call is a no-op and
:meth:`ParticleCanvas.render` raises ``RuntimeError``. ``python -m widgets.particle_canvas``
shows a demo (``--screenshot PATH`` saves a PNG and quits).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from widgets.gl import VispyHost, opengl_available
from widgets.particle_interaction import ParticleInteraction
from widgets.particle_layers import (
    ParticleLayers, make_line, make_markers, make_points, set_cloud, to_rgba, xyz,
)
from widgets.particle_splat import make_splat, splat_alpha

__all__ = ["ParticleCanvas"]

PARTICLE_RGBA = (0.95, 0.95, 0.95, 0.6)
SECONDARY_RGBA = (1.0, 0.6, 0.15, 0.6)
TRAIL_RGBA = (1.0, 0.35, 0.35, 0.85)
HEAD_RGBA = (1.0, 0.25, 0.25, 1.0)
STROKE_RGBA = (1.0, 1.0, 0.3, 1.0)
HEAD_PX = 8.0
DENSE_N = 10_000          # particles drawn 3 px wide up to this many, 2 px beyond (unless set)
SPLAT_N = 5_000           # 2-D clouds of more particles are one texture (widgets.particle_splat)
NO_GL_TEXT = "The particle view needs OpenGL, which this display does not provide."


class ParticleCanvas(QWidget):
    """Animated particle cloud of a diffusion sampler over densities and constraints.

    Parameters
    ----------
    dim : {2, 3}
        2: pan/zoom camera with locked aspect; 3: turntable camera.
    parent : QWidget or None

    Notes
    -----
    Signals: ``sigClicked(float, float)`` (data coordinates of a left click, 2-D),
    ``sigPointsDrawn(object)`` (``ndarray (M, 2)`` stroke, draw mode) and
    ``sigConstraintMoved(float)`` (new offset ``y`` while the constraint line is dragged).
    """

    sigClicked = Signal(float, float)
    sigPointsDrawn = Signal(object)
    sigConstraintMoved = Signal(float)

    def __init__(self, dim=2, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.title = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.title.setStyleSheet("padding: 2px; font-weight: bold;")
        self.title.hide()
        layout.addWidget(self.title)
        if int(dim) not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim}")
        self.dim = int(dim)
        host = self.host = VispyHost(self, layout, opengl_available(), NO_GL_TEXT)
        self.available, self.canvas, self.view = host.available, host.canvas, host.view
        self.layers = None
        self._x = self._x0 = self._trail_src = None    # (S, N, d), (S, N, d), (M, S, d)
        self._highlight = np.zeros(0, dtype=int)
        self._frame, self._secondary_on = 0, False
        self._particle_rgba, self._secondary_rgba = PARTICLE_RGBA, SECONDARY_RGBA
        self._particle_px = None                        # None: by particle count
        self._range = None                              # (xlim, ylim, zlim or None)
        self.interaction = ParticleInteraction(self)
        if not self.available:
            return
        self._build_scene()
        self.set_dim(self.dim)

    def render(self):
        """Render the scene off-screen: (H, W, 4) uint8 RGBA (RuntimeError without OpenGL)."""
        return self.host.render()

    def set_draw_mode(self, on):
        """While on, a left drag draws a stroke (emitted as ``sigPointsDrawn``)."""
        self.interaction.set_draw_mode(on)

    def _build_scene(self):
        """The cameras, the layers and the particle visuals, once."""
        from vispy import scene

        self._cameras = {2: scene.PanZoomCamera(aspect=1),     # kept, so links survive set_dim
                         3: scene.TurntableCamera(fov=40, elevation=25, azimuth=35)}
        self.view.camera = self._cameras[2]
        self.layers = ParticleLayers(self)
        s = self.view.scene
        self.secondary = make_points(s, -2)
        self.particles = make_points(s, 0)
        self.splat = make_splat(s, 0)
        self.trails = make_line(s, 1, TRAIL_RGBA)
        self.heads = make_markers(s, 2)
        self.stroke = make_line(s, 3, STROKE_RGBA, width=2, connect="strip")
        for item in (self.secondary, self.particles, self.trails, self.heads, self.stroke):
            item.visible = False
        self._build_axes(s)
        self.interaction.connect(self.canvas.events)   # 'first': seen before the scene and camera
        s.events.transform_change.connect(lambda _ev: self._view_changed())

    def _view_changed(self):
        """Pan, zoom or resize: the constraint line and a splatted cloud follow the view."""
        self.layers.update_constraint()
        if self.splat.visible:
            self._splat_cloud(self._x[self._frame])

    def _build_axes(self, s):
        """3-D only: the x₁, x₂, x₃ axes along three edges of the shown box, with the range
        of each at its end (the turntable view has no other scale)."""
        from vispy import scene
        self.axes3d = scene.visuals.Line(parent=s, connect="segments", width=1.5,
                                         color=(0.85, 0.85, 0.85, 0.9))
        self.axis_labels = [scene.visuals.Text("", parent=s, color="white", font_size=9,
                                               anchor_x="left") for _ in range(3)]
        self.axes3d.order = self.axis_labels[0].order = 4
        self._place_axes()

    def _place_axes(self):
        """Axes from the box's low corner along x₁, x₂, x₃; hidden in 2-D or with no range."""
        show = self.dim == 3 and self._range is not None
        for item in (self.axes3d, *self.axis_labels):
            item.visible = show
        if not show:
            return
        (x0, x1), (y0, y1), zl = self._range
        z0, z1 = zl if zl is not None else (0.0, 0.0)
        lo, hi = np.array([x0, y0, z0]), np.array([x1, y1, z1])
        ends = [lo.copy() for _ in range(3)]
        for k in range(3):
            ends[k][k] = hi[k]
        self.axes3d.set_data(pos=np.array([p for e in ends for p in (lo, e)], np.float32))
        for k, (label, end) in enumerate(zip(self.axis_labels, ends)):
            label.text = f"x{k + 1}: {lo[k]:.3g} to {hi[k]:.3g}"
            label.pos = lo + 0.6 * (end - lo)      # along the axis: the ends may be off view

    @property
    def floor(self):
        """z of the plane that carries the heat map and contours in 3-D."""
        zlim = self._range[2] if self._range else None
        return float(zlim[0]) if zlim is not None else 0.0

    def set_dim(self, dim):
        """Switch between the 2-D (pan/zoom, aspect 1) and 3-D (turntable) camera."""
        if int(dim) not in (2, 3):
            raise ValueError(f"dim must be 2 or 3, got {dim}")
        self.dim = int(dim)
        if not self.available:
            return
        self.view.camera = self._cameras[self.dim]
        if self._range is not None:
            self.set_range(*self._range)
        self._place_axes()
        self.layers.relayout()
        self.set_frame(self._frame)

    # ------------------------------------------------------------------ particles
    def set_particles(self, x, highlight=None):
        """Store a recording and show its frame 0.

        Parameters
        ----------
        x : array_like, shape (S, N, d), d = 2 or 3
            Particle positions per recorded step; non-finite rows are hidden.
        highlight : array_like of int, shape (M,), or None
            Particles whose trails and heads are drawn.
        """
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 3 or x.shape[2] not in (2, 3):
            raise ValueError(f"x must have shape (S, N, 2|3), got {x.shape}")
        if not self.available:
            return
        self._x = np.ascontiguousarray(x)
        hl = np.zeros(0, int) if highlight is None else np.asarray(highlight, int).ravel()
        self._highlight = hl[(hl >= 0) & (hl < x.shape[1])]
        self._trail_src = np.ascontiguousarray(self._x[:, self._highlight].transpose(1, 0, 2))
        if self._x0 is not None and self._x0.shape[:2] != x.shape[:2]:
            self._x0, self._secondary_on = None, False
        if self._range is None:
            self._auto_range(x)
        self.set_frame(0)

    def _auto_range(self, x):
        """Frame the camera on the first and last frames (before any set_range)."""
        ends = x[[0, -1]].reshape(-1, x.shape[2]) if len(x) else x.reshape(-1, x.shape[2])
        ends = ends[np.isfinite(ends).all(axis=1)]
        if len(ends):
            lo, hi = ends.min(axis=0), ends.max(axis=0)
            pad = 0.05 * float(np.max(hi - lo) or 1.0)
            lims = [(float(a) - pad, float(b) + pad) for a, b in zip(lo, hi)]
            self.set_range(lims[0], lims[1], lims[2] if len(lims) > 2 else None)

    def set_secondary(self, x0, visible=True, color=None):
        """Second cloud (e.g. Tweedie estimates x̂0), shape (S, N, d), same frame index.

        Parameters
        ----------
        x0 : array_like, shape (S, N, d), or None
        visible : bool
        color : vispy colour or None
            Face colour (default orange).
        """
        if not self.available:
            return
        self._x0 = None if x0 is None else np.ascontiguousarray(x0, dtype=np.float32)
        self._secondary_on = bool(visible) and self._x0 is not None
        if color is not None:
            self._secondary_rgba = to_rgba(color)
        self.set_frame(self._frame)

    def set_particle_color(self, rgba, size=None):
        """Colour (any vispy colour) and optionally the pixel size of the particles.

        ``size`` None: 3 px up to ``DENSE_N`` particles, 2 px beyond (cheaper and legible).
        """
        if self.available:
            self._particle_rgba = to_rgba(rgba)
            self._particle_px = None if size is None else float(size)
            self.set_frame(self._frame)

    @property
    def frame(self):
        """Index of the frame shown."""
        return self._frame

    def set_frame(self, i):
        """Show recorded step ``i`` (clipped to the recording): clouds, trails, heads."""
        if not self.available:
            return
        n_frames = 0 if self._x is None else len(self._x)
        self._frame = i = int(np.clip(i, 0, max(n_frames - 1, 0)))
        if n_frames == 0:
            for item in (self.particles, self.splat, self.secondary, self.trails, self.heads):
                item.visible = False
            return
        px = self._particle_px or (3.0 if self._x.shape[1] <= DENSE_N else 2.0)
        self.splat.visible = self.dim == 2 and self._x.shape[1] > SPLAT_N
        if self.splat.visible:
            self.particles.visible = False
            self._splat_cloud(self._x[i])
        else:
            set_cloud(self.particles, self._x[i], self._particle_rgba, px, self.dim)
        show_x0 = self._secondary_on and len(self._x0) > i
        if show_x0:
            set_cloud(self.secondary, self._x0[i], self._secondary_rgba, px, self.dim)
        self.secondary.visible &= show_x0
        self._update_trails(i)
        self.canvas.update()

    def _splat_cloud(self, pos):
        """The 2-D cloud ``pos`` as one alpha texture over the visible rectangle, one texel
        per physical pixel (pixel for pixel what the GL points draw, far cheaper)."""
        xlim, ylim = self.layers.visible_rect()
        w, h = (max(int(round(v * self.canvas.pixel_scale)), 1) for v in self.view.size)
        px = self._particle_px or (3.0 if len(pos) <= DENSE_N else 2.0)
        alpha = splat_alpha(pos, xlim, ylim, (h, w), px * self.canvas.pixel_scale,
                            self._particle_rgba[3])
        self.splat.set_image(alpha, xlim, ylim, self._particle_rgba)

    def _update_trails(self, i):
        """Trails of the highlighted particles from frame 0 to ``i`` and their heads."""
        if len(self._highlight) == 0:
            self.trails.visible = self.heads.visible = False
            return
        length = i + 1
        pos = self._trail_src[:, :length].reshape(-1, self._trail_src.shape[2])
        ok = np.isfinite(pos).all(axis=1)
        connect = ok.copy()
        connect[:-1] &= ok[1:]
        connect[length - 1::length] = False            # no segment between particles
        if not ok.all():
            pos = np.where(ok[:, None], pos, 0.0).astype(np.float32)
        self.trails.visible = bool(connect.any())
        if self.trails.visible:
            self.trails.set_data(pos=xyz(pos, self.dim), connect=connect)
        set_cloud(self.heads, self._trail_src[:, i], HEAD_RGBA, HEAD_PX, self.dim,
                  1.0, (1, 1, 1, 1))

    # ------------------------------------------------------------------ layers
    def set_density(self, values, xlim=None, ylim=None, cmap="viridis", log=True, clim=None):
        """Heat map of a gridded density under everything (updated in place, cheap).

        Parameters
        ----------
        values : array_like, shape (ry, rx), or None
            Density on the grid nodes (``values[j, i]`` at ``linspace(*xlim, rx)[i]``,
            ``linspace(*ylim, ry)[j]``); None hides the heat map.
        xlim, ylim : (float, float) or None
            Extent of the grid nodes (kept from the previous call when None).
        cmap : str
            vispy colormap name.
        log : bool
            Show ``log(values)``; automatic colour limits then span at most 12 nats.
        clim : (float, float) or None
            Explicit colour limits of the shown (possibly logged) values.
        """
        if self.available:
            self.layers.set_density(values, xlim, ylim, cmap, log, clim)
            self.canvas.update()

    def set_contours(self, key, values, xlim=None, ylim=None, levels=(), color="white"):
        """Isolines of a gridded function, one line visual per ``key``.

        Parameters
        ----------
        key : hashable
            Name of the contour set (e.g. ``"posterior"``); values None removes it.
        values : array_like, shape (ry, rx), or None
            Function on the grid nodes (same convention as :meth:`set_density`).
        xlim, ylim : (float, float)
        levels : sequence of float
        color : vispy colour
        """
        if self.available:
            self.layers.set_contours(key, values, xlim, ylim, levels, color)
            self.canvas.update()

    def set_points(self, key, pts, color="white", size=4.0):
        """An extra point set (M, d) under the particles, e.g. exact posterior samples.

        Parameters
        ----------
        key : hashable
            Name of the set; ``pts`` None removes it.
        pts : array_like, shape (M, d), or None
        color : vispy colour
        size : float
            Marker size in pixels.
        """
        if self.available:
            self.layers.set_points(key, pts, color, size)
            self.canvas.update()

    def set_constraint(self, a, y=0.0):
        """Measurement line ``{x : a·x = y}``, ``a`` of shape (2,) (None hides; 2-D only)."""
        if self.available:
            self.layers.set_constraint(a, y)
            self.canvas.update()

    # ------------------------------------------------------------------ view
    def set_range(self, xlim, ylim, zlim=None):
        """Show ``xlim × ylim`` (× ``zlim`` in 3-D); linked views follow."""
        self._range = (tuple(map(float, xlim)), tuple(map(float, ylim)),
                       None if zlim is None else tuple(map(float, zlim)))
        if not self.available:
            return
        (x0, x1), (y0, y1), zl = self._range
        cam = self.view.camera
        if self.dim == 2:
            cam.rect = (x0, y0, x1 - x0, y1 - y0)
        else:
            z0, z1 = zl if zl is not None else (0.0, 0.0)
            cam.center = ((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2)
            cam.scale_factor = 1.7 * max(x1 - x0, y1 - y0, z1 - z0, 1e-9)   # whole box in view
        self._place_axes()
        self.layers.relayout()
        self.canvas.update()

    def link_view(self, other):
        """Pan/zoom (or rotate) together with ``other``, another ParticleCanvas."""
        if not (self.available and other.available) or other is self:
            return
        for dim in (2, 3):                     # both kinds, so switching dimension keeps it
            self._cameras[dim].link(other._cameras[dim])

    def set_title(self, text):
        """Title shown above the canvas (empty hides it)."""
        self.title.setText(text or "")
        self.title.setVisible(bool(text))


if __name__ == "__main__":  # pragma: no cover - manual demo
    from widgets.particle_demo import main

    main()

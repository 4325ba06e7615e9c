"""Layers under the particle cloud of :class:`widgets.particle_canvas.ParticleCanvas`.

:class:`ParticleLayers` owns the heat map (one vispy ``Image`` whose texture is refreshed in
place), the contour sets (one ``Line`` per key), extra point sets (one ``Markers`` per key) and
the dashed measurement line ``{x : a·x = y}`` with its label. It also holds the small visual
factories shared with the canvas (painter's order, no depth test).

Gridded values follow the :mod:`widgets.isolines` convention: ``values[j, i]`` is the value at
``x = linspace(*xlim, rx)[i]``, ``y = linspace(*ylim, ry)[j]``; image pixels are centred on
the grid nodes. In 3-D the heat map and contours lie on the canvas's floor plane.
"""

from __future__ import annotations

import numpy as np

from widgets.isolines import clip_line, dashes, isolines

__all__ = ["ParticleLayers", "as_dim", "make_line", "make_markers", "make_points", "set_cloud",
           "to_rgba", "xyz"]

CONSTRAINT_RGBA = (0.25, 0.95, 1.0, 1.0)
LOG_RANGE = 12.0          # a log heat map spans at most this many nats below its maximum
ORDER = {"density": -10, "contours": -5, "constraint": -4, "points": -3}


def to_rgba(color):
    """Any vispy colour spec → (r, g, b, a) tuple of floats."""
    from vispy.color import Color

    return tuple(float(c) for c in Color(color).rgba)


def setup(visual, order):
    """Painter's-order drawing: no depth test, alpha blending, draw position ``order``."""
    visual.set_gl_state("translucent", depth_test=False)
    visual.order = order
    return visual


def make_markers(parent, order):
    """A new Markers visual under ``parent`` at draw position ``order``."""
    from vispy.scene.visuals import Markers

    markers = Markers(parent=parent)
    markers.set_data(pos=np.zeros((1, 3), np.float32))   # a new camera asks every bound
    return setup(markers, order)


_POINTS_VERT = """
attribute vec3 a_position;
uniform float u_size;
uniform float u_px_scale;
void main() {
    gl_Position = $transform(vec4(a_position, 1.0));
    gl_PointSize = u_size * u_px_scale;
}
"""
_POINTS_FRAG = """
uniform vec4 u_color;
void main() {
    vec2 d = gl_PointCoord - vec2(0.5);
    if (dot(d, d) > 0.25) discard;
    gl_FragColor = u_color;
}
"""


_PointsNode = None


def make_points(parent, order, size=3.0):
    """A new :class:`PointsVisual` node (one colour, one size) at draw position ``order``."""
    from vispy.scene.visuals import create_visual_node

    global _PointsNode
    if _PointsNode is None:
        _PointsNode = create_visual_node(_points_visual_class())
    return setup(_PointsNode(size=size, parent=parent), order)


def _points_visual_class():
    """Build the PointsVisual class (vispy imported lazily)."""
    from vispy import gloo
    from vispy.visuals import Visual

    class PointsVisual(Visual):
        """Bare GL points: single colour and pixel size, round, no edge, no antialiasing.

        About 2-4x cheaper than ``Markers`` per point on llvmpipe (20 000 particles per frame).
        ``pos`` holds the (n, 3) float32 positions last set.
        """

        def __init__(self, size=3.0, color=(1, 1, 1, 1)):
            super().__init__(vcode=_POINTS_VERT, fcode=_POINTS_FRAG)
            self.pos = np.zeros((1, 3), np.float32)
            self._vbo = gloo.VertexBuffer(self.pos)
            self.shared_program["a_position"] = self._vbo
            self.set_style(size, color)
            self._draw_mode = "points"

        def set_style(self, size, color):
            """Point diameter in pixels and RGBA colour."""
            self.shared_program["u_size"] = float(size)
            self.shared_program["u_color"] = tuple(color)
            self.update()

        def set_data(self, pos):
            """Positions (n, 2|3); missing z is 0."""
            self.pos = xyz(pos, 3)
            self._vbo.set_data(self.pos)
            self.update()

        def _prepare_transforms(self, view):
            """Hook the scene transform into the vertex shader."""
            view.view_program.vert["transform"] = view.get_transform()

        def _prepare_draw(self, view):
            """Point size in device pixels (high-DPI screens)."""
            view.view_program["u_px_scale"] = view.transforms.pixel_scale

        def _compute_bounds(self, axis, view):
            """Data bounds along ``axis`` (used by camera auto-ranging)."""
            return float(self.pos[:, axis].min()), float(self.pos[:, axis].max())

    return PointsVisual


def make_line(parent, order, color, width=1, connect="segments"):
    """A new GL line visual under ``parent`` at draw position ``order``.

    Its vertex buffer is 3-D for good (vispy cannot change it): feed it :func:`xyz` rows.
    """
    from vispy.scene.visuals import Line

    line = Line(pos=np.zeros((2, 3), np.float32), color=color, width=width,
                connect=connect, method="gl", parent=parent)
    return setup(line, order)


def as_dim(pos, dim, z=0.0):
    """Rows of ``pos`` (n, d) as (n, 2) for ``dim`` 2, (n, 3) for 3 (missing z = ``z``)."""
    if dim == 2:
        return pos[:, :2]
    if pos.shape[1] >= 3:
        return pos[:, :3]
    out = np.full((len(pos), 3), z, dtype=np.float32)
    out[:, :2] = pos
    return out


def xyz(pos, dim, z=0.0):
    """Line vertices (n, 3) float32: ``pos`` (n, d) with z = ``z`` in 2-D or when d = 2."""
    out = np.full((len(pos), 3), z, dtype=np.float32)
    k = 2 if dim == 2 else min(pos.shape[1], 3)
    out[:, :k] = pos[:, :k]
    return out


def set_cloud(markers, pos, rgba, size, dim, edge=0.0, edge_rgba=(0, 0, 0, 0)):
    """Set ``markers`` (Markers or PointsVisual) to the finite rows of ``pos``.

    Hidden when no row is finite; ``edge`` and ``edge_rgba`` apply to Markers only.
    """
    ok = np.isfinite(pos).all(axis=1)
    if not ok.all():
        pos = pos[ok]
    markers.visible = len(pos) > 0
    if len(pos) and hasattr(markers, "set_style"):                  # PointsVisual
        markers.set_style(size, rgba)
        markers.set_data(pos if dim == 3 else pos[:, :2])
    elif len(pos):
        markers.set_data(pos=as_dim(pos, dim), size=size, edge_width=edge,
                         face_color=rgba, edge_color=edge_rgba)


def log_clim(v, log):
    """Colour limits of the finite values of ``v`` (a log map spans ≤ ``LOG_RANGE``)."""
    finite = np.isfinite(v)
    if not finite.any():
        return 0.0, 1.0
    lo, hi = float(v[finite].min()), float(v[finite].max())
    if log:
        lo = max(lo, hi - LOG_RANGE)
    return lo, (hi if hi > lo else lo + 1.0)


class ParticleLayers:
    """Heat map, contours, point sets and constraint line of one canvas.

    Parameters
    ----------
    owner : ParticleCanvas
        Supplies ``dim``, ``floor``, ``view`` (a vispy ViewBox) and ``canvas``.
    """

    def __init__(self, owner):
        from vispy.scene.visuals import Image, Text

        self.owner = owner
        scene = owner.view.scene
        self.density = Image(np.zeros((2, 2), np.float32), cmap="viridis",
                             texture_format="auto", interpolation="linear", parent=scene)
        self.density.set_gl_state(None, depth_test=False, blend=False, cull_face=False)
        self.density.order = ORDER["density"]          # opaque bottom layer: no blending
        self.constraint = make_line(scene, ORDER["constraint"], CONSTRAINT_RGBA, width=2)
        self.label = setup(Text("A x = y", color=CONSTRAINT_RGBA, font_size=10, bold=True,
                                anchor_x="left", anchor_y="bottom", parent=scene), 4)
        for item in (self.density, self.constraint, self.label):
            item.visible = False
        self.contours, self.points = {}, {}          # key -> [visual, data, style]
        self.constraint_ay = None                    # (a (2,), y) or None
        self._grid, self._cmap = None, "viridis"     # ((ry, rx), xlim, ylim)

    def relayout(self):
        """Re-place every layer after a change of dimension or range."""
        self.place_density()
        for key in self.contours:
            self.place_contours(key)
        for key in self.points:
            self.place_points(key)
        self.update_constraint()

    # ------------------------------------------------------------------ heat map
    def set_density(self, values, xlim, ylim, cmap, log, clim):
        """See :meth:`widgets.particle_canvas.ParticleCanvas.set_density`."""
        if values is None:
            self.density.visible = False
            return
        v = np.asarray(values, dtype=np.float32)
        if v.ndim != 2:
            raise ValueError(f"density values must be 2-D (ry, rx), got {v.shape}")
        if log:
            with np.errstate(divide="ignore", invalid="ignore"):
                v = np.log(np.maximum(v, np.float32(1e-30)))
        if not np.isfinite(v).all():
            v = np.where(np.isfinite(v), v, np.float32(np.nan))   # NaN: transparent
        if cmap != self._cmap:
            self.density.cmap, self._cmap = cmap, cmap
        self.density.set_data(v)
        self.density.clim = clim if clim is not None else log_clim(v, log)
        if xlim is None or ylim is None:
            if self._grid is None:
                raise ValueError("the first set_density call needs xlim and ylim")
            xlim, ylim = xlim or self._grid[1], ylim or self._grid[2]
        grid = (v.shape, tuple(map(float, xlim)), tuple(map(float, ylim)))
        if grid != self._grid:
            self._grid = grid
            self.place_density()
        self.density.visible = True

    def place_density(self):
        """Image transform: pixel (i, j) centred on grid node (x_i, y_j), on the floor."""
        from vispy.visuals.transforms import STTransform

        if self._grid is None:
            return
        (ry, rx), (x0, x1), (y0, y1) = self._grid
        dx, dy = (x1 - x0) / max(rx - 1, 1), (y1 - y0) / max(ry - 1, 1)
        z = self.owner.floor if self.owner.dim == 3 else 0.0
        self.density.transform = STTransform(scale=(dx, dy, 1.0),
                                             translate=(x0 - dx / 2, y0 - dy / 2, z))

    # ------------------------------------------------------------------ contours, points
    def set_contours(self, key, values, xlim, ylim, levels, color):
        """See :meth:`widgets.particle_canvas.ParticleCanvas.set_contours`."""
        if values is None:
            if key in self.contours:
                self.contours.pop(key)[0].parent = None
            return
        if xlim is None or ylim is None:
            raise ValueError("set_contours needs xlim and ylim with values")
        segs = isolines(values, levels, xlim, ylim).reshape(-1, 2)
        if key not in self.contours:
            self.contours[key] = [make_line(self.owner.view.scene, ORDER["contours"], "w"),
                                  None, None]
        self.contours[key][1:] = [segs, to_rgba(color)]
        self.place_contours(key)

    def place_contours(self, key):
        """Upload the stored segments of ``key`` (lifted to the floor plane in 3-D)."""
        line, segs, rgba = self.contours[key]
        line.visible = len(segs) > 0
        if len(segs):
            line.set_data(pos=xyz(segs, self.owner.dim, self.owner.floor), color=rgba,
                          connect="segments")

    def set_points(self, key, pts, color, size):
        """See :meth:`widgets.particle_canvas.ParticleCanvas.set_points`."""
        if pts is None:
            if key in self.points:
                self.points.pop(key)[0].parent = None
            return
        pts = np.asarray(pts, dtype=np.float32)
        pts = pts.reshape(-1, pts.shape[-1] if pts.ndim else 2)
        if key not in self.points:
            self.points[key] = [make_markers(self.owner.view.scene, ORDER["points"]), None, None]
        self.points[key][1:] = [pts, (to_rgba(color), float(size))]
        self.place_points(key)

    def place_points(self, key):
        """Upload the stored points of ``key`` in the current dimension."""
        visual, pts, (rgba, size) = self.points[key]
        set_cloud(visual, pts, rgba, size, self.owner.dim)

    # ------------------------------------------------------------------ constraint
    def set_constraint(self, a, y):
        """Store the line ``{x : a·x = y}`` (``a`` None hides it) and redraw it."""
        self.constraint_ay = None if a is None else (
            np.asarray(a, dtype=float).reshape(2), float(y))
        self.update_constraint()

    def visible_rect(self):
        """Data-space (xlim, ylim) visible in the 2-D view."""
        view = self.owner.view
        w, h = view.size
        if w > 1 and h > 1:
            c = view.scene.transform.imap(np.array([[0.0, 0.0], [w, h]]))
            c = c[:, :2] / c[:, 3:4]
            return tuple(sorted(c[:, 0])), tuple(sorted(c[:, 1]))
        r = view.camera.rect
        return (r.left, r.right), (r.bottom, r.top)

    def update_constraint(self):
        """Redraw the dashed line clipped to the visible area, with its label (2-D only)."""
        ends = None
        if self.constraint_ay is not None and self.owner.dim == 2:
            xlim, ylim = self.visible_rect()
            ends = clip_line(*self.constraint_ay, xlim, ylim)
        self.constraint.visible = self.label.visible = ends is not None
        if ends is not None:
            self.constraint.set_data(pos=xyz(dashes(ends[0], ends[1], 40), 2))
            a = self.constraint_ay[0]
            px = (xlim[1] - xlim[0]) / max(self.owner.view.size[0], 1.0)   # data per pixel
            self.label.pos = ends[0] + 0.85 * (ends[1] - ends[0]) + 6 * px * a / np.linalg.norm(a)

    def distance(self, xy):
        """Distance of the data point ``xy`` to the constraint line (inf when none shown)."""
        if self.constraint_ay is None or not self.constraint.visible:
            return np.inf
        a, y = self.constraint_ay
        return abs(float(a @ xy) - y) / float(np.linalg.norm(a))

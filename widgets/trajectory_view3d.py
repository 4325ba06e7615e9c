"""3-D weight-space view of many gradient-flow trajectories (vispy scene).

Same API as :class:`widgets.trajectory_canvas.TrajectoryCanvas`, for ``w(t) ∈ R³`` (SCIENCE.md
§1): trails as one ``Line`` visual (boolean ``connect`` array), heads as one ``Markers``
visual, the teacher ``v`` as an arrow from the origin with a star, a highlighted run with its
activation plane ``{x : w·x = 0}`` drawn as a translucent disc, and data points coloured
active / inactive with rings on the support vectors.

Needs OpenGL. The app checks :func:`widgets.gl.opengl_available` first and shows a message
label instead; if the widget is constructed anyway without GL it shows that message itself,
every ``set_*`` call is a no-op and :meth:`TrajectoryView3D.render` raises ``RuntimeError``.
Run ``python -m widgets.trajectory_view3d`` for a demo.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from widgets.gl import VispyHost, opengl_available
from widgets.trail_plot import (
    ACTIVE_COLOR, HIGHLIGHT_COLOR, INACTIVE_COLOR, SUPPORT_COLOR, TEACHER_COLOR, finite_bounds,
    run_demo, sample_activity, synthetic_trajectories,
)

__all__ = ["TrajectoryView3D"]

TRAIL_RGBA = (0.55, 0.67, 0.82, 0.45)
HEAD_RGBA = (0.30, 0.61, 0.91, 1.0)
BAD_RGBA = (0.5, 0.5, 0.5, 0.8)
PLANE_ALPHA = 0.12
NO_GL_TEXT = "The 3-D view needs OpenGL, which this display does not provide."


def rgba(color, alpha=1.0):
    """``'#rrggbb'`` → (r, g, b, a) floats in [0, 1]."""
    return tuple(int(color[k:k + 2], 16) / 255 for k in (1, 3, 5)) + (alpha,)


def colors_for(values, cmap="viridis", limits=None):
    """Per-trajectory RGBA colours, shape (N, 4); non-finite values are grey."""
    from vispy.color import get_colormap

    values = np.asarray(values, dtype=float).ravel()
    finite = np.isfinite(values)
    lo, hi = limits if limits is not None else (
        (values[finite].min(), values[finite].max()) if finite.any() else (0.0, 1.0))
    scaled = np.clip((np.where(finite, values, lo) - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    out = np.asarray(get_colormap(cmap).map(scaled[:, None]), dtype=np.float32).reshape(-1, 4)
    out[~finite] = BAD_RGBA
    return out


def _disc_basis(normal):
    """Unit vectors ``(e1, e2, n̂)``: ``e1, e2`` span the plane through 0 perpendicular to
    ``normal``."""
    normal = np.asarray(normal, dtype=float) / np.linalg.norm(normal)
    helper = np.eye(3)[np.argmin(np.abs(normal))]
    e1 = np.cross(normal, helper)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(normal, e1), normal


def _plane_disc(normal, radius, n=48):
    """Vertices (n + 1, 3) and faces (n, 3) of a disc through 0 perpendicular to ``normal``."""
    e1, e2, _ = _disc_basis(normal)
    phi = np.linspace(0, 2 * np.pi, n, endpoint=False)[:, None]
    rim = radius * (np.cos(phi) * e1 + np.sin(phi) * e2)
    verts = np.vstack([np.zeros((1, 3)), rim]).astype(np.float32)
    k = np.arange(1, n + 1)
    faces = np.stack([np.zeros(n, int), k, k % n + 1], axis=1).astype(np.uint32)
    return verts, faces


UNIT_DISC = _plane_disc(np.array([0.0, 0.0, 1.0]), 1.0)   # e1 = ŷ, e2 = −x̂


def disc_matrix(normal, radius):
    """4 × 4 vispy ``MatrixTransform`` matrix (row vectors) that maps :data:`UNIT_DISC` onto
    ``_plane_disc(normal, radius)``: the activation plane moves per frame by this uniform,
    without new vertices (a new mesh re-links the Mesh shader on every frame, issue #16)."""
    e1, e2, n = _disc_basis(normal)
    matrix = np.eye(4)
    matrix[0, :3], matrix[1, :3], matrix[2, :3] = -radius * e2, radius * e1, n
    return matrix


class TrajectoryView3D(QWidget):
    """Trajectories of a 3-D student weight under gradient flow, rendered with vispy.

    Parameters
    ----------
    parent : QWidget or None
    trail_length : int
        Initial trail length in frames (0: whole history).
    """

    def __init__(self, parent=None, trail_length=50):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.trail_length = int(trail_length)
        host = self.host = VispyHost(self, layout, opengl_available(), NO_GL_TEXT)
        self.available, self.canvas, self.view = host.available, host.canvas, host.view
        self._w = np.zeros((0, 0, 3), dtype=np.float32)     # (N, T, 3) per-trajectory rows
        self._frame, self._highlight = 0, None
        self._colors = self._samples = self._active = self._support = None
        self._extent = 1.0
        if not self.available:
            return
        self._build_scene()
        self.legend = QLabel(textFormat=Qt.TextFormat.RichText)
        self.legend.setStyleSheet("padding: 2px 6px;")
        layout.addWidget(self.legend)
        self._update_legend()

    def render(self):
        """Render the scene off-screen: (H, W, 4) uint8 RGBA (RuntimeError without OpenGL)."""
        return self.host.render()

    def _build_scene(self):
        """Camera and every visual, once."""
        from vispy import scene

        self.view.camera = scene.TurntableCamera(fov=40, elevation=25, azimuth=35)
        s, vis = self.view.scene, scene.visuals
        self.axes = vis.XYZAxis(parent=s)
        self.trails = vis.Line(pos=np.zeros((2, 3)), color=TRAIL_RGBA, width=1,
                               connect="segments", method="gl", parent=s)
        self.heads = vis.Markers(parent=s)
        self.samples = vis.Markers(parent=s)
        self.support = vis.Markers(parent=s)
        self.teacher_line = vis.Line(pos=np.zeros((2, 3)), color=rgba(TEACHER_COLOR), width=3,
                                     method="gl", parent=s)
        self.teacher = vis.Markers(parent=s)
        self.teacher_label = vis.Text("v", color=rgba(TEACHER_COLOR), font_size=14, bold=True,
                                      anchor_x="left", anchor_y="bottom", parent=s)
        self.highlight = vis.Line(pos=np.zeros((2, 3)), color=rgba(HIGHLIGHT_COLOR), width=3,
                                  method="gl", parent=s)
        self.highlight_head = vis.Markers(parent=s)
        from vispy.visuals.transforms import MatrixTransform
        self.plane = vis.Mesh(vertices=UNIT_DISC[0], faces=UNIT_DISC[1],
                              color=rgba(HIGHLIGHT_COLOR, PLANE_ALPHA), parent=s)
        self.plane.transform = MatrixTransform()        # kept: frames change its matrix only
        # drawn first and without depth test (so without depth writes): a faint backdrop
        self.plane.set_gl_state("translucent", depth_test=False)
        self.plane.order = -1
        for item in (self.highlight, self.highlight_head, self.plane, self.samples, self.support):
            item.visible = False

    # ------------------------------------------------------------------ data in
    def set_trajectories(self, w, teacher):
        """Store trajectories (T, N, 3) and the teacher (3,); frame the camera on all data."""
        w = np.asarray(w, dtype=float)
        if w.ndim != 3 or w.shape[2] != 3:
            raise ValueError(f"w must have shape (T, N, 3), got {w.shape}")
        if not self.available:
            return
        teacher = np.asarray(teacher, dtype=float).reshape(3)
        self._w = np.ascontiguousarray(w.transpose(1, 0, 2), dtype=np.float32)
        if self._colors is not None and len(self._colors) != w.shape[1]:
            self._colors = None                      # colours survive only if N is unchanged
        if self._highlight is not None and self._highlight >= w.shape[1]:
            self._highlight = None
        lo, hi = finite_bounds(w, teacher[None], np.zeros((1, 3)))
        self._extent = float(np.max(hi - lo))
        self.axes.transform = _scale_transform(0.25 * self._extent)
        self.teacher_line.set_data(pos=np.stack([np.zeros(3), teacher]).astype(np.float32))
        self.teacher.set_data(pos=teacher[None].astype(np.float32), symbol="star", size=22,
                              face_color=rgba(TEACHER_COLOR), edge_color="white")
        self.teacher_label.pos = teacher
        # Explicit framing: set_range depends on the canvas size, unknown before it is shown.
        self.view.camera.center = tuple(float(c) for c in (lo + hi) / 2)
        self.view.camera.scale_factor = 1.4 * max(self._extent, 1e-9)
        self.set_frame(0)

    def set_colors(self, values, cmap="viridis", limits=None):
        """Colour heads by one value per trajectory, shape (N,) (None: a single colour)."""
        if not self.available:
            return
        if values is not None and np.size(values) != self._w.shape[0]:
            raise ValueError(f"need {self._w.shape[0]} colours, got {np.size(values)}")
        self._colors = None if values is None else colors_for(values, cmap, limits)
        self.set_frame(self._frame)

    def set_trail_length(self, k):
        """Trail length in frames (0 draws the whole history)."""
        self.trail_length = max(0, int(k))
        if self.available:
            self.set_frame(self._frame)

    def set_highlight(self, index):
        """Draw run ``index`` in full, thick, with its activation plane (None: off)."""
        if not self.available:
            return
        n = self._w.shape[0]
        self._highlight = None if index is None or not 0 <= int(index) < n else int(index)
        for item in (self.highlight, self.highlight_head, self.plane):
            item.visible = self._highlight is not None
        self._update_legend()
        self.set_frame(self._frame)

    def set_samples(self, X):
        """Data points ``X`` of shape (n, 3) drawn as small dots (None removes them)."""
        if not self.available:
            return
        self._samples = None if X is None else np.asarray(X, dtype=np.float32).reshape(-1, 3)
        self._active = self._support = None
        self.samples.visible = self._samples is not None and len(self._samples) > 0
        self.support.visible = False
        self._update_legend()
        self.set_frame(self._frame)

    def set_sample_state(self, active, support=None):
        """Active (n,) bool mask (None: from the highlighted run) and support (n,) mask."""
        if not self.available:
            return
        self._active = None if active is None else np.asarray(active, dtype=bool).ravel()
        self._support = None if support is None else np.asarray(support, dtype=bool).ravel()
        show = self._samples is not None and self._support is not None and self._support.any()
        if show:
            self.support.set_data(pos=self._samples[self._support], size=14, edge_width=2,
                                  face_color=(0, 0, 0, 0), edge_color=rgba(SUPPORT_COLOR))
        self.support.visible = bool(show)
        self._update_legend()
        self.set_frame(self._frame)

    # ------------------------------------------------------------------ frames
    @property
    def frame(self):
        """Index of the frame shown."""
        return self._frame

    def set_frame(self, i):
        """Show frame ``i``: trails, heads, highlighted run, plane and sample activity."""
        if not self.available:
            return
        n, n_frames = self._w.shape[:2]
        self._frame = i = int(np.clip(i, 0, max(n_frames - 1, 0)))
        if n == 0 or n_frames == 0:
            self.trails.visible = self.heads.visible = False
            return
        self.trails.visible = self.heads.visible = True
        start = 0 if self.trail_length <= 0 else max(0, i - self.trail_length)
        pos, connect = self._trail_arrays(start, i + 1)
        self.trails.set_data(pos=pos, connect=connect)
        self._update_heads(i)
        if self._highlight is not None:
            self._update_highlight()
        self._update_samples()
        self.canvas.update()

    def _trail_arrays(self, start, stop):
        """Trail vertices (N·L, 3) and a boolean connect-to-next mask (N·L,)."""
        pos = self._w[:, start:stop].reshape(-1, 3)
        length = stop - start
        ok = np.isfinite(pos).all(axis=1)
        connect = ok.copy()
        connect[:-1] &= ok[1:]
        connect[length - 1::length] = False          # no segment between trajectories
        if not ok.all():
            pos = np.where(ok[:, None], pos, 0.0).astype(np.float32)
        return pos, connect

    def _update_heads(self, i):
        """Heads at frame ``i``, coloured per trajectory when colours were given."""
        pos = self._w[:, i]
        ok = np.isfinite(pos).all(axis=1)
        face = HEAD_RGBA if self._colors is None else self._colors[ok]
        self.heads.set_data(pos=pos[ok], size=7, edge_width=0.5, face_color=face,
                            edge_color=(0, 0, 0, 0.6))

    def _highlight_w(self):
        """Weight of the highlighted run at the current frame, or None if unusable."""
        if self._highlight is None or not self._w.shape[1]:
            return None
        w = self._w[self._highlight, self._frame].astype(float)
        return w if np.isfinite(w).all() and np.any(w != 0) else None

    def _update_highlight(self):
        """Past of the highlighted run (thick), its head and its activation plane."""
        past = self._w[self._highlight, :self._frame + 1]
        past = past[np.isfinite(past).all(axis=1)]
        self.highlight.visible = len(past) >= 2
        if len(past) >= 2:
            self.highlight.set_data(pos=past)
        w = self._highlight_w()
        self.plane.visible = self.highlight_head.visible = w is not None
        if w is not None:
            self.highlight_head.set_data(pos=w[None].astype(np.float32), size=12,
                                         face_color=rgba(HIGHLIGHT_COLOR), edge_color="white")
            self.plane.transform.matrix = disc_matrix(w, 0.45 * self._extent)

    def _update_samples(self):
        """Recolour the samples: explicit state, else from the highlighted run."""
        if self._samples is None or not len(self._samples):
            return
        active = sample_activity(self._samples, self._active, self._highlight_w())
        colors = np.where(active[:, None], rgba(ACTIVE_COLOR), rgba(INACTIVE_COLOR))
        self.samples.set_data(pos=self._samples, size=6, edge_width=0, face_color=colors)

    def _update_legend(self):
        """Coloured HTML legend below the canvas (structural changes only)."""
        dot = '<span style="color:{}">{}</span> {}'.format
        parts = [dot(TEACHER_COLOR, "★", "teacher v")]
        if self._highlight is not None:
            parts.append(dot(HIGHLIGHT_COLOR, "━", f"run {self._highlight}, plane w·x = 0"))
        if self._samples is not None:
            parts += [dot(ACTIVE_COLOR, "●", "active"), dot(INACTIVE_COLOR, "●", "inactive")]
            if self._support is not None:
                parts.append(dot(SUPPORT_COLOR, "◯", "support vector (active at the limit)"))
        self.legend.setText("&nbsp;&nbsp;&nbsp;".join(parts))


def _scale_transform(scale):
    """Uniform scaling transform (for the unit XYZ axis)."""
    from vispy.visuals.transforms import STTransform

    return STTransform(scale=(scale, scale, scale))


def _demo_view():
    """Build a TrajectoryView3D filled with synthetic data, samples and a highlight."""
    w, v = synthetic_trajectories(400, 150, 3)
    view = TrajectoryView3D()
    view.set_trajectories(w, v)
    view.set_colors(np.linalg.norm(w[0], axis=1))
    X = np.random.default_rng(1).normal(scale=1.5, size=(40, 3))
    view.set_samples(X)
    view.set_sample_state(None, support=X @ v > 0)
    view.set_highlight(0)
    return view


if __name__ == "__main__":  # pragma: no cover - manual demo
    run_demo(_demo_view, "TrajectoryView3D demo")

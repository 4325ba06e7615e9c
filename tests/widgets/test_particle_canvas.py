"""Tests for widgets.particle_canvas.ParticleCanvas and its helpers (isolines, layers).

GL availability is decided inside each test (a QApplication exists by then), never at
collection time: under pytest-xvfb the GL tests run, with QT_QPA_PLATFORM=offscreen they skip.
Mouse interaction is driven with synthetic vispy events emitted on the canvas, which reach
both the widget's handlers and the scene (and so the camera) exactly as real ones do.
"""

import numpy as np
import pytest

import widgets.particle_canvas as canvas_module
from widgets.gl import opengl_available
from widgets.isolines import clip_line, dashes, isolines
from widgets.particle_canvas import ParticleCanvas

S, N, M = 12, 50, 4


def _paths(d=2, seed=0):
    """Random-walk paths (S, N, d) float32."""
    rng = np.random.default_rng(seed)
    return np.cumsum(0.1 * rng.standard_normal((S, N, d)), axis=0).astype(np.float32)


def _new_canvas(qtbot, dim=2):
    """A shown ParticleCanvas with a fixed view (skips without OpenGL)."""
    if not opengl_available():
        pytest.skip("no OpenGL on this Qt platform (e.g. QT_QPA_PLATFORM=offscreen)")
    widget = ParticleCanvas(dim=dim)
    qtbot.addWidget(widget)
    widget.resize(400, 360)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_range((-2, 2), (-2, 2), (-2, 2) if dim == 3 else None)
    return widget


@pytest.fixture
def view(qtbot):
    widget = _new_canvas(qtbot)
    widget.set_particles(_paths(), highlight=np.arange(M))
    return widget


def _pixel(view, xy):
    """Canvas pixel of the 2-D data point ``xy``."""
    tr = view.view.scene.node_transform(view.canvas.scene)
    p = tr.map(np.asarray(xy, dtype=float))
    return tuple(p[:2] / p[3])


def _drag(view, path_px):
    """Emit a left-button press, moves along ``path_px`` and a release (vispy events)."""
    ev = view.canvas.events
    press = ev.mouse_press(pos=path_px[0], button=1, buttons=[1], modifiers=())
    last = press
    for p in path_px[1:]:
        last = ev.mouse_move(pos=p, button=1, buttons=[1], modifiers=(), press_event=press,
                             last_event=last)
    ev.mouse_release(pos=path_px[-1], button=1, buttons=[], modifiers=(), press_event=press,
                     last_event=last)


def _rect(view):
    r = view.view.camera.rect
    return np.array([r.left, r.bottom, r.width, r.height])


# ---------------------------------------------------------------------- no GL
def test_without_gl_the_widget_is_inert(qtbot, monkeypatch):
    monkeypatch.setattr(canvas_module, "opengl_available", lambda: False)
    widget = ParticleCanvas()
    qtbot.addWidget(widget)
    widget.set_particles(_paths(), highlight=[0, 1])
    widget.set_frame(3)
    widget.set_secondary(_paths(), True)
    widget.set_particle_color((1, 0, 0, 1))
    widget.set_density(np.ones((5, 5)), (0, 1), (0, 1))
    widget.set_contours("c", np.ones((5, 5)), (0, 1), (0, 1), [0.5], "w")
    widget.set_constraint([1, 0], 0.5)
    widget.set_points("p", np.zeros((3, 2)), "w", 3)
    widget.set_range((0, 1), (0, 1))
    widget.set_dim(3)
    other = ParticleCanvas()
    qtbot.addWidget(other)
    widget.link_view(other)
    widget.set_draw_mode(True)
    widget.set_title("t")
    assert widget.canvas is None and not widget.available
    with pytest.raises(RuntimeError):
        widget.render()


def test_offscreen_platform_gives_the_fallback(qtbot):
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QLabel

    if QGuiApplication.platformName() != "offscreen":
        pytest.skip("only meaningful under QT_QPA_PLATFORM=offscreen")
    widget = ParticleCanvas()
    qtbot.addWidget(widget)
    assert not widget.available
    assert any("OpenGL" in lab.text() for lab in widget.findChildren(QLabel))


# ---------------------------------------------------------------------- geometry (no GL)
def test_isolines_of_a_radial_function_lie_on_the_circle():
    res, lim, radius = 81, (-3.0, 3.0), 1.7
    g = np.linspace(*lim, res)
    gx, gy = np.meshgrid(g, g)
    f = np.exp(-0.5 * (gx ** 2 + gy ** 2))
    segs = isolines(f, [np.exp(-0.5 * radius ** 2)], lim, lim)
    r = np.linalg.norm(segs.reshape(-1, 2), axis=1)
    cell = g[1] - g[0]
    assert len(segs) > 50 and np.all(np.abs(r - radius) < cell)
    angles = np.arctan2(segs[..., 1], segs[..., 0]).ravel()
    assert np.ptp(angles) > 6.0                                    # the whole circle


def test_isolines_handle_saddles_nan_and_empty_levels():
    v = np.array([[1.0, 0.0], [0.0, 1.0]])                         # one saddle cell
    assert isolines(v, [0.5], (0, 1), (0, 1)).shape == (2, 2, 2)
    v = np.array([[np.nan, 1.0], [0.0, 1.0]])
    assert isolines(v, [0.5], (0, 1), (0, 1)).shape == (0, 2, 2)
    assert isolines(np.ones((4, 4)), [2.0], (0, 1), (0, 1)).shape == (0, 2, 2)
    with pytest.raises(ValueError):
        isolines(np.ones(4), [0.5], (0, 1), (0, 1))


def test_clip_line_and_dashes_stay_on_the_line():
    a, y = np.array([1.0, 2.0]), 1.0
    ends = clip_line(a, y, (-2, 2), (-2, 2))
    assert np.allclose(ends @ a, y)
    assert np.all(np.abs(ends) <= 2 + 1e-9)
    assert clip_line(a, 100.0, (-2, 2), (-2, 2)) is None
    assert clip_line([0, 0], 1.0, (-2, 2), (-2, 2)) is None
    assert np.allclose(clip_line([0, 1], 0.5, (-2, 2), (-1, 1)), [[-2, 0.5], [2, 0.5]]) or \
        np.allclose(clip_line([0, 1], 0.5, (-2, 2), (-1, 1)), [[2, 0.5], [-2, 0.5]])
    d = dashes(ends[0], ends[1], 10)
    assert d.shape == (20, 2) and np.allclose(d @ a, y, atol=1e-5)


# ---------------------------------------------------------------------- rendering
def test_render_is_not_blank(view):
    view.set_density(np.random.default_rng(0).random((20, 30)) + 0.1, (-2, 2), (-2, 2))
    view.set_frame(S - 1)
    img = view.render()
    assert img.ndim == 3 and img.shape[2] == 4 and img.dtype == np.uint8
    assert img[..., :3].astype(float).var() > 0


def test_set_frame_updates_particles_trails_and_heads(view):
    x = _paths()
    particles, trails = view.particles, view.trails
    view.set_frame(3)
    assert np.allclose(view.particles.pos[:, :2], x[3]) and len(view.particles.pos) == N
    assert len(view.trails.pos) == M * 4 and view.trails.connect.sum() == M * 3
    assert np.allclose(view.heads._data["a_position"][:, :2], x[3, :M])
    before = view.render()
    view.set_frame(9)
    assert view.particles is particles and view.trails is trails
    assert np.allclose(view.particles.pos[:, :2], x[9])
    assert len(view.trails.pos) == M * 10 and view.trails.connect.sum() == M * 9
    assert not np.array_equal(before, view.render())
    view.set_frame(10 ** 6)
    assert view.frame == S - 1
    view.set_particles(np.zeros((0, N, 2)))                   # empty recording: all hidden
    assert not view.particles.visible and not view.trails.visible
    with pytest.raises(ValueError):
        view.set_particles(np.zeros((S, N)))


def test_non_finite_particles_are_hidden(view):
    x = _paths()
    x[5:, :3] = np.nan                                   # three particles diverge at step 5
    x[7, :] = np.inf                                     # a whole frame diverged
    view.set_particles(x, highlight=[0, 1, 10])
    view.set_frame(6)
    assert len(view.particles.pos) == N - 3 and np.isfinite(view.particles.pos).all()
    assert view.trails.connect.sum() == 3 * 6 - 2 * 2     # rows 0, 1 stop after step 4
    assert np.isfinite(view.trails.pos).all()
    view.set_frame(7)
    assert not view.particles.visible
    view.render()                                         # nothing crashes


def test_secondary_cloud_and_particle_color(view):
    x0 = _paths(seed=3)
    view.set_secondary(x0, visible=True, color="orange")
    view.set_frame(4)
    assert view.secondary.visible and np.allclose(view.secondary.pos[:, :2], x0[4])
    view.set_secondary(x0, visible=False)
    assert not view.secondary.visible
    view.set_particle_color((1.0, 0.0, 0.0, 1.0))
    assert np.allclose(view.particles.shared_program["u_color"], (1, 0, 0, 1))
    assert view.particles.shared_program["u_size"] == 3.0
    view.set_particle_color("white", size=5)
    assert view.particles.shared_program["u_size"] == 5.0


def test_density_image_is_updated_in_place(view):
    image = view.layers.density
    v1 = np.exp(-np.linspace(0, 4, 40 * 30)).reshape(30, 40)
    view.set_density(v1, (-2, 2), (-1, 1))
    assert view.layers.density is image and image.visible
    assert np.allclose(image._data, np.log(v1), atol=1e-5)
    assert image.clim[1] == pytest.approx(0.0, abs=1e-5)
    view.set_density(2 * v1, log=False, cmap="grays")
    assert view.layers.density is image and np.allclose(image._data, 2 * v1)
    assert image.clim == pytest.approx((float((2 * v1).min()), 2.0))
    scale = image.transform.scale
    assert scale[0] == pytest.approx(4 / 39) and scale[1] == pytest.approx(2 / 29)
    view.set_density(None)
    assert not image.visible


def test_contours_lie_at_the_analytic_radius(view):
    g = np.linspace(-2, 2, 61)
    gx, gy = np.meshgrid(g, g)
    f = np.exp(-0.5 * (gx ** 2 + gy ** 2) / 0.5 ** 2)
    radius = 1.0
    view.set_contours("post", f, (-2, 2), (-2, 2), [np.exp(-0.5 * (radius / 0.5) ** 2)],
                      color="magenta")
    line = view.layers.contours["post"][0]
    r = np.linalg.norm(np.asarray(line.pos)[:, :2], axis=1)
    assert line.visible and len(r) > 40 and np.all(np.abs(r - radius) < g[1] - g[0])
    view.set_contours("post", None)
    assert "post" not in view.layers.contours and line.parent is None


def test_points_sets(view):
    view.set_points("samples", np.zeros((7, 2)), color=(1, 1, 1, 0.3), size=3)
    markers = view.layers.points["samples"][0]
    assert len(markers._data) == 7 and markers.visible
    view.set_points("samples", np.ones((5, 2)), "red", 4)
    assert view.layers.points["samples"][0] is markers and len(markers._data) == 5
    view.set_points("samples", None)
    assert "samples" not in view.layers.points


def test_constraint_line_satisfies_the_equation(view):
    a, y = np.array([0.6, -0.8]), 0.3
    view.set_constraint(a, y)
    pos = np.asarray(view.layers.constraint.pos)[:, :2]
    assert view.layers.constraint.visible and view.layers.label.visible
    assert np.allclose(pos @ a, y, atol=1e-5)
    (x0, x1), (y0, y1) = view.layers.visible_rect()
    assert np.all((pos[:, 0] >= x0 - 1e-4) & (pos[:, 0] <= x1 + 1e-4))
    assert np.all((pos[:, 1] >= y0 - 1e-4) & (pos[:, 1] <= y1 + 1e-4))
    view.set_constraint(None)
    assert not view.layers.constraint.visible


def test_three_d_mode_renders(qtbot):
    view = _new_canvas(qtbot, dim=3)
    view.set_particles(_paths(d=3), highlight=[0, 1])
    view.set_density(np.random.default_rng(0).random((10, 10)) + 0.1, (-2, 2), (-2, 2))
    view.set_contours("c", np.random.default_rng(1).random((10, 10)), (-2, 2), (-2, 2), [0.5])
    view.set_constraint([1, 0], 0.0)
    view.set_frame(S - 1)
    assert view.view.camera.__class__.__name__ == "TurntableCamera"
    assert view.particles.pos.shape == (N, 3)
    assert not view.layers.constraint.visible                # 2-D only
    img = view.render()
    assert img[..., :3].astype(float).var() > 0
    view.set_dim(2)
    assert view.view.camera.__class__.__name__ == "PanZoomCamera"
    assert view.render()[..., :3].astype(float).var() > 0


def test_link_view_keeps_cameras_in_sync(qtbot, view):
    other = _new_canvas(qtbot)
    view.link_view(other)
    view.set_range((-1, 3), (0, 2))
    assert np.allclose(_rect(view), _rect(other))
    other.view.camera.zoom(0.5)
    assert np.allclose(_rect(view), _rect(other))
    view.set_dim(3)
    other.set_dim(3)
    other.view.camera.azimuth = 80.0
    assert view.view.camera.azimuth == pytest.approx(80.0)
    view.set_dim(2)
    other.set_dim(2)
    view.view.camera.zoom(2.0)
    assert np.allclose(_rect(view), _rect(other))
    view.set_title("DDPM")
    assert view.title.text() == "DDPM" and not view.title.isHidden()


def test_plain_drag_pans_and_click_emits_data_coordinates(view, qtbot):
    before = _rect(view)
    _drag(view, [(150, 150), (170, 160), (200, 180)])
    assert not np.allclose(before, _rect(view))             # events do reach the camera
    target = np.array([0.5, -0.7])
    px = _pixel(view, target)
    with qtbot.waitSignal(view.sigClicked, timeout=1000) as blocker:
        _drag(view, [px])
    assert np.allclose(blocker.args, target, atol=1e-3)


def test_draw_mode_emits_points_without_panning(view, qtbot):
    view.set_draw_mode(True)
    before = _rect(view)
    stroke = np.array([[-1.0, -1.0], [-0.5, 0.0], [0.0, 0.5], [1.0, 1.0]])
    with qtbot.waitSignal(view.sigPointsDrawn, timeout=1000) as blocker:
        _drag(view, [_pixel(view, p) for p in stroke])
    pts = blocker.args[0]
    assert isinstance(pts, np.ndarray) and pts.shape[1] == 2 and len(pts) >= len(stroke)
    assert np.allclose(pts[:len(stroke)], stroke, atol=1e-3)
    assert np.allclose(before, _rect(view))


def test_constraint_drag_moves_the_line_without_panning(view, qtbot):
    a = np.array([0.0, 1.0])
    view.set_constraint(a, 0.0)
    before = _rect(view)
    moved = []
    view.sigConstraintMoved.connect(moved.append)
    start = np.array(_pixel(view, [0.3, 0.0])) + (0, 2)       # 2 px off the line
    path = [tuple(start + (0, -k * 10)) for k in range(4)]      # drag upwards on screen
    _drag(view, path)
    assert len(moved) == 3 and np.all(np.diff(moved) > 0)      # y grows upwards
    end_y = view.interaction.to_data(path[-1])[1] - view.interaction.to_data(path[0])[1]
    assert moved[-1] == pytest.approx(end_y, abs=1e-3)
    assert view.layers.constraint_ay[1] == pytest.approx(moved[-1])
    assert np.allclose(before, _rect(view))
    moved.clear()
    _drag(view, [_pixel(view, [0.3, -1.5]), _pixel(view, [0.3, -1.2])])   # far away: pans
    assert not moved


def test_3d_view_has_labelled_axes_and_2d_has_none(qtbot):
    """Issue #11: the 3-D diffusion view carries x₁, x₂, x₃ axes with their ranges."""
    widget = _new_canvas(qtbot, dim=3)
    widget.set_range((-2, 1), (-3, 3), (0, 4))
    assert widget.axes3d.visible and all(t.visible for t in widget.axis_labels)
    pos = widget.axes3d.pos
    assert pos.shape == (6, 3)
    assert np.allclose(pos[0::2], [-2, -3, 0])                       # from the low corner …
    assert np.allclose(pos[1::2], [[1, -3, 0], [-2, 3, 0], [-2, -3, 4]])   # … along each axis
    assert [t.text for t in widget.axis_labels] == ["x1: -2 to 1", "x2: -3 to 3", "x3: 0 to 4"]
    widget.set_dim(2)
    assert not widget.axes3d.visible and not any(t.visible for t in widget.axis_labels)

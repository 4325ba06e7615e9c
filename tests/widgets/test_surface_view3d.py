"""Tests for widgets.surface_view3d.SurfaceView3D.

GL availability is decided inside each test (a QApplication exists by then), never at
collection time: under pytest-xvfb the GL tests run, with QT_QPA_PLATFORM=offscreen they skip.
"""

import numpy as np
import pytest

import widgets.surface_view3d as surface_module
from widgets.gl import opengl_available
from widgets.region_style import region_colors
from widgets.surface_view3d import SurfaceView3D, node_subsample, value_colors

XLIM, YLIM = (-2.0, 2.0), (-1.0, 1.0)


def plane_net(nx=60, ny=30):
    """``f = relu(x₁)``: two regions (ids 0 | 1) split at x₁ = 0 on the node grid."""
    x = np.linspace(*XLIM, nx)
    z = np.maximum(x, 0.0)[None, :].repeat(ny, axis=0)
    ids = (x > 0).astype(np.int64)[None, :].repeat(ny, axis=0)
    return z, ids


@pytest.fixture
def view(qtbot):
    if not opengl_available():
        pytest.skip("no OpenGL on this Qt platform (e.g. QT_QPA_PLATFORM=offscreen)")
    widget = SurfaceView3D(max_nodes=40)
    qtbot.addWidget(widget)
    widget.resize(320, 260)
    widget.show()
    return widget


def test_node_subsample_keeps_ends_and_limits_count():
    assert list(node_subsample(5, 10)) == [0, 1, 2, 3, 4]
    idx = node_subsample(257, 64)
    assert idx[0] == 0 and idx[-1] == 256 and len(idx) <= 64
    assert (np.diff(idx) > 0).all()


def test_value_colors_are_diverging_and_centred():
    c = value_colors(np.array([[-2.0, 0.0, 2.0, np.nan]]))
    assert c.shape == (1, 4, 4) and np.allclose(c[..., 3], 1.0)
    neg, mid, pos = c[0, 0, :3], c[0, 1, :3], c[0, 2, :3]
    assert neg[2] > neg[0] and pos[0] > pos[2]          # blue below 0, red above
    assert np.allclose(c[0, 3], c[0, 1])                # NaN drawn as 0
    assert mid.min() > 0.7                              # light at 0


def test_without_gl_the_widget_is_inert(qtbot, monkeypatch):
    monkeypatch.setattr(surface_module, "opengl_available", lambda: False)
    widget = SurfaceView3D()
    qtbot.addWidget(widget)
    z, ids = plane_net()
    widget.set_surface(z, XLIM, YLIM, colors=region_colors(ids))
    widget.set_points(np.zeros((2, 2)), [0, 1], fitted=[0, 0])
    widget.set_zlim((-1, 1))
    widget.set_info("x")
    assert widget.canvas is None
    with pytest.raises(RuntimeError):
        widget.render()
    with pytest.raises(ValueError, match="colors"):     # arguments are checked all the same
        widget.set_surface(z, XLIM, YLIM, colors=np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match="2-D"):
        widget.set_surface(np.zeros(5), XLIM, YLIM)
    with pytest.raises(ValueError, match="targets"):
        widget.set_points(np.zeros((3, 2)), [1, 2])
    with pytest.raises(ValueError, match="zlim"):
        widget.set_zlim((1, 1))


def test_surface_heights_colours_and_points(view):
    z, ids = plane_net(nx=100, ny=30)
    view.set_zlim((-1.0, 1.0))
    view.set_surface(z, XLIM, YLIM, colors=region_colors(ids))
    md = view.surface.mesh_data
    verts = md.get_vertices()
    assert len(verts) <= 40 * 30 and verts[:, 0].min() == XLIM[0] and verts[:, 0].max() == XLIM[1]
    scale = view.scale()
    assert scale == pytest.approx(0.6 * 4.0 / 2.0)
    # heights follow f = relu(x₁), clipped to zlim = (-1, 1)
    assert np.allclose(verts[:, 2], np.clip(np.maximum(verts[:, 0], 0), -1, 1) * scale, atol=1e-5)
    colors = md.get_vertex_colors()
    left = colors[verts[:, 0] < -0.1, :3]
    assert np.allclose(left, region_colors(np.array([0]))[0] / 255.0, atol=1e-6)
    X = np.array([[1.0, 0.0], [-1.0, 0.5]])
    view.set_points(X, [0.5, -0.5], colors=np.array([[255, 0, 0], [0, 0, 255]], np.uint8),
                    fitted=[1.0, 0.0])
    assert view.points.visible and view.stems.visible
    view.set_points(None, None)
    assert not view.points.visible and not view.stems.visible


def test_render_is_not_blank_and_shows_region_colours(view):
    z, ids = plane_net()
    view.set_surface(z, XLIM, YLIM, colors=region_colors(ids * 7 + 3))
    view.set_points(np.array([[1.0, 0.0]]), [1.0])
    view.set_info("height = f(x)")
    img = view.render()
    assert img.ndim == 3 and img.shape[2] == 4 and img.dtype == np.uint8
    rgb = img[..., :3].reshape(-1, 3).astype(int)
    assert len({tuple(c) for c in rgb[::5]}) > 20
    assert (np.abs(rgb - 255).sum(axis=1) > 30).mean() > 0.05     # not just the background
    view.set_surface(2 * z, (-3.0, 3.0), YLIM)                    # new extent, default colours
    assert view.view.camera.scale_factor == pytest.approx(1.45 * 6.0)


# ---------------------------------------------------------------------- picking and hover
def test_ray_heightfield_known_answers():
    """Rays onto f = relu(x₁) on [-2, 2] × [-1, 1]: straight down, oblique, and a miss."""
    from widgets.surface_pick import bilinear, ray_box, ray_heightfield
    gx, gy = np.linspace(-2, 2, 41), np.linspace(-1, 1, 21)
    h = np.maximum(gx, 0.0)[None, :].repeat(len(gy), axis=0)
    assert bilinear(gx, gy, h, 0.55, 0.3) == pytest.approx(0.55)
    hit = ray_heightfield([1.5, 0.25, 10.0], [0, 0, -1], gx, gy, h)
    assert np.allclose(hit, [1.5, 0.25, 1.5], atol=1e-6)
    target = np.array([0.8, -0.4, 0.8])                     # on the slope, from the side
    origin = np.array([-3.0, 2.0, 5.0])
    hit = ray_heightfield(origin, target - origin, gx, gy, h)
    assert np.allclose(hit, target, atol=1e-6)
    assert ray_heightfield([5.0, 5.0, 5.0], [0, 0, 1], gx, gy, h) is None   # pointing away
    assert ray_box([0, 0, 0], [1, 0, 0], (1, -1, -1), (2, 1, 1)) == (1.0, 2.0)
    assert ray_box([0, 5, 0], [1, 0, 0], (1, -1, -1), (2, 1, 1)) is None


def _canvas_point(view, x, y, z):
    """Canvas pixel of the scene point (x, y, z)."""
    tr = view.canvas.scene.node_transform(view.view.scene)
    c = np.asarray(tr.imap([x, y, z, 1.0]), float)
    return c[0] / c[3], c[1] / c[3]


def test_hover_picks_the_surface_point_under_the_mouse(view, qtbot):
    z, ids = plane_net(nx=81, ny=41)
    view.set_zlim((-1.0, 1.0))
    view.set_surface(z, XLIM, YLIM, colors=region_colors(ids))
    qtbot.wait(20)
    seen = []
    view.sigHover.connect(lambda a, b: seen.append((a, b)))
    for x1, x2 in ((0.6, 0.3), (-1.2, -0.5)):
        px = _canvas_point(view, x1, x2, max(x1, 0.0) * view.scale())
        view.handle_mouse_move(*px)
        assert seen[-1] == pytest.approx((x1, x2), abs=2e-3)
        view.set_hover_text(f"pattern {int(x1 > 0)}")
        assert view.hover_marker.visible and view.hover_label.isVisible()
        assert view.host.widget.rect().contains(view.hover_label.geometry())
    assert view.hover_text() == "pattern 0"
    n = len(seen)
    view.handle_mouse_move(1.0, 1.0)                     # the corner: background only
    assert len(seen) == n and not view.hover_label.isVisible()
    assert not view.hover_marker.visible and view.hover_text() == ""


def test_linked_cameras_turn_together(qtbot, view):
    other = SurfaceView3D(max_nodes=20)
    qtbot.addWidget(other)
    view.link_camera(other)
    view.view.camera.azimuth = 70.0
    assert other.view.camera.azimuth == pytest.approx(70.0)
    other.view.camera.elevation = 10.0
    assert view.view.camera.elevation == pytest.approx(10.0)


def test_qt_mouse_move_and_leave_drive_the_readout(view, qtbot):
    """A real Qt mouse move over the canvas reaches the pick (vispy event), Leave hides it."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication
    z, ids = plane_net(nx=81, ny=41)
    view.set_surface(z, XLIM, YLIM, colors=region_colors(ids))
    qtbot.wait(20)
    view.sigHover.connect(lambda a, b: view.set_hover_text(f"at {a:.2f}, {b:.2f}"))
    px, py = _canvas_point(view, 1.0, 0.5, 1.0 * view.scale())
    native = view.host.widget
    pos = QPointF(round(px), round(py))
    move = QMouseEvent(QEvent.Type.MouseMove, pos, native.mapToGlobal(pos.toPoint()).toPointF(),
                       Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(native, move)
    text = view.hover_text()
    assert text.startswith("at ")
    a, b = (float(v) for v in text[3:].split(", "))
    assert abs(a - 1.0) < 0.05 and abs(b - 0.5) < 0.05
    QApplication.sendEvent(native, QEvent(QEvent.Type.Leave))
    assert view.hover_text() == "" and not view.hover_label.isVisible()

"""Tests for widgets.trajectory_view3d.TrajectoryView3D.

GL availability is decided inside each test (a QApplication exists by then), never at
collection time: under pytest-xvfb the GL tests run, with QT_QPA_PLATFORM=offscreen they skip.
"""

import numpy as np
import pytest

import widgets.trajectory_view3d as view3d_module
from widgets.gl import opengl_available
from widgets.trail_plot import synthetic_trajectories
from widgets.trajectory_view3d import TrajectoryView3D

T, N = 30, 6


@pytest.fixture
def view(qtbot):
    if not opengl_available():
        pytest.skip("no OpenGL on this Qt platform (e.g. QT_QPA_PLATFORM=offscreen)")
    widget = TrajectoryView3D(trail_length=5)
    qtbot.addWidget(widget)
    widget.resize(320, 260)
    widget.show()
    w, v = synthetic_trajectories(T, N, 3, seed=2)
    widget.set_trajectories(w, v)
    return widget


def test_opengl_available_follows_platform_and_is_cached(qtbot):
    from PySide6.QtGui import QGuiApplication

    first = opengl_available()
    assert isinstance(first, bool) and opengl_available() is first
    if QGuiApplication.platformName() == "offscreen":
        assert first is False


def test_without_gl_the_widget_is_inert(qtbot, monkeypatch):
    monkeypatch.setattr(view3d_module, "opengl_available", lambda: False)
    widget = TrajectoryView3D()
    qtbot.addWidget(widget)
    w, v = synthetic_trajectories(5, 2, 3)
    widget.set_trajectories(w, v)
    widget.set_colors(np.ones(2))
    widget.set_highlight(0)
    widget.set_samples(np.ones((3, 3)))
    widget.set_sample_state(np.ones(3, bool))
    widget.set_trail_length(2)
    widget.set_frame(3)
    assert widget.canvas is None
    with pytest.raises(RuntimeError):
        widget.render()


def test_render_is_not_blank(view):
    view.set_frame(10)
    img = view.render()
    assert img.ndim == 3 and img.shape[2] == 4 and img.dtype == np.uint8
    assert img[..., :3].astype(float).var() > 0


def test_set_frame_updates_visuals_in_place(view):
    trails, heads = view.trails, view.heads
    view.set_frame(10)
    pos10 = np.array(view.trails.pos)
    assert pos10.shape == (N * 6, 3)                     # frames 5..10
    connect = view.trails.connect
    assert connect.sum() == N * 5                        # no segment across trajectories
    before = view.render()
    view.set_frame(25)
    assert view.trails is trails and view.heads is heads
    assert not np.array_equal(pos10, view.trails.pos)
    assert not np.array_equal(before, view.render())
    view.set_trail_length(0)
    assert np.array(view.trails.pos).shape == (N * 26, 3)


def test_highlight_samples_and_colors(view):
    X = np.random.default_rng(0).normal(size=(10, 3))
    view.set_colors(np.arange(N, dtype=float))
    view.set_samples(X)
    view.set_sample_state(None, support=X[:, 0] > 0)
    view.set_highlight(1)
    view.set_frame(12)
    assert view.highlight.visible and view.plane.visible and view.support.visible
    assert "support vector (active at the limit)" in view.legend.text()
    img = view.render()
    assert img[..., :3].astype(float).var() > 0
    view.set_highlight(None)
    assert not view.plane.visible


def test_nonfinite_trajectories_do_not_crash(view):
    w, v = synthetic_trajectories(T, N, 3)
    w[8:, 2] = np.nan
    w[4, 0, 1] = np.inf
    view.set_trajectories(w, v)
    view.set_colors(np.where(np.arange(N) == 3, np.nan, 1.0))
    view.set_highlight(2)
    for i in (0, 4, 9, T - 1):
        view.set_frame(i)
    assert np.isfinite(np.array(view.trails.pos)).all()
    assert not view.plane.visible                        # highlighted run diverged
    assert view.render().shape[2] == 4


def test_bad_shape_rejected(view):
    with pytest.raises(ValueError):
        view.set_trajectories(np.zeros((4, 3, 2)), np.zeros(3))


@pytest.mark.parametrize("normal", [(0.3, -1.2, 0.5), (0.0, 0.0, 2.0), (1.0, 1e-3, 0.0)])
def test_disc_matrix_maps_unit_disc_onto_the_plane_disc(normal):
    """Known answer: the per-frame uniform puts the fixed unit disc exactly where the
    direct vertices of the activation plane would be."""
    verts = np.c_[view3d_module.UNIT_DISC[0], np.ones(len(view3d_module.UNIT_DISC[0]))]
    mapped = (verts @ view3d_module.disc_matrix(np.array(normal), 0.7))[:, :3]
    expected, faces = view3d_module._plane_disc(np.array(normal), 0.7)
    np.testing.assert_allclose(mapped, expected, atol=1e-6)
    assert np.array_equal(faces, view3d_module.UNIT_DISC[1])


def test_frames_rebuild_no_shader_and_the_plane_looks_as_drawn_directly(view, monkeypatch):
    """Issue #16: a frame used to give the activation plane new vertices, which re-linked the
    Mesh shader every frame (an llvmpipe compile). Now frames change a uniform only; the
    picture equals the plane drawn from its direct vertices."""
    from vispy.visuals.shaders.program import ModularProgram
    view.set_highlight(1)
    view.set_frame(8)
    view.render()                                             # every program built once
    builds = []
    original = ModularProgram._build
    monkeypatch.setattr(ModularProgram, "_build",
                        lambda self: (builds.append(self), original(self))[1])
    for frame in (9, 12, 20, 25):
        view.set_frame(frame)
        shown = view.render()
    assert builds == []
    monkeypatch.setattr(ModularProgram, "_build", original)
    w = view._highlight_w()
    verts, faces = view3d_module._plane_disc(w, 0.45 * view._extent)
    view.plane.transform.matrix = np.eye(4)
    view.plane.set_data(vertices=verts, faces=faces,
                        color=view3d_module.rgba(view3d_module.HIGHLIGHT_COLOR,
                                                 view3d_module.PLANE_ALPHA))
    direct = view.render()
    differ = np.abs(shown.astype(int) - direct.astype(int)).max(axis=2) > 2
    assert differ.mean() < 1e-3, f"{differ.sum()} pixels differ"

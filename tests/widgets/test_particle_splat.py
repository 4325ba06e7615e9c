"""Tests for widgets.particle_splat: the 2-D particle cloud as one alpha texture (issue #16).

GL tests decide availability inside the test (pytest-xvfb provides GL; offscreen skips).
"""
import numpy as np
import pytest

import widgets.particle_canvas as canvas_module
from widgets.gl import opengl_available
from widgets.particle_canvas import ParticleCanvas
from widgets.particle_splat import splat_alpha


def test_dot_covers_the_pixels_a_round_gl_point_covers():
    """A dot covers the pixels whose centres lie within ``size / 2`` of it (a round GL
    point's fragments): a 2-px dot at (3.0, 6.0) the four pixels around it; random dots
    agree with a brute-force loop over all pixels."""
    a = splat_alpha(np.array([[3.0, 6.0]]), (0, 10), (0, 8), (8, 10), 2, 1.0)
    assert a.shape == (8, 10) and a.dtype == np.uint8
    assert set(zip(*np.nonzero(a))) == {(5, 2), (5, 3), (6, 2), (6, 3)}
    rng = np.random.default_rng(1)
    centres = np.stack(np.meshgrid(np.arange(12) + 0.5, np.arange(9) + 0.5), -1)  # (9, 12, 2)
    for size in (1, 2, 3, 4):
        for p in rng.uniform(-1, 13, size=(20, 2)):
            got = splat_alpha(p[None], (0, 12), (0, 9), (9, 12), size, 1.0) > 0
            want = ((centres - p) ** 2).sum(-1) < (size / 2) ** 2
            assert np.array_equal(got, want), (size, p)


def test_overlaps_blend_like_alpha_compositing():
    """k dots on a pixel: alpha 1 − (1 − a)^k; off-view and non-finite points are dropped,
    a dot cut by the border keeps its inside part."""
    pos = np.array([[1.5, 1.5]] * 3 + [[np.nan, 1.0], [50.0, 1.0]])
    a = splat_alpha(pos, (0, 4), (0, 4), (4, 4), 1, 0.6)
    assert a[1, 1] == round(255 * (1 - 0.4 ** 3)) and np.count_nonzero(a) == 1
    corner = splat_alpha(np.array([[0.1, 0.1]]), (0, 4), (0, 4), (4, 4), 2, 0.6)
    assert corner[0, 0] == round(255 * 0.6) and np.count_nonzero(corner) == 1


def test_rectangle_and_shape_map_data_to_pixels():
    """Row 0 is the bottom (y up); a non-square data rectangle scales each axis apart."""
    a = splat_alpha(np.array([[9.9, -0.99]]), (0, 10), (-1, 1), (20, 5), 2, 1.0)
    assert list(zip(*np.nonzero(a))) == [(0, 4)]


def _rendered(qtbot, x, splat):
    """Render a 2-D canvas showing cloud ``x`` as GL points or as the splat texture."""
    if not opengl_available():
        pytest.skip("no OpenGL on this Qt platform")
    widget = ParticleCanvas(dim=2)
    qtbot.addWidget(widget)
    widget.resize(300, 260)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_range((-2, 2), (-2, 2))
    old = canvas_module.SPLAT_N
    canvas_module.SPLAT_N = 0 if splat else 10 ** 9
    try:
        widget.set_particles(x)
        assert widget.splat.visible == splat and widget.particles.visible != splat
        return widget.render()[..., :3].astype(int)
    finally:
        canvas_module.SPLAT_N = old


def test_splat_draws_what_the_gl_points_draw(qtbot):
    """Pixel for pixel (up to a few border pixels from rounding): the same dots and the same
    blending over the black background."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.8, 1.8, size=(2, 3000, 2)).astype(np.float32)   # 3-px dots
    points, splat = _rendered(qtbot, x, False), _rendered(qtbot, x, True)
    lit_points, lit_splat = points.sum(-1) > 0, splat.sum(-1) > 0
    assert lit_points.sum() > 5000
    assert (lit_points != lit_splat).mean() < 0.01
    both = lit_points & lit_splat
    assert np.abs(points[both] - splat[both]).max() <= 3


def test_splat_follows_zoom(qtbot):
    """Zooming re-bins the cloud: a point stays under the same data coordinate."""
    if not opengl_available():
        pytest.skip("no OpenGL on this Qt platform")
    widget = ParticleCanvas(dim=2)
    qtbot.addWidget(widget)
    widget.resize(300, 260)
    widget.show()
    qtbot.waitExposed(widget)
    widget.set_range((-2, 2), (-2, 2))
    x = np.zeros((1, canvas_module.SPLAT_N + 1, 2), np.float32)
    x[0, :, 0] = 1.0                              # every particle at (1, 0)
    widget.set_particles(x)
    before = widget.render()[..., 0] > 0
    widget.set_range((0, 2), (-1, 1))             # zoom on the right half
    after = widget.render()[..., 0] > 0
    cols_before = np.nonzero(before.any(axis=0))[0].mean() / before.shape[1]
    cols_after = np.nonzero(after.any(axis=0))[0].mean() / after.shape[1]
    assert cols_before > 0.5 and abs(cols_after - 0.5) < 0.05

"""Tests for widgets.volume_canvas.VolumeCanvas.

GL availability is decided inside each test (a QApplication exists by then), never at
collection time: under pytest-xvfb the GL tests run, with QT_QPA_PLATFORM=offscreen they skip.
"""

import numpy as np
import pytest

import widgets.volume_canvas as volume_module
from widgets.gl import opengl_available
from widgets.volume_canvas import METHODS, VolumeCanvas, demo_volume, plane_outline

SHAPE, SPACING = (24, 32, 40), (2.0, 1.0, 1.5)


def _gl_canvas(qtbot, **kwargs):
    if not opengl_available():
        pytest.skip("no OpenGL on this Qt platform (e.g. QT_QPA_PLATFORM=offscreen)")
    widget = VolumeCanvas(**kwargs)
    qtbot.addWidget(widget)
    widget.resize(240, 200)
    widget.show()
    return widget


@pytest.fixture
def view(qtbot):
    widget = _gl_canvas(qtbot)
    widget.set_volume(demo_volume(SHAPE, SPACING), SPACING)
    return widget


def test_demo_volume_is_nested():
    vol = demo_volume(SHAPE, SPACING)
    assert vol.shape == SHAPE and vol.dtype == np.float32
    assert np.allclose(np.unique(vol), [0.0, 0.3, 0.6, 1.0])
    assert vol[0, 0, 0] == 0 and vol.max() == 1.0


def test_plane_outline_geometry():
    axial = plane_outline(0, 5, SHAPE, SPACING)          # z = k plane, scene (x, y, z)
    assert axial.shape == (5, 3) and np.array_equal(axial[0], axial[-1])
    assert np.allclose(axial[:, 2], 5 * 2.0)
    assert np.isclose(axial[:, 0].min(), -0.75) and np.isclose(axial[:, 0].max(), 39.5 * 1.5)
    sagittal = plane_outline(2, 7, SHAPE, SPACING)       # x = i plane
    assert np.allclose(sagittal[:, 0], 7 * 1.5)
    assert np.isclose(sagittal[:, 2].max(), 23.5 * 2.0)


def test_without_gl_the_widget_is_inert(qtbot, monkeypatch):
    monkeypatch.setattr(volume_module, "opengl_available", lambda: False)
    widget = VolumeCanvas()
    qtbot.addWidget(widget)
    widget.set_volume(np.zeros((4, 5, 6)), (1, 1, 1))
    for method in METHODS:
        widget.set_method(method)
    widget.set_threshold(0.5)
    widget.set_clim(0, 2)
    widget.set_colormap("viridis")
    widget.set_planes(1, 2, 3)
    assert widget.canvas is None and widget.downsampled() == 1
    with pytest.raises(RuntimeError):
        widget.render()
    with pytest.raises(ValueError):
        widget.set_method("bogus")
    with pytest.raises(ValueError):
        widget.set_volume(np.zeros((4, 5)))


@pytest.mark.parametrize("method", ["mip", "translucent", "iso"])
def test_render_is_not_blank(view, method):
    view.set_method(method)
    view.set_threshold(0.5)
    img = view.render()
    assert img.ndim == 3 and img.shape[2] == 4 and img.dtype == np.uint8
    assert img[..., :3].astype(float).var() > 0
    assert view.volume.method == method


def test_other_methods_clim_and_colormap(view):
    before = view.render()
    view.set_colormap("viridis")
    coloured = view.render()
    assert not np.array_equal(before, coloured)
    assert (coloured[..., 1].astype(int) - coloured[..., 0]).max() > 20   # viridis is not grey
    for method in ("attenuated_mip", "minip", "average"):
        view.set_method(method)
        assert view.render()[..., :3].max() > 0
    view.set_method("mip")
    view.set_clim(0.0, 4.0)
    assert view.volume.clim == (0.0, 4.0)
    with pytest.raises(ValueError):
        view.set_colormap("no-such-map")
    with pytest.raises(ValueError):
        view.set_clim(1, 1)


def test_transform_scales_voxels_to_mm(view):
    sz, sy, sx = SPACING
    mapped = view.volume.transform.map([10, 20, 5])[:3]   # voxel (x, y, z) → mm
    assert np.allclose(mapped, [10 * sx, 20 * sy, 5 * sz])


def test_set_planes_moves_the_outlines(view):
    assert not any(line.visible for line in view.planes.values())
    view.set_planes(3, 4, 5)
    sz, sy, sx = SPACING
    assert np.allclose(view.planes["axial"].pos[:, 2], 5 * sz)
    assert np.allclose(view.planes["coronal"].pos[:, 1], 4 * sy)
    assert np.allclose(view.planes["sagittal"].pos[:, 0], 3 * sx)
    before = view.render()
    view.set_planes(3, 4, 20)
    assert np.allclose(view.planes["axial"].pos[:, 2], 20 * sz)
    assert not np.array_equal(before, view.render())
    view.set_planes(0, 0, 999)                            # clipped to the last slice
    assert np.allclose(view.planes["axial"].pos[:, 2], (SHAPE[0] - 1) * sz)
    view.set_planes(None, None, None)
    assert not any(line.visible for line in view.planes.values())


def test_downsampling_above_the_cap(qtbot):
    widget = _gl_canvas(qtbot, max_texture=16)
    assert widget.texture_limit() == 16
    data = demo_volume(SHAPE, SPACING)                    # longest axis 40 → stride 3
    widget.set_volume(data, SPACING)
    assert widget.downsampled() == 3
    assert "×3" in widget.note.text
    sz, sy, sx = SPACING
    assert np.allclose(widget.volume.transform.scale[:3], [3 * sx, 3 * sy, 3 * sz])
    widget.set_planes(0, 0, 10)                           # planes stay in full-res mm
    assert np.allclose(widget.planes["axial"].pos[:, 2], 10 * sz)
    assert widget.render()[..., :3].max() > 0
    widget.set_volume(data[:16, :16, :16], SPACING)
    assert widget.downsampled() == 1 and widget.note.text == ""


def test_texture_limit_respects_gl(view):
    limit = view.texture_limit()
    assert 0 < limit <= 256
    assert volume_module._MAX_3D is None or limit <= volume_module._MAX_3D


def test_azimuth_turns_the_view(view):
    before = view.render()
    view.set_azimuth(view.azimuth() + 90)
    after = view.render()
    assert view.azimuth() == pytest.approx((35 + 90) % 360)
    assert np.abs(after[..., :3].astype(float) - before[..., :3]).mean() > 1

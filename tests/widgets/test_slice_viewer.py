"""Tests for widgets.slice_viewer.SliceViewer (pytest-qt; Xvfb or QT_QPA_PLATFORM=offscreen)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PySide6 import QtCore

from tests.widgets.helpers import image_array
from widgets.slice_viewer import COLORMAPS, SliceViewer, colormap_lut
from widgets.slice_viewer_demo import demo_volume

SHAPE, SPACING = (10, 12, 14), (2.0, 1.0, 0.5)   # (z, y, x), (sz, sy, sx)


def volume(shape=SHAPE):
    """Distinct value at every voxel: 10000 k + 100 j + i."""
    k, j, i = np.indices(shape)
    return (10000 * k + 100 * j + i).astype(np.float32)


@pytest.fixture
def viewer(qtbot):
    w = SliceViewer()
    qtbot.addWidget(w)
    w.resize(720, 300)
    w.set_volume(volume(), SPACING, name="test")
    w.show()
    qtbot.waitExposed(w)
    return w


def test_slices_follow_cursor(viewer):
    data = viewer.volume()
    viewer.set_cursor(3, 5, 7)
    assert viewer.cursor() == (3, 5, 7)
    np.testing.assert_array_equal(viewer.images["axial"].image, data[7])
    np.testing.assert_array_equal(viewer.images["coronal"].image, data[:, 5])
    np.testing.assert_array_equal(viewer.images["sagittal"].image, data[:, :, 3])
    viewer.set_cursor(100, -4, 2)                      # clipped into the volume
    assert viewer.cursor() == (13, 0, 2)
    np.testing.assert_array_equal(viewer.images["sagittal"].image, data[:, :, 13])


def test_rect_and_crosshair_in_mm(viewer):
    sz, sy, sx = SPACING
    nz, ny, nx = SHAPE
    expected = {"axial": (nx * sx, ny * sy), "coronal": (nx * sx, nz * sz),
                "sagittal": (ny * sy, nz * sz)}
    for name, (w, h) in expected.items():
        img = viewer.images[name]
        r = img.mapRectToParent(img.boundingRect())
        assert r.width() == pytest.approx(w) and r.height() == pytest.approx(h)
    viewer.set_cursor(4, 6, 3)
    vline, hline = viewer.lines["axial"]
    assert vline.value() == pytest.approx(4 * sx) and hline.value() == pytest.approx(6 * sy)
    vline, hline = viewer.lines["sagittal"]
    assert vline.value() == pytest.approx(6 * sy) and hline.value() == pytest.approx(3 * sz)
    assert viewer.voxel_at("coronal", 4 * sx, 3 * sz) == (4, 6, 3)
    assert viewer.voxel_at("coronal", -5.0, 0.0) is None


def test_signals_and_link(qtbot, viewer):
    other = SliceViewer()
    qtbot.addWidget(other)
    other.set_volume(volume() * 2, SPACING)
    viewer.link(other)
    assert other.cursor() == viewer.cursor() and other.window() == viewer.window()
    with qtbot.waitSignal(viewer.sigCursorChanged) as blocker:
        other.set_cursor(1, 2, 3)
    assert blocker.args == [1, 2, 3] and viewer.cursor() == (1, 2, 3)
    with qtbot.waitSignal(other.sigWindowChanged):
        viewer.set_window(500.0, 40.0)
    assert other.window() == (500.0, 40.0)
    lo, hi = other.images["axial"].getLevels()
    assert (lo, hi) == pytest.approx((480.0, 520.0))


def test_wheel_keys_and_click(qtbot, viewer):
    viewer.set_cursor(5, 5, 5)
    viewer.hover("coronal", 0.0, 0.0)                 # coronal view under the mouse
    qtbot.keyClick(viewer, QtCore.Qt.Key.Key_Up)
    assert viewer.cursor() == (5, 6, 5)
    qtbot.keyClick(viewer, QtCore.Qt.Key.Key_PageDown)
    assert viewer.cursor() == (5, 1, 5)
    wheel = SimpleNamespace(modifiers=lambda: QtCore.Qt.KeyboardModifier.NoModifier,
                            delta=lambda: -120, accept=lambda: None)
    viewer.views["axial"].wheelEvent(wheel)
    assert viewer.cursor() == (5, 1, 4)
    vb = viewer.views["sagittal"]
    click = SimpleNamespace(button=lambda: QtCore.Qt.MouseButton.LeftButton, accept=lambda: None,
                            scenePos=lambda: vb.mapViewToScene(QtCore.QPointF(3.0, 8.0)))
    vb.mouseClickEvent(click)
    assert viewer.cursor() == (5, 3, 4)                # sagittal: u = y mm, v = z mm


def test_window_drag(viewer):
    viewer.set_window(100.0, 50.0)
    vb = viewer.views["axial"]
    down = QtCore.QPointF(10, 10)

    def event(dx, dy, start=False, finish=False, button=QtCore.Qt.MouseButton.RightButton):
        return SimpleNamespace(button=lambda: button, accept=lambda: None,
                               modifiers=lambda: QtCore.Qt.KeyboardModifier.NoModifier,
                               isStart=lambda: start, isFinish=lambda: finish,
                               buttonDownScreenPos=lambda: down,
                               screenPos=lambda: down + QtCore.QPointF(dx, dy))
    vb.mouseDragEvent(event(0, 0, start=True))
    vb.mouseDragEvent(event(200, 0))
    level, width = viewer.window()
    assert level == pytest.approx(100.0) and width == pytest.approx(50.0 * np.e)
    vb.mouseDragEvent(event(0, -200, finish=True))    # up: level + one start width
    assert viewer.window() == pytest.approx((150.0, 50.0))
    assert viewer.images["coronal"].getLevels() == pytest.approx((125.0, 175.0))


def test_update_data_and_same_shape_volume_keep_state(viewer):
    viewer.set_cursor(2, 3, 4)
    viewer.set_window(7.0, 3.0)
    new = volume() + 1
    viewer.update_data(new)
    assert viewer.cursor() == (2, 3, 4) and viewer.window() == (7.0, 3.0)
    np.testing.assert_array_equal(viewer.images["axial"].image, new[4])
    viewer.set_volume(volume() - 1, SPACING)
    assert viewer.cursor() == (2, 3, 4) and viewer.window() == (7.0, 3.0)
    with pytest.raises(ValueError):
        viewer.update_data(np.zeros((3, 3, 3), np.float32))
    viewer.set_volume(np.zeros((4, 5, 6), np.float32))   # new shape: cursor back in range
    assert viewer.cursor() == (3, 2, 2)
    with pytest.raises(ValueError):
        viewer.set_volume(np.zeros((4, 5)))


def test_status_shows_value_under_position(viewer):
    sz, sy, sx = SPACING
    text = viewer.hover("axial", 6 * sx, 2 * sy)
    k = viewer.cursor()[2]
    assert f"(6, 2, {k})" in text and f"value = {10000 * k + 206:.4g}" in text
    assert viewer.status_label.text() == text
    assert f"({6 * sx:.1f}, {2 * sy:.1f}, {k * sz:.1f}) mm" in text


def test_non_finite_voxels_and_colormaps(qtbot, viewer):
    data = volume()
    data[5, :, :3] = np.nan
    data[5, 0, 5] = np.inf
    viewer.set_volume(data, SPACING)
    viewer.set_cursor(0, 0, 5)
    assert "nan" in viewer.hover("axial", 0.0, 0.0)
    for name in COLORMAPS:
        viewer.set_colormap(name)
        assert colormap_lut(name).shape == (256, 3)
        viewer.grab()
    with pytest.raises(ValueError):
        viewer.set_colormap("jet")
    nan_vol = np.full((3, 4, 5), np.nan, np.float32)   # all non-finite: still a window
    viewer.set_volume(nan_vol)
    assert np.isfinite(viewer.window()).all()
    viewer.grab()


def test_grab_not_blank_title_layout(qtbot, viewer):
    viewer.set_volume(demo_volume((16, 24, 24)), (2.0, 1.0, 1.0))
    viewer.set_title("GT")
    assert viewer.title_label.text() == "GT"
    qtbot.wait(20)
    img = image_array(viewer.grab().toImage())[..., :3].astype(float)
    assert img.std() > 20
    viewer.set_layout("axial")
    assert not viewer._gviews["coronal"].isVisibleTo(viewer)
    viewer.set_layout("tri")
    assert viewer._gviews["sagittal"].isVisibleTo(viewer)
    with pytest.raises(ValueError):
        viewer.set_layout("quad")

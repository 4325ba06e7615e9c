"""Slice viewer: colour bar with the window values, scale bar in mm, arrows beat shortcuts."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from widgets.color_bar import ColorBar
from widgets.playback_bar import PlaybackBar
from widgets.slice_viewer import SliceViewer, colormap_lut
from widgets.slice_views import nice_length

SHAPE, SPACING = (10, 12, 14), (2.0, 1.0, 0.5)   # (z, y, x), (sz, sy, sx)


@pytest.fixture
def viewer(qtbot):
    w = SliceViewer()
    qtbot.addWidget(w)
    w.resize(720, 300)
    w.set_volume(np.arange(np.prod(SHAPE), dtype=np.float32).reshape(SHAPE), SPACING)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_color_bar_shows_window_values_and_colormap(viewer):
    viewer.set_window(100.0, 40.0)
    assert viewer.color_bar.labels() == ("120", "100", "80")
    viewer.set_colormap("viridis")
    np.testing.assert_array_equal(viewer.color_bar._lut, colormap_lut("viridis"))
    assert viewer.color_bar.isVisible() and viewer.color_bar.width() >= 30


def test_color_bar_paints_low_colour_at_the_bottom(qtbot):
    bar = ColorBar()
    qtbot.addWidget(bar)
    bar.set_lut(np.array([[0, 0, 255], [255, 0, 0]], np.uint8))   # blue → red
    bar.set_range(0.0, 1.0)
    bar.resize(80, 200)
    image = bar.grab().toImage()
    top, bottom = image.pixelColor(8, 20), image.pixelColor(8, 180)
    assert top.red() > 200 and top.blue() < 60
    assert bottom.blue() > 200 and bottom.red() < 60


@pytest.mark.parametrize("span, length", [(37.0, 20.0), (7.0, 5.0), (100.0, 100.0),
                                          (0.3, 0.2), (1.0, 1.0)])
def test_nice_length(span, length):
    assert nice_length(span) == pytest.approx(length)


def test_scale_bar_is_a_round_number_of_mm_of_the_right_length(viewer):
    # axial view: x spans 14 voxels × 0.5 mm = 7 mm → a quarter rounds down to 1 mm
    bar = viewer.scale_bars["axial"]
    assert bar.size == 1.0 and bar.text.textItem.toPlainText() == "1 mm"
    vb = viewer.views["axial"]
    px_per_mm = abs(vb.mapViewToDevice(QtCore.QPointF(1, 0)).x()
                    - vb.mapViewToDevice(QtCore.QPointF(0, 0)).x())
    assert bar.bar.rect().width() == pytest.approx(px_per_mm, rel=0.05)
    # sagittal: y spans 12 × 1 mm = 12 mm → 2 mm
    assert viewer.scale_bars["sagittal"].size == 2.0


def test_arrow_keys_go_to_a_focused_viewer_not_to_window_shortcuts(qtbot):
    window = QtWidgets.QWidget()
    qtbot.addWidget(window)
    lay = QtWidgets.QVBoxLayout(window)
    viewer, playback = SliceViewer(), PlaybackBar()
    lay.addWidget(viewer)
    lay.addWidget(playback)
    viewer.set_volume(np.zeros(SHAPE, np.float32), SPACING)
    playback.set_frame_count(10)
    playback.set_frame(5)
    playback.install_shortcuts(window)
    window.resize(700, 400)
    window.show()
    window.activateWindow()
    qtbot.waitActive(window)
    viewer.setFocus()
    qtbot.waitUntil(viewer.hasFocus)
    k0 = viewer.cursor()[2]
    qtbot.keyClick(QtWidgets.QApplication.focusWidget(), QtCore.Qt.Key.Key_Right)
    assert viewer.cursor()[2] == k0 + 1 and playback.frame() == 5
    playback.setFocus()           # elsewhere the window-wide shortcut still steps playback
    qtbot.waitUntil(playback.hasFocus)
    qtbot.keyClick(playback, QtCore.Qt.Key.Key_Right)
    assert playback.frame() == 6

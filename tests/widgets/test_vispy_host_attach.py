"""widgets.gl.VispyHost in ``window`` mode keeps its GL canvas out of the window until the
widget is shown.

Issue #16: a window holding a GL widget composites every repaint through OpenGL (under
software GL each progress-bar or label update costs ~10-30 ms); a window whose 3-D views
are not shown must keep raster painting.
"""
import pytest
from PySide6.QtGui import QSurface
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from widgets.gl import VispyHost, opengl_available


def _window_with_hidden_gl_page(qtbot):
    stack = QStackedWidget()
    qtbot.addWidget(stack)
    stack.addWidget(QLabel("a lab without 3-D views"))
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.addWidget(QLabel("title"))
    host = VispyHost(page, layout, True, "needs GL", mode="window")
    layout.addWidget(QLabel("legend"))                  # added after the canvas' place
    stack.addWidget(page)
    stack.resize(200, 150)
    return stack, page, layout, host


def test_the_canvas_joins_its_widget_in_its_place_only_when_shown(qtbot):
    if not opengl_available():
        pytest.skip("no OpenGL on this display")
    stack, page, layout, host = _window_with_hidden_gl_page(qtbot)
    stack.show()
    qtbot.waitExposed(stack)
    assert host.canvas.native.parent() is None
    assert stack.windowHandle().surfaceType() == QSurface.SurfaceType.RasterSurface
    stack.setCurrentIndex(1)
    qtbot.waitUntil(lambda: host.canvas.native.isVisible())
    assert host.canvas.native.parent() is page
    assert layout.indexOf(host.canvas.native) == 1                # between title and legend
    assert host.render().shape[2] == 4


def test_a_never_shown_canvas_still_renders_off_screen_and_is_released_on_close(qtbot):
    if not opengl_available():
        pytest.skip("no OpenGL on this display")
    stack, page, _layout, host = _window_with_hidden_gl_page(qtbot)
    assert host.render().ndim == 3
    page.close()
    assert host.canvas._closed

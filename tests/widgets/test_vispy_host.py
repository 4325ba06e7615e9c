"""widgets.gl.VispyHost: the vispy canvas a widget owns, or a message without OpenGL."""
import numpy as np
import pytest
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from widgets.gl import VispyHost, opengl_available


def _host(qtbot, available):
    widget = QWidget()
    qtbot.addWidget(widget)
    host = VispyHost(widget, QVBoxLayout(widget), available, "needs GL", bgcolor="white")
    return widget, host


def test_without_gl_the_host_shows_the_message_and_render_raises(qtbot):
    widget, host = _host(qtbot, available=False)
    assert host.canvas is None and host.view is None and not host.available
    assert [lab.text() for lab in widget.findChildren(QLabel)] == ["needs GL"]
    with pytest.raises(RuntimeError, match="needs GL"):
        host.render()


def test_with_gl_the_host_renders_and_closing_the_widget_releases_the_canvas(qtbot):
    if not opengl_available():
        pytest.skip("no OpenGL on this display")
    widget, host = _host(qtbot, available=True)
    widget.resize(120, 90)
    widget.show()
    qtbot.waitExposed(widget)
    image = host.render()
    assert image.ndim == 3 and image.shape[2] == 4 and image.dtype == np.uint8
    assert np.all(image[..., :3] == 255)                         # the white background
    assert host.view is not None and not host.canvas._closed
    widget.close()
    assert host.canvas._closed

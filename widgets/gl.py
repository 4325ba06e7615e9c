"""Run-time OpenGL availability check for vispy-based widgets, and :class:`VispyHost`: the
vispy canvas such a widget owns (or the message shown in its place without OpenGL).

How a canvas joins the window is one switch, the environment variable ``FLOWSCOPE_GL``
(read when a host is built, :func:`gl_mode`): ``offscreen`` (default) draws the scene into a
framebuffer object and shows it in a raster widget (:mod:`widgets.gl_offscreen`), so the
window never holds a ``QOpenGLWidget`` and keeps raster painting (issue #16: a GL widget makes
Qt compose the whole window through OpenGL on every repaint, for every lab, for good);
``window`` puts vispy's own ``QOpenGLWidget`` into the window when the view is first shown.

The Qt ``offscreen`` platform has no OpenGL, so vispy canvases cannot render there. The app
calls :func:`opengl_available` before building a vispy view and shows a plain message label
instead when it returns False. Tests call it inside the test body (a QGuiApplication must
exist), never in a collection-time ``skipif``.
"""

from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QGuiApplication, QOffscreenSurface, QOpenGLContext
from PySide6.QtWidgets import QLabel

__all__ = ["GL_MODES", "VispyHost", "gl_mode", "opengl_available"]

_CACHE: bool | None = None

#: Values of ``FLOWSCOPE_GL``; the first is the default.
GL_MODES = ("offscreen", "window")


def gl_mode() -> str:
    """How vispy canvases are shown: ``FLOWSCOPE_GL`` (``offscreen`` or ``window``).

    Raises
    ------
    ValueError
        When ``FLOWSCOPE_GL`` holds another value.
    """
    mode = os.environ.get("FLOWSCOPE_GL", "").strip().lower() or GL_MODES[0]
    if mode not in GL_MODES:
        raise ValueError(f"FLOWSCOPE_GL must be one of {', '.join(GL_MODES)}, got {mode!r}")
    return mode

#: Qt platform plugins known to provide no OpenGL at all.
_NO_GL_PLATFORMS = ("offscreen", "minimal", "vnc")


def _probe_context() -> bool:
    """Try to create an OpenGL context and make it current on an offscreen surface.

    Returns
    -------
    bool
        True when a context could be created and made current.
    """
    ctx = QOpenGLContext()
    if not ctx.create():
        return False
    surface = QOffscreenSurface()
    surface.setFormat(ctx.format())
    surface.create()
    try:
        if not surface.isValid():
            return False
        ok = ctx.makeCurrent(surface)
        if ok:
            ctx.doneCurrent()
        return bool(ok)
    finally:
        surface.destroy()


def opengl_available() -> bool:
    """Tell whether OpenGL (and thus vispy rendering) works in this process.

    The first call needs a running ``QGuiApplication`` (or ``QApplication``); the result is
    cached for later calls, because the platform cannot change within a process.

    Returns
    -------
    bool
        False under a GL-less Qt platform (``offscreen``, ``minimal``), when no
        QGuiApplication exists yet (not cached in that case), or when a ``QOpenGLContext``
        cannot be created; True otherwise.
    """
    global _CACHE
    if _CACHE is not None:
        return _CACHE
    app = QGuiApplication.instance()
    if app is None:
        return False
    if QGuiApplication.platformName().lower() in _NO_GL_PLATFORMS:
        _CACHE = False
        return False
    try:
        _CACHE = _probe_context()
    except Exception:  # any failure in the GL stack means "no GL"
        _CACHE = False
    return _CACHE


class VispyHost(QObject):
    """The vispy ``SceneCanvas`` a QWidget shows, or a message in its place without OpenGL.

    The host adds the canvas' view (or the message) to ``layout``, renders it off-screen and
    releases it when ``widget`` is closed.

    Parameters
    ----------
    widget : QWidget
        The widget that shows the scene (parent of the canvas and of this host).
    layout : QBoxLayout
        The widget's layout; the canvas (or message) is added with stretch 1.
    available : bool
        Whether OpenGL works (the widget's :func:`opengl_available` answer).
    no_gl_text : str
        The message shown, and raised by :meth:`render`, without OpenGL.
    bgcolor : str
        Background colour of the canvas.
    mode : {"offscreen", "window"} or None
        How the canvas is shown (None: :func:`gl_mode`).

    Attributes
    ----------
    canvas : vispy.scene.SceneCanvas or None
        None without OpenGL.
    view : vispy.scene.ViewBox or None
        The canvas' one view.
    widget : QWidget or None
        What the window shows and what receives the mouse: a
        :class:`widgets.gl_offscreen.OffscreenCanvasView` (``offscreen``) or the canvas'
        own ``QOpenGLWidget`` ``canvas.native`` (``window``); None without OpenGL.
    mode : str
    """

    def __init__(self, widget, layout, available, no_gl_text, bgcolor="black", mode=None):
        super().__init__(widget)
        self.available, self.no_gl_text = bool(available), no_gl_text
        self.mode = gl_mode() if mode is None else mode
        self.canvas = self.view = self.widget = self._pending = None
        if not self.available:
            layout.addWidget(QLabel(no_gl_text, alignment=Qt.AlignmentFlag.AlignCenter), 1)
            return
        from vispy import scene

        self.canvas = scene.SceneCanvas(app="pyside6", keys=None, bgcolor=bgcolor,
                                        size=(600, 500), show=False, parent=None)
        if self.mode == "offscreen":
            from widgets.gl_offscreen import OffscreenCanvasView
            self.widget = OffscreenCanvasView(self.canvas, widget)
            layout.addWidget(self.widget, 1)
        else:
            self.widget = self.canvas.native
            self._pending = (widget, layout, layout.count())   # joins the window when shown
        self.view = self.canvas.central_widget.add_view()
        widget.installEventFilter(self)

    def _attach(self) -> None:
        """``window`` mode: put the GL canvas into its widget (at the place it was reserved)
        when the widget is first shown (on screen, or made visible in a hidden window).

        A window with a GL widget composites every repaint through OpenGL (software GL:
        ~10 ms per progress-bar or label update, issue #16); until a 3-D view is shown,
        the window keeps raster painting.
        """
        widget, layout, index = self._pending
        self._pending = None
        self.canvas.native.setParent(widget)
        layout.insertWidget(index, self.canvas.native, 1)
        self.canvas.native.show()

    def render(self):
        """Render the scene off-screen: (H, W, 4) uint8 RGBA.

        Raises
        ------
        RuntimeError
            When OpenGL is not available.
        """
        if not self.available:
            raise RuntimeError(self.no_gl_text)
        if self.mode == "offscreen":
            return self.widget.render()
        return np.asarray(self.canvas.render())

    def _close(self) -> None:
        """Release the canvas (and, off-screen, its GL context)."""
        if self.mode == "offscreen":
            self.widget.close_canvas()
        else:
            self.canvas.close()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        """Release the GL canvas when the widget is closed (the event goes on)."""
        if event.type() == QEvent.Type.Close and self.canvas is not None:
            self._close()
        elif event.type() in (QEvent.Type.Show, QEvent.Type.ShowToParent) and self._pending:
            self._attach()
        return False


if __name__ == "__main__":  # pragma: no cover - manual check
    import sys

    _app = QGuiApplication(sys.argv)
    print(f"platform={QGuiApplication.platformName()!r} opengl_available={opengl_available()}")

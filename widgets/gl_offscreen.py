"""A vispy ``SceneCanvas`` shown through a plain raster widget (issue #16).

A ``QOpenGLWidget`` anywhere in a window makes Qt compose the whole window through OpenGL on
every repaint, for as long as the window lives (under software GL ~10 ms of CPU per repaint
of a progress bar, a label or a plot cursor). :class:`OffscreenCanvasView` keeps the vispy
canvas' own ``QOpenGLWidget`` out of every window: the scene is drawn into a framebuffer
object of a private ``QOpenGLContext`` on a ``QOffscreenSurface``, read back as an RGBA array
and painted as a ``QImage``. Qt's mouse, wheel and resize events of the raster widget are
handed to the canvas' backend handlers, so cameras, picking and drags work as before.

Only a change draws: ``canvas.update()`` (any visual or camera change) schedules one Qt
repaint of the widget (Qt coalesces them), and the repaint renders the scene once; other
repaints (an expose, a label over the view) paint the last image again.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QOffscreenSurface, QOpenGLContext, QPainter, QSurfaceFormat
from PySide6.QtWidgets import QWidget

__all__ = ["OffscreenCanvasView"]


class OffscreenCanvasView(QWidget):
    """Raster widget showing a vispy ``SceneCanvas`` rendered off-screen.

    Parameters
    ----------
    canvas : vispy.scene.SceneCanvas
        A canvas of the Qt backend that is never shown (``show=False``, no parent).
    parent : QWidget or None

    Attributes
    ----------
    renders : int
        Scene renders so far (a repaint without a change does not render).
    """

    def __init__(self, canvas, parent=None):
        super().__init__(parent)
        self.canvas, self.renders = canvas, 0
        self._backend = backend = canvas.native
        self._context, self._surface = _offscreen_context(self)
        backend._vispy_set_current = self.make_current      # vispy's GL calls use our context
        backend._vispy_update = self.update                 # a scene change repaints us
        backend._vispy_swap_buffers = _no_swap              # we draw into a framebuffer object
        self._image, self._dirty, self._fbo = None, True, None
        self.setMouseTracking(True)
        self.setFocusPolicy(backend.focusPolicy())
        self.setAttribute(self.attribute_opaque(), True)
        self.resize(backend.size())

    @staticmethod
    def attribute_opaque():
        """The widget paints every pixel itself (Qt skips erasing the background)."""
        from PySide6.QtCore import Qt
        return Qt.WidgetAttribute.WA_OpaquePaintEvent

    def make_current(self) -> None:
        """Make this view's GL context current (what vispy's ``set_current`` does here)."""
        if self._context is not None:
            self._context.makeCurrent(self._surface)

    def render(self) -> np.ndarray:
        """Draw the scene now: (H, W, 4) uint8 RGBA at the canvas' physical size.

        The draw goes through the canvas' ``draw`` event, as a shown canvas' repaint does
        (so vispy schedules the next ``update`` again), into a framebuffer object kept
        while the size does not change.
        """
        from vispy import gloo
        canvas = self.canvas
        canvas.set_current()             # our context, and vispy's current canvas (its queue)
        shape = tuple(int(v) for v in canvas.physical_size[::-1])      # (h, w)
        if self._fbo is None or self._fbo[0] != shape:
            self._fbo = (shape, gloo.FrameBuffer(color=gloo.RenderBuffer(shape),
                                                 depth=gloo.RenderBuffer(shape)))
        fbo = self._fbo[1]
        canvas.push_fbo(fbo, (0, 0), canvas.size)
        try:
            canvas.events.draw(region=None)
            image = fbo.read()
        finally:
            canvas.pop_fbo()
        self.renders += 1
        return image

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt name)
        """Render the scene if it changed since the last paint, then paint the image."""
        if self._context is None:                            # released: nothing to draw
            return
        if self._dirty or self._image is None:
            self._dirty = False
            rgba = np.ascontiguousarray(self.render())
            h, w = rgba.shape[:2]
            image = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBX8888)
            image.setDevicePixelRatio(self.devicePixelRatioF())
            self._image = (image, rgba)                      # the array backs the QImage
        painter = QPainter(self)
        painter.drawImage(self.rect(), self._image[0])
        painter.end()

    def update(self) -> None:
        """Mark the scene changed and schedule one repaint (coalesced by Qt)."""
        self._dirty = True
        super().update()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        """Give the canvas this widget's size (logical and physical) and redraw."""
        size = event.size()
        self._backend.resize(size)
        self._backend.resizeGL(size.width(), size.height())  # vispy's resize event
        self.update()

    def close_canvas(self) -> None:
        """Release the canvas' GL objects in this view's context, then the context (once)."""
        if self._context is None:
            return
        self.canvas.set_current()
        self.canvas.close()
        self._context.doneCurrent()
        self._surface.destroy()
        self._context = None

    # Qt input → the canvas backend's handlers (they emit vispy's mouse events)
    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._backend.mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._backend.mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._backend.mouseDoubleClickEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._backend.mouseMoveEvent(event)

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._backend.wheelEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._backend.keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self._backend.keyReleaseEvent(event)


def _no_swap() -> None:
    """Nothing to swap: an off-screen canvas draws into a framebuffer object."""


def _offscreen_context(owner):
    """A ``QOpenGLContext`` and the ``QOffscreenSurface`` it draws on, both deleted with
    ``owner`` (vispy renders into its own framebuffer object, so the surface's format does
    not matter)."""
    context = QOpenGLContext(owner)
    context.setFormat(QSurfaceFormat.defaultFormat())
    if not context.create():
        raise RuntimeError("could not create an OpenGL context for an off-screen canvas")
    surface = QOffscreenSurface(None, owner)
    surface.setFormat(context.format())
    surface.create()
    if not context.makeCurrent(surface):
        raise RuntimeError("could not make an off-screen OpenGL context current")
    return context, surface

"""Run-time OpenGL availability check for vispy-based widgets.

The Qt ``offscreen`` platform has no OpenGL, so vispy canvases cannot render there. The app
calls :func:`opengl_available` before building a vispy view and shows a plain message label
instead when it returns False. Tests call it inside the test body (a QGuiApplication must
exist), never in a collection-time ``skipif``.
"""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication, QOffscreenSurface, QOpenGLContext

__all__ = ["opengl_available", "reset_opengl_cache"]

_CACHE: bool | None = None

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


def reset_opengl_cache() -> None:
    """Forget the cached answer of :func:`opengl_available` (for tests)."""
    global _CACHE
    _CACHE = None


if __name__ == "__main__":  # pragma: no cover - manual check
    import sys

    _app = QGuiApplication(sys.argv)
    print(f"platform={QGuiApplication.platformName()!r} opengl_available={opengl_available()}")


class VispyWidgetMixin:
    """``render()`` and ``closeEvent`` for a QWidget that holds a vispy ``SceneCanvas`` in
    ``self.canvas`` (None without OpenGL), ``self.available`` and a class ``NO_GL_TEXT``."""

    NO_GL_TEXT = "This view needs OpenGL, which this display does not provide."

    def render(self):
        """Render the scene off-screen: (H, W, 4) uint8 RGBA.

        Raises
        ------
        RuntimeError
            When OpenGL is not available.
        """
        import numpy as np
        if not self.available:
            raise RuntimeError(self.NO_GL_TEXT)
        return np.asarray(self.canvas.render())

    def closeEvent(self, event):  # noqa: N802 (Qt name)
        """Release the GL canvas with the widget."""
        if getattr(self, "canvas", None) is not None:
            self.canvas.close()
        super().closeEvent(event)

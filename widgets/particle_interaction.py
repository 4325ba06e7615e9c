"""Mouse interaction of :class:`widgets.particle_canvas.ParticleCanvas` (2-D views).

:class:`ParticleInteraction`, owned by the canvas, holds the draw mode and the handlers of the
canvas' mouse events: a left click emits ``sigClicked``; in draw mode a left drag draws a
stroke, emitted as ``sigPointsDrawn``; a left drag starting within ``GRAB_PX`` pixels of the
constraint line moves it along its normal (``sigConstraintMoved``). Both drags block the
event, so the camera does not pan.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from widgets.particle_layers import xyz

__all__ = ["CLICK_PX", "GRAB_PX", "ParticleInteraction"]

GRAB_PX = 6.0             # the constraint line is grabbed within this many pixels
CLICK_PX = 4.0            # a press and release closer than this is a click


class ParticleInteraction:
    """Draw mode, clicks, strokes and constraint drags of a ParticleCanvas.

    Parameters
    ----------
    owner : widgets.particle_canvas.ParticleCanvas
        The canvas handled: its ``available``, ``canvas``, ``view``, ``dim``, ``layers`` (with
        ``distance`` and ``constraint_ay``), the ``stroke`` line visual, ``set_constraint`` and
        the signals ``sigClicked``, ``sigPointsDrawn`` and ``sigConstraintMoved``.
    """

    def __init__(self, owner):
        self.owner = owner
        self.draw_mode, self._drag, self._press, self._grab = False, None, None, 0.0
        self._stroke = []

    def connect(self, events):
        """Connect the handlers to the canvas ``events`` (before the scene and its camera)."""
        events.mouse_press.connect(self._on_mouse_press)
        events.mouse_move.connect(self._on_mouse_move)
        events.mouse_release.connect(self._on_mouse_release)

    def set_draw_mode(self, on):
        """While on, a left drag draws a stroke (emitted as ``sigPointsDrawn``)."""
        self.draw_mode = bool(on)
        if self.owner.available:
            cursor = Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor
            self.owner.host.widget.setCursor(cursor)

    def to_data(self, pos):
        """Canvas pixel position → 2-D data coordinates."""
        owner = self.owner
        tr = owner.canvas.scene.node_transform(owner.view.scene)
        p = tr.map(np.asarray(pos[:2], dtype=float))
        return p[:2] / p[3]

    def _near_constraint(self, pos):
        """Whether the pixel ``pos`` lies within ``GRAB_PX`` of the constraint line."""
        per_px = np.linalg.norm(self.to_data(np.add(pos[:2], (1.0, 0.0))) - self.to_data(pos))
        return self.owner.layers.distance(self.to_data(pos)) <= GRAB_PX * per_px

    def _on_mouse_press(self, event):
        """Start a stroke, a constraint drag or a click candidate (left button, 2-D)."""
        self._drag = self._press = None
        if self.owner.dim != 2 or event.button != 1:
            return
        self._press = np.asarray(event.pos[:2], dtype=float)
        xy = self.to_data(event.pos)
        if self.draw_mode:
            self._drag, self._stroke = "draw", [xy]
        elif self._near_constraint(event.pos):
            a, y = self.owner.layers.constraint_ay
            self._drag, self._grab = "constraint", float(a @ xy) - y
        if self._drag:
            event.blocked = True                       # neither picking nor camera see it

    def _on_mouse_move(self, event):
        """Extend the stroke, or move the constraint line along its normal."""
        if self._drag is None:
            return
        xy = self.to_data(event.pos)
        if self._drag == "draw":
            self._stroke.append(xy)
            self.owner.stroke.set_data(pos=xyz(np.asarray(self._stroke), 2))
            self.owner.stroke.visible = len(self._stroke) > 1
        else:
            a = self.owner.layers.constraint_ay[0]
            y = float(a @ xy) - self._grab
            self.owner.set_constraint(a, y)
            self.owner.sigConstraintMoved.emit(y)
        event.blocked = True
        self.owner.canvas.update()

    def _on_mouse_release(self, event):
        """Finish a stroke (emit it) or a constraint drag, or emit a click."""
        drag, press = self._drag, self._press
        self._drag = self._press = None
        if drag == "draw":
            self.owner.stroke.visible = False
            self._stroke.append(self.to_data(event.pos))
            self.owner.sigPointsDrawn.emit(np.asarray(self._stroke, dtype=float))
        elif drag is None and press is not None and \
                np.hypot(*(np.asarray(event.pos[:2], dtype=float) - press)) < CLICK_PX:
            self.owner.sigClicked.emit(*map(float, self.to_data(event.pos)))
        if drag:
            event.blocked = True
            self.owner.canvas.update()

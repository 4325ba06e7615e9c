"""Build the labs not shown yet while the person is idle (issue #16).

At start-up only the first lab is built (:class:`app.window_labs.LabSlots`); a switch to
another lab then builds it (its widgets: 0.1–0.6 s). :class:`IdlePrebuild` builds those labs
one at a time, on the GUI thread, whenever no key or mouse input has come for
``idle_s`` seconds, so a later switch usually finds its lab built; a person working in the
window is not held up by it. It stops once every lab is built or the window is closed.
"""
from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

__all__ = ["IdlePrebuild"]

INPUT_EVENTS = {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
                QEvent.Type.Wheel, QEvent.Type.MouseButtonRelease}


class IdlePrebuild(QObject):
    """Builds ``win``'s unbuilt labs, one per idle moment, in the switcher's order.

    Parameters
    ----------
    win : app.main_window.MainWindow
    idle_s : float
        Seconds without key or mouse input before a lab is built.
    tick_ms : int
        How often the idle time is checked.
    """

    def __init__(self, win, idle_s: float = 1.0, tick_ms: int = 250):
        super().__init__(win)
        self._win = win
        self._idle_s = idle_s
        self._last_input = time.monotonic()
        self._timer = QTimer(self, interval=tick_ms, timeout=self._tick)
        QApplication.instance().installEventFilter(self)

    def start(self) -> None:
        self._timer.start()

    def is_active(self) -> bool:
        return self._timer.isActive()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        if event.type() in INPUT_EVENTS:
            self._last_input = time.monotonic()
        return False

    def _tick(self) -> None:
        if time.monotonic() - self._last_input < self._idle_s:
            return
        slots = self._win.slots
        name = next((n for n in slots if not slots.is_built(n)), None)
        if name is None or not self._win.isVisible():        # all built, or window closed
            self._timer.stop()
            QApplication.instance().removeEventFilter(self)
            return
        slots[name]               # builds it, not shown; the next one a tick later at the soonest

"""Interactive start: restore the autosaved (or given) session and show the window."""
from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QMessageBox

from app.application import configure_plotting, configure_torch, create_application

log = logging.getLogger(__name__)


def device_choices() -> list[tuple[str, str]]:
    """(device, human name) for the status-bar selector, CUDA first when present."""
    from engine.core import available_devices, device_name
    devs = available_devices()
    devs = [d for d in devs if d != "cpu"] + ["cpu"]
    return [(d, device_name(d)) for d in devs]


def initial_session(session_file):
    """(session, session_path, autosave_path, warnings) for the start-up."""
    from app.session import Session, SessionError, autosave_path, load_autosave
    auto = autosave_path()
    warnings = []
    if session_file:
        try:
            return Session.load(session_file), session_file, auto, warnings
        except SessionError as err:
            # A corrupt or foreign file is reported, never overwritten: defaults open instead.
            warnings.append(f"{err}\nDefaults are open; the file was not changed.")
            return None, None, auto, warnings
    session, warning = load_autosave(auto)
    if warning:
        warnings.append(warning)
    return session, None, auto, warnings


def run_gui(args) -> int:
    """Show the window first, then load torch, the engine and the labs behind it (issue #16:
    a window within a second of launch; ``benchmarks/startup.py`` times it)."""
    app = create_application(plotting=False)        # pyqtgraph loads behind the window
    from app.main_window import MainWindow
    from app.window_state import app_settings
    session, session_path, auto, warnings = initial_session(args.session)
    win = MainWindow(session=session, autosave_path=auto, session_path=session_path,
                     settings=app_settings(), defer_labs=True)
    win.show()
    after_first_paint(win, lambda: start_labs(win, args, warnings))
    return app.exec()


class _FirstPaint(QObject):
    """Calls ``callback`` once: after ``widget``'s first paint, or after ``fallback_ms``
    (a window system that never exposes the window)."""

    def __init__(self, widget, callback, fallback_ms: int):
        super().__init__(widget)
        self._callback = callback
        widget.installEventFilter(self)
        QTimer.singleShot(fallback_ms, self._fire)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        if event.type() == QEvent.Type.Paint and self._callback is not None:
            QTimer.singleShot(0, self._fire)        # after the paint has reached the screen
        return False

    def _fire(self) -> None:
        callback, self._callback = self._callback, None
        if callback is not None:
            self.parent().removeEventFilter(self)
            callback()


def after_first_paint(widget, callback, fallback_ms: int = 500) -> None:
    """Run ``callback`` on the GUI thread once ``widget`` has been painted (see _FirstPaint)."""
    _FirstPaint(widget, callback, fallback_ms)


def start_labs(win, args, warnings: list[str]) -> None:
    """After the window is shown: import torch and the labs, apply ``--device``, ``--lab``,
    ``--preset``, run the first lab and show the start-up warnings."""
    configure_plotting()
    configure_torch()
    win.load_labs(device_choices())
    if args.device:
        idx = win.device_box.findData(args.device)
        if idx < 0:
            warnings.append(f"Device {args.device!r} is not available; using {win.device}.")
        else:
            win.device_box.setCurrentIndex(idx)
    if args.lab:
        win.switch_lab(args.lab)
    if args.preset:
        try:
            win.apply_preset(args.preset, run=False)
        except ValueError as err:
            warnings.append(str(err))
    if not win.runner.is_running():      # switching to --lab may have started it already
        win.run()
    warnings += win.startup_warnings()
    if warnings:
        QMessageBox.warning(win, "Flowscope", "\n\n".join(warnings))

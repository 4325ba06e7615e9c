"""Interactive start: show the window at once, then load torch and the first lab behind it.

Issue #16 (``benchmarks/startup.py`` times it): the window shows before torch, pyqtgraph or
any lab is imported; :class:`app.window_loader.LabLoader` imports torch and the first lab's
engine on a background thread while the window stays responsive; then the GUI thread builds
that lab only (the others are built when first shown) and runs it. The autosave read at start
is checked (every lab's config class) on the loader thread too, before anything overwrites it.
"""
from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QMessageBox

from app.application import configure_plotting, configure_torch, create_application

log = logging.getLogger(__name__)


def device_choices() -> list[tuple[str, str]]:
    """(device, human name) for the status-bar selector, CUDA first when present."""
    from engine.core import available_devices, device_name
    devs = available_devices()
    devs = [d for d in devs if d != "cpu"] + ["cpu"]
    return [(d, device_name(d)) for d in devs]


def initial_session(session_file, check_autosave: bool = True):
    """(session, session_path, autosave_path, warnings) for the start-up.

    With ``check_autosave=False`` the autosave's configs are not checked against the labs'
    config classes (that imports every lab's engine); the caller must run
    :func:`autosave_check` before anything writes the autosave."""
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
    session, warning = load_autosave(auto, None if check_autosave else {})
    if warning:
        warnings.append(warning)
    return session, None, auto, warnings


def autosave_check(path):
    """The check :func:`initial_session` left out: copies the autosave aside when some of its
    fields will be reset; returns the warning for the user or None (loader thread)."""
    from app.session import load_autosave
    return load_autosave(path)[1]


def first_lab(session, args):
    """The lab shown first: ``--lab``, else the session's current lab, else None (the first)."""
    from app.registry import LABS
    if getattr(args, "lab", None) in LABS:
        return args.lab
    return session.current_lab if session is not None and session.current_lab in LABS else None


def run_gui(args) -> int:
    """Show the window first, then load torch, the engine and the first lab behind it."""
    open_window(args)
    from PySide6.QtWidgets import QApplication
    return QApplication.instance().exec()


def open_window(args):
    """Create the application and the shown window, and start loading the labs behind it
    (:class:`app.window_loader.LabLoader`, then :func:`start_labs`); returns the window,
    whose ``loader`` attribute is the loader. The caller runs the event loop."""
    from app.window_loader import LabLoader
    from app.window_prebuild import IdlePrebuild
    app = create_application(plotting=False)        # pyqtgraph loads behind the window
    from app.main_window import MainWindow
    from app.registry import LABS
    from app.window_state import app_settings
    session, session_path, auto, warnings = initial_session(args.session, check_autosave=False)
    check = session is not None and session_path is None      # the autosave was read
    win = MainWindow(session=session, autosave_path=None if check else auto,
                     session_path=session_path, settings=app_settings(), defer_labs=True)
    loader = win.loader = LabLoader(LABS, first_lab(session, args),
                                    check=(lambda: autosave_check(auto)) if check else None)
    win.prebuild = IdlePrebuild(win)       # the other labs' widgets, while the person is idle
    queued = Qt.ConnectionType.QueuedConnection      # emitted on the loader thread
    loader.sigReady.connect(lambda _name: start_labs(win, args, warnings), queued)
    loader.sigChecked.connect(lambda warning: autosave_checked(win, auto, warning), queued)
    loader.sigDone.connect(lambda _seconds: win.prebuild.start(), queued)
    app.aboutToQuit.connect(lambda: loader.stop(wait=5.0))
    win.show()
    after_first_paint(win, loader.start)      # Python imports hold the interpreter: not before
    return win


def autosave_checked(win, path, warning) -> None:
    """The autosave is checked (copied aside when fields will be reset): save from now on;
    tell the user what was reset, without blocking the window."""
    win.start_autosave(path)
    if warning:
        win.show_message(warning)
        box = QMessageBox(QMessageBox.Icon.Warning, "Flowscope", warning,
                          QMessageBox.StandardButton.Ok, win)
        box.setObjectName("autosave_warning")
        box.open()


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
    """Once torch and the first lab's engine are imported: build that lab (``--lab``, else the
    session's), apply ``--device`` and ``--preset``, run it and show the start-up warnings."""
    configure_plotting()
    configure_torch()
    win.load_labs(device_choices(), first=args.lab)
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
    loader = getattr(win, "loader", None)
    if loader is not None:       # the other labs' engines next, after this lab's first paint
        after_first_paint(win.slot.presenter.view, loader.proceed, fallback_ms=2000)
    warnings += win.startup_warnings()
    if warnings:
        QMessageBox.warning(win, "Flowscope", "\n\n".join(warnings))

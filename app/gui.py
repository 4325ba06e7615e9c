"""Interactive start: restore the autosaved (or given) session and show the window."""
from __future__ import annotations

import logging

from PySide6.QtWidgets import QMessageBox

from app.application import configure_torch, create_application

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
    app = create_application()
    configure_torch()
    from app.main_window import MainWindow
    from app.window_state import app_settings
    session, session_path, auto, warnings = initial_session(args.session)
    win = MainWindow(session=session, autosave_path=auto, session_path=session_path,
                     devices=device_choices(), settings=app_settings())
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
    win.show()
    if not win.runner.is_running():      # switching to --lab may have started it already
        win.run()
    warnings += win.startup_warnings()
    if warnings:
        QMessageBox.warning(win, "Flowscope", "\n\n".join(warnings))
    return app.exec()

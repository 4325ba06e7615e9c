"""Menus of the main window: sessions, export, presentation mode, help."""
from __future__ import annotations

import html
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog, QApplication

from app import export, file_open, movie
from app.presentation import presentation_scale, scale_plot_fonts, set_app_font_scale
from app.registry import LABS
from app.results_export import export_results, track_results
from app.session import Session, SessionError


def build_menus(win) -> None:
    """Create File, View, Help menus on ``win`` (a MainWindow)."""
    bar = win.menuBar()
    file_menu = bar.addMenu("&File")
    _action(win, file_menu, "&Open session…", lambda: open_session(win), QKeySequence.Open)
    _action(win, file_menu, "&Save session", lambda: save_session(win), QKeySequence.Save)
    _action(win, file_menu, "Save session &as…", lambda: save_session(win, ask=True),
            QKeySequence.SaveAs)
    _action(win, file_menu, "Open &volume (NIfTI, NumPy, TIFF, DICOM file)…",
            lambda: file_open.ask_volume(win))
    _action(win, file_menu, "Open &DICOM series (folder)…", lambda: file_open.ask_dicom(win))
    win.recent_menu = file_menu.addMenu("Open &recent")
    win.recent_menu.aboutToShow.connect(lambda: fill_recent_menu(win))
    file_menu.addSeparator()
    _action(win, file_menu, "Export view as &PNG…", lambda: export_png(win), "Ctrl+E")
    win.svg_menu = file_menu.addMenu("Export plot as S&VG")
    win.svg_menu.aboutToShow.connect(lambda: _fill_svg_menu(win))
    _action(win, file_menu, "Export &animation (MP4/GIF)…", lambda: export_movie(win),
            "Ctrl+Shift+E")
    track_results(win)
    _action(win, file_menu, "Export &results (NumPy .npz)…", lambda: export_results(win),
            "Ctrl+Shift+R")
    file_menu.addSeparator()
    _action(win, file_menu, "&Quit", win.close, QKeySequence.Quit)
    run_menu = bar.addMenu("&Run")
    _action(win, run_menu, "&Run", win.run, "F5")
    _action(win, run_menu, "&Cancel", win.runner.cancel, "Esc")
    win.sweep_action = _action(win, run_menu, "S&weep…", lambda: _open_sweep(win),
                               "Ctrl+Shift+W")
    run_menu.aboutToShow.connect(lambda: win.sweep_action.setEnabled(_sweepable(win)))
    view_menu = bar.addMenu("&View")
    win.presentation_action = _action(win, view_menu, "&Presentation mode",
                                      lambda: toggle_presentation(win), "F11")
    win.presentation_action.setCheckable(True)
    help_menu = bar.addMenu("&Help")
    for spec in LABS.values():
        _action(win, help_menu, f"Papers behind “{spec.title}”…",
                lambda s=spec: show_papers(win, s))
    _action(win, help_menu, "&About Flowscope", lambda: show_about(win))


def _action(win, menu, text, slot, shortcut=None) -> QAction:
    action = QAction(text, win)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.ApplicationShortcut)
    action.triggered.connect(lambda _checked=False: slot())
    menu.addAction(action)
    return action


def _sweepable(win) -> bool:
    """Whether the current lab has sweep metrics (``engine.sweeps.TARGETS``)."""
    from engine.sweeps.labs import TARGETS
    return win.current in TARGETS


def _open_sweep(win) -> None:
    if not _sweepable(win):
        win.show_message(f"The {win.current} lab has no sweep metrics yet.")
        return
    from app.sweep_dialog import open_sweep_dialog
    open_sweep_dialog(win)


# -- sessions --------------------------------------------------------------------------------
def open_session(win, path: str | None = None) -> bool:
    """Open a session file; a corrupt or foreign file is reported and left untouched."""
    if path is None:
        path, _ = QFileDialog.getOpenFileName(win, "Open session", "", "Flowscope session (*.json)")
        if not path:
            return False
    try:
        session = Session.load(path)
    except SessionError as err:
        QMessageBox.warning(win, "Cannot open session", str(err))
        win.show_message(f"Session not opened: {err}")
        return False
    win.session_path = path
    warnings = win.load_session(session)
    win.recent.add(path, "session")
    if warnings:      # non-blocking: the window stays usable, the status bar says it too
        box = QMessageBox(QMessageBox.Icon.Warning, "Session opened: some fields were reset",
                          "\n\n".join(warnings), QMessageBox.StandardButton.Ok, win)
        box.setObjectName("session_warnings")
        box.open()
    else:
        win.show_message(f"Opened session {path}")
    return True


def fill_recent_menu(win) -> None:
    """Recent sessions and volumes, most recent first (missing files are left out)."""
    win.recent_menu.clear()
    items = win.recent.items()
    if not items:
        win.recent_menu.addAction("(none)").setEnabled(False)
    for path, kind in items:
        action = win.recent_menu.addAction(f"{kind}: {path}")
        action.triggered.connect(lambda _c=False, p=path: file_open.open_path(win, p))


def save_session(win, ask: bool = False, path: str | None = None) -> bool:
    """Save to the session's file (asks for a name the first time or with ``ask``)."""
    path = path or (None if ask else win.session_path)
    if path is None:
        path, _ = QFileDialog.getSaveFileName(win, "Save session", "session.json",
                                              "Flowscope session (*.json)")
        if not path:
            return False
    try:
        win.session().save(path)
    except OSError as err:
        QMessageBox.warning(win, "Cannot save session", f"{path}: {err}")
        return False
    win.session_path = path
    win.recent.add(path, "session")
    win.show_message(f"Saved session {path}")
    return True


# -- export ----------------------------------------------------------------------------------
def export_png(win, path: str | None = None) -> bool:
    path = export.ask_save_path(win, "Export view", f"{win.current}.png", "PNG image (*.png)",
                                path)
    if path is None:
        return False
    export.save_widget_png(win.slot.presenter.view, path)
    win.show_message(f"Saved {path}")
    return True


def _fill_svg_menu(win) -> None:
    win.svg_menu.clear()
    for title, item in win.slot.presenter.svg_plots().items():
        action = win.svg_menu.addAction(f"{title}…")
        action.triggered.connect(lambda _c=False, t=title, i=item: export_svg(win, t, i))


def export_svg(win, title: str, item, path: str | None = None) -> bool:
    safe = "".join(c if c.isalnum() else "_" for c in title).strip("_").lower()
    path = export.ask_save_path(win, f"Export {title}", f"{safe}.svg", "SVG image (*.svg)",
                                path)
    if path is None:
        return False
    try:
        export.save_plot_svg(item, path)
    except ValueError as err:
        QMessageBox.warning(win, "SVG export", str(err))
        return False
    win.show_message(f"Saved {path}")
    return True


def export_movie(win, path: str | None = None, fps: int = 30) -> bool:
    """Record the lab's views frame by frame to MP4 or GIF (≥ 5 s, title and time caption;
    progress + cancel)."""
    presenter = win.slot.presenter
    n = presenter.frame_count()
    if n == 0:
        win.show_message("Nothing to export yet: run the lab first.")
        return False
    path = export.ask_save_path(win, "Export animation", f"{win.current}.mp4",
                                "Movie (*.mp4 *.gif)", path)
    if path is None:
        return False
    dialog = QProgressDialog("Writing animation…", "Cancel", 0, 1000, win)
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(300)
    ok = write_movie(presenter, path, fps, dialog, title=movie_title(win))
    dialog.close()
    win.playback.set_frame(n - 1)
    presenter.set_frame(n - 1)
    win.show_message(f"Saved {path}" if ok else "Animation export cancelled")
    return ok


def movie_title(win) -> str:
    """``"Lab title — preset title"`` (or just the lab title for a custom config)."""
    slot = win.slot
    preset = slot.presets.get(slot.preset, {}) if slot.preset else {}
    name = preset.get("title", slot.preset) if preset else ""
    return f"{slot.spec.title} — {name}" if name else slot.spec.title


def write_movie(presenter, path: str, fps: int = 30, dialog=None, title: str = "") -> bool:
    """Grab every recorded frame of ``presenter`` into a movie (used by the GUI and CLI);
    see :func:`app.movie.write_movie`."""
    return movie.write_movie(presenter, path, fps, dialog, title=title)


# -- view and help ---------------------------------------------------------------------------
def toggle_presentation(win) -> None:
    """F11: full screen with fonts sized for the screen, parameter dock hidden (and back)."""
    on = not win.isFullScreen()
    screen = win.screen() or QApplication.primaryScreen()
    scale = presentation_scale(screen.geometry().height())
    set_app_font_scale(on, scale)
    win.setFont(QApplication.font())
    for slot in win.slots.built().values():     # a lab built later: window_layout
        scale_plot_fonts(slot.presenter.svg_plots().values(), on, scale)
        slot.presenter.set_presentation(on)
    if on:
        win.dock_was_visible = win.side_dock.isVisible()
        win.side_dock.hide()
        win.showFullScreen()
    else:
        win.side_dock.setVisible(getattr(win, "dock_was_visible", True))
        win.showNormal()
    win.presentation_action.setChecked(on)


def show_papers(win, spec) -> None:
    rows = "".join(f"<li>{html.escape(p.citation)}<br><a href='{p.url}'>{p.url}</a>"
                   f"<br><i>{html.escape(p.note)}</i></li>" for p in spec.papers)
    box = QMessageBox(win)
    box.setWindowTitle(f"Papers behind {spec.title}")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(f"<b>{html.escape(spec.title)}</b>: {html.escape(spec.summary)}<ul>{rows}</ul>")
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
    box.open()


def show_about(win) -> None:
    QMessageBox.about(win, "About Flowscope",
                      "Flowscope — a desktop lab for the dynamics of ReLU networks, diffusion "
                      "paths and CT/MRI reconstruction.\nEngine: torch; GUI: PySide6, pyqtgraph, "
                      "vispy.")


"""Window layout at 1280 × 720, remembered geometry and recent files, dropped files, DICOM."""
import numpy as np
import pytest
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, QRect, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QScrollArea

from app import file_open, menus
from app.main_window import MainWindow
from app.presentation import presentation_scale
from app.window_state import RecentFiles
from tests.app.conftest import set_config


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def make_window(qtbot, tmp_path, settings=None, lab="gradient-flow"):
    win = MainWindow(session=None, autosave_path=tmp_path / "autosave.json",
                     devices=[("cpu", "CPU")], auto_run=False, settings=settings)
    qtbot.addWidget(win)
    win.switch_lab(lab)
    return win


def inside(win, widget) -> bool:
    top_left = widget.mapTo(win, QPoint(0, 0))
    return widget.isVisible() and win.rect().contains(QRect(top_left, widget.size()))


@pytest.mark.parametrize("lab", ["gradient-flow", "regions", "diffusion", "recon"])
def test_controls_are_on_screen_at_1280x720(qtbot, tmp_path, lab):
    win = make_window(qtbot, tmp_path, lab=lab)
    assert win.minimumSizeHint().width() <= 1280 and win.minimumSizeHint().height() <= 720
    win.resize(1280, 720)
    win.show()
    qtbot.waitExposed(win)
    assert win.size().width() <= 1280 and win.size().height() <= 720
    for widget in (win.run_button, win.cancel_button, win.progress, win.playback):
        assert inside(win, widget), widget
    qtbot.wait(50)
    for area in win.slot.panel.findChildren(QScrollArea) + [win.side_scroll]:
        assert not area.horizontalScrollBar().isVisible()      # no editor or unit cut off
    win.shutdown()


def test_presentation_scale_fits_the_screen():
    assert presentation_scale(720) == pytest.approx(1.15)
    assert presentation_scale(1080) == pytest.approx(1.5)
    assert 1.15 < presentation_scale(900) < 1.5


def test_geometry_and_dock_state_are_restored(qtbot, tmp_path, settings):
    win = make_window(qtbot, tmp_path, settings)
    win.resize(1200, 700)
    win.show()
    qtbot.waitExposed(win)
    win.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, win.side_dock)
    win.shutdown()
    again = make_window(qtbot, tmp_path, QSettings(settings.fileName(),
                                                   QSettings.Format.IniFormat))
    assert again.dockWidgetArea(again.side_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    assert (again.width(), again.height()) == (1200, 700)
    again.shutdown()


def test_recent_files_remember_sessions(qtbot, tmp_path, settings):
    win = make_window(qtbot, tmp_path, settings)
    path = tmp_path / "a.json"
    assert menus.save_session(win, path=str(path))
    assert RecentFiles(settings).items() == [(str(path.resolve()), "session")]
    menus.fill_recent_menu(win)
    texts = [a.text() for a in win.recent_menu.actions()]
    assert texts == [f"session: {path.resolve()}"]
    path.unlink()                                      # gone files are not offered
    assert RecentFiles(settings).items() == []
    win.shutdown()


def drop(win, paths):
    """Hand a drop of ``paths`` to the window's drop handler (Qt delivers synthetic drop
    events only during a real drag, so the handler is called as Qt would call it)."""
    assert win.acceptDrops()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    for kind in (QEvent.Type.DragEnter, QEvent.Type.Drop):
        cls = QDragEnterEvent if kind == QEvent.Type.DragEnter else QDropEvent
        args = (QPoint(50, 50),) if cls is QDragEnterEvent else (QPointF(50, 50),)
        event = cls(*args, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                    Qt.KeyboardModifier.NoModifier)
        assert win.drops.eventFilter(win, event) and event.isAccepted()


def test_dropped_session_csv_and_volume_reach_their_loaders(qtbot, tmp_path):
    win = make_window(qtbot, tmp_path)
    set_config(win, seed=5)
    session = tmp_path / "s.json"
    win.session().save(session)
    set_config(win, seed=0)
    drop(win, [session])
    assert win.slot.panel.config().seed == 5
    win.runner.cancel()
    csv = tmp_path / "points.csv"
    csv.write_text("x1,x2,y\n0.1,0.2,1\n-0.3,0.4,-1\n0.5,-0.6,1\n")
    drop(win, [csv])
    assert win.current == "regions" and win.slot.panel.config().dataset == "custom"
    vol = tmp_path / "v.npy"
    np.save(vol, np.random.default_rng(0).random((4, 16, 16), dtype=np.float32))
    drop(win, [vol])
    assert win.current == "recon"
    cfg = win.slot.panel.config()
    assert cfg.source == "file" and cfg.path == str(vol)
    win.shutdown()


def test_unknown_dropped_file_is_reported(qtbot, tmp_path):
    win = make_window(qtbot, tmp_path)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    assert file_open.file_kind(other) is None
    assert not file_open.open_path(win, other)
    assert "Cannot open notes.txt" in win.status_label.text()
    win.shutdown()


def test_one_dicom_file_opens_its_whole_series(qtbot, tmp_path):
    from tests.engine.test_recon_io import _write_dicom_series
    series = tmp_path / "series"
    series.mkdir()
    _write_dicom_series(series)
    one = sorted(series.glob("*.dcm"))[0]
    assert file_open.dicom_series_path(one) == series
    win = make_window(qtbot, tmp_path)
    assert file_open.open_path(win, one)
    assert win.current == "recon" and win.slot.panel.config().path == str(series)
    assert "(4, 8, 6)" in win.status_label.text()
    assert file_open.ask_volume(win, str(one)) and win.slot.panel.config().path == str(series)
    assert file_open.ask_dicom(win, str(series))
    assert win.slot.presenter.open_volume(str(one))      # the lab's own "Open volume…" too
    assert win.slot.panel.config().path == str(series)
    assert RecentFiles(None).items() == [] and win.recent.items()[0] == (str(series), "volume")
    win.shutdown()

"""A closed main window leaves nothing behind (the suite once grew ~40–80 MB per app test:
every window, its presenters and pyqtgraph's menus stayed alive through lambdas connected to
signals, a reference cycle through C++ that Python's collector cannot see)."""
import weakref

from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow
from tests.app.conftest import collect_on_gui_thread


def test_a_closed_window_and_its_presenters_are_freed(qtbot):
    collect_on_gui_thread()
    before = len(QApplication.topLevelWidgets())
    win = MainWindow(session=None, autosave_path=None, devices=[("cpu", "CPU")],
                     auto_run=False)
    presenters = [weakref.ref(slot.presenter) for slot in win.slots.values()]
    window = weakref.ref(win)
    assert len(QApplication.topLevelWidgets()) > before      # menus of every lab's plots
    win.shutdown()
    win.close()
    win.deleteLater()
    del win
    collect_on_gui_thread()
    assert window() is None
    assert all(ref() is None for ref in presenters)
    assert len(QApplication.topLevelWidgets()) == before     # none of its menus or popups

"""Shared fixtures of the app tests: a main window on one lab with a small config."""
import dataclasses
import gc

import pytest
import torch
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication

from app.main_window import MainWindow


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Runs in worker threads use one torch thread: on a shared 2-core machine two intra-op
    threads stall whenever anything else holds a core (the app itself uses cores − 1)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    # What is alive now (torch, Qt, pyqtgraph, the app's modules) lives to the end: freeze it,
    # so each test's full collection scans only newer objects (it cost 3–6 s per teardown).
    gc.collect()
    gc.freeze()
    yield
    torch.set_num_threads(old)


@pytest.fixture(autouse=True)
def _release_windows():
    """Free the windows of an app test after it (pytest-qt has closed its widgets by then).

    Before the test, what only the last test's fixture values still held is freed too; what
    survives that is long-lived (modules, caches) and is frozen, so that the collections
    after a test scan only what the test made.
    """
    collect_on_gui_thread()
    gc.freeze()
    yield
    collect_on_gui_thread()


def set_config(win, **changes):
    """Replace fields of the current lab's config (no run)."""
    panel = win.slot.panel
    panel.set_config(dataclasses.replace(panel.config(), **changes))


def run_and_wait(win, qtbot, timeout=120_000):
    """Start a run of the current lab and wait until its result is shown."""
    with qtbot.waitSignal(win.runner.sigFinished, timeout=timeout):
        win.run()


@pytest.fixture
def lab_window(qtbot, tmp_path):
    """Factory: ``lab_window(lab, **small_config)`` → a MainWindow (shut down at teardown)."""
    windows = []

    def make(lab, **changes):
        win = MainWindow(session=None, autosave_path=tmp_path / "autosave.json",
                         devices=[("cpu", "CPU")], auto_run=False)
        qtbot.addWidget(win)
        win.switch_lab(lab)
        set_config(win, **changes)
        windows.append(win)
        return win

    yield make
    for win in windows:
        win.shutdown()
        win.close()
        win.deleteLater()
    windows.clear()


def collect_on_gui_thread(rounds: int = 5) -> None:
    """Delete closed windows here, on the GUI thread, never in a later test's worker thread.

    Qt deletes a closed window's widgets only on a ``DeferredDelete`` event, and freeing one
    Python cycle (a window and the lambdas its signals hold) lets PySide delete C++ objects
    that held the next one (pyqtgraph's menus and view boxes), so events and collections
    alternate until nothing more is freed. Nothing is frozen after a test: what it still holds
    then (its fixture values) would live to the end of the session (the suite grew ~40–80 MB
    per app test that way).
    """
    for _ in range(rounds):
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        if not gc.collect():
            break

"""Start-up (issue #16): the window shows before torch, pyqtgraph and the labs are imported,
then loads them; a deferred window runs nothing until then, but its menus answer."""
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtWidgets import QLabel, QMessageBox

from app.gui import after_first_paint
from app.main_window import MainWindow
from app.window_layout import LOADING, lab_actions

ROOT = Path(__file__).resolve().parents[2]


def _modules_after(code: str) -> set:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(*sys.modules)"],
                         cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)
    return set(out.stdout.split())


def test_the_window_code_imports_neither_torch_nor_plotting_nor_a_lab():
    loaded = _modules_after("import app.gui, app.main_window, app.window_state, engine.core, "
                            "app.window_labs, app.window_loader")
    assert not {"torch", "pyqtgraph", "vispy"} & loaded
    assert not {m for m in loaded if m.startswith("app.labs") or m.count(".") == 1
                and m.startswith("engine.") and m != "engine.core"}


def test_engine_core_device_helpers_still_import_from_engine_core():
    from engine.core import available_devices, default_device, device_name, make_generator
    assert "cpu" in available_devices() and default_device() in available_devices()
    assert device_name("cpu") and make_generator(3, "cpu").initial_seed() == 3
    import engine.core
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        engine.core.nothing


@pytest.fixture
def deferred(qtbot, tmp_path):
    win = MainWindow(session=None, autosave_path=tmp_path / "autosave.json", auto_run=False,
                     defer_labs=True)
    qtbot.addWidget(win)
    yield win
    win.shutdown()
    win.close()                 # tests/app/conftest.py frees it after the test


def test_a_deferred_window_says_loading_and_is_inert_until_the_labs_load(deferred, qtbot):
    win = deferred
    assert not win.slots and win.autosaver is None
    assert isinstance(win.views.currentWidget(), QLabel)
    assert win.views.currentWidget().text() == LOADING == win.status_label.text()
    assert not win.side_dock.widget().isEnabled() and win.menuBar().isEnabled()
    needs_lab = lab_actions(win)          # File and Run entries: greyed while loading …
    assert len(needs_lab) >= 8 and not any(a.isEnabled() for a in needs_lab)
    menus = {a.text().replace("&", ""): a.menu() for a in win.menuBar().actions()}
    assert [a.text() for a in menus["File"].actions()
            if a.isEnabled() and not a.isSeparator()] == ["&Quit"]
    help_entries = [a for a in menus["Help"].actions() if a.text().startswith("Papers")]
    assert help_entries and all(a.isEnabled() for a in help_entries + menus["View"].actions())
    help_entries[0].trigger()                          # … while Help answers at once
    qtbot.waitUntil(lambda: bool(win.findChildren(QMessageBox)), timeout=5000)
    box = win.findChildren(QMessageBox)[0]
    assert "Gradient flow" in box.text()
    box.close()
    win.run()                                         # nothing to run yet: no error, no run
    assert not win.runner.is_running()
    win.session()                                     # closing now saves nothing broken

    win.load_labs([("cpu", "CPU"), ("meta", "Meta device")])
    assert list(win.slots) == [win.lab_box.itemData(i) for i in range(win.lab_box.count())]
    assert win.views.currentWidget() is win.slot.presenter.view
    assert win.side_dock.widget().isEnabled() and all(a.isEnabled() for a in needs_lab)
    assert [win.device_box.itemData(i) for i in range(win.device_box.count())] == ["cpu", "meta"]
    assert win.autosaver is not None and win.status_label.text() != LOADING
    win.load_labs()                                   # idempotent
    assert win.views.count() == len(win.slots.built()) == 1     # only the lab shown is built


def test_after_first_paint_calls_back_once_the_window_is_painted(qtbot):
    label = QLabel("hello")
    qtbot.addWidget(label)
    calls = []
    after_first_paint(label, lambda: calls.append(label.isVisible()), fallback_ms=60_000)
    assert not calls
    label.show()
    qtbot.waitUntil(lambda: bool(calls), timeout=10_000)
    label.update()
    qtbot.wait(50)
    assert calls == [True]


def test_start_labs_applies_the_command_line_after_loading(deferred, monkeypatch):
    import app.gui as gui
    shown, runs = [], []
    monkeypatch.setattr(gui.QMessageBox, "warning", lambda _w, _t, text: shown.append(text))
    monkeypatch.setattr(deferred, "run", lambda: runs.append(deferred.current))
    monkeypatch.setattr(gui, "configure_torch", lambda: None)      # keep the test threads
    args = SimpleNamespace(device="nope", lab="regions", preset="no-such-preset", session=None)
    gui.start_labs(deferred, args, ["from the session"])
    assert deferred.current == "regions" and runs == ["regions"]
    assert deferred.device == "cpu"
    text = shown[0]
    assert "from the session" in text and "'nope' is not available" in text
    assert "unknown preset 'no-such-preset'" in text

"""Start-up (issue #16): one lab is built at start, the others when first shown; torch and the
engines load on a background thread; the real start-up path loads the first lab and runs
its preset, and checks the autosave before anything overwrites it."""
import json
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QMessageBox

import app.gui as gui
from app.main_window import MainWindow
from app.registry import LABS
from app.session import Session
from app.window_loader import LabLoader, engine_modules

ROOT = Path(__file__).resolve().parents[2]


def _session(current: str, labs: dict) -> Session:
    return Session.from_dict({"format": "flowscope-session", "version": 1,
                              "current_lab": current, "device": "cpu", "labs": labs})


@pytest.fixture
def window(qtbot):
    made = []

    def make(session):
        win = MainWindow(session=session, autosave_path=None, devices=[("cpu", "CPU")],
                         auto_run=False)
        qtbot.addWidget(win)
        made.append(win)
        return win
    yield make
    for win in made:
        win.shutdown()
        win.close()


def test_only_the_lab_shown_is_built_and_an_unbuilt_lab_keeps_its_entry(window):
    saved = {"config": {"n_points": 17, "dataset": "spiral"}, "preset": None}
    win = window(_session("diffusion", {"regions": saved}))
    assert list(win.slots.built()) == ["diffusion"] and list(win.slots) == list(LABS)
    assert "regions" in win.slots and not win.slots.is_built("regions")   # `in` builds nothing
    assert win.session().labs["regions"] == saved                # kept as it was read
    win.switch_lab("regions")
    assert list(win.slots.built()) == ["diffusion", "regions"]
    assert win.views.currentWidget() is win.slot.presenter.view
    assert win.slot.panel.config().n_points == 17
    assert win.session().labs["regions"]["config"]["n_points"] == 17
    assert win.views.count() == 2 and win.panels.count() == 2


def test_a_session_opened_warns_for_labs_not_built_yet(window):
    win = window(None)
    assert list(win.slots.built()) == ["gradient-flow"]
    warnings = win.load_session(_session("gradient-flow", {
        "convex-duals": {"config": {"vo_steps": -5, "vo_seeds": 3}, "preset": None}}))
    assert any("Convex duals" in w and "vo_steps" in w for w in warnings)
    assert not win.slots.is_built("convex-duals")
    config = win.slots["convex-duals"].panel.config()          # built on demand: reset field
    assert config.vo_steps == type(config)().vo_steps and config.vo_seeds == 3
    win.runner.cancel()


def test_the_loader_imports_off_the_gui_thread_and_signals_on_it(qtbot):
    gui_thread, seen = threading.current_thread(), []
    broken = SimpleNamespace(config="engine.no_such_lab:Config", run="engine.no_such_lab:run")
    specs = {"regions": LABS["regions"], "broken": broken, "learned": LABS["learned"]}
    loader = LabLoader(specs, "regions", check=lambda: threading.current_thread().name)
    loader.sigReady.connect(lambda name: seen.append(("ready", name, threading.current_thread())))
    loader.sigChecked.connect(lambda v: seen.append(("checked", v, threading.current_thread())))
    try:
        with qtbot.waitSignal(loader.sigReady, timeout=60_000):
            loader.start()
        assert all(m in sys.modules for m in ["torch"] + engine_modules(LABS["regions"]))
        assert not any(s[0] == "checked" for s in seen)       # waits for proceed()
        with qtbot.waitSignal(loader.sigDone, timeout=60_000):
            loader.proceed()
        qtbot.waitUntil(lambda: not loader.is_running(), timeout=10_000)
    finally:
        loader.stop(wait=30)
    assert [s[:2] for s in seen] == [("ready", "regions"), ("checked", "flowscope-lab-loader")]
    assert all(s[2] is gui_thread for s in seen)
    assert all(m in sys.modules for m in engine_modules(LABS["learned"]))
    assert [f.split(":")[0] for f in loader.failures] == ["engine.no_such_lab"]


def test_a_stopped_loader_imports_nothing_more_and_ends(qtbot):
    loader = LabLoader(LABS, "learned")
    with qtbot.waitSignal(loader.sigReady, timeout=60_000):
        loader.start()
    loader.stop(wait=30)
    assert not loader.is_running()


@pytest.fixture
def start_up(qtbot, tmp_path, monkeypatch):
    """``open_window`` as ``main.py`` calls it, in a fresh user folder; modal boxes noted."""
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path))
    monkeypatch.setattr(gui, "configure_torch", lambda: None)     # keep the test threads
    shown = []
    monkeypatch.setattr(gui.QMessageBox, "warning", lambda _w, _t, text: shown.append(text))
    made = []

    def start(**options):
        args = SimpleNamespace(**{"lab": None, "preset": None, "device": None,
                                  "session": None, **options})
        win = gui.open_window(args)
        qtbot.addWidget(win)
        made.append(win)
        return win, shown
    yield start
    for win in made:
        win.loader.stop(wait=30)
        win.shutdown()
        win.close()


def test_start_up_loads_the_first_lab_and_runs_its_preset(start_up, qtbot):
    win, shown = start_up(lab="gradient-flow", preset="support-vectors")
    assert not win.slots and win.isVisible()
    qtbot.waitUntil(lambda: bool(win.slots) and win.slot.has_result, timeout=90_000)
    assert win.current == "gradient-flow" and win.slot.preset == "support-vectors"
    assert win.slot.panel.config().data == "finite" and win.slot.presenter.frame_count() > 1
    assert next(iter(win.slots.built())) == "gradient-flow" and not shown
    assert win.autosaver is not None                  # no autosave was read: nothing to check
    qtbot.waitUntil(lambda: len(win.slots.built()) > 1, timeout=60_000)  # the others, idle


def test_start_up_checks_the_autosave_before_saving_over_it(start_up, qtbot, tmp_path):
    bad = {"format": "flowscope-session", "version": 1, "current_lab": "gradient-flow",
           "device": "cpu", "labs": {"gradient-flow": {"config": {"n_init": -3}},
                                     "regions": {"config": {"n_points": 1}}}}
    (tmp_path / "autosave.json").write_text(json.dumps(bad))
    win, shown = start_up()
    qtbot.waitUntil(lambda: win.autosaver is not None, timeout=90_000)
    copy = next(tmp_path.glob("autosave.replaced-*.json"))         # kept before any write
    assert json.loads(copy.read_text()) == bad
    assert "n_init" in " ".join(shown)                 # the lab shown: reset field reported
    box = win.findChild(QMessageBox, "autosave_warning")          # open, not modal
    assert box is not None and box.isVisible() and "regions" in box.text()
    box.close()
    win.runner.cancel()
    win.switch_lab("regions")
    assert win.slot.panel.config().n_points != 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux library names")
def test_torch_libraries_preload_without_importing_torch_and_torch_then_works():
    code = ("import sys; from app.window_loader import preload_torch_libraries\n"
            "preload_torch_libraries()\n"
            "maps = open('/proc/self/maps').read()\n"
            "print('torch' in sys.modules, 'libtorch_cpu.so' in maps)\n"
            "import torch; print(float(torch.arange(4.0).sum()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=120).stdout.split()
    assert out == ["False", "True", "6.0"]


def test_idle_prebuild_waits_for_a_pause_in_input_then_builds_labs_in_order(window, qtbot):
    from app.window_prebuild import IdlePrebuild
    win = window(None)
    win.show()
    prebuild = IdlePrebuild(win, idle_s=0.4, tick_ms=20)
    prebuild.start()
    for step in range(12):               # a person moving the mouse: nothing is built
        qtbot.mouseMove(win.views, QPoint(20 + 7 * step, 40 + 3 * step))
        qtbot.wait(50)
        assert list(win.slots.built()) == ["gradient-flow"]
    qtbot.waitUntil(lambda: len(win.slots.built()) >= 2, timeout=60_000)
    assert list(win.slots.built())[:2] == list(LABS)[:2] and win.current == "gradient-flow"
    assert win.views.currentWidget() is win.slot.presenter.view      # built, not shown
    win.close()                                                      # closed: it stops
    qtbot.waitUntil(lambda: not prebuild.is_active(), timeout=10_000)

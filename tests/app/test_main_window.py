"""The shell with the gradient-flow lab: switcher, panel validation, runs, playback, sessions."""
import json
import time

import numpy as np
import pytest

from app import menus
from app.main_window import MainWindow
from tests.app.conftest import run_and_wait, set_config
from app.registry import LABS
from app.session import Session

SMALL = {"dim": 2, "depth": 1, "n_init": 20, "t_max": 5.0, "dt": 0.05, "frames": 40}


@pytest.fixture
def window(lab_window):
    return lab_window("gradient-flow", **SMALL)


def test_switcher_lists_only_existing_labs(window):
    names = [window.lab_box.itemData(i) for i in range(window.lab_box.count())]
    assert names == list(LABS)


def test_run_fills_views_and_playback(window, qtbot):
    run_and_wait(window, qtbot)
    presenter = window.slot.presenter
    assert presenter.frame_count() == window.playback.frame_count() > 10
    assert presenter.result.w.shape[1:] == (20, 2)
    window.playback.set_frame(0)
    window.playback.sigFrameChanged.emit(3)
    assert presenter._frame == 3
    assert "completed" in window.status_label.text()


def test_panel_refuses_out_of_range_value(window, qtbot):
    editor = window.slot.panel.editor("dim")
    before = window.slot.panel.config()
    editor.setText("0")
    editor.editingFinished.emit()
    assert window.slot.panel.config() == before
    assert "valid range" in window.slot.panel.error_text()
    assert "valid range" in window.status_label.text()


def test_cancel_answers_quickly(window, qtbot):
    set_config(window, n_init=20000, t_max=1000.0, dt=0.001, frames=50)
    with qtbot.waitSignal(window.runner.sigProgress, timeout=20_000):
        window.run()
    qtbot.wait(300)
    start = time.perf_counter()
    with qtbot.waitSignal(window.runner.sigCancelled, timeout=2000):
        window.runner.cancel()
    assert time.perf_counter() - start < 0.2
    assert "cancelled" in window.status_label.text()


def test_diverging_step_size_keeps_recorded_part(window, qtbot):
    set_config(window, method="gd", lr=10.0, t_max=400.0)
    run_and_wait(window, qtbot)
    result = window.slot.presenter.result
    assert result.diverged_step is not None
    assert f"diverged at step {result.diverged_step}" in window.status_label.text()
    assert np.isfinite(result.magnitude).all() and len(result.t) >= 1


def test_preset_applies_config_and_view(window, qtbot):
    with qtbot.waitSignal(window.runner.sigFinished, timeout=60_000):
        window.apply_preset("gd-vs-gf")
    assert window.slot.panel.config().method == "gd"
    assert window.slot.presenter.tabs.currentIndex() == 1
    assert window.preset_box.currentData() == "gd-vs-gf"


def test_session_round_trip(window, qtbot, tmp_path):
    set_config(window, seed=7, depth=2)
    path = tmp_path / "s.json"
    assert menus.save_session(window, path=str(path))
    data = json.loads(path.read_text())
    assert data["labs"]["gradient-flow"]["config"]["seed"] == 7
    other = MainWindow(session=Session.load(path), autosave_path=None, auto_run=False)
    qtbot.addWidget(other)
    assert other.slot.panel.config() == window.slot.panel.config()
    other.shutdown()


def test_autosave_written_on_change_and_restored(window, qtbot, tmp_path):
    set_config(window, seed=11)
    window.slot.panel.sigConfigChanged.emit(window.slot.panel.config())
    window.autosaver.flush()
    saved = Session.load(tmp_path / "autosave.json")
    assert saved.labs["gradient-flow"]["config"]["seed"] == 11


def test_corrupt_session_file_opens_defaults_and_is_not_overwritten(tmp_path):
    from app.gui import initial_session
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    session, path, _auto, warnings = initial_session(str(bad))
    assert session is None and path is None
    assert warnings and "bad.json" in warnings[0]
    assert bad.read_text() == "{ not json"


def test_exports_png_svg_and_gif(window, qtbot, tmp_path):
    set_config(window, frames=8)          # a short GIF (the movie's length: test_shell_export)
    run_and_wait(window, qtbot)
    assert menus.export_png(window, path=str(tmp_path / "v.png"))
    title, item = next(iter(window.slot.presenter.svg_plots().items()))
    assert menus.export_svg(window, title, item, path=str(tmp_path / "p.svg"))
    assert "<svg" in (tmp_path / "p.svg").read_text()
    assert menus.export_movie(window, path=str(tmp_path / "m.gif"), fps=2)
    assert (tmp_path / "m.gif").stat().st_size > 1000


def test_presentation_mode_toggles_fullscreen_and_font(window, qtbot):
    window.show()
    size = window.font().pointSizeF()
    menus.toggle_presentation(window)
    assert window.presentation_action.isChecked()
    assert window.font().pointSizeF() > size
    menus.toggle_presentation(window)
    assert not window.presentation_action.isChecked()
    assert window.font().pointSizeF() == pytest.approx(size)


def test_long_status_message_fits_beside_the_device_box(window, qtbot):
    """A summary longer than the window is elided in the status bar, never cut by the device
    combo box; the whole text stays readable in the tooltip."""
    window.resize(1600, 1000)
    window.show()
    qtbot.waitExposed(window)
    text = "Convex relu program: " + "a long summary, " * 40 + "best gap 5.13e-05."
    window.show_message(text)
    qtbot.wait(10)
    label = window.status_label
    shown = label.shown_text()
    assert shown != text and shown.endswith("…") and label.toolTip() == text
    assert label.fontMetrics().horizontalAdvance(shown) <= label.contentsRect().width()
    device = window.device_box.mapTo(window, window.device_box.rect().topLeft()).x()
    assert label.mapTo(window, label.rect().topRight()).x() < device
    assert window.width() <= 1600

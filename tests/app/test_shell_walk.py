"""A scripted walk through every lab: run, click, edit mid-run, cancel, switch, session.

pytest-qt fails a test on any exception raised in a Qt slot or virtual method; stderr is
checked for tracebacks as well. Status messages must belong to the lab shown.
"""
import dataclasses

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
import pyqtgraph as pg

from app import menus
from app.main_window import RUN_HINT, MainWindow
from app.registry import LABS
from app.session import Session
from tests.app.conftest import run_and_wait

SMALL = {
    "gradient-flow": {"dim": 2, "depth": 1, "n_init": 20, "t_max": 2.0, "dt": 0.05,
                      "frames": 20},
    "regions": {"n_points": 12, "width": 8, "steps": 200, "n_seeds": 2, "grid": 64,
                "snapshots": 5, "dataset": "xor"},
    "diffusion": {"n_particles": 200, "n_steps": 20, "n_trails": 4},
    "recon": {"size": 32, "slices": 4, "n_views": 12, "iters": 10, "every": 2},
    "learned": {"size": 32, "n_unrolls": 2, "width": 4, "steps": 4, "eval_every": 2,
                "batch": 2, "modules": 2},
    "convex-duals": {"vo_n": 12, "vo_steps": 100, "vo_seeds": 2, "bn_steps": 100},
}
SLOW_GF = {"n_init": 20000, "t_max": 1000.0, "dt": 0.001, "frames": 50}


def small(win, lab, **extra):
    """Small config of ``lab`` in its panel (no run)."""
    panel = win.slots[lab].panel
    panel.set_config(dataclasses.replace(panel.config(), **{**SMALL[lab], **extra}))


@pytest.fixture
def shell(qtbot, tmp_path):
    """A shown 1280 × 720 window, every lab on a small config, auto-run off."""
    win = MainWindow(session=None, autosave_path=tmp_path / "autosave.json",
                     devices=[("cpu", "CPU")], auto_run=False)
    qtbot.addWidget(win)
    win.finished_tags = []          # every finished run's lab, in order (see wait_run_of)
    win.runner.sigFinished.connect(lambda _result, tag: win.finished_tags.append(tag))
    for lab in LABS:
        small(win, lab)
    win.resize(1280, 720)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()
    win.close()


def click_every_plot(win, qtbot):
    """A left click in the middle of each plot of the lab shown."""
    for view in win.slot.presenter.view.findChildren(pg.GraphicsView):
        if view.isVisible() and view.width() > 20:
            QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(
                view.width() // 2, view.height() // 2))
            qtbot.wait(20)


def wait_run_of(win, qtbot, lab, count, timeout=180_000):
    """Wait until ``lab`` has finished ``count`` runs in all and none of its runs is going;
    works when the run finished already (a superseded run never finishes)."""
    qtbot.waitUntil(lambda: not (win.runner.is_running() and win.running_tag == lab)
                    and win.finished_tags.count(lab) >= count, timeout=timeout)


@pytest.mark.parametrize("lab", list(LABS))
def test_walk_through_lab(shell, qtbot, tmp_path, capfd, lab):
    win = shell
    win.switch_lab(lab)
    assert win.run_hint.isVisible() and win.status_label.text() == ""
    run_and_wait(win, qtbot)
    assert not win.run_hint.isVisible()
    assert "fail" not in win.status_label.text().lower()
    click_every_plot(win, qtbot)
    # a parameter edited mid-run restarts the run; the newest run's result is shown
    win.auto_run.setChecked(True)
    win.run()
    seed = win.slot.panel.config().seed
    win.edit_config({"seed": seed + 1})
    wait_run_of(win, qtbot, lab, 2)
    qtbot.waitUntil(lambda: not win.runner.is_running())
    assert "cancel" not in win.status_label.text().lower()
    # cancel: the previous result stays and the status says so
    win.auto_run.setChecked(False)
    with qtbot.waitSignal(win.runner.sigCancelled, timeout=10_000):
        win.run()
        win.runner.cancel()
    assert "previous result is still shown" in win.status_label.text()
    # switch away (no result there: hint, no stale status) and back (own status again)
    own = win.status_label.text()
    other = next(name for name in LABS if name != lab)
    win.switch_lab(other)
    assert win.status_label.text() == "" and win.run_hint.isVisible()
    win.switch_lab(lab)
    assert win.status_label.text() == own and not win.run_hint.isVisible()
    # save and reopen the session
    path = tmp_path / "walk.json"
    assert menus.save_session(win, path=str(path))
    config = win.slot.panel.config()
    assert menus.open_session(win, str(path))
    assert win.current == lab and win.slot.panel.config() == config
    wait_run_of(win, qtbot, lab, 3)
    assert "Traceback" not in capfd.readouterr().err


def test_switching_away_keeps_the_run_and_delivers_it_to_its_lab(shell, qtbot):
    win = shell
    win.switch_lab("gradient-flow")
    win.run()                             # finishes only through the event loop: the switch
    win.auto_run.setChecked(True)         # below always happens while it runs
    win.switch_lab("regions")             # regions has no result, but gradient flow is running
    assert win.runner.is_running() and win.running_tag == "gradient-flow"
    assert "background" in win.status_label.text()
    assert "cancelled" not in win.status_label.text().lower()
    wait_run_of(win, qtbot, "gradient-flow", 1)
    assert win.slots["gradient-flow"].has_result
    assert win.running_tag == "regions"    # then the lab shown runs (auto-run)
    wait_run_of(win, qtbot, "regions", 1)
    assert win.slots["regions"].has_result and not win.run_hint.isVisible()
    win.switch_lab("gradient-flow")
    assert "completed" in win.status_label.text()


def test_status_of_another_lab_never_shows(shell, qtbot):
    win = shell
    win.switch_lab("recon")
    win.slots["recon"].panel.sigInvalid.emit("n_views = -3 is outside the valid range")
    assert "n_views" in win.status_label.text()
    win.switch_lab("regions")
    assert "n_views" not in win.status_label.text()
    win.slots["recon"].presenter.sigMessage.emit("Opened something")
    assert win.status_label.text() == ""
    win.switch_lab("recon")
    assert win.status_label.text() == "Opened something"


def test_running_another_lab_says_the_background_run_was_cancelled(shell, qtbot):
    win = shell
    win.switch_lab("gradient-flow")
    small(win, "gradient-flow", **SLOW_GF)
    win.run()
    win.switch_lab("diffusion")
    with qtbot.waitSignal(win.runner.sigCancelled, timeout=10_000):
        win.run()
    assert win.slots["gradient-flow"].message.startswith("Run cancelled to run")
    wait_run_of(win, qtbot, "diffusion", 1)
    win.switch_lab("gradient-flow")
    assert "cancelled to run Diffusion" in win.status_label.text()
    assert win.run_hint.isVisible()


def test_session_with_invalid_fields_keeps_the_rest_and_says_which(shell, qtbot, tmp_path):
    win = shell
    win.switch_lab("gradient-flow")
    session = win.session()
    session.labs["gradient-flow"]["config"].update({"dim": -4, "seed": 21})
    path = tmp_path / "bad_fields.json"
    session.save(path)
    assert menus.open_session(win, str(path))
    config = win.slot.panel.config()
    assert config.seed == 21 and config.dim == type(config)().dim
    assert "dim" in win.status_label.text() and "reset" in win.status_label.text()
    wait_run_of(win, qtbot, "gradient-flow", 1)
    assert Session.load(path).labs["gradient-flow"]["config"]["dim"] == -4   # file untouched


def test_config_edit_from_a_hidden_lab_goes_to_that_lab(shell, qtbot):
    win = shell
    win.switch_lab("gradient-flow")
    before = win.slot.panel.config()
    win.slots["recon"].presenter.sigConfigEdit.emit({"n_views": 30})
    assert win.slots["recon"].panel.config().n_views == 30
    assert win.slot.panel.config() == before and not win.runner.is_running()


def test_progress_shows_elapsed_and_time_left(shell, qtbot):
    win = shell
    win.switch_lab("gradient-flow")
    small(win, "gradient-flow", n_init=2000, t_max=20.0, dt=0.001, frames=50)
    win.run()
    qtbot.waitUntil(lambda: "left" in win.progress.format(), timeout=60_000)
    assert "elapsed" in win.progress.format() and "%p%" in win.progress.format()
    win.runner.cancel()
    qtbot.waitUntil(lambda: not win.runner.is_running())


def test_progress_bar_tells_the_shown_labs_last_run(shell, qtbot):
    win = shell
    win.switch_lab("gradient-flow")
    run_and_wait(win, qtbot)
    assert win.progress.format().startswith("done in")
    win.switch_lab("regions")
    assert win.progress.format() == "" and win.progress.value() == 0
    win.switch_lab("gradient-flow")
    assert win.progress.format().startswith("done in") and win.progress.value() == 1000

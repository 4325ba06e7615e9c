"""The convex-duals lab walked as a user would: run, change the model mid-run, cancel,
switch labs and back. pytest-qt fails the test on any exception raised in a Qt slot."""
import numpy as np

from app.runner import merge_partial

SMALL = {"vo_n": 12, "vo_steps": 60, "vo_seeds": 2, "bn_n": 8, "bn_steps": 60, "bn_seeds": 2}


def test_run_change_model_mid_run_cancel_and_switch(lab_window, qtbot):
    win = lab_window("convex-duals", **SMALL)
    lab = win.slot.presenter
    assert win.slot.panel.row_shown("vo_beta") and not win.slot.panel.row_shown("bn_beta")
    # a model change while a run goes on restarts it; the newest run's result is shown
    win.auto_run.setChecked(True)
    with qtbot.waitSignal(win.runner.sigFinished, timeout=120_000):
        win.run()
        win.edit_config({"model": "batchnorm"})
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=120_000)
    assert lab.result.model == "batchnorm"
    assert lab.tabs.currentWidget() is lab.tab_of["batchnorm"]
    assert not win.slot.panel.row_shown("vo_beta") and win.slot.panel.row_shown("bn_beta")
    # cancel: the previous result comes back
    win.auto_run.setChecked(False)
    with qtbot.waitSignal(win.runner.sigCancelled, timeout=10_000):
        win.run()
        win.runner.cancel()
    assert lab.result.model == "batchnorm"
    assert "previous result is still shown" in win.status_label.text()
    win.switch_lab("regions")
    win.switch_lab("convex-duals")
    assert win.slot.presenter is lab and lab.result.model == "batchnorm"
    # a refused setting says why and keeps the result
    win.edit_config({"bn_beta": 0.0})
    with qtbot.waitSignal(win.runner.sigFailed, timeout=60_000):
        win.run()
    assert "β = 0" in win.status_label.text()
    assert lab.result.model == "batchnorm"


def test_partials_draw_the_optimum_before_the_runs_end(qtbot):
    from app.registry import LABS
    from engine.convex_duals import DualsConfig
    from engine.convex_duals.lab import run_config
    spec = LABS["convex-duals"]
    lab, stages = spec.load_presenter()(spec), None
    qtbot.addWidget(lab.view)
    gen = run_config(DualsConfig(**SMALL), "cpu")
    for p in gen:
        if p.partial is not None:
            stages = merge_partial(stages, p.partial)
            lab.show_partial(stages)
            if "convex" in stages:
                break
    gen.close()
    tab = lab.tab_of["vector_output"]
    assert tab.objective._optimum == stages["convex"]["objective"]
    assert np.isfinite(tab.objective._optimum)
    assert "p* =" in tab.objective.caption.text()

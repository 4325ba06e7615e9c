"""The convex-duals lab walked as a user would: run, change the model mid-run, cancel,
switch labs and back. pytest-qt fails the test on any exception raised in a Qt slot."""
import numpy as np

from app.runner import merge_partial
from tests.app.conftest import run_and_wait

SMALL = {"vo_n": 12, "vo_steps": 60, "vo_seeds": 2, "bn_n": 8, "bn_steps": 60, "bn_seeds": 2,
         "att_steps": 40, "att_seeds": 2,
         "wgan_samples": 60, "wgan_steps": 600, "wgan_seeds": 2}


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


def _exported_certificate(win, qtbot, path) -> float:
    from app.results_export import export_results
    from engine.core.results_io import load_results
    export_results(win, str(path)).join(60)
    qtbot.waitUntil(path.exists, timeout=10_000)
    arrays, _ = load_results(path)
    return float(arrays["outcome/certificate"])


def test_attention_and_wgan_walked_seed_optimizer_and_one_certificate(lab_window, qtbot,
                                                                     tmp_path):
    """Attention and WGAN in the lab: the lab's seed reaches the runs, the key names the
    optimizer (Adam / GDA), and status line, caption and export show one certificate."""
    win = lab_window("convex-duals", **SMALL, model="attention", seed=3)
    lab = win.slot.presenter
    assert win.slot.panel.row_shown("att_beta") and not win.slot.panel.row_shown("wgan_beta")
    run_and_wait(win, qtbot)
    tab, outcome = lab.tab_of["attention"], lab.result.outcome
    assert lab.tabs.currentWidget() is tab and outcome.seeds.tolist() == [3, 4]
    assert tab.objective.run_names == ["Adam seed 3", "Adam seed 4"]
    line = outcome.certificate_text()
    assert line.startswith("p* = ") and "duality gap" in line
    assert line in win.status_label.text() and line in tab.objective.caption.text()
    exported = _exported_certificate(win, qtbot, tmp_path / "att.npz")
    assert exported == outcome.certificate and f"{exported:.1e}" in line
    # the model changes to WGAN while a run goes on: the newest run's result is shown
    win.auto_run.setChecked(True)
    with qtbot.waitSignal(win.runner.sigFinished, timeout=120_000):
        win.run()
        win.edit_config({"model": "wgan"})
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=120_000)
    win.auto_run.setChecked(False)
    tab, outcome = lab.tab_of["wgan"], lab.result.outcome
    assert lab.result.model == "wgan" and lab.tabs.currentWidget() is tab
    assert tab.objective.run_names == ["GDA seed 3", "GDA seed 4"]
    assert "GDA" in tab.objective.plot_item.titleLabel.text
    line = outcome.certificate_text()
    assert "closed form" in line and "duality gap" not in tab.objective.caption.text()
    assert line in win.status_label.text() and line in tab.objective.caption.text()
    assert _exported_certificate(win, qtbot, tmp_path / "wgan.npz") == outcome.certificate
    # cancel, switch labs and back: the WGAN result stays
    with qtbot.waitSignal(win.runner.sigCancelled, timeout=10_000):
        win.run()
        win.runner.cancel()
    assert lab.result.model == "wgan"
    win.switch_lab("regions")
    win.switch_lab("convex-duals")
    assert win.slot.presenter is lab and lab.tabs.currentWidget() is tab
    assert tab.objective.run_names == ["GDA seed 3", "GDA seed 4"]
    # a diverging GDA run stops with a note, keeps its path and the closed form
    win.edit_config({"wgan_lr": 0.05})
    run_and_wait(win, qtbot)
    assert "diverged" in tab.notes.text()
    rows = lab.result.outcome.gd_objectives
    assert np.isfinite(rows[:, 0]).all() and not np.isfinite(rows[:, -1]).all()
    # refused: the reason is said and the result kept
    win.edit_config({"wgan_beta": 0.0})
    with qtbot.waitSignal(win.runner.sigFailed, timeout=60_000):
        win.run()
    assert "β = 0" in win.status_label.text() and lab.result.model == "wgan"


def test_wgan_partials_label_gda_runs_and_the_closed_form(qtbot):
    from app.registry import LABS
    from engine.convex_duals import DualsConfig
    from engine.convex_duals.lab import run_config
    spec = LABS["convex-duals"]
    lab, stages = spec.load_presenter()(spec), None
    qtbot.addWidget(lab.view)
    for p in run_config(DualsConfig(**{**SMALL, "model": "wgan", "seed": 2}), "cpu"):
        if p.partial is not None:
            stages = merge_partial(stages, p.partial)
            lab.show_partial(stages)
    tab = lab.tab_of["wgan"]
    assert "closed form" in tab.objective.caption.text()
    assert tab.objective.run_names == ["GDA seed 2", "GDA seed 3"]

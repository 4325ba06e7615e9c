"""The vector-output relaxation (d > 3) and batch norm's GD variant walked as a user would:
run, change d mid-run, a refused dataset, the BN optimizer switched to GD, cancel, partials.
pytest-qt fails the test on any exception raised in a Qt slot."""
from app.runner import merge_partial
from tests.app.conftest import run_and_wait

RELAX = {"vo_mode": "relaxation (any d)", "vo_dataset": "teacher", "vo_n": 10, "vo_dim": 4,
         "vo_patterns": 12, "vo_steps": 60, "vo_seeds": 2, "bn_n": 8, "bn_steps": 60,
         "bn_seeds": 2, "bn_minor_scale": 0.05}


def test_relaxation_and_bn_gd_walked(lab_window, qtbot):
    win = lab_window("convex-duals", **RELAX)
    lab = win.slot.presenter
    assert win.slot.panel.row_shown("vo_dim") and win.slot.panel.row_shown("vo_patterns")
    run_and_wait(win, qtbot)
    tab, outcome = lab.tab_of["vector_output"], lab.result.outcome
    assert outcome.arrays["X"].shape == (10, 4)
    assert "relaxation duality gap" in tab.objective.caption.text()
    assert win.status_label.text().count("relaxation value = ") == 1   # never called p*
    assert "may go below" in tab.objective.caption.text()
    assert "relaxation value" in tab.objective.curves.line_label("optimum").toPlainText()
    assert "sampled blocks active" in tab.structure.caption.text()
    # d changes while a run goes on: the newest run's result is shown
    win.auto_run.setChecked(True)
    with qtbot.waitSignal(win.runner.sigFinished, timeout=120_000):
        win.run()
        win.edit_config({"vo_dim": 5})
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=120_000)
    win.auto_run.setChecked(False)
    assert lab.result.outcome.arrays["X"].shape == (10, 5)
    # a 2-D dataset in the d-dimensional case is refused with the reason; the result stays
    win.edit_config({"vo_dataset": "spiral"})
    with qtbot.waitSignal(win.runner.sigFailed, timeout=60_000):
        win.run()
    assert "does not fit" in win.status_label.text()
    assert lab.result.outcome.arrays["X"].shape == (10, 5)
    # the relaxation's own knobs hide in the other cases (the model's condition and the case's)
    win.edit_config({"vo_mode": "exact 2-D", "vo_dataset": "spiral"})
    assert not win.slot.panel.row_shown("vo_dim") and win.slot.panel.row_shown("vo_n")
    # batch norm trained by plain GD: the key says GD, the view shows the ladder
    win.edit_config({"model": "batchnorm", "bn_optimizer": "GD"})
    run_and_wait(win, qtbot)
    bn_tab = lab.tab_of["batchnorm"]
    assert lab.result.model == "batchnorm" and lab.tabs.currentWidget() is bn_tab
    assert bn_tab.objective.run_names == ["GD seed 0", "GD seed 1"]
    assert "whitened direction" in bn_tab.structure.caption.text()
    with qtbot.waitSignal(win.runner.sigCancelled, timeout=10_000):
        win.run()
        win.runner.cancel()
    assert lab.result.model == "batchnorm" and "ladder_value" in lab.result.outcome.arrays


def test_bn_gd_partials_draw_the_ladder_before_the_runs_end(qtbot):
    from app.registry import LABS
    from engine.convex_duals import DualsConfig
    from engine.convex_duals.lab import run_config
    spec = LABS["convex-duals"]
    lab, stages = spec.load_presenter()(spec), None
    qtbot.addWidget(lab.view)
    cfg = DualsConfig(**{**RELAX, "model": "batchnorm", "bn_optimizer": "GD"})
    for p in run_config(cfg, "cpu"):
        if p.partial is not None:
            stages = merge_partial(stages, p.partial)
            lab.show_partial(stages)
    view = lab.tab_of["batchnorm"].structure
    assert "truncated-whitening ladder" in view.item.titleLabel.text
    keys = [label.text for _, label in view.legend.items]
    assert any(k.startswith("p*(1) = ") for k in keys) and any("convex BN optimum" in k
                                                                for k in keys)

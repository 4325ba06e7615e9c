"""A person runs a regions preset, changes a setting mid-run, cancels and runs again (#16).

The progress bar's percentage never goes backwards within a run, and a finished run ends at
100 %; no Qt slot raises on the way (pytest-qt fails the test on any exception in one).
"""
from tests.app.conftest import run_and_wait

SMALLER = {"n_points": 16, "steps": 400, "snapshots": 5, "grid": 64, "n_seeds": 2}


def _bar_values(win):
    """Every value the progress bar shows while a run runs, grouped by run (after a run the
    bar tells how it ended: 100 % done, 0 cancelled)."""
    runs = []
    win.runner.sigStarted.connect(lambda _tag: runs.append([]))
    win.progress.valueChanged.connect(
        lambda v: runs[-1].append(v) if runs and win.runner.is_running() else None)
    return runs


def test_preset_run_edit_cancel_and_rerun_keep_the_bar_honest(lab_window, qtbot):
    win = lab_window("regions")
    win.apply_preset("sgd-vs-convex-spiral", run=False)
    win.edit_config(SMALLER)
    runs = _bar_values(win)
    lab = win.slot.presenter
    win.run()
    qtbot.waitUntil(lambda: "s0" in lab.objective.keys(), timeout=60_000)   # training
    win.edit_config({"lr": 0.02})                     # a setting changed mid-run
    assert win.slot.panel.config().lr == 0.02
    with qtbot.waitSignal(win.runner.sigCancelled, timeout=30_000):
        win.cancel_button.click()
    assert not win.runner.is_running()
    run_and_wait(win, qtbot)
    qtbot.wait(50)
    assert len(runs) == 2
    for values in runs:
        assert values == sorted(values), "the percentage went backwards"
    assert win.progress.value() == 1000                    # done: 100 %
    assert runs[1] and all(0 <= v <= 1000 for v in runs[1])  # shown on the way there
    assert lab.result is not None and not getattr(lab.result, "live", False)
    assert lab.result.config.lr == 0.02 and lab.result.config.steps == 400

"""Resuming the learned lab's training as a user does it: run, cancel mid-run, tick 'Resume
training', run again — the curves continue from the cancelled run's step (SCIENCE.md §6.3.1)."""
from engine.learned import load_training
from tests.app.conftest import run_and_wait, set_config

TINY = dict(size=16, n_unrolls=2, width=2, depth=2, eval_every=1, batch=2, modules=2,
            train_gleam=False, shipped=False)


def test_run_cancel_resume_continues_the_curves(lab_window, qtbot, tmp_path):
    win = lab_window("learned", **TINY, steps=5000, checkpoint_dir=str(tmp_path))
    presenter = win.slot.presenter
    with qtbot.waitSignal(win.runner.sigProgress, timeout=60_000):
        win.run()
    qtbot.waitUntil(lambda: "e2e" in presenter.dashboard.loss_plot.keys(), timeout=30_000)
    qtbot.wait(300)
    with qtbot.waitSignal(win.runner.sigCancelled, timeout=5000):
        win.runner.cancel()
    assert win.runner.wait(5000)
    qtbot.waitUntil(lambda: "Resume training" in presenter.info.text(), timeout=5000)
    assert str(tmp_path) in presenter.info.text()
    _, _, state = load_training(tmp_path / "e2e.pt")
    done = state["step"]
    assert 1 <= done < 5000
    set_config(win, resume=True, steps=3)
    run_and_wait(win, qtbot)
    run = presenter.result.runs[0]
    assert len(run.loss) == done + 3 and run.val_steps[-1] == done + 3
    x, _ = presenter.dashboard.loss_plot.item("e2e").getData()
    assert x[0] == 1 and x[-1] == done + 3                 # one curve, continued
    assert "resumed from step" in presenter.info.text()
    set_config(win, width=3)                               # other settings: refused, kept
    with qtbot.waitSignal(win.runner.sigFailed, timeout=30_000):
        win.run()
    assert "width = 2 (now 3)" in win.status_label.text()
    assert load_training(tmp_path / "e2e.pt")[2]["step"] == done + 3

"""The WGAN tab's ReLU-discriminator game walked as a user would: run it, read one certificate
in status line, caption and export, pick the other discriminator, switch to the quadratic
discriminator mid-run, cancel, switch labs, refused settings. pytest-qt fails the test on
any exception raised in a Qt slot."""
from types import SimpleNamespace

import numpy as np

from engine.convex_duals.wgan import Params, run
from engine.core import drain
from tests.app.conftest import run_and_wait
from tests.app.test_convex_duals_lab import _exported_certificate
from tests.app.test_duals_views import _grab_not_blank
from widgets.duals_wgan_relu import RELU_CRITICS
from widgets.duals_wgan_view import CRITICS, DualsWganView

RELU = {"model": "wgan", "wgan_discriminator": "relu", "wgan_data": "two_blobs",
        "wgan_samples": 10, "wgan_beta": 0.25, "wgan_steps": 100, "wgan_seeds": 2,
        "wgan_neurons": 6, "wgan_lr": 0.02}


def _names(view) -> list[str]:
    return [view.critic_choice.itemText(i) for i in range(view.critic_choice.count())]


def test_relu_game_walked_one_certificate_switch_cancel_refuse(lab_window, qtbot, tmp_path):
    win = lab_window("convex-duals", **RELU)
    lab = win.slot.presenter
    assert win.slot.panel.row_shown("wgan_discriminator")
    run_and_wait(win, qtbot)
    tab, outcome = lab.tab_of["wgan"], lab.result.outcome
    assert lab.tabs.currentWidget() is tab and outcome.certificate_kind == "duality gap"
    line = outcome.certificate_text()
    assert line in win.status_label.text() and line in tab.objective.caption.text()
    assert _exported_certificate(win, qtbot, tmp_path / "relu.npz") == outcome.certificate
    view = tab.structure
    assert _names(view) == list(RELU_CRITICS)
    view.critic_choice.setCurrentIndex(1)                    # the GDA discriminator
    np.testing.assert_allclose(view.critic_image.image,
                               outcome.arrays["critic_gda"].astype(np.float32))
    assert "LP" in view.beta_plot.plot_item.titleLabel.text
    # the discriminator changes to quadratic while a run goes on: the newest run is shown
    win.auto_run.setChecked(True)
    with qtbot.waitSignal(win.runner.sigFinished, timeout=120_000):
        win.run()
        win.edit_config({"wgan_discriminator": "quadratic"})
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=120_000)
    win.auto_run.setChecked(False)
    assert lab.result.outcome.certificate_kind == "closed form"
    assert _names(view) == list(CRITICS)
    # back to the game; cancel mid-run brings the previous result back
    win.edit_config({"wgan_discriminator": "relu"})
    run_and_wait(win, qtbot)
    with qtbot.waitSignal(win.runner.sigCancelled, timeout=10_000):
        win.run()
        win.runner.cancel()
    assert lab.result.outcome.certificate_kind == "duality gap"
    win.switch_lab("regions")
    win.switch_lab("convex-duals")
    assert win.slot.presenter is lab and _names(view) == list(RELU_CRITICS)
    for change, words in (({"wgan_beta": 0.0}, "β = 0"), ({"wgan_samples": 200}, "n ≤ 40")):
        win.edit_config(change)
        with qtbot.waitSignal(win.runner.sigFailed, timeout=60_000):
            win.run()
        assert words in win.status_label.text()
        assert lab.result.outcome.certificate_kind == "duality gap"
        win.edit_config({"wgan_beta": 0.25, "wgan_samples": 10})


def test_relu_view_keys_every_mark_and_redraws_the_quadratic_game(qtbot, tmp_path):
    relu = drain(run(Params(discriminator="relu", data="ring", samples=10, beta=0.25,
                            steps=100, seeds=2)))
    view = DualsWganView(standalone=True)
    qtbot.addWidget(view)
    view.resize(1300, 800)
    view.show()
    partial = {k: v for k, v in relu.arrays.items()           # the convex stage's arrays
               if k not in ("generated_gda", "critic_gda", "critic_path", "steps")}
    view.show_outcome(SimpleNamespace(arrays=partial))
    assert not view.eig_plot.keys() or view.eig_plot.keys() == ["beta"]
    view.show_outcome(relu)
    qtbot.wait(20)
    names = [label.text for _, label in view.legend.items]
    best = int(relu.arrays["gda_best"])
    for name in ("real samples", "certified generator ν* (area ∝ mass)",
                 f"linear generator, GDA seed {best} (best)", "D*'s neurons switch"):
        assert name in names
    assert sum(key.startswith("s") and key.endswith("e0") for key in view.eig_plot.keys()) == 2
    assert "beta" in view.eig_plot.keys() and view.beta_plot.keys() == ["gap"]
    keys = [label.text for _, label in view.objective_plot._legend.items]
    assert any("certified game" in key for key in keys)
    _grab_not_blank(view, tmp_path / "relu.png")
    view.show_outcome(drain(run(Params(samples=30, steps=100, seeds=1))))
    assert _names(view) == list(CRITICS) and "gap" not in view.beta_plot.keys()
    assert "eigenvalue" in view.eig_plot.plot_item.getAxis("left").labelText

"""The conv denoiser tab walked as a user would (SCIENCE.md §7.5): run the exact ReLU program,
hover the filter map, switch to the gated relaxation mid-run, cancel, refuse a too-large P;
the status line, both captions and the export carry one certificate and name the program.
pytest-qt fails the test on any exception raised in a Qt slot."""
from PySide6.QtCore import QPointF

from tests.app.conftest import run_and_wait
from tests.app.test_convex_duals_lab import _exported_certificate

SMALL = {"model": "denoiser", "den_crops": 1, "den_size": 10, "den_patterns": 10,
         "den_steps": 60, "den_seeds": 2, "seed": 5}


def _certificate_everywhere(win, tab, outcome):
    line = outcome.certificate_text()
    assert line in win.status_label.text()
    assert line in tab.objective.caption.text() and line in tab.structure.caption.text()
    return line


def test_denoiser_exact_then_gated_one_certificate_hover_cancel_refuse(lab_window, qtbot,
                                                                      tmp_path):
    win = lab_window("convex-duals", **SMALL)
    lab = win.slot.presenter
    assert win.slot.panel.row_shown("den_program")
    run_and_wait(win, qtbot)
    tab, outcome = lab.tab_of["denoiser"], lab.result.outcome
    assert lab.tabs.currentWidget() is tab and outcome.seeds.tolist() == [5, 6]
    line = _certificate_everywhere(win, tab, outcome)
    assert "exact ReLU program, duality gap" in line and outcome.certificate <= 1e-6
    assert tab.structure.caption.text().startswith("Cones kept: p* = ")
    assert _exported_certificate(win, qtbot, tmp_path / "den.npz") == outcome.certificate
    # hovering the denoised crop shows the filter applied at that pixel
    view, box = tab.structure, tab.structure.boxes[1]
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: box.vb.viewRange()[0][1] > 5, timeout=5_000)    # drawn
    box.scene().sigMouseMoved.emit(box.vb.mapViewToScene(QPointF(3.5, 2.5)))
    assert view.boxes[5].titleLabel.text == "filter at pixel (2, 3)"
    # the program changes to the gated relaxation while a run goes on
    win.auto_run.setChecked(True)
    with qtbot.waitSignal(win.runner.sigFinished, timeout=120_000):
        win.run()
        win.edit_config({"den_program": "gated relaxation"})
    qtbot.waitUntil(lambda: not win.runner.is_running(), timeout=120_000)
    win.auto_run.setChecked(False)
    gated = lab.result.outcome
    assert gated.certificate_kind == "gated relaxation, KKT residual"
    assert tab.structure.caption.text().startswith("Cones dropped: p* = ")
    _certificate_everywhere(win, tab, gated)
    # cancel: the previous result stays; a too-large exact program is refused with the reason
    with qtbot.waitSignal(win.runner.sigCancelled, timeout=10_000):
        win.run()
        win.runner.cancel()
    assert lab.result.outcome is gated
    win.edit_config({"den_program": "exact ReLU", "den_patterns": 80})
    with qtbot.waitSignal(win.runner.sigFailed, timeout=60_000):
        win.run()
    assert "P = 80 > 64" in win.status_label.text() and lab.result.outcome is gated

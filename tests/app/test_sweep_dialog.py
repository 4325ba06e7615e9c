"""Run → Sweep…: a user sweeps the gradient-flow lab in this process, sees the heat map fill,
cancels, resumes, clicks a cell to load it into the lab; bad input is refused in the dialog."""
import numpy as np
import pytest
from PySide6.QtCore import QPointF

from app.sweep_dialog import SweepDialog, open_sweep_dialog
from app.sweep_table import reduce_table
from engine.gradient_flow import FlowConfig


def _fill(dlg, tmp_path, name="s"):
    dlg.set_axis(0, "depth", "1,2")
    dlg.set_axis(1, "init_scale", "0.1, 1")
    dlg.executor_box.setCurrentIndex(dlg.executor_box.findData("local"))
    dlg.out_edit.setText(str(tmp_path / name))


def test_sweep_walk_from_the_run_menu(lab_window, qtbot, tmp_path):
    win = lab_window("gradient-flow", n_init=8, t_max=12.0, frames=30, dt=0.05)
    run_menu = next(m.menu() for m in win.menuBar().actions() if m.text() == "&Run")
    run_menu.aboutToShow.emit()
    assert win.sweep_action.isEnabled()
    win.sweep_action.trigger()
    dlg = win.sweep_dialog
    try:
        _fill(dlg, tmp_path)
        partials = []
        dlg.runner.sigPartial.connect(lambda p: partials.append(p["points"]["done"]))
        with qtbot.waitSignal(dlg.runner.sigPartial, timeout=120_000):
            assert dlg.start()
        assert not dlg.start_button.isEnabled() and not dlg.start()    # one sweep at a time
        with qtbot.waitSignal(dlg.runner.sigCancelled, timeout=60_000):
            dlg.cancel_button.click()
        assert dlg.start_button.isEnabled() and "cancelled" in dlg.status.text()
        dlg.resume_box.setChecked(True)
        with qtbot.waitSignal(dlg.runner.sigFinished, timeout=120_000):
            assert dlg.start()
        assert "Done: 4 points" in dlg.status.text()
        assert dlg.plot.mode == "heatmap" and np.isfinite(dlg.reduced.mean).all()
        dlg.metric_box.setCurrentIndex(dlg.metric_box.findData("final_loss"))  # redraws
        assert dlg.plot.mode == "heatmap"
        dlg._point_clicked((1, 1))            # what a click on the cell (depth 2, 1.0) emits
        cfg = win.slot.panel.config()
        assert cfg.depth == 2 and cfg.init_scale == 1.0
    finally:
        dlg.shutdown()
        dlg.close()


def test_bad_sweep_input_is_refused_in_the_dialog(qtbot, tmp_path):
    dlg = SweepDialog("gradient-flow", FlowConfig())
    qtbot.addWidget(dlg)
    try:
        dlg.out_edit.setText(str(tmp_path / "x"))
        assert not dlg.start() and "at least one axis" in dlg.status.text()
        dlg.set_axis(0, "depth", "1,9")
        assert not dlg.start() and "outside the valid range" in dlg.status.text()
        dlg.set_axis(0, "balanced", "true,maybe")
        assert not dlg.start() and "expected true or false" in dlg.status.text()
        dlg.set_axis(0, "depth", "1,2")
        dlg.executor_box.setCurrentIndex(dlg.executor_box.findData("address"))
        assert not dlg.start() and "scheduler's address" in dlg.status.text()
        assert not dlg.runner.is_running() and not (tmp_path / "x").exists()
        dlg.preset_box.setCurrentIndex(1)      # the convergence preset fills the axes
        assert dlg.axis_fields[0].currentData() == "depth"
        assert dlg.axis_values[1].text() == "log:0.01:1:5" and dlg.seeds_spin.value() == 2
    finally:
        dlg.shutdown()


def test_line_plot_for_one_axis_and_clicks_map_to_values(qtbot):
    import pandas as pd
    from app.sweep_table import show_table, values_at
    from widgets.sweep_plot import SweepPlot
    plot = SweepPlot()
    qtbot.addWidget(plot)
    table = pd.DataFrame({"point": [0, 1, 2, 3], "solver": ["a", "a", "b", "b"],
                          "seed": [0, 1, 0, 1], "m": [1.0, 3.0, 5.0, np.nan],
                          "seconds": 0.0, "error": ["", "", "", "boom"]})
    red = show_table(plot, table, {"solver": ["a", "b"]}, "m", 4, 4)
    assert plot.mode == "line" and "1 failed" in plot.caption.text()
    np.testing.assert_allclose(red.mean, [[2.0, 5.0]])
    np.testing.assert_allclose(red.std, [[1.0, 0.0]])
    got = []
    plot.sigPointClicked.connect(got.append)
    plot._line_click(0, [type("P", (), {"pos": lambda self: QPointF(1.0, 5.0)})()])
    assert got == [(1, 0)] and values_at(red, got[0]) == {"solver": "b"}
    assert reduce_table(table.iloc[:0], {"solver": ["a"]}, "m").failed == 0


def test_a_mouse_click_on_a_heat_map_cell_names_that_cell(qtbot):
    from PySide6.QtCore import QPoint, Qt
    from widgets.sweep_plot import SweepPlot
    plot = SweepPlot()
    qtbot.addWidget(plot)
    plot.resize(500, 400)
    plot.show()
    qtbot.waitExposed(plot)
    plot.show_heatmap("depth", ["1", "2", "3"], "scale", ["a", "b"],
                      np.arange(6.0).reshape(2, 3), "m")
    qtbot.wait(50)
    got = []
    plot.sigPointClicked.connect(got.append)
    view = plot.plot.getPlotItem().vb
    scene_pos = view.mapViewToScene(QPointF(2.0, 1.0))       # centre of cell (k=2, j=1)
    where = plot.plot.mapFromScene(scene_pos)
    qtbot.mouseClick(plot.plot.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(int(where.x()), int(where.y())))
    assert got == [(2, 1)]


def test_a_lab_without_sweep_metrics_gets_no_dialog():
    from app import menus

    class Win:
        current, said = "no-such-lab", []

        def show_message(self, text):
            self.said.append(text)

    win = Win()
    assert not menus._sweepable(win)
    menus._open_sweep(win)
    assert win.said == ["The no-such-lab lab has no sweep metrics yet."]
    assert not hasattr(win, "sweep_dialog")

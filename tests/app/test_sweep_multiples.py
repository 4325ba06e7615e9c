"""Three sweep axes: small multiples that fill in live (one heat map per value of the third
axis, or line panels with error bars over seeds for a text second axis); a click on a panel
names the point with its third-axis value."""
import numpy as np
import pandas as pd
from PySide6.QtCore import QPoint, QPointF, Qt

from app.sweep_dialog import SweepDialog
from app.sweep_table import show_table, values_at
from engine.gradient_flow import FlowConfig
from widgets.sweep_plot import SweepPlot


def test_three_axes_fill_small_multiples_live_and_a_click_loads_the_point(qtbot, tmp_path):
    dlg = SweepDialog("gradient-flow", FlowConfig(n_init=4, t_max=2.0, frames=10, dt=0.05))
    qtbot.addWidget(dlg)
    dlg.resize(900, 700)
    dlg.show()
    try:
        dlg.set_axis(0, "depth", "1,2")
        dlg.set_axis(1, "init_scale", "0.1,1")
        dlg.set_axis(2, "teacher_norm", "0.5,1,2")
        dlg.executor_box.setCurrentIndex(dlg.executor_box.findData("local"))
        dlg.out_edit.setText(str(tmp_path / "s3"))
        dlg.metric_box.setCurrentIndex(dlg.metric_box.findData("final_loss"))
        modes = []
        dlg.runner.sigPartial.connect(lambda p: modes.append(
            (p["points"]["done"], dlg.plot.mode, len(dlg.plot.multiples.panels))))
        with qtbot.waitSignal(dlg.runner.sigFinished, timeout=120_000):
            assert dlg.start()
        assert modes and modes[0][0] < 12                     # drawn before the end
        assert dlg.plot.mode == "multiples-heatmap" and len(dlg.plot.multiples.panels) == 3
        assert dlg.reduced.mean.shape == (3, 2, 2) and np.isfinite(dlg.reduced.mean).all()
        loaded = []
        dlg.sigLoadConfig.connect(loaded.append)
        view = dlg.plot.multiples.panels[2].vb                # panel teacher_norm = 2
        qtbot.wait(50)
        scene = view.mapViewToScene(QPointF(1.0, 0.0))       # cell depth 2, scale 0.1
        where = dlg.plot.multiples.mapFromScene(scene)
        qtbot.mouseClick(dlg.plot.multiples.viewport(), Qt.MouseButton.LeftButton,
                         pos=QPoint(int(where.x()), int(where.y())))
        assert loaded == [{"depth": 2, "init_scale": 0.1, "teacher_norm": 2.0}]
    finally:
        dlg.shutdown()


def test_a_text_second_axis_gives_line_panels_with_error_bars_over_seeds(qtbot):
    plot = SweepPlot()
    qtbot.addWidget(plot)
    rows = [{"n": n, "solver": s, "noise": z, "seed": seed, "m": n * (1 + seed) + z}
            for n in (10, 20) for s in ("a", "b") for z in (0.1, 0.2) for seed in (0, 1)]
    table = pd.DataFrame(rows).assign(point=range(16), seconds=0.0, error="")
    axes = {"n": [10, 20], "solver": ["a", "b"], "noise": [0.1, 0.2]}
    red = show_table(plot, table.iloc[:5], axes, "m", 5, 16)         # partial: NaN holes
    assert plot.mode == "multiples-line" and np.isnan(red.mean).any()
    red = show_table(plot, table, axes, "m", 16, 16)
    assert plot.mode == "multiples-line" and len(plot.multiples.panels) == 2
    np.testing.assert_allclose(red.mean[1, 0], [15.2, 30.2])         # noise 0.2, solver a
    np.testing.assert_allclose(red.std[1, 0], [5.0, 10.0])           # over the two seeds
    bars = [i for i in plot.multiples.panels[1].items if type(i).__name__ == "ErrorBarItem"]
    assert len(bars) == 2
    got = []
    plot.sigPointClicked.connect(got.append)
    plot.multiples._line_click(np.array([10.0, 20.0]),
                               [type("P", (), {"pos": lambda self: QPointF(19.0, 30.0)})()], 1, 1)
    assert got == [(1, 1, 1)] and values_at(red, got[0]) == {"n": 20, "solver": "b",
                                                             "noise": 0.2}
    show_table(plot, table, {"n": [10, 20], "solver": ["a", "b"]}, "m", 16, 16)
    assert plot.mode == "line" and not plot.plot.isHidden() and plot.multiples.isHidden()

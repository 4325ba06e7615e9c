"""Tests for widgets.curve_plot.CurvePlot."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6 import QtCore

from widgets.curve_plot import CurvePlot, pack_lines, subsample_columns


@pytest.fixture
def plot(qtbot):
    w = CurvePlot("title", "t", "y")
    qtbot.addWidget(w)
    w.resize(400, 300)
    w.show()
    qtbot.waitExposed(w)
    return w


def _xy(item):
    x, y = item.getOriginalDataset()
    return np.asarray(x), np.asarray(y)


def test_subsample_columns_deterministic():
    idx = subsample_columns(1000, 300)
    assert len(idx) == 300 and idx[0] == 0 and idx[-1] == 999
    assert np.all(np.diff(idx) > 0)
    assert np.array_equal(idx, subsample_columns(1000, 300))
    assert np.array_equal(subsample_columns(5, 300), np.arange(5))


def test_pack_lines_nan_separated():
    xs, ys = pack_lines(np.arange(3.0), np.arange(6.0).reshape(3, 2))
    assert np.array_equal(xs[:3], [0, 1, 2]) and np.isnan(xs[3])
    assert np.array_equal(ys[4:7], [1, 3, 5]) and np.isnan(ys[7])


def test_set_lines_with_nonfinite_and_subsampling(plot):
    T, N = 50, 1000
    Y = np.random.default_rng(0).normal(size=(T, N))
    Y[3, 0], Y[4, 999], Y[5, 0] = np.nan, np.inf, -np.inf  # kept columns
    plot.set_lines("bundle", np.linspace(0, 1, T), Y, color=(255, 0, 0), max_lines=300)
    x, y = _xy(plot.item("bundle"))
    assert len(y) == 300 * (T + 1)
    assert np.isnan(y).sum() == 300 + 3  # separators + the bad samples
    assert plot.keys() == ["bundle"]
    plot.set_lines("one", np.arange(4.0), np.ones(4), color="r")  # 1-D Y
    with pytest.raises(ValueError):
        plot.set_lines("bad", np.arange(3.0), np.ones((4, 2)))


def test_same_key_updates_in_place(plot):
    plot.set_curve("c", [0, 1, 2], [1, 2, 3], color="g", name="c")
    item = plot.item("c")
    plot.set_curve("c", [0, 1, 2, 3], [3, 2, 1, 0], color="b", name="c")
    assert plot.item("c") is item
    assert len(_xy(item)[0]) == 4
    plot.set_lines("l", np.arange(3.0), np.ones((3, 2)))
    lines = plot.item("l")
    plot.set_lines("l", np.arange(5.0), np.ones((5, 4)))
    assert plot.item("l") is lines
    plot.set_band("b", [0, 1, 2], [0, 0, 0], [1, 2, 1])
    band = plot.item("b")
    plot.set_band("b", [0, 1, 2], [0, 1, 0], [1, 2, 3])
    assert plot.item("b") is band
    assert isinstance(band, pg.FillBetweenItem)
    assert not band.path().isEmpty()


def test_legend_not_duplicated(plot):
    legend = plot.plot_item.legend
    for _ in range(3):
        plot.set_curve("a", [0, 1], [0, 1], color="r", name="alpha")
        plot.set_band("b", [0, 1], [0, 0], [1, 1], color="b", name="band")
    assert [lab.text for _, lab in legend.items] == ["alpha", "band"]
    plot.set_curve("a", [0, 1], [0, 1], color="r", name="renamed")
    assert sorted(lab.text for _, lab in legend.items) == ["band", "renamed"]
    plot.remove("a")
    assert [lab.text for _, lab in legend.items] == ["band"]
    plot.clear_items()
    assert legend.items == [] and plot.keys() == []


def test_log_axes_with_zeros(plot):
    plot.set_log(True, True)
    x = np.array([0.0, 1.0, 10.0, 100.0])
    plot.set_curve("c", x, np.array([1.0, 0.0, -1.0, 5.0]), color="w", symbol="o")
    plot.set_lines("l", x, np.array([[0.0, 1.0], [1.0, np.nan], [2.0, 3.0], [np.inf, 4.0]]))
    plot.set_band("b", x, np.zeros(4), np.ones(4))
    plot.set_hline("h", 0.0, "r", label="zero")
    plot.set_vline("v", 10.0, "g", label="ten {x}")
    plot.set_cursor(0.0)
    assert not plot.item("h").isVisible() and not plot.cursor_item().isVisible()
    assert plot.item("v").value() == pytest.approx(1.0)
    plot.set_cursor(100.0)
    assert plot.cursor_item().value() == pytest.approx(2.0)
    plot.set_log(False, False)
    assert plot.item("h").isVisible() and plot.cursor_item().value() == pytest.approx(100.0)
    plot.grab()  # paint with everything present


def test_cursor_moves_and_hides(plot):
    cursor = plot.cursor_item()
    plot.set_cursor(1.5)
    assert cursor.isVisible() and cursor.value() == pytest.approx(1.5)
    plot.set_cursor(3.0)
    assert plot.cursor_item() is cursor and cursor.value() == pytest.approx(3.0)
    plot.set_curve("c", [0, 1], [0, 1])
    plot.clear_items()
    assert cursor.isVisible() and cursor in plot.plot_item.items
    plot.set_cursor(None)
    assert not cursor.isVisible()


def test_lines_and_kind_switch(plot):
    plot.set_hline("k", 1.0, "r", label="one")
    line = plot.item("k")
    plot.set_hline("k", 2.0, "b", label="two")
    assert plot.item("k") is line and line.value() == pytest.approx(2.0)
    plot.set_curve("k", [0, 1], [0, 1])  # same key, other kind: replaced
    assert isinstance(plot.item("k"), pg.PlotDataItem)
    assert line not in plot.plot_item.items


def test_sig_clicked_data_coordinates(qtbot, plot):
    plot.plot_item.setRange(xRange=(0, 10), yRange=(0, 100), padding=0)
    plot.plot_item.vb.updateMatrix()
    scene_pt = plot.plot_item.vb.mapViewToScene(QtCore.QPointF(4.0, 25.0))
    with qtbot.waitSignal(plot.sigClicked, timeout=1000) as blocker:
        plot.handle_scene_click(scene_pt)
    x, y = blocker.args
    assert x == pytest.approx(4.0, abs=0.1) and y == pytest.approx(25.0, abs=1.0)
    # a real (synthetic) mouse click on the viewport goes through the scene
    view_pt = plot.plot_widget.mapFromScene(scene_pt)
    with qtbot.waitSignal(plot.sigClicked, timeout=2000) as blocker:
        qtbot.mouseClick(plot.plot_widget.viewport(), QtCore.Qt.MouseButton.LeftButton,
                         pos=view_pt)
    assert blocker.args[0] == pytest.approx(4.0, abs=0.2)

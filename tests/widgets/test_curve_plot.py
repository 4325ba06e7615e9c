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


# ---------------------------------------------------------------------- legend and labels
def _covered(plot, rect, x, y) -> int:
    """How many of the data points (x, y) (densely sampled curve) fall inside the scene
    rectangle ``rect``."""
    vb = plot.plot_item.vb
    pts = [vb.mapViewToScene(QtCore.QPointF(float(a), float(b))) for a, b in zip(x, y)]
    return sum(rect.contains(p) for p in pts)


def test_legend_moves_off_the_curves(plot):
    """A diagonal through the top-left and bottom-right corners: the legend (preferred
    top-left) must sit where it covers none of the curve's points, and follow new data."""
    x = np.linspace(0.0, 10.0, 400)
    plot.set_curve("a", x, 10.0 - x, color="r", name="falling curve")
    plot.set_curve("b", x, 10.5 - x, color="b", name="another falling curve")
    plot.update_overlays()
    legend = plot.plot_item.legend
    assert legend.isVisible()
    assert _covered(plot, legend.sceneBoundingRect(), x, 10.0 - x) == 0
    assert _covered(plot, legend.sceneBoundingRect(), x, 10.5 - x) == 0
    plot.set_curve("a", x, x, color="r", name="falling curve")      # now a rising diagonal
    plot.set_curve("b", x, x + 0.5, color="b", name="another falling curve")
    plot.update_overlays()
    assert _covered(plot, legend.sceneBoundingRect(), x, x) == 0


def test_legend_corner_can_be_pinned(plot):
    x = np.linspace(0.0, 10.0, 100)
    plot.set_curve("a", x, 10.0 - x, color="r", name="a")
    plot.set_legend_corner("top-left", auto=False)
    plot.update_overlays()
    vb = plot.plot_item.vb.sceneBoundingRect()
    box = plot.plot_item.legend.sceneBoundingRect()
    assert box.left() - vb.left() < 20 and box.top() - vb.top() < 20
    assert _covered(plot, box, x, 10.0 - x) > 0
    with pytest.raises(ValueError, match="corner"):
        plot.set_legend_corner("somewhere")


def test_reference_line_labels_stay_inside_the_view(plot):
    """Long labels of lines near the edges are inside the view box (never cut off)."""
    x = np.linspace(0.0, 10.0, 50)
    plot.set_curve("c", x, x, color="g")
    plot.set_hline("top", 10.0, "k", label="a rather long label of the top reference line")
    plot.set_hline("low", 0.1, "k", label="another long label near the bottom edge")
    plot.set_vline("right", 9.9, "k", label="vertical line label at the right")
    plot.update_overlays()
    vb = plot.plot_item.vb.sceneBoundingRect()
    for key in ("top", "low", "right"):
        label = plot.line_label(key)
        assert label.isVisible()
        box = label.sceneBoundingRect()
        assert vb.contains(box), (key, box, vb)


def test_reference_line_label_avoids_the_data(plot):
    """Curves just above the line's right end: the label goes where it hides no curve."""
    x = np.linspace(0.0, 10.0, 400)
    y = np.where(x > 5.0, 1.2, 4.0)              # crowds the space above y = 1 on the right
    plot.set_curve("c", x, y, color="b")
    plot.set_curve("d", [0.0, 10.0], [0.0, 5.0], color="w")
    plot.set_hline("ref", 1.0, "k", label="reference")
    plot.update_overlays()
    box = plot.line_label("ref").sceneBoundingRect()
    assert _covered(plot, box, x, y) == 0
    assert plot.plot_item.vb.sceneBoundingRect().contains(box)


def test_reference_line_in_the_legend(plot):
    plot.set_hline("opt", 1.0, (0, 0, 0), name="optimum p* = 1")
    legend = plot.plot_item.legend
    assert [lab.text for _, lab in legend.items] == ["optimum p* = 1"]
    assert plot.line_label("opt") is None
    plot.set_hline("opt", 2.0, (0, 0, 0), label="beside the line")
    assert legend.items == [] and plot.line_label("opt") is not None
    plot.remove("opt")
    assert plot.line_label("opt") is None

"""CurvePlot: readable axes for round-off data, a dot for a one-point curve."""
import numpy as np
import pytest

from widgets.curve_plot import CurvePlot
from widgets.range_guard import sane_range


@pytest.fixture
def plot(qtbot):
    p = CurvePlot()
    qtbot.addWidget(p)
    p.resize(400, 300)
    p.show()
    qtbot.waitExposed(p)
    return p


def y_range(plot, qtbot):
    qtbot.wait(20)
    return plot.plot_item.viewRange()[1]


@pytest.mark.parametrize("lo, hi, expected", [
    (-2e-154, 1e-126, (-0.5, 0.5)),         # zero up to round-off
    (1.0, 1.0 + 1e-15, (0.95, 1.05)),       # a constant up to round-off
    (0.0, 1.0, None), (-0.5, 0.5, None), (1e-20, 3e-20, None)])
def test_sane_range(lo, hi, expected):
    got = sane_range(lo, hi)
    assert got == (None if expected is None else pytest.approx(expected))


def test_round_off_curve_gets_readable_axes_and_real_data_autoscale_again(plot, qtbot):
    t = np.arange(10.0)
    plot.set_curve("g", t, np.full(10, 1e-150) * np.linspace(-1, 1, 10))
    lo, hi = y_range(plot, qtbot)
    assert (lo, hi) == pytest.approx((-0.5, 0.5))
    axis = plot.plot_item.getAxis("left")
    for spacing, values in axis.tickValues(lo, hi, 300):
        assert all("e-" not in text for text in axis.tickStrings(values, 1.0, spacing))
    plot.set_curve("g", t, 10.0 + t)             # real data: auto-range again
    lo, hi = y_range(plot, qtbot)
    assert lo <= 10.0 and hi >= 19.0 and hi - lo < 20.0


def test_empty_plot_keeps_the_default_range(plot, qtbot):
    plot.set_curve("g", [], [])
    assert y_range(plot, qtbot) == pytest.approx([0.0, 1.0])


def test_one_point_curve_shows_a_dot(plot):
    plot.set_curve("loss", [0.0], [0.3])
    item = plot.item("loss")
    assert item.opts["symbol"] == "o"
    plot.set_curve("loss", [0.0, 1.0], [0.3, 0.2])
    assert item.opts["symbol"] is None

"""The gradient-flow lab's pictures keep their claims (issue #11): curves coloured by θ(0)
as the colour bar says, the weight plane's legend off the data, titles that fit."""

import html

import numpy as np
import pytest
from PySide6 import QtCore

from tests.app.conftest import run_and_wait


@pytest.fixture
def shown(lab_window, qtbot):
    """The support-vectors preset (fewer runs), run and shown at the default window size."""
    win = lab_window("gradient-flow")
    win.apply_preset("support-vectors", run=False)
    from tests.app.conftest import set_config
    set_config(win, n_init=20, t_max=20.0)
    win.resize(1500, 950)
    win.show()
    qtbot.waitExposed(win)
    run_and_wait(win, qtbot)
    return win, win.slot.presenter


def test_curves_are_coloured_by_theta0_like_the_colour_bar(shown):
    import pyqtgraph as pg
    from app.labs.gradient_flow_views import THETA_BINS, theta_bands
    _, p = shown
    r = p.result
    bar = p.plane.color_bar
    assert bar is not None and bar.isVisible()
    assert tuple(bar.levels()) == pytest.approx((0.0, np.pi))
    viridis = pg.colormap.get("viridis")
    for plot in (p.magnitude, p.phi, p.loss):
        keys = [k for k in plot.keys() if k.startswith("theta")]
        assert len(keys) >= 2 and "all" not in plot.keys()      # not one plain colour
        drawn = 0
        for key in keys:
            band = int(key[len("theta"):])
            rgb = plot.item(key).opts["pen"].color().getRgb()[:3]
            expected = viridis.map((band + 0.5) / THETA_BINS, mode="byte")[:3]
            assert rgb == tuple(int(c) for c in expected)
            x, y = plot.item(key).getData()
            drawn += int(np.isnan(y).sum()) + 1                  # NaN-separated columns
        assert drawn >= len(r.angle[0]) - 1 and drawn <= len(r.angle[0]) + len(keys)
    # each run's curve is in the band of its own θ(0)
    cols = {k: c for k, c, _ in theta_bands(r.angle[0])}
    for band, c in cols.items():
        assert np.all((r.angle[0][c] >= band * np.pi / THETA_BINS - 1e-12)
                      & (r.angle[0][c] <= (band + 1) * np.pi / THETA_BINS + 1e-12))


def test_weight_plane_key_is_outside_and_names_every_mark(shown, qtbot):
    """The legend inside the plane hid samples; its key is below the plot, every entry of
    the canvas's legend plus the trails and θ(0)-coloured heads."""
    _, p = shown
    assert not p.plane.legend.isVisible() and not p.plane_key.isHidden()
    assert p.plane_key.geometry().top() >= p.plane.geometry().bottom()
    key = p.plane_key.text()
    names = [label.text for _, label in p.plane.legend.items]
    assert len(names) == 5                     # teacher, run, active, inactive, support
    for name in names + ["runs w(t), heads coloured by θ(0)"]:
        assert html.escape(name) in key


def test_titles_fit_at_the_default_and_small_window_sizes(shown, qtbot):
    """Issue #11: titles were cut at the default width (the depth study's)."""
    win, p = shown
    for size in ((1500, 950), (1280, 720)):
        win.resize(*size)
        for tab in range(2):
            p.tabs.setCurrentIndex(tab)
            qtbot.wait(50)
            for plot in (p.magnitude, p.phi, p.loss, p.tabs.currentWidget()):
                text_width = plot.plot_item.titleLabel.item.boundingRect().width()
                assert text_width <= plot.plot_widget.width() - 4, \
                    (size, plot.plot_item.titleLabel.text)


def legend_covers(plot) -> int:
    """Pixel samples of a CurvePlot's curves under its legend (0: it hides no data)."""
    from widgets.plot_overlays import SampleGrid
    plot.update_overlays()
    vb = plot.plot_item.vb
    grid = SampleGrid(plot.overlays.samples(), (vb.width(), vb.height()))
    return grid.count(vb.mapRectFromScene(plot.plot_item.legend.sceneBoundingRect()))


def test_step_size_legend_hides_no_curve(lab_window, qtbot):
    """gd-vs-gf: the diverging η = 6 run climbed through the legend."""
    win = lab_window("gradient-flow")
    win.apply_preset("gd-vs-gf", run=False)
    win.resize(1500, 950)
    win.show()
    qtbot.waitExposed(win)
    run_and_wait(win, qtbot)
    p = win.slot.presenter
    p.show_view("stepsize")
    qtbot.wait(50)
    assert len(p.step_plot.plot_item.legend.items) == 5
    assert any("diverged" in label.text for _, label in p.step_plot.plot_item.legend.items)
    assert legend_covers(p.step_plot) == 0


def test_lower_row_keeps_its_height_at_1280x720(shown, qtbot):
    """The weight plane's key below it must not squeeze the phase portrait and loss rows."""
    win, p = shown
    win.resize(1280, 720)
    qtbot.wait(50)
    assert p.phase.height() >= 0.8 * p.magnitude.height()
    assert p.loss.height() >= 0.8 * p.magnitude.height()
    widths = [p.plane.width(), p.magnitude.width(), p.tabs.width()]
    assert min(widths) >= 0.85 * max(widths)            # the key does not widen its column
    p.tabs.setCurrentIndex(0)
    qtbot.wait(50)
    assert legend_covers(p.depth_plot) == 0
    assert p.plane_key.sizeHint().width() <= p.plane.width()   # and is not clipped

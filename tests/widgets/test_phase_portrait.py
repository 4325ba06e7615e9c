"""Tests for widgets.phase_portrait.PhasePortrait (headless, pytest-qt)."""

import numpy as np
import pytest

from widgets.phase_portrait import PhasePortrait, arrow_segments, demo_flow
from widgets.trajectory_layer import SETTLE_FRAMES
from tests.widgets.helpers import image_array




@pytest.fixture
def portrait(qtbot):
    widget = PhasePortrait(trail_length=10)
    qtbot.addWidget(widget)
    widget.resize(500, 400)
    widget.show()
    return widget


@pytest.fixture(scope="module")
def flow():
    return demo_flow(n_frames=60, n_traj=500)


def test_arrow_segments_normalised_in_grid_units():
    R, TH = np.meshgrid(np.linspace(0.0, 2.0, 5), np.linspace(0.0, np.pi, 4))
    dR, dTH = np.ones_like(R) * 3.0, np.ones_like(R) * 0.01
    dR[0, 0] = dTH[0, 0] = 0.0          # zero vector: skipped
    dR[1, 1] = np.nan                   # non-finite: skipped
    x, y, speed = arrow_segments(R, TH, dR, dTH, length=0.8)
    m = R.size - 2
    assert x.shape == y.shape == (6 * m,) and speed.shape == (m,)
    sx, sy = x.reshape(m, 6), y.reshape(m, 6)
    shaft = np.hypot((sx[:, 1] - sx[:, 0]) / 0.5, (sy[:, 1] - sy[:, 0]) / (np.pi / 3))
    np.testing.assert_allclose(shaft, 0.8)
    np.testing.assert_allclose(sx[:, 2], sx[:, 1])       # barbs start at the tip


def test_field_is_one_item_updated_in_place(portrait, flow):
    item = portrait.field_item
    R, TH, dR, dTH = flow[2]
    portrait.set_field(R, TH, dR, dTH)
    x, _ = item.getData()
    assert portrait.field_item is item and len(x) == 6 * R.size
    portrait.set_field(R[:3], TH[:3], dR[:3], dTH[:3], color_by_speed=True)
    assert portrait.field_item is item and len(item.getData()[0]) == 6 * R[:3].size
    assert len(portrait.speed_item.data) == R[:3].size


def test_trajectories_subsampled_trails_and_heads(portrait, flow):
    r, th, _ = flow
    heads, trails = portrait.layer.heads, portrait.layer.trails
    portrait.set_trajectories(r, th)
    portrait.set_frame(30)
    x, y = trails.getData()
    n_drawn = len(heads.data)
    assert n_drawn <= 300 and n_drawn >= 250
    assert len(x) == n_drawn * (10 + 1 + 1) and np.isnan(x).sum() == n_drawn
    portrait.set_frame(40)
    assert portrait.layer.heads is heads and portrait.layer.trails is trails
    portrait.set_trail_length(0)              # the whole history: cached part + live part
    settled = portrait.layer._settled_to
    assert 0 < settled < 40 and settled % SETTLE_FRAMES == 0
    assert len(portrait.layer.settled.getData()[0]) == n_drawn * (settled + 1 + 1)
    assert len(trails.getData()[0]) == n_drawn * (40 - settled + 1 + 1)


def test_angle_axis_ticks_and_range(portrait, flow):
    portrait.set_trajectories(*flow[:2])
    ticks = portrait.plot_item.getAxis("left")._tickLevels[0]
    assert [label for _, label in ticks] == ["0", "π/4", "π/2", "3π/4", "π"]
    (x0, x1), (y0, y1) = portrait.plot_item.getViewBox().viewRange()
    assert y0 <= 0.0 and y1 >= np.pi and x0 <= 0.0 and x1 >= np.nanmax(flow[0])


def test_fixed_point_and_nullcline(portrait):
    portrait.set_fixed_point(1.0, 0.0)
    np.testing.assert_allclose(portrait.fixed_item.getData()[0], [1.0])
    th = np.linspace(0, np.pi, 50)
    portrait.set_nullcline((np.sin(th) + (np.pi - th) * np.cos(th)) / np.pi, th)
    assert len(portrait.nullcline_item.getData()[0]) == 50
    labels = [label.text for _sample, label in portrait.legend.items]
    assert len(labels) == 2
    portrait.set_nullcline(None, None)
    assert len(portrait.legend.items) == 1


def test_legend_keys_every_mark_drawn(portrait):
    """Issue #11: a key for every mark: the runs' trails and dots and the direction field."""
    r, th = np.meshgrid(np.linspace(0.1, 1.5, 6), np.linspace(0, np.pi, 5))
    portrait.set_field(r, th, 1.0 - r, -np.sin(th))
    portrait.set_trajectories(np.linspace(0.1, 1, 20)[:, None] * np.ones(4),
                              np.linspace(2, 0, 20)[:, None] * np.ones(4))
    portrait.set_fixed_point(1.0, 0.0)
    labels = [label.text for _sample, label in portrait.legend.items]
    assert labels == ["runs (‖w‖, θ)(t); dots: now", "direction of the flow",
                      "optimum (‖w‖ = ν, θ = 0)"]


def test_nonfinite_and_colors(portrait):
    r = np.abs(np.random.default_rng(0).normal(size=(20, 8))) + 0.1
    th = np.random.default_rng(1).uniform(0, np.pi, size=(20, 8))
    r[10:, 3] = np.inf
    th[4, 5] = np.nan
    portrait.set_trajectories(r, th)
    portrait.set_colors(np.where(np.arange(8) == 2, np.nan, np.arange(8.0)))
    for i in range(20):
        portrait.set_frame(i)
    assert len(portrait.layer.heads.data) == 7
    portrait.grab()


def test_shape_mismatch_rejected(portrait):
    with pytest.raises(ValueError):
        portrait.set_trajectories(np.zeros((4, 3)), np.zeros((4, 2)))


def test_click_maps_to_original_index(portrait, flow, qtbot):
    portrait.set_trajectories(*flow[:2])
    heads = portrait.layer.heads
    expected = int(portrait.layer.head_index[7])
    assert expected != 7                                   # subsampled
    with qtbot.waitSignal(portrait.sigTrajectoryClicked) as blocker:
        heads.sigClicked.emit(heads, heads.points()[7:8], None)
    assert blocker.args == [expected]


def test_grab_is_not_blank(portrait, flow):
    portrait.set_field(*flow[2])
    portrait.set_trajectories(*flow[:2])
    portrait.set_frame(20)
    pixels = image_array(portrait.grab().toImage())
    assert pixels[..., :3].astype(float).var() > 0

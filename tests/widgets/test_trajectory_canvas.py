"""Tests for widgets.trajectory_canvas.TrajectoryCanvas (headless, pytest-qt)."""

import numpy as np
import pytest

from widgets.trajectory_canvas import (
    TrajectoryCanvas, brushes_for, finite_bounds, synthetic_trajectories,
)
from tests.widgets.helpers import image_array

T, N = 20, 5




@pytest.fixture
def canvas(qtbot):
    widget = TrajectoryCanvas(trail_length=4)
    qtbot.addWidget(widget)
    widget.resize(500, 400)
    widget.show()
    w, v = synthetic_trajectories(T, N, 2, seed=3)
    widget.set_trajectories(w, v)
    return widget


def trail_data(widget):
    x, y = widget.layer.trails.getData()
    return np.asarray(x), np.asarray(y)


def test_trails_are_one_nan_separated_item(canvas):
    canvas.set_frame(10)
    x, y = trail_data(canvas)
    assert x.shape == y.shape == (N * (4 + 1 + 1),)       # frames 6..10 plus one NaN each
    assert np.isnan(x).sum() == N
    assert np.isnan(x).reshape(N, 6)[:, -1].all()
    assert len(canvas.layer.heads.data) == N
    np.testing.assert_allclose(canvas.layer.heads.getData()[0], canvas._w[10, :, 0])


def test_set_frame_updates_items_in_place(canvas):
    items = (canvas.layer.trails, canvas.layer.heads, canvas.highlight_item)
    canvas.set_frame(3)
    first = trail_data(canvas)[0].copy()
    canvas.set_frame(15)
    assert (canvas.layer.trails, canvas.layer.heads, canvas.highlight_item) == items
    assert not np.array_equal(first, trail_data(canvas)[0])
    assert canvas.frame == 15
    canvas.set_frame(10_000)
    assert canvas.frame == T - 1


def test_trail_length(canvas):
    canvas.set_frame(12)
    canvas.set_trail_length(0)                      # whole history: frames 0..12
    assert trail_data(canvas)[0].size == N * (13 + 1)
    canvas.set_trail_length(2)
    assert trail_data(canvas)[0].size == N * (3 + 1)
    canvas.set_frame(0)
    assert trail_data(canvas)[0].size == N * 2


def test_view_covers_data_teacher_and_origin(qtbot):
    widget = TrajectoryCanvas()
    qtbot.addWidget(widget)
    w = np.full((3, 2, 2), 5.0)
    widget.set_trajectories(w, np.array([-2.0, 1.0]))
    (x0, x1), (y0, y1) = widget.plot_item.getViewBox().viewRange()
    assert x0 <= -2.0 and x1 >= 5.0 and y0 <= 0.0 and y1 >= 5.0
    assert widget.plot_item.getViewBox().state["aspectLocked"]


def test_highlight_draws_run_and_activation_boundary(canvas):
    canvas.set_frame(8)
    canvas.set_highlight(1)
    assert canvas.highlight_item.isVisible() and canvas.boundary_item.isVisible()
    assert len(canvas.highlight_item.getData()[0]) == 9
    assert len(canvas.future_item.getData()[0]) == T - 8
    angle = np.radians(canvas.boundary_item.angle)
    w = canvas._w[8, 1]
    assert abs(np.cos(angle) * w[0] + np.sin(angle) * w[1]) < 1e-6 * np.linalg.norm(w)
    canvas.set_highlight(None)
    assert not canvas.highlight_item.isVisible() and not canvas.boundary_item.isVisible()


def test_sample_colours_active_inactive_support(canvas):
    X = np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1]])
    canvas.set_samples(X)
    active = np.array([True, False, True, False])
    canvas.set_sample_state(active, support=np.array([True, False, False, False]))
    colors = [b.color().name() for b in canvas.samples_item.data["brush"]]
    assert colors[0] == colors[2] != colors[1] == colors[3]
    assert canvas.support_item.isVisible() and len(canvas.support_item.data) == 1
    ring = canvas.support_item.opts["pen"].color().name()
    assert ring not in (colors[0], colors[1])
    labels = [label.text for _sample, label in canvas.legend.items]
    assert {"active", "inactive", "support vector (active at the limit)"} <= set(labels)


def test_active_state_follows_highlighted_run(canvas):
    X = np.random.default_rng(0).normal(size=(12, 2))
    canvas.set_samples(X)
    canvas.set_sample_state(None)
    canvas.set_highlight(2)
    canvas.set_frame(5)
    expected = X @ canvas._w[5, 2] > 0
    active_color = canvas._sample_brushes[0].color().name()
    got = np.array([b.color().name() == active_color for b in canvas.samples_item.data["brush"]])
    np.testing.assert_array_equal(got, expected)


def test_colors_by_value_with_nan(canvas):
    canvas.set_colors(np.array([0.0, 1.0, np.nan, 2.0, 3.0]), label="loss")
    canvas.set_frame(4)
    names = [b.color().name() for b in canvas.layer.heads.data["brush"]]
    assert len(set(names)) == N
    assert canvas.color_bar is not None and canvas.color_bar.isVisible()
    canvas.set_colors(None)
    assert not canvas.color_bar.isVisible()


def test_colors_survive_new_data_of_same_size(canvas):
    canvas.set_colors(np.arange(N, dtype=float))
    w, v = synthetic_trajectories(T, N, 2, seed=9)
    canvas.set_trajectories(w, v)
    assert canvas.layer.colored and canvas.color_bar.isVisible()
    canvas.set_trajectories(w[:, :2], v)
    assert not canvas.layer.colored and not canvas.color_bar.isVisible()
    with pytest.raises(ValueError):
        canvas.set_colors(np.arange(N, dtype=float))


def test_brushes_are_quantised_and_shared():
    brushes, limits, _ = brushes_for(np.linspace(0, 1, 1000))
    assert limits == (0.0, 1.0)
    assert len({id(b) for b in brushes}) <= 64


def test_nonfinite_trajectories_do_not_crash(qtbot):
    widget = TrajectoryCanvas(trail_length=0)
    qtbot.addWidget(widget)
    w, v = synthetic_trajectories(T, N, 2)
    w[5:, 2] = np.nan
    w[7, 0] = np.inf
    widget.set_trajectories(w, v)
    widget.set_colors(np.arange(N, dtype=float))
    widget.set_highlight(2)
    widget.set_samples(np.ones((3, 2)))
    for i in range(T):
        widget.set_frame(i)
        widget.grab()
    assert len(widget.layer.heads.data) == N - 1
    assert not widget.boundary_item.isVisible()          # highlighted run diverged
    lo, hi = finite_bounds(w)
    assert np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))
    widget.set_trajectories(np.full((4, 3, 2), np.nan), v)   # nothing finite at all
    widget.set_trajectories(np.zeros((4, 0, 2)), v)          # no trajectories
    widget.grab()


def test_bad_shape_rejected(canvas):
    with pytest.raises(ValueError):
        canvas.set_trajectories(np.zeros((4, 3, 3)), np.zeros(2))


def test_axis_labels(canvas):
    assert canvas.plot_item.getAxis("bottom").labelText == "w₁"
    canvas.set_axis_labels("x", "y")
    assert canvas.plot_item.getAxis("left").labelText == "y"


def test_click_on_head_emits_original_index(canvas, qtbot):
    canvas.set_frame(3)
    heads = canvas.layer.heads
    with qtbot.waitSignal(canvas.sigTrajectoryClicked) as blocker:
        heads.sigClicked.emit(heads, heads.points()[3:4], None)
    assert blocker.args == [3]


def test_grab_is_not_blank(canvas):
    canvas.set_samples(np.random.default_rng(0).normal(size=(10, 2)))
    canvas.set_highlight(0)
    canvas.set_frame(10)
    pixels = image_array(canvas.grab().toImage())
    assert pixels.shape[0] > 100 and pixels[..., :3].astype(float).var() > 0


def test_cached_history_looks_like_the_whole_trails(qtbot, monkeypatch):
    """Whole-history trails split into a pixmap-cached part (frames 0…s) and live strokes
    (s…i) look like the trails stroked whole: pixels differ by more than 2 levels only
    where the two parts meet (the frame-s points, drawn by both)."""
    import widgets.trajectory_layer as layer
    from PySide6.QtCore import QPointF
    widget = TrajectoryCanvas(trail_length=0)
    qtbot.addWidget(widget)
    widget.resize(420, 380)
    widget.show()
    w, v = synthetic_trajectories(60, 150, 2, seed=3)
    widget.set_trajectories(w, v)
    qtbot.waitExposed(widget)

    def shown(frame):
        widget.set_frame(frame - 1)
        widget.set_frame(frame)
        return image_array(widget.plot_widget.grab().toImage()).astype(int)

    split = shown(40)
    settled = widget.layer._settled_to
    assert settled == 32                              # 150 runs × 41 frames: split
    monkeypatch.setattr(layer, "SETTLE_POINTS", 10 ** 12)
    whole = shown(40)
    assert widget.layer._settled_to == -1
    ys, xs = np.nonzero(np.abs(split - whole).max(axis=2) > 2)
    view = widget.plot_item.getViewBox()
    meet = np.array([[p.x(), p.y()] for p in
                     (view.mapViewToDevice(QPointF(*pt)) for pt in w[settled])])
    ratio = widget.plot_widget.devicePixelRatioF()
    gap = np.hypot(xs[:, None] / ratio - meet[None, :, 0], ys[:, None] / ratio - meet[None, :, 1])
    assert len(xs) < 3 * len(meet)                    # a frame off: ~800 pixels differ
    assert (gap.min(axis=1) <= 2.5).all()

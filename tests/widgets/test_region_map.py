"""Tests for widgets.region_map.RegionMap (pytest-qt; under Xvfb or QT_QPA_PLATFORM=offscreen)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from widgets.region_map import (
    RegionMap,
    boundary_mask,
    clip_lines,
    hash_index,
    region_palette,
)
from tests.widgets.helpers import image_array

XLIM, YLIM = (-2.0, 2.0), (-1.0, 1.0)


@pytest.fixture
def view(qtbot):
    w = RegionMap()
    qtbot.addWidget(w)
    w.resize(500, 400)
    w.show()
    qtbot.waitExposed(w)
    return w


def grid_ids(nx=40, ny=20, x_split=0.5, left=7, right=1 << 40):
    """Two regions split at x = x_split on the node grid of XLIM × YLIM."""
    x = np.linspace(*XLIM, nx)
    return np.where(x[None, :] < x_split, left, right).repeat(ny, axis=0).astype(np.int64)


def colour_at(view, ids, j, i):
    """RGB the region image gives to grid node ``[j, i]``."""
    return tuple(view._lut[view.region_image.image[j, i]])




def test_palette_and_hash():
    lut = region_palette()
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    assert len({tuple(c) for c in lut}) == 256                        # all distinct
    assert lut.min() >= 140 and lut.max(axis=1).min() >= 230          # pastel (light)
    ids = np.arange(-5, 5000, dtype=np.int64)
    assert np.array_equal(hash_index(ids), hash_index(ids.astype(np.int32)))
    for j in range(64):                                               # one-bit flips differ
        a = np.array([0, 12345, -7], dtype=np.int64)
        b = (a.view(np.uint64) ^ np.uint64(1 << j)).view(np.int64)
        assert np.all(hash_index(a) != hash_index(b))


def test_same_id_same_colour_across_updates(view):
    ids1 = grid_ids(left=7, right=12)
    view.set_pattern_ids(ids1, XLIM, YLIM)
    c7 = colour_at(view, ids1, 0, 0)
    ids2 = grid_ids(x_split=-1.0, left=99, right=7)                  # 7 now on the right
    view.set_pattern_ids(ids2, XLIM, YLIM)
    assert colour_at(view, ids2, 5, -1) == c7
    assert colour_at(view, ids2, 5, 0) != c7
    # the engine form: ids renumbered 0..K-1, colours follow the stable keys
    view.set_pattern_ids(np.where(ids2 == 7, 0, 1), XLIM, YLIM, keys=np.array([7, 99]))
    assert colour_at(view, ids2, 5, -1) == c7


def test_adjacent_regions_differ(view):
    for left, right in ((0, 1), (3, 4), (0, 1 << 11), (5, 6)):
        ids = grid_ids(left=left, right=right)
        view.set_pattern_ids(ids, XLIM, YLIM)
        assert colour_at(view, ids, 3, 0) != colour_at(view, ids, 3, -1)


def test_image_rect_and_in_place_update(view):
    ids = grid_ids(nx=41, ny=21)
    view.set_pattern_ids(ids, XLIM, YLIM)
    item = view.region_image
    rect = item.mapRectToParent(item.boundingRect())
    dx, dy = 4.0 / 40, 2.0 / 20                                       # node spacing
    assert rect.left() == pytest.approx(XLIM[0] - dx / 2)
    assert rect.right() == pytest.approx(XLIM[1] + dx / 2)
    assert rect.top() == pytest.approx(YLIM[0] - dy / 2)
    assert rect.bottom() == pytest.approx(YLIM[1] + dy / 2)
    # pixel [j, i] is centred on the grid node (linspace(*XLIM)[i], linspace(*YLIM)[j])
    centre = item.mapToParent(QtCore.QPointF(40 + 0.5, 0 + 0.5))
    assert (centre.x(), centre.y()) == pytest.approx((XLIM[1], YLIM[0]))
    (x0, x1), (y0, y1) = view.plot_item.vb.viewRange()
    assert x0 <= XLIM[0] and x1 >= XLIM[1] and y0 <= YLIM[0] + 1e-9 and y1 >= YLIM[1] - 1e-9
    items = list(view.plot_item.items)
    view.set_pattern_ids(grid_ids(nx=41, ny=21, x_split=0.0), XLIM, YLIM)
    assert view.region_image is item and list(view.plot_item.items) == items
    assert view.region_image.image.shape == (21, 41)
    with pytest.raises(ValueError):
        view.set_pattern_ids(np.zeros(5, dtype=int), XLIM, YLIM)


def test_boundaries_overlay(view):
    ids = grid_ids()
    assert np.array_equal(boundary_mask(ids).sum(axis=1), np.ones(20))
    view.set_pattern_ids(ids, XLIM, YLIM)
    assert not view.boundary_image.isVisible()
    view.set_boundaries(True)
    assert view.boundary_image.isVisible()
    assert view.boundary_image.mapRectToParent(view.boundary_image.boundingRect()) == \
        view.region_image.mapRectToParent(view.region_image.boundingRect())
    assert view.boundary_image.image.sum() >= 20
    view.set_boundaries(False)
    assert not view.boundary_image.isVisible()


def test_output_modes_heat_map_and_isocurve(view):
    ids = grid_ids()
    x = np.linspace(*XLIM, 40)
    out = np.repeat((x - 0.5)[None, :], 20, axis=0)                  # zero at x = 0.5
    view.set_pattern_ids(ids, XLIM, YLIM)
    view.set_output(out)
    assert view.region_image.isVisible() and not view.output_image.isVisible()
    view.set_mode("output")
    assert view.output_image.isVisible() and not view.region_image.isVisible()
    assert view.output_image.mapRectToParent(view.output_image.boundingRect()) == \
        view.region_image.mapRectToParent(view.region_image.boundingRect())
    assert view.output_image.levels == pytest.approx((-2.5, 2.5))    # centred at 0
    zero = next(iso for iso in view.isocurves if iso.level == 0)
    assert zero.isVisible()
    zero.generatePath()
    path = zero.mapRectToParent(zero.path.boundingRect())
    assert path.left() == pytest.approx(0.5, abs=0.06)               # the decision boundary
    assert path.width() < 0.1 and path.height() > 1.9
    view.set_mode("both")
    assert view.output_image.isVisible() and view.region_image.isVisible()
    assert view.region_image.opacity() < 1
    view.set_output(None)
    assert not view.output_image.isVisible() and not zero.isVisible()
    with pytest.raises(ValueError):
        view.set_mode("surface")


def test_lines_clipped_to_view(view):
    view.set_pattern_ids(grid_ids(), XLIM, YLIM)
    W = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0], [1.0, 0.0]])
    b = np.array([-0.5, 0.2, 0.3, 1.0, -50.0])                       # zero row; far line
    view.set_lines(W, b, colors=["r", "g", "b", "k", "y"])
    (x0, x1), (y0, y1) = view.plot_item.vb.viewRange()
    _seg, keep = clip_lines(W, b, (x0, x1), (y0, y1))
    assert list(keep) == [0, 1, 2]
    x, y = (np.asarray(a) for a in view.lines_item.getData())
    ends = np.stack([x, y], axis=1)[:2 * len(keep)].reshape(-1, 2, 2)  # then the ticks
    for (p, q), j in zip(ends, keep):
        assert W[j] @ p + b[j] == pytest.approx(0, abs=1e-9)
        assert W[j] @ q + b[j] == pytest.approx(0, abs=1e-9)
        for pt in (p, q):
            assert x0 - 1e-9 <= pt[0] <= x1 + 1e-9 and y0 - 1e-9 <= pt[1] <= y1 + 1e-9
    tips = np.stack(view.line_marks.getData(), axis=1)
    assert np.all(np.einsum("ij,ij->i", W[keep], tips) + b[keep] > 0)  # ticks: positive side
    assert view.lines_item.opts["connect"] == "pairs"
    view.plot_item.vb.setRange(xRange=(-0.2, 0.2), yRange=(-0.2, 0.2), padding=0)
    (x0, x1), (y0, y1) = view.plot_item.vb.viewRange()
    assert x1 - x0 < 1.0
    k = len(clip_lines(W, b, (x0, x1), (y0, y1))[1])
    x, y = (np.asarray(a)[:2 * k] for a in view.lines_item.getData())  # re-clipped on zoom
    assert k and x.min() >= x0 - 1e-9 and x.max() <= x1 + 1e-9
    assert y.min() >= y0 - 1e-9 and y.max() <= y1 + 1e-9
    view.set_lines(None, None)
    assert not view.lines_item.isVisible()


def test_data_scatter(view):
    X = np.random.default_rng(0).normal(size=(30, 2))
    y = np.where(np.arange(30) % 3 == 0, 1.0, -1.0)
    view.set_data(X, y)
    assert len(view.data_item.data) == 30 and view.data_item.isVisible()
    brushes = {b.color().name() for b in view.data_item.data["brush"]}
    assert len(brushes) == 2
    view.set_data(X, (y > 0).astype(float))                           # 0/1 labels
    assert {b.color().name() for b in view.data_item.data["brush"]} == brushes
    Xn = X.copy()
    Xn[0, 0] = np.nan
    view.set_data(Xn, np.linspace(0, 1, 30), kind="regression")
    assert len(view.data_item.data) == 29
    assert len({b.color().name() for b in view.data_item.data["brush"]}) > 10
    view.set_data(None)
    assert not view.data_item.isVisible()
    with pytest.raises(ValueError):
        view.set_data(X, y, kind="ordinal")


def test_info_text_is_a_caption_outside_the_map(view):
    """Issue #11: info boxes must not sit over the maps."""
    view.set_info("exact regions in view: 214\nsecond line")
    assert not view.caption.isHidden()
    assert view.info_text() == "exact regions in view: 214\nsecond line"
    assert view.caption.parent() is view and view.caption.geometry().bottom() <= \
        view.plot_widget.geometry().top()
    view.set_info("")
    assert view.caption.isHidden()


def test_the_key_has_an_entry_for_every_kind_of_mark_drawn(view):
    """Issue #11: a key for every mark (thick black f = 0, dashed isolines, neuron lines,
    white-dot ticks, data classes), and none for marks not drawn."""
    assert view.key_entries() == [] and view.key.isHidden()
    view.set_pattern_ids(grid_ids(), XLIM, YLIM)
    view.set_data(np.array([[0.1, 0.2], [0.3, -0.4]]), np.array([1.0, -1.0]))
    assert view.key_entries() == ["pos", "neg"]
    W, b = np.array([[1.0, 0.5], [-0.3, 1.0]]), np.array([0.1, -0.2])
    view.set_lines(W, b)
    assert view.key_entries() == ["lines", "ticks", "pos", "neg"]
    view.set_lines(W, b, ticks=False)
    assert "ticks" not in view.key_entries()
    xs = np.linspace(*XLIM, grid_ids().shape[1])
    view.set_output(np.tile(xs, (grid_ids().shape[0], 1)))
    assert view.key_entries()[:2] == ["boundary", "isolines"]
    view.set_mode("both")
    assert "output" in view.key_entries()
    view.set_data(np.array([[0.1, 0.2]]), np.array([1.0]))
    assert "neg" not in view.key_entries()
    text = view.key.text()
    for kind in view.key_entries():
        assert view.region_key.names[kind] in text
    view.set_key_names(lines="the points' lines")
    assert "the points' lines" in view.key.text() and not view.key.isHidden()
    with pytest.raises(ValueError):
        view.set_key_names(stems="x")


def test_hover_and_click_signals(qtbot, view):
    view.set_pattern_ids(grid_ids(), XLIM, YLIM)
    vb = view.plot_item.vb
    vb.setRange(xRange=XLIM, yRange=YLIM, padding=0)
    vb.updateMatrix()
    scene_pt = vb.mapViewToScene(QtCore.QPointF(0.5, -0.25))
    with qtbot.waitSignal(view.sigHover, timeout=1000) as blocker:
        view.handle_scene_move(scene_pt)
    assert blocker.args == pytest.approx([0.5, -0.25], abs=0.02)
    view.set_hover_text("pattern 101\nf(x) = x₁ - 1")
    assert view.hover_item.isVisible()
    view_pt = view.plot_widget.mapFromScene(scene_pt)
    viewport = view.plot_widget.viewport()
    with qtbot.waitSignal(view.sigHover, timeout=2000) as blocker:    # via the SignalProxy
        qtbot.mouseMove(viewport, pos=view_pt + QtCore.QPoint(3, 0))
    assert blocker.args[0] == pytest.approx(0.5, abs=0.1)
    with qtbot.waitSignal(view.sigClicked, timeout=2000) as blocker:
        qtbot.mouseClick(viewport, QtCore.Qt.MouseButton.LeftButton, pos=view_pt)
    assert blocker.args == pytest.approx([0.5, -0.25], abs=0.05)
    view.handle_scene_move(QtCore.QPointF(-50, -50))                  # outside: text hidden
    assert not view.hover_item.isVisible()


def test_grab_not_blank(qtbot, view):
    ids = grid_ids(nx=120, ny=60)
    view.set_pattern_ids(ids, XLIM, YLIM)
    view.set_data(np.array([[0.0, 0.0], [1.0, 0.5]]), np.array([1, -1]))
    qtbot.wait(20)
    # convert here and keep the QImage alive while its pixels are read (the helper's own
    # converted copy dies on return, leaving its array dangling)
    qimage = view.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGBA8888)
    img = image_array(qimage)[..., :3].reshape(-1, 3).copy()
    colours = {tuple(c) for c in img[:: 7]}
    assert len(colours) > 10
    lut = {tuple(c) for c in view._lut[np.unique(view.region_image.image)]}
    assert lut <= colours                                             # both regions painted


def test_region_colors_match_the_map(view):
    from widgets.region_style import region_colors
    ids = grid_ids(left=3, right=9)
    view.set_pattern_ids(ids, XLIM, YLIM)
    rgb = region_colors(ids)
    assert rgb.shape == ids.shape + (3,)
    assert tuple(rgb[0, 0]) == colour_at(view, ids, 0, 0)
    assert tuple(rgb[0, -1]) == colour_at(view, ids, 0, ids.shape[1] - 1)
    keys = np.array([123, 456], dtype=np.uint64)                      # renumbered ids + keys
    small = (ids == 9).astype(np.int32)
    view.set_pattern_ids(small, XLIM, YLIM, keys=keys)
    assert tuple(region_colors(small, keys)[0, -1]) == colour_at(view, small, 0, -1)


def test_faded_regions(view):
    ids = grid_ids()
    view.set_pattern_ids(ids, XLIM, YLIM)
    assert not view.fade_image.isVisible()
    mask = ids == 7
    view.set_faded(mask)
    assert view.fade_image.isVisible()
    assert np.array_equal(view.fade_image.image, mask.view(np.uint8))
    with pytest.raises(ValueError, match="mask"):
        view.set_faded(np.ones((3, 3), bool))
    view.set_mode("output")                   # hidden with the regions (no output set: kept)
    view.set_pattern_ids(ids, XLIM, YLIM)     # new ids clear the stale mask
    assert not view.fade_image.isVisible()
    view.set_faded(mask)
    view.set_faded(None)
    assert not view.fade_image.isVisible()


def _grab_rgb(view, qtbot):
    qtbot.wait(20)
    qimage = view.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGBA8888)
    return image_array(qimage)[..., :3].astype(int).copy()


def test_faded_and_boundary_pixels_are_painted(qtbot, view):
    """The 0/1 mask images must map 1 to the LUT's second entry (levels (0, 1))."""
    ids = grid_ids(nx=80, ny=40, left=3, right=11)
    view.set_pattern_ids(ids, XLIM, YLIM)
    vb = view.plot_item.vb
    vb.setRange(xRange=XLIM, yRange=YLIM, padding=0)
    left_pt = view.plot_widget.mapFromScene(vb.mapViewToScene(QtCore.QPointF(-1.5, 0.0)))
    right_pt = view.plot_widget.mapFromScene(vb.mapViewToScene(QtCore.QPointF(1.5, 0.0)))
    before = _grab_rgb(view, qtbot)
    view.set_faded(ids == 3)                                          # wash out the left
    after = _grab_rgb(view, qtbot)
    lx, ly, rx, ry = left_pt.x(), left_pt.y(), right_pt.x(), right_pt.y()
    assert after[ly, lx].min() > before[ly, lx].min() + 20           # lighter
    assert after[ly, lx].min() >= 235
    assert np.array_equal(after[ry, rx], before[ry, rx])              # untouched
    view.set_boundaries(True)
    edge = view.plot_widget.mapFromScene(vb.mapViewToScene(QtCore.QPointF(0.5, 0.0)))
    dark = _grab_rgb(view, qtbot)[edge.y(), edge.x() - 3: edge.x() + 4].sum(axis=1).min()
    assert dark < after[ry, rx].sum() - 100                           # the split is drawn


def test_hover_readout_box_stays_inside_the_view():
    """Beside the cursor, flipped towards the centre, shifted inside when it is wide."""
    from widgets.region_style import hover_anchor
    assert hover_anchor(50, 40, 400, 300, (100, 30)) == (64, 54)            # below-right
    assert hover_anchor(350, 250, 400, 300, (100, 30)) == (238, 210)        # above-left
    left, top = hover_anchor(300, 40, 400, 300, (360, 30))                  # too wide to flip
    assert 0 <= left and left + 360 <= 400 and top == 54


def test_a_deleted_map_is_freed(qtbot):
    """Its hover proxy (no Qt parent) must not keep the map alive through its slot."""
    import gc
    import weakref

    from PySide6.QtWidgets import QApplication, QWidget
    parent = QWidget()
    region_map = weakref.ref(RegionMap(parent))
    parent.deleteLater()
    del parent
    QApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)
    gc.collect()
    assert region_map() is None

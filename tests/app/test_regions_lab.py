"""The activation-regions lab in the shell: runs, certified optimum, data entry, hover."""

import numpy as np
import pytest

from tests.app.conftest import run_and_wait

SMALL = {"n_points": 12, "width": 8, "steps": 200, "n_seeds": 2, "grid": 64, "snapshots": 5,
         "dataset": "xor"}


@pytest.fixture
def window(lab_window):
    return lab_window("regions", **SMALL)


def test_run_shows_regions_and_certified_optimum(window, qtbot):
    run_and_wait(window, qtbot)
    presenter = window.slot.presenter
    r = presenter.result
    assert window.playback.frame_count() == 5
    assert r.convex.objective <= min(run.objective[-1] for run in r.runs) + 1e-9
    assert "certified global optimum" in window.status_label.text()
    window.playback.sigFrameChanged.emit(2)
    assert presenter._frame == 2
    presenter._hover(presenter.map, 0.1, 0.2, presenter._net())


def test_a_click_adds_a_point_to_the_spiral_and_the_run_succeeds(lab_window, qtbot):
    """Issue #11: a click on the spiral preset keeps the spiral's points and adds one; the
    point is drawn at once and the run uses all of them."""
    from engine.regions import make_dataset
    win = lab_window("regions")
    win.apply_preset("sgd-vs-convex-spiral", run=False)
    from tests.app.conftest import set_config
    set_config(win, **{k: v for k, v in SMALL.items() if k not in ("dataset", "n_points")})
    cfg = win.slot.panel.config()
    assert cfg.dataset == "spiral"
    X, y = make_dataset("spiral", cfg.n_points, cfg.noise, cfg.seed)
    presenter = win.slot.presenter
    presenter._clicked(0.25, -0.5)
    cfg = win.slot.panel.config()
    assert cfg.dataset == "custom" and len(cfg.custom_points) == len(X) + 1
    rows = np.asarray(cfg.custom_points)
    np.testing.assert_allclose(rows[:-1], np.c_[X, y])
    np.testing.assert_array_equal(rows[-1], [0.25, -0.5, 1.0])
    assert len(presenter.map.data_item.data) == len(X) + 1             # drawn before a run
    run_and_wait(win, qtbot)
    assert presenter.result.X.shape == (len(X) + 1, 2)
    np.testing.assert_allclose(presenter.result.X[:-1], X)


def test_clicked_points_become_the_dataset_config(window, qtbot):
    """Drawing a data set from scratch: the empty custom set, then clicks."""
    from tests.app.conftest import set_config
    set_config(window, dataset="custom", custom_points=())
    presenter = window.slot.presenter
    for x, y in [(0.5, 0.5), (-0.5, -0.5), (0.5, -0.5), (-0.5, 0.5)]:
        presenter._clicked(x, y)
    cfg = window.slot.panel.config()
    assert cfg.dataset == "custom" and len(cfg.custom_points) == 4
    assert cfg.custom_points[0] == (0.5, 0.5, 1.0)
    run_and_wait(window, qtbot)
    assert presenter.result.X.shape == (4, 2)


def test_csv_with_nan_is_refused_and_keeps_data(window, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("x1,x2,y\n0,0,1\n1,nan,0\n")
    before = window.slot.panel.config()
    assert not window.slot.presenter.load_csv(str(bad))
    assert window.slot.panel.config() == before
    assert "CSV not loaded" in window.status_label.text()


def test_csv_loads_points(window, qtbot, tmp_path):
    good = tmp_path / "good.csv"
    rng = np.random.default_rng(0)
    rows = [f"{a:.3f},{b:.3f},{1 if a * b > 0 else -1}" for a, b in rng.normal(size=(10, 2))]
    good.write_text("x1,x2,y\n" + "\n".join(rows) + "\n")
    assert window.slot.presenter.load_csv(str(good))
    cfg = window.slot.panel.config()
    assert cfg.dataset == "custom" and len(cfg.custom_points) == 10
    run_and_wait(window, qtbot)
    assert window.slot.presenter.result.X.shape == (10, 2)


def test_non_positive_lambda_is_refused(window):
    before = window.slot.panel.config()
    window.edit_config({"lam": 0.0})
    assert window.slot.panel.config() == before
    assert "valid range" in window.status_label.text()


def test_several_widths_views_and_3d_surface(window, qtbot):
    """Widths × seeds in one run: labelled runs and curves, both gate charts, 3-D surface."""
    from tests.app.conftest import set_config
    from widgets.gl import opengl_available
    set_config(window, widths="3, 16", steps=150, snapshots=3, lam=0.01)
    run_and_wait(window, qtbot)
    p = window.slot.presenter
    r = p.result
    assert list(r.widths) == [3, 3, 8, 8, 16, 16]
    labels = [p.seed_box.itemText(i) for i in range(p.seed_box.count())]
    assert labels[0] == "m = 3, seed 0" and labels[-1] == "m = 16, seed 1"
    assert "m = 3: " in window.status_label.text() and "m = 16: " in window.status_label.text()
    assert len(p.objective.keys()) == 6 + 1                       # six runs + p*
    p.seed_box.setCurrentIndex(5)
    W, _ = p._net()
    assert W.shape == (16, 3) and "m = 16, seed 1" in p.map.info_text()
    for gate_map in p.gate_maps:                                   # b > 0 and b < 0 charts
        assert gate_map._ids is not None and gate_map.fade_image.isVisible()
        assert "pattern the optimum uses" in gate_map.info_text()
    p.show_view("gates-negative")
    assert p.tabs.currentWidget() is p.gate_maps[1]
    p.show_view("surface")
    assert p.left.currentWidget() is p.surface
    if opengl_available():
        verts = p.surface.surface.mesh_data.get_vertices().copy()
        assert len(verts) > 100 and p.surface.points.visible
        window.playback.sigFrameChanged.emit(0)                    # animates with the frames
        assert not np.allclose(p.surface.surface.mesh_data.get_vertices(), verts)
        assert p.surface.render().std() > 0
    p.mode_box.setCurrentText("both")
    assert p.left.currentWidget() is p.map


def test_bad_widths_are_reported(window, qtbot):
    from tests.app.conftest import set_config
    set_config(window, widths="4, many")
    with qtbot.waitSignal(window.runner.sigFailed, timeout=60_000):
        window.run()
    assert "widths" in window.status_label.text()


def test_curve_styles_and_summaries():
    from types import SimpleNamespace
    from app.labs.regions_views import certificate_text, curve_styles, reach_summary, run_labels
    run = lambda m, s: SimpleNamespace(seed=s, W1=np.zeros((1, m, 3)))     # noqa: E731
    convex = SimpleNamespace(objective=1.0)
    r = SimpleNamespace(runs=[run(4, 0), run(4, 1), run(16, 0), run(16, 1)], convex=convex,
                        widths=np.array([4, 4, 16, 16]), gaps=np.array([0.5, 0.2, 1e-4, 0.0]))
    r.reached = lambda rtol=1e-3: r.gaps < rtol
    styles = curve_styles(r)
    assert styles[0][0] == styles[1][0] != styles[2][0]               # colour = width
    assert styles[0][1] != styles[1][1]                               # style = seed
    assert [s[2] for s in styles] == ["m = 4 (2 seeds)", None, "m = 16 (2 seeds)", None]
    assert run_labels(r)[2] == "m = 16, seed 0"
    assert "m = 4: 0/2, m = 16: 2/2" in reach_summary(r)
    r.gaps = np.array([0.5, 0.2, -0.1, 0.0])
    assert "not optimal" in reach_summary(r)
    sol = SimpleNamespace(exact_patterns=True, certified=False, max_dual_constraint=2.0,
                          lam=1.0, dual_gap=0.1)
    assert certificate_text(sol).startswith("NOT certified")
    sol.certified = True
    assert certificate_text(sol).startswith("certified global optimum")
    sol.exact_patterns = False
    assert "upper bound" in certificate_text(sol)
    sol.certified, sol.summary = False, "NOT certified: the projected solver stopped after 9"
    assert certificate_text(sol).startswith("NOT certified")      # sampled, d > 2 (#18)


def test_3d_mode_shows_the_convex_optimum_and_a_hover_readout(window, qtbot):
    """Show → 3-D surface: the run's surface and the convex optimum's, side by side; hovering
    either gives the pattern and affine map of the net under the mouse at that point."""
    from tests.app.conftest import set_config
    from widgets.gl import opengl_available
    set_config(window, steps=100, snapshots=3)
    run_and_wait(window, qtbot)
    p = window.slot.presenter
    p.mode_box.setCurrentText("3-D surface")
    assert p.left.currentWidget() is p.surface
    assert p.convex_stack.currentWidget() is p.convex_surface
    assert p.tabs.currentWidget() is p.convex_stack
    x, y = 0.3, -0.2
    for view, net in ((p.surface, p._net()), (p.convex_surface, p._convex_net())):
        W, w2 = net
        bits = "".join("1" if v > 0 else "0" for v in W[:, :2] @ [x, y] + W[:, 2])
        view.sigHover.emit(x, y)
        assert view.hover_text().startswith(f"pattern {bits}\nf(x) = ")
    if opengl_available():
        r = p.result
        surf = p.convex_surface
        assert surf.surface.visible and "Convex optimum" in surf.legend.text()
        gx, gy, h = surf._field                          # drawn heights = the optimum's output
        scale, (lo, hi) = surf.scale(), surf._zlim
        i, j = len(gx) // 3, len(gy) // 2
        out = r.convex_output[np.argmin(abs(r.grid_y - gy[j])),
                               np.argmin(abs(r.grid_x - gx[i]))]
        assert h[j, i] == pytest.approx(np.clip(out, lo, hi) * scale, rel=1e-4, abs=1e-6)
        qtbot.wait(20)
        tr = surf.canvas.scene.node_transform(surf.view.scene)
        c = np.asarray(tr.imap([gx[i], gy[j], h[j, i], 1.0]), float)
        surf.handle_mouse_move(c[0] / c[3], c[1] / c[3])
        W, w2 = p._convex_net()
        bits = "".join("1" if v > 0 else "0" for v in W[:, :2] @ [gx[i], gy[j]] + W[:, 2])
        assert surf.hover_text().startswith(f"pattern {bits}")
        assert surf.hover_label.isVisibleTo(surf)
    p.mode_box.setCurrentText("regions")
    assert p.convex_stack.currentWidget() is p.convex_map


def test_reference_lines_are_named_in_the_legend_not_over_the_curves(window, qtbot):
    """p* and the optimum's region count are legend entries: a label beside the count line
    used to hide the runs' curves near it (the m = 8 curves "ended" at step ~4800)."""
    from tests.app.conftest import set_config
    set_config(window, steps=100, snapshots=3)
    run_and_wait(window, qtbot)
    p = window.slot.presenter
    r = p.result
    for plot, name in ((p.objective, f"convex optimum p* = {r.convex.objective:.4g}"),
                       (p.counts, f"convex optimum's net ({r.convex_region_count})")):
        assert plot.line_label("convex") is None
        assert name in [label.text for _, label in plot.plot_item.legend.items]


def _legend_names(plot):
    return [label.text for _, label in plot.plot_item.legend.items]


def test_deep_vs_wide_charts_include_the_deep_net(window, qtbot):
    """Issue #11: deep-vs-wide used to leave the deep net out of the region-count chart."""
    from tests.app.conftest import set_config
    set_config(window, depth=2, width=8, steps=100, snapshots=3)
    run_and_wait(window, qtbot)
    p = window.slot.presenter
    r = p.result
    assert r.deep_run is not None
    x, y = p.counts.item("deep").getData()
    np.testing.assert_array_equal(x, r.snapshot_steps)
    np.testing.assert_array_equal(y, r.deep_region_counts_lower)
    assert any(n.startswith("deep net 2 × 4: ≥") for n in _legend_names(p.counts))
    assert len(p.objective.item("deep").getData()[1]) == len(r.deep_run.objective)
    assert "deep net 2 × 4" in _legend_names(p.objective)
    assert not p.tabs.isTabVisible(1) or "regions" in p.deep_map.info_text()
    set_config(window, depth=1)
    run_and_wait(window, qtbot)
    assert "deep" not in p.counts.keys() and "deep" not in p.objective.keys()


def test_maps_have_a_key_per_mark_and_captions_outside(window, qtbot):
    """Issue #11: the run's map keys its thick black f = 0, dashed isolines, neuron lines,
    white-dot ticks and both classes; region counts are captions, not boxes on the map; the
    gate charts name their lines and dots for what they are there."""
    run_and_wait(window, qtbot)
    p = window.slot.presenter
    assert p.map.key_entries() == ["boundary", "isolines", "lines", "ticks", "pos", "neg"]
    assert p.convex_map.key_entries()[:4] == ["boundary", "isolines", "lines", "ticks"]
    assert "exact regions in view" in p.map.info_text()
    assert not hasattr(p.map, "info_item")
    gate = p.gate_maps[0]
    assert {"lines", "faded"} <= set(gate.key_entries())
    assert {"pos", "neg"} & set(gate.key_entries())
    assert "a data point's line" in gate.key.text() and "neuron" in gate.key.text()
    assert "ticks" not in gate.key_entries()


def test_region_count_legend_hides_no_curve(window, qtbot):
    """deep-vs-wide: the count chart's legend (seeds, p*'s net, deep net) covered curves."""
    from tests.app.conftest import set_config
    from tests.app.test_gradient_flow_lab import legend_covers
    set_config(window, depth=2, width=8, steps=200, snapshots=5)
    window.resize(1500, 950)
    window.show()
    qtbot.waitExposed(window)
    run_and_wait(window, qtbot)
    p = window.slot.presenter
    qtbot.wait(50)
    assert len(p.counts.plot_item.legend.items) == 2       # p*'s net, the deep net
    assert legend_covers(p.counts) == 0
    window.resize(1280, 720)
    qtbot.wait(50)
    assert legend_covers(p.counts) == 0 and legend_covers(p.objective) == 0

"""A scripted walk through the reconstruction lab (issue #11): live streaming on the Compare
tab, a parameter changed mid-run, the live ranking, cancel, switching labs, sessions, presets.

An exception in any Qt slot fails these tests (pytest-qt's exception capture is on).
"""
import numpy as np
import pytest

from app.session import Session
from engine.recon.lab import ReconConfig, focus_voxel
from engine.recon.phantom import ELLIPSOIDS, shepp_logan_3d
from tests.app.conftest import run_and_wait, set_config

LONG = {"size": 32, "slices": 8, "n_views": 12, "method_a": "tv", "method_b": "sirt",
        "iters": 600, "every": 5}
DIFFUSION = {"size": 64, "slices": 3, "n_views": 8, "method_a": "dds", "method_b": "tv",
             "also": "fbp", "diffusion_steps": 6, "iters": 5, "every": 1}


@pytest.fixture
def window(lab_window):
    return lab_window("recon", **LONG)


def _shapes(presenter) -> list:
    return [v.volume().shape for v in presenter.viewers if v.volume() is not None]


def _wait_for_live_volume(window, qtbot, slot=1):
    p = window.slot.presenter
    qtbot.waitUntil(lambda: p._live is not None and p.viewers[slot].volume() is not None,
                    timeout=60_000)


def test_f5_from_a_fresh_start_streams_into_the_compare_view(window, qtbot):
    p = window.slot.presenter
    seen = []
    window.runner.sigPartial.connect(lambda _s: seen.append(_shapes(p)))
    f5 = next(a for a in window.findChildren(type(window.menuBar().actions()[0]))
              if a.shortcut().toString() == "F5")
    with qtbot.waitSignal(window.runner.sigFinished, timeout=120_000):
        f5.trigger()
    assert seen and all(set(shapes) == {(8, 32, 32)} for shapes in seen)
    assert len(_shapes(p)) == 4 and set(_shapes(p)) == {(8, 32, 32)}
    assert p.viewers[3].title_label.text().startswith("|tv − truth|")
    ventricles = focus_voxel(p.result.config, (8, 32, 32))[0]
    assert {v.cursor()[2] for v in (*p.viewers, p.tri)} == {ventricles} != {4}


def test_changing_slices_mid_run_leaves_every_viewer_on_the_new_shape(window, qtbot):
    window.auto_run.setChecked(True)
    with qtbot.waitSignal(window.runner.sigStarted, timeout=10_000):
        window.run()
    _wait_for_live_volume(window, qtbot)
    assert window.runner.is_running()                                  # really mid-run
    p = window.slot.presenter
    with qtbot.waitSignal(window.runner.sigFinished, timeout=120_000):
        set_config(window, slices=6)
        window._config_changed(window.slot.panel.config())
    assert p.result.truth.shape == (6, 32, 32)
    assert _shapes(p) == [(6, 32, 32)] * 4
    assert {v.cursor()[2] for v in p.viewers} == {focus_voxel(p.result.config, (6, 32, 32))[0]}


def test_a_panel_edit_mid_run_without_auto_run_keeps_the_run_consistent(window, qtbot):
    window.run()
    _wait_for_live_volume(window, qtbot, slot=2)
    p = window.slot.presenter
    with qtbot.waitSignal(window.runner.sigFinished, timeout=120_000):
        set_config(window, slices=6, method_b="cgls")                   # no new run
    assert [m.name for m in p.result.runs] == ["tv", "sirt"]
    assert p.viewers[2].title_label.text() == "B: sirt"
    assert _shapes(p) == [(8, 32, 32)] * 4


def test_ranking_rows_appear_as_each_method_finishes(lab_window, qtbot):
    window = lab_window("recon", **DIFFUSION)
    p = window.slot.presenter
    live_rows = []
    window.runner.sigPartial.connect(
        lambda _s: live_rows.append([p.ranking.item(r, 1).text()
                                     for r in range(p.ranking.rowCount())]))
    run_and_wait(window, qtbot)
    partial = [rows for rows in live_rows if 0 < len(rows) < 3]
    assert partial, "no ranking row was shown before the run finished"
    assert set(partial[0]) <= {"fbp", "tv"}                           # fast methods first
    assert p.ranking.rowCount() == 3


def test_a_row_picked_mid_run_becomes_method_b_and_stays_after_the_run(lab_window, qtbot):
    window = lab_window("recon", **DIFFUSION)
    p = window.slot.presenter
    window.run()
    qtbot.waitUntil(lambda: p.ranking.rowCount() == 2 and window.runner.is_running(),
                    timeout=120_000)
    row = [p.ranking.item(r, 1).text() for r in range(2)].index("fbp")
    with qtbot.waitSignal(window.runner.sigFinished, timeout=120_000):
        p.ranking.cellDoubleClicked.emit(row, 1)
        assert p.viewers[2].title_label.text() == "B: fbp"
    assert p.viewers[2].title_label.text() == "B: fbp"
    fbp = next(m for m in p.result.runs if m.name == "fbp")
    assert np.allclose(p.viewers[2].volume(), fbp.volume)


def test_cancel_puts_the_previous_result_back(window, qtbot):
    set_config(window, iters=20)
    run_and_wait(window, qtbot)
    p = window.slot.presenter
    before = p.result
    set_config(window, iters=600, slices=6)
    window.run()
    _wait_for_live_volume(window, qtbot)
    qtbot.waitUntil(lambda: p.viewers[0].volume().shape == (6, 32, 32), timeout=60_000)
    with qtbot.waitSignal(window.runner.sigCancelled, timeout=10_000):
        window.runner.cancel()
    assert p.result is before and p._live is None
    assert _shapes(p) == [(8, 32, 32)] * 4
    assert np.array_equal(p.viewers[1].volume(), before.runs[0].volume)
    assert "previous result is still shown" in window.status_label.text()
    assert p.info.text() == p.result_summary(before)


def test_cancel_before_any_result_says_what_the_views_show(window, qtbot):
    window.run()
    _wait_for_live_volume(window, qtbot)
    p = window.slot.presenter
    assert p.info.text().startswith("Reconstructing with tv, sirt")
    with qtbot.waitSignal(window.runner.sigCancelled, timeout=10_000):
        window.runner.cancel()
    assert p.result is None and "stopped before it finished" in p.info.text()


def test_switch_away_and_back_then_session_round_trip(window, lab_window, qtbot, tmp_path):
    window.run()
    _wait_for_live_volume(window, qtbot)
    window.switch_lab("gradient-flow", run_if_empty=False)
    assert window.runner.is_running()          # switching away keeps the recon run going
    qtbot.waitUntil(lambda: not window.runner.is_running(), timeout=120_000)
    window.switch_lab("recon")
    assert window.slot.presenter.result is not None   # delivered to its lab in the background
    set_config(window, iters=20)
    run_and_wait(window, qtbot)
    path = tmp_path / "walk.json"
    window.session().save(path)
    other = lab_window("gradient-flow")
    with qtbot.waitSignal(other.runner.sigFinished, timeout=120_000):
        other.load_session(Session.load(path))
    assert other.current == "recon"
    assert other.slot.panel.config() == window.slot.panel.config()
    assert _shapes(other.slot.presenter) == [(8, 32, 32)] * 4


@pytest.mark.parametrize("preset,a,b", [("tv-vs-fbp", "tv", "fbp"),
                                        ("diffusion-ct-8", "dds", "tv"),
                                        ("diffusion-mri-8", "dds", "cg_sense")])
def test_presets_open_on_the_compare_view_of_their_claim(window, preset, a, b):
    window.apply_preset(preset, run=False)
    p = window.slot.presenter
    assert p.tabs.currentIndex() == 0                                  # Compare, not Ranking
    cfg = window.slot.panel.config()
    assert (cfg.method_a, cfg.method_b) == (a, b)


def test_shepp_logan_opens_on_the_slice_through_the_ventricles():
    cfg = ReconConfig(source="shepp-logan", slices=16, size=64)
    z, y, x = focus_voxel(cfg, (16, 64, 64))
    assert (y, x) == (32, 32)
    zs = np.linspace(-1, 1, 16)
    ventricle_depth = []
    for a, b, c, x0, y0, z0 in (row[:6] for row in ELLIPSOIDS[2:4]):
        ventricle_depth.append(np.clip(1 - ((zs - z0) / c) ** 2, 0, None))  # cross-section²
    assert z == int(np.argmax(np.sum(ventricle_depth, axis=0)))
    axial = shepp_logan_3d((16, 64, 64))[z].numpy()
    brain = shepp_logan_3d((16, 64, 64))[z, 32 - 8:32 + 8, 16:48].numpy()
    assert np.sum(brain == 0.0) > 20 and axial.max() == pytest.approx(1.0)   # dark ventricles
    assert focus_voxel(ReconConfig(source="brain"), (16, 64, 64)) == (8, 32, 32)


def test_mri_panels_tile_every_coil_and_window_the_measured_k_space(window, qtbot):
    from app.labs.recon_panels import kspace_levels, tile
    set_config(window, modality="mri", method_a="zero_filled", method_b="cg_sense",
               n_coils=8, iters=4, every=2)
    run_and_wait(window, qtbot)
    p = window.slot.presenter
    r = p.result
    mosaic, corners = tile(r.coil_maps)
    assert mosaic.shape == (2 * 32 + 2, 4 * 32 + 6) and len(corners) == 8
    for c, (x, y) in enumerate(corners):                # each tile is its coil, 1 top left
        assert np.array_equal(mosaic[y - 32:y, x:x + 32], r.coil_maps[c])
    assert len(p.panels._coil_labels) == 8
    assert not p.coils.plot_item.getAxis("left").isVisible()
    lo, hi = kspace_levels(r.acquisition, r.mask)
    measured = r.acquisition[r.mask.astype(bool)]
    assert r.acquisition.min() < lo < np.median(measured) < hi <= measured.max()
    assert "not sampled" in p.acq.plot_item.getAxis("bottom").labelText


def test_the_psnr_bars_start_at_zero(window, qtbot):
    set_config(window, iters=20)
    run_and_wait(window, qtbot)
    item = window.slot.presenter.ranking_view.plot.getPlotItem()
    assert item.viewRange()[1][0] == pytest.approx(0.0, abs=1e-6)


def test_a_partial_of_another_geometry_is_dropped_and_a_new_truth_starts_a_new_live_run(window):
    from app.runner import merge_partial
    p = window.slot.presenter

    def truth(n):
        return {"stage": "truth", "truth": np.zeros((n, 32, 32), np.float32),
                "spacing": (1.0, 1.0, 1.0), "names": ["tv", "sirt"], "focus": (n // 2, 16, 16)}

    def method(name, n, value):
        return {"stage": f"method:{name}", "method": name, "iteration": 5,
                "volume": np.full((n, 32, 32), value, np.float32)}

    stages = None
    for partial in (truth(8), method("tv", 8, 0.5), method("sirt", 8, 0.25)):
        stages = merge_partial(stages, partial)
        p.show_partial(stages)
    assert _shapes(p) == [(8, 32, 32)] * 4 and p.viewers[3].volume().max() == 0.5
    stages = merge_partial(None, truth(6))                 # the next run: new geometry
    stages = merge_partial(stages, method("tv", 8, 0.75))  # (never expected) wrong shape
    p.show_partial(stages)
    assert p.viewers[0].volume().shape == (6, 32, 32)
    assert p.viewers[1].volume().max() == 0.5               # the stray volume was dropped
    p.show_partial(merge_partial(stages, method("tv", 6, 1.0)))
    assert [v.volume().shape for v in p.viewers[:2]] == [(6, 32, 32)] * 2
    assert {v.cursor()[2] for v in p.viewers[:2]} == {3}
    p.show_partial({"method": "tv", "volume": None})       # an unstaged partial: ignored

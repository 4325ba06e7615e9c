"""The regions lab draws a run's stages live and puts the old result back on cancel."""

import numpy as np

from app.runner import merge_partial
from engine.regions import RegionsConfig, run_config
from tests.app.conftest import run_and_wait, set_config
from tests.app.test_regions_lab import SMALL

CFG = RegionsConfig(dataset="xor", n_points=12, width=8, widths="3", lam=0.01, steps=1500,
                    lr=0.02, n_seeds=2, grid=64, snapshots=5, depth=2, seed=1)


def _stream(presenter, cfg, until=None):
    """Feed the engine's partials to the presenter as the runner would (every stage's newest
    partial, :func:`app.runner.merge_partial`); returns the result (None when stopped at the
    first partial for which ``until(partial)`` is true, or at the first partial of stage
    ``until``)."""
    stop_at = until if callable(until) else (lambda p: p["stage"] == until)
    gen = run_config(cfg)
    stages = None
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return stop.value
        if p.partial is not None:
            stages = merge_partial(stages, p.partial)
            presenter.show_partial(stages)
            if until is not None and stop_at(p.partial):
                gen.close()
                return None


def test_stages_are_drawn_before_the_run_ends(lab_window):
    win = lab_window("regions", **SMALL)
    lab = win.slot.presenter
    assert _stream(lab, CFG, until="convex") is None
    sol = lab.result.convex                                  # the optimum, no frames yet
    assert lab.result.live and lab.frame_count() == 0
    assert lab.objective.keys() == ["convex"]
    assert all(lab.objective.plot_item.vb.autoRangeEnabled())     # no range of an old run
    assert "p* =" in lab.info.text() and "Training" in lab.info.text()
    lab._hover(lab.map, 0.1, 0.2, lab._net())                # no trained net yet: no error
    np.testing.assert_array_equal(lab.convex_map._ids, lab.result.convex_region_ids)
    result = _stream(lab, CFG)
    assert result.convex.objective == sol.objective
    lab.show_result(result)
    assert lab.frame_count() == 5 and not lab.live.shown
    deep = ["deep"] if CFG.depth > 1 else []                 # the deep net of deep vs wide
    assert sorted(lab.objective.keys()) == ["convex"] + deep + [f"s{i}" for i in range(4)]


def test_curves_and_live_map_grow_while_training(lab_window):
    win = lab_window("regions", **SMALL)
    lab = win.slot.presenter
    _stream(lab, CFG, until=lambda p: p["stage"] == "curves" and "map_ids" in p)
    curves = lab.live.shown["curves"]
    assert len(curves["objective"][0]) < CFG.steps + 1              # mid-training
    for i, obj in enumerate(curves["objective"]):            # the plot holds the curves sent
        item = lab.objective.item(f"s{i}")
        np.testing.assert_allclose(item.yData, obj, rtol=1e-12)
    assert "training m = " in lab.map.info_text()
    np.testing.assert_array_equal(lab.map._ids, curves["map_ids"])
    final = _stream(lab, CFG, until="final_maps")
    assert final is None and lab.frame_count() == 1         # the last snapshot, first
    assert lab.result.live and len(lab.result.runs) == 4
    assert lab.tabs.isTabVisible(1)                          # the deep net's refining map


def test_cancel_puts_the_previous_result_back(lab_window, qtbot):
    win = lab_window("regions", **SMALL)
    run_and_wait(win, qtbot)
    old = win.slot.presenter.result
    set_config(win, steps=200_000, widths="")
    lab = win.slot.presenter
    win.run()
    qtbot.waitUntil(lambda: "s0" in lab.objective.keys() and lab.result is not old,
                    timeout=60_000)
    with qtbot.waitSignal(win.runner.sigCancelled, timeout=30_000):
        win.runner.cancel()
    assert lab.result is old and lab.frame_count() == 5
    assert win.playback.frame_count() == 5


def test_the_deep_net_tab_stays_selected_through_the_final_maps(lab_window):
    win = lab_window("regions", **SMALL)
    lab = win.slot.presenter

    def pick_deep_tab(partial):
        if partial["stage"] == "deep_preview":
            lab.tabs.setCurrentIndex(1)                     # the user opens the Deep net tab
        return partial["stage"] == "final_maps"

    assert _stream(lab, CFG, until=pick_deep_tab) is None
    assert lab.tabs.currentIndex() == 1 and lab.tabs.isTabVisible(1)
    assert "refining" in lab.deep_map.info_text()

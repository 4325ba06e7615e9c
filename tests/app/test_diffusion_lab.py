"""The diffusion-paths lab in the shell: runs, time-locked comparison, view interaction."""

import numpy as np
import pytest

from tests.app.conftest import run_and_wait, set_config

SMALL = {"n_particles": 200, "n_steps": 20, "n_trails": 4}


@pytest.fixture
def window(lab_window):
    return lab_window("diffusion", **SMALL)


def test_run_shows_both_solvers_time_locked(window, qtbot):
    run_and_wait(window, qtbot)
    presenter = window.slot.presenter
    result = presenter.result
    assert [r.solver for r in result.runs] == ["mcg", "projection"]
    assert window.playback.frame_count() == len(result.runs[0].t) == 21
    assert result.density.shape[1:] == (128, 128) and np.isfinite(result.posterior).any()
    window.playback.sigFrameChanged.emit(5)
    assert presenter._frame == 5
    assert "mcg: completed" in window.status_label.text()


def test_single_solver_hides_second_canvas(window, qtbot):
    set_config(window, compare_solver="none", measurement="none", solver="ddim")
    run_and_wait(window, qtbot)
    presenter = window.slot.presenter
    assert len(presenter.result.runs) == 1
    assert not presenter.canvases[1].isVisibleTo(presenter.view)
    assert not presenter.plots["residual"].isVisibleTo(presenter.view)


def test_dragging_the_constraint_edits_the_measurement(window, qtbot):
    presenter = window.slot.presenter
    with qtbot.waitSignal(presenter.sigConfigEdit, timeout=2000):
        presenter._constraint_moved(0.75)
    assert window.slot.panel.config().meas_value == pytest.approx(0.75)


def test_drawn_points_fit_a_custom_prior(window, qtbot):
    presenter = window.slot.presenter
    angle = np.linspace(0, 2 * np.pi, 60)
    presenter._points_drawn(np.stack([2 * np.cos(angle), np.sin(angle)], axis=1))
    cfg = window.slot.panel.config()
    assert cfg.prior == "custom" and len(cfg.custom_points) == 60
    run_and_wait(window, qtbot)
    assert presenter.result.runs[0].status == "completed"


def test_custom_prior_without_points_fails_clearly(window, qtbot):
    set_config(window, prior="custom", custom_points=())
    with qtbot.waitSignal(window.runner.sigFailed, timeout=60_000):
        window.run()
    assert "draw" in window.status_label.text()


def test_bad_measurement_value_is_refused(window):
    before = window.slot.panel.config()
    window.edit_config({"sigma_y": -1.0})
    assert window.slot.panel.config() == before
    assert "valid range" in window.status_label.text()


def test_presets_exist_and_apply(window, qtbot):
    assert set(window.slot.presets) >= {"projection-vs-mcg", "ccdf-fewer-steps",
                                        "dps-vs-posterior", "momentum-10-steps"}
    window.apply_preset("momentum-10-steps", run=False)
    assert window.slot.panel.config().solver == "ghvb"


def test_points_load_from_csv_and_bad_files_are_refused(window, qtbot, tmp_path):
    presenter = window.slot.presenter
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n0,1\n1,nan\n2,2\n3,3\n")
    before = window.slot.panel.config()
    assert not presenter.load_points(str(bad))
    assert window.slot.panel.config() == before and "NaN" in window.status_label.text()
    good = tmp_path / "pts.csv"
    angle = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    good.write_text("x,y\n" + "\n".join(f"{np.cos(a):.4f},{np.sin(a):.4f}" for a in angle))
    assert presenter.load_points(str(good))
    cfg = window.slot.panel.config()
    assert cfg.prior == "custom" and len(cfg.custom_points) == 40
    run_and_wait(window, qtbot)
    assert presenter.result.runs[0].status == "completed"


def test_panel_shows_only_the_knobs_of_the_chosen_solvers(window):
    panel = window.slot.panel                               # mcg compared with projection
    assert panel.row_shown("mcg_alpha") and panel.editor("mcg_alpha").isVisibleTo(panel)
    for knob in ("zeta", "dds_eta", "cg_iters", "t0", "beta", "eta", "reddiff_lr"):
        assert not panel.editor(knob).isVisibleTo(panel), knob
    set_config(window, solver="dds", compare_solver="ghvb")
    for knob in ("dds_eta", "cg_iters", "dds_gamma", "beta", "order"):
        assert panel.editor(knob).isVisibleTo(panel), knob
    assert not panel.editor("mcg_alpha").isVisibleTo(panel)
    assert panel.editor("n_steps").isVisibleTo(panel) and panel.editor("solver").isVisibleTo(panel)


@pytest.mark.parametrize("preset", ["ccdf-fewer-steps", "momentum-10-steps"])
def test_one_distance_everywhere(lab_window, qtbot, tmp_path, preset):
    """Issue #11: the status line, the last point of the per-step curve, the budget plot at the
    run's budget and the exported results show the same distance to the exact target; it is
    ≥ 0 and the noise floor is a band, not a line solvers can fall below."""
    import re

    from app.results_export import export_results
    from engine.core.results_io import load_results

    win = lab_window("diffusion")
    win.apply_preset(preset, run=False)
    set_config(win, n_particles=120)
    run_and_wait(win, qtbot, timeout=300_000)
    presenter, result = win.slot.presenter, win.slot.presenter.result
    thread = export_results(win, str(tmp_path / "d.npz"))
    thread.join(60)
    qtbot.waitUntil(lambda: (tmp_path / "d.npz").exists(), timeout=10_000)
    arrays, _ = load_results(tmp_path / "d.npz")
    status = presenter.info.text()
    steps = result.config.n_steps
    budget_plot, curve_plot = presenter.budget_plot, presenter.plots["posterior_distance"]
    assert "floor" in budget_plot.keys() and "floor" in curve_plot.keys()
    assert result.distance_points == 120 and "120 particles vs 120 exact" in status
    for i, run in enumerate(result.runs):
        shown = float(re.search(rf"{run.solver}: completed, distance ([0-9.]+)", status)[1])
        _, curve_y = curve_plot.item(run.solver + str(i)).getData()
        bx, by = budget_plot.item(run.solver).getData()
        at_budget = by[np.argmin(np.abs(10 ** bx - steps))]      # log-x plot
        exported = float(arrays[f"runs/{i}/summary/posterior_distance"])
        value = run.summary["posterior_distance"]
        assert value >= 0 and np.all(run.metrics["posterior_distance"] >= 0)
        assert shown == pytest.approx(value, abs=5e-5)
        assert curve_y[-1] == pytest.approx(value, rel=1e-12)
        assert at_budget == pytest.approx(value, rel=1e-12)
        assert exported == pytest.approx(value, rel=1e-12)


def test_preset_opens_on_its_claim_frame_with_paths_on_demand(lab_window, qtbot):
    """projection-vs-mcg opens at t = 100 (where projection has left the manifold) and the
    playback bar says so; paths are off until asked for, then at most TRAILS_SHOWN."""
    from app.labs.diffusion import TRAILS_SHOWN

    win = lab_window("diffusion")
    win.apply_preset("projection-vs-mcg", run=False)
    set_config(win, n_particles=200, n_trails=8)
    run_and_wait(win, qtbot)
    presenter = win.slot.presenter
    main = presenter.result.runs[0]
    assert main.t[presenter._frame] == 100 and win.playback.frame() == presenter._frame
    assert "t = 100" in win.playback.label.text()
    off = presenter.result.runs[1].metrics["off_manifold"][presenter._frame]
    assert off > main.metrics["off_manifold"][presenter._frame]      # the claim, in numbers
    assert presenter._highlight(main) is None
    presenter.trail_box.setChecked(True)
    assert len(presenter._highlight(main)) == TRAILS_SHOWN
    run_and_wait(win, qtbot)                                       # later runs open at the end
    assert presenter._frame == len(presenter.result.runs[0].t) - 1


def test_high_dimensional_protocol_point_then_a_2d_prior_again(window, qtbot):
    """d = 8 MCGdiff mixture with a random row and the new solvers: the views draw the first two
    coordinates, the status line names the start law, its KL bound and the sliced-W2 floor;
    switching back to a 2-D prior and to the N(0, I) start runs again; a 2-D-only prior with
    d = 8 fails with a clear message."""
    set_config(window, prior="mcgdiff", dim=8, measurement="random", meas_rows=2,
               sigma_y=0.1, solver="tmpd", compare_solver="tds")
    run_and_wait(window, qtbot)
    result = window.slot.presenter.result
    assert [r.solver for r in result.runs] == ["tmpd", "tds"]
    assert result.runs[0].x.shape[2] == 2 and result.posterior_points.shape[1] == 2
    text = window.status_label.text()
    assert "exact p_T" in text and "KL(p_T" in text and "sliced W2" in text
    set_config(window, prior="ring", dim=2, measurement="line", solver="pigdm",
               start="N(0, I)")
    run_and_wait(window, qtbot)
    assert "x_T ~ N(0, I)" in window.status_label.text()
    set_config(window, dim=8)
    with qtbot.waitSignal(window.runner.sigFailed, timeout=60_000):
        window.run()
    assert "mcgdiff" in window.status_label.text()

"""Playback as a person drives it in the main window (issue #16): play, change speed and
views mid-play, switch labs while playing, play to the end. pytest-qt fails a test on any
exception raised in a Qt slot; frame sequences use the bar's real clock, so only orderings
and end states are asserted, never timings."""
from __future__ import annotations

import widgets.particle_canvas as particle_canvas
from tests.app.conftest import run_and_wait

DIFFUSION = {"n_particles": 100, "n_steps": 12, "n_trails": 4, "budget_study": False}
FLOW = {"n_init": 8, "frames": 30, "t_max": 4.0, "dt": 0.05, "n_samples": 12}


def test_play_change_settings_and_switch_lab_stops_cleanly(lab_window, qtbot, monkeypatch):
    monkeypatch.setattr(particle_canvas, "SPLAT_N", 50)     # the texture cloud, as for 20 000
    win = lab_window("diffusion", **DIFFUSION)
    run_and_wait(win, qtbot)
    bar, lab = win.playback, win.slot.presenter
    seen = []
    bar.sigFrameChanged.connect(seen.append)
    bar.set_loop(True)
    bar.set_speed(0.5)
    bar.play()
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=10_000)
    lab.trail_box.setChecked(True)                   # views change mid-play
    lab.x0_box.setChecked(True)
    bar.set_speed(4.0)
    qtbot.waitUntil(lambda: len(seen) >= 5, timeout=10_000)
    assert bar.is_playing() and lab.canvases[0].splat.visible
    assert lab.canvases[0].frame == bar.frame() == lab._frame
    win.switch_lab("gradient-flow", run_if_empty=False)
    assert not bar.is_playing()                      # the other lab's frames never play on
    shown = len(seen)
    qtbot.wait(200)
    assert len(seen) == shown
    win.switch_lab("diffusion")
    assert bar.frame_count() == len(lab.result.runs[0].t)


def test_play_to_the_end_draws_the_last_frame(lab_window, qtbot):
    win = lab_window("gradient-flow", **FLOW)
    run_and_wait(win, qtbot)
    bar, lab = win.playback, win.slot.presenter
    bar.set_loop(False)
    bar.set_speed(8.0)
    win.playback._go(0)
    bar.play()
    qtbot.waitUntil(lambda: not bar.is_playing(), timeout=10_000)
    last = bar.frame_count() - 1
    assert bar.frame() == last and lab._frame == last and lab.plane.frame == last
    bar.play()                                       # at the end: plays again from 0
    assert bar.is_playing() and bar.frame() < last
    win.slot.presenter.show_result(lab.result)       # a new result while playing
    bar.pause()


def test_play_3d_flow_scrub_back_and_resize(lab_window, qtbot):
    """d = 3: the activation plane of the highlighted run follows the frame through its
    transform (no new mesh per frame) while playing, scrubbing back and resizing; the 2-D
    whole-history trails (phase portrait) split into the cached part and the live part
    and start over when scrubbed back to 0."""
    import numpy as np
    from widgets.trajectory_view3d import disc_matrix
    win = lab_window("gradient-flow", **dict(FLOW, dim=3, n_init=200, frames=40))
    run_and_wait(win, qtbot)
    bar, lab = win.playback, win.slot.presenter
    view = lab.view3d
    if view is None:                                 # no OpenGL: the 2-D plane is shown
        import pytest
        pytest.skip("no OpenGL: the lab shows the 2-D plane for d = 3")
    seen = []
    bar.sigFrameChanged.connect(seen.append)
    bar.set_loop(True)
    bar.set_speed(4.0)
    bar.play()
    qtbot.waitUntil(lambda: len(seen) >= 6, timeout=10_000)
    win.resize(win.width() - 120, win.height() - 60)     # resize mid-play
    bar.set_speed(1.0)
    qtbot.waitUntil(lambda: len(seen) >= 9, timeout=10_000)
    bar.pause()
    bar._go(35)
    w = view._highlight_w()
    assert view.plane.visible == (w is not None)
    if w is not None:
        np.testing.assert_allclose(view.plane.transform.matrix,
                                   disc_matrix(w, 0.45 * view._extent), atol=1e-6)
    assert lab.phase.layer._settled_to > 0           # 200 runs × 36 frames: cached part
    bar._go(0)                                       # scrub back: nothing cached any more
    assert lab.phase.layer._settled_to == -1 and view.frame == lab.phase.frame == 0

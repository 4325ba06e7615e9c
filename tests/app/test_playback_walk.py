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

"""Tests for widgets.playback_bar.PlaybackBar (no timed asserts: waitUntil only).

The bar's clock is a fake one that advances by ``step`` seconds per reading (one reading per
tick), so frame sequences do not depend on how loaded the machine is.
"""
from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from widgets.playback_bar import BASE_FPS, PlaybackBar


class TickClock:
    """Fake clock: each reading is ``step`` seconds after the previous one."""

    def __init__(self, step: float = 1.0 / BASE_FPS):
        self.step, self.now = step, 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def shown_bar(qtbot, clock=None):
    w = PlaybackBar(clock=clock or TickClock())
    qtbot.addWidget(w)
    w.show()
    return w


@pytest.fixture
def bar(qtbot):
    return shown_bar(qtbot)


def test_frame_count_enables_controls(bar):
    assert bar.frame_count() == 0 and not bar.slider.isEnabled()
    bar.set_frame_count(10)
    assert bar.frame_count() == 10 and bar.slider.isEnabled()
    assert bar.slider.maximum() == 9
    bar.set_frame(7)
    bar.set_frame_count(5)
    assert bar.frame() == 4
    bar.set_frame_count(0)
    assert not bar.play_button.isEnabled()
    with pytest.raises(ValueError):
        bar.set_frame_count(-1)


def test_set_frame_emits_nothing(qtbot, bar):
    bar.set_frame_count(10)
    with qtbot.assertNotEmitted(bar.sigFrameChanged):
        bar.set_frame(5)
        bar.set_frame(99)
    assert bar.frame() == 9 and bar.slider.value() == 9


def test_times_label(bar):
    bar.set_frame_count(400)
    bar.set_times(np.linspace(0, 1.23 * 399 / 56, 400))
    bar.set_frame(56)
    assert bar.label.text() == "t = 1.23  (57/400)"
    with pytest.raises(ValueError):
        bar.set_times(np.zeros(3))


def test_step_and_scrub_emit(qtbot, bar):
    bar.set_frame_count(10)
    seen = []
    bar.sigFrameChanged.connect(seen.append)
    qtbot.mouseClick(bar.forward_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.mouseClick(bar.forward_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.mouseClick(bar.back_button, QtCore.Qt.MouseButton.LeftButton)
    bar.slider.setValue(6)  # what a user drag ends with
    qtbot.mouseClick(bar.start_button, QtCore.Qt.MouseButton.LeftButton)
    assert seen == [1, 2, 1, 6, 0]
    qtbot.mouseClick(bar.back_button, QtCore.Qt.MouseButton.LeftButton)
    assert seen == [1, 2, 1, 6, 0]  # already at 0: nothing to report


def test_play_advances(qtbot, bar):
    bar.set_frame_count(1000)
    seen = []
    bar.sigFrameChanged.connect(seen.append)
    with qtbot.waitSignal(bar.sigPlayingChanged, timeout=1000) as blocker:
        bar.play()
    assert blocker.args == [True] and bar.is_playing()
    qtbot.waitUntil(lambda: bar.frame() >= 3, timeout=3000)
    assert seen[:3] == [1, 2, 3]
    with qtbot.waitSignal(bar.sigPlayingChanged, timeout=1000) as blocker:
        bar.pause()
    assert blocker.args == [False] and not bar.is_playing()


def test_no_loop_pauses_at_end(qtbot, bar):
    bar.set_frame_count(5)
    bar.set_speed(8)
    bar.play()
    qtbot.waitUntil(lambda: not bar.is_playing(), timeout=3000)
    assert bar.frame() == 4
    seen = []
    bar.sigFrameChanged.connect(seen.append)
    bar.play()  # at the last frame: restarts from 0
    assert seen[0] == 0
    bar.pause()


def test_loop_wraps(qtbot, bar):
    bar.set_frame_count(6)
    bar.set_loop(True)
    assert bar.loop()
    bar.set_speed(4)
    seen = []
    bar.sigFrameChanged.connect(seen.append)
    bar.play()
    qtbot.waitUntil(lambda: 0 in seen and seen.index(0) > 0, timeout=3000)
    assert bar.is_playing()
    assert seen[:3] == [4, 5, 0]
    bar.pause()


def test_speed_changes_step(qtbot, bar):
    bar.set_frame_count(1000)
    bar.set_speed(4)
    assert bar.speed() == 4.0 and bar.speed_combo.currentText() == "4\u00d7"
    seen = []
    bar.sigFrameChanged.connect(seen.append)
    bar.play()
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=3000)
    bar.pause()
    assert seen[:2] == [4, 8]
    bar.set_speed(0.5)
    assert bar.speed() == 0.5
    bar.set_speed(3)  # not a preset: added
    assert bar.speed() == 3.0
    with pytest.raises(ValueError):
        bar.set_speed(0)


def test_slow_speed_accumulates(qtbot, bar):
    bar.set_frame_count(100)
    bar.set_speed(0.25)
    seen = []
    bar.sigFrameChanged.connect(seen.append)
    bar.play()
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=3000)
    bar.pause()
    assert seen[:2] == [1, 2]


def test_shortcuts(qtbot):
    win = QtWidgets.QWidget()
    qtbot.addWidget(win)
    bar = PlaybackBar(win)
    QtWidgets.QVBoxLayout(win).addWidget(bar)
    shortcuts = bar.install_shortcuts(win)
    assert len(shortcuts) == 4
    bar.set_frame_count(10)
    seen = []
    bar.sigFrameChanged.connect(seen.append)
    right = next(s for s in shortcuts if s.key().toString() == "Right")
    right.activated.emit()
    home = next(s for s in shortcuts if s.key().toString() == "Home")
    home.activated.emit()
    assert seen == [1, 0]
    space = next(s for s in shortcuts if s.key().toString() == "Space")
    space.activated.emit()
    assert bar.is_playing()
    space.activated.emit()
    assert not bar.is_playing()


def test_slow_draws_drop_frames_instead_of_queueing(qtbot):
    """A draw that takes three ticks' time: each tick jumps to the frame the clock reached
    (every 3rd frame), so 1× stays real time instead of running 3× slow."""
    bar = shown_bar(qtbot, TickClock(step=3.0 / BASE_FPS))
    bar.set_frame_count(100)
    seen = []
    bar.sigFrameChanged.connect(seen.append)
    bar.play()
    qtbot.waitUntil(lambda: len(seen) >= 4, timeout=3000)
    bar.pause()
    assert seen[:4] == [3, 6, 9, 12]


def test_real_clock_keeps_time_with_a_slow_view(qtbot):
    """With the real clock and a view that needs 0.1 s per frame (3 ticks), frames are
    skipped: fewer frames drawn than the index reached, never a backlog of ticks."""
    bar = shown_bar(qtbot, time.monotonic)
    bar.set_frame_count(10_000)
    seen = []
    bar.sigFrameChanged.connect(lambda i: (seen.append(i), time.sleep(0.1)))
    bar.play()
    qtbot.waitUntil(lambda: len(seen) >= 4, timeout=5000)
    bar.pause()
    assert seen[-1] >= 2 * len(seen)           # ≥ 3 frames per 0.1 s draw, minus jitter
    assert seen == sorted(set(seen))           # forward only, each frame at most once


def test_last_frame_always_shown(qtbot):
    """A tick that would pass the end shows the last frame, then playback stops."""
    bar = shown_bar(qtbot, TickClock(step=7.0 / BASE_FPS))
    bar.set_frame_count(10)
    seen = []
    bar.sigFrameChanged.connect(seen.append)
    bar.play()
    qtbot.waitUntil(lambda: not bar.is_playing(), timeout=3000)
    assert seen == [7, 9] and bar.frame() == 9


def test_scrub_while_playing_goes_on_from_there(qtbot, bar):
    bar.set_frame_count(1000)
    seen = []
    bar.sigFrameChanged.connect(seen.append)
    bar.play()
    qtbot.waitUntil(lambda: len(seen) >= 1, timeout=3000)
    bar.slider.setValue(500)                   # a user drag while playing
    qtbot.waitUntil(lambda: len(seen) >= 3, timeout=3000)
    bar.pause()
    assert seen[1:3] == [500, 501]


def test_time_label_has_a_fixed_size(bar):
    """Its text changes every frame; a fixed size keeps the window from laying out again."""
    bar.set_frame_count(400)
    size = bar.label.size()
    bar.set_times(np.linspace(0, 1e4, 400))
    for i in (0, 399, 17):
        bar.set_frame(i)
        assert bar.label.size() == size
    assert bar.label.minimumSize() == bar.label.maximumSize()


def test_time_label_grows_with_the_font(bar):
    """Presentation mode enlarges the application font: the fixed-size label follows."""
    app = QtWidgets.QApplication.instance()
    font = app.font()
    width, height = bar.label.width(), bar.label.height()
    bigger = QtGui.QFont(font)
    bigger.setPointSizeF((font.pointSizeF() if font.pointSizeF() > 0 else 10.0) * 1.5)
    try:
        app.setFont(bigger)
        QtWidgets.QApplication.processEvents()
        assert bar.label.width() > width and bar.label.height() > height
    finally:
        app.setFont(font)

"""Transport controls for a sequence of frames: play/pause, step, scrub, speed and loop.

The bar owns the playback clock (a precise ``QTimer`` at ~30 fps) and only reports frame
indices: whoever listens to ``sigFrameChanged`` draws the frame. ``set_frame`` is for
programmatic moves and emits nothing, so views can follow each other without feedback loops.

Playback keeps real time: each tick shows the frame the wall clock has reached
(``speed × 30`` frames per second since play started), so when drawing a frame takes longer
than a tick the frames in between are dropped instead of queued, and 1× stays 1× however
slow the views are. The last frame is always shown before playback stops.
"""
from __future__ import annotations

import time
from typing import Callable, Optional

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

__all__ = ["PlaybackBar", "LatestCall", "SPEEDS", "BASE_FPS"]

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
BASE_FPS = 30.0

_SP = QtWidgets.QStyle.StandardPixmap


def _speed_text(speed: float) -> str:
    return f"{speed:g}\u00d7"


class PlaybackBar(QtWidgets.QWidget):
    """Buttons, a scrub slider, a speed selector, a loop switch and a time label.

    Parameters
    ----------
    parent : QWidget, optional
        Qt parent.
    clock : callable, optional
        Seconds as a float, read once when playback starts (or its speed or frame changes)
        and once per tick (default ``time.monotonic``; tests pass a fake clock).

    Signals
    -------
    sigFrameChanged(int)
        The frame changed by a user action (scrub, step, start) or a playback tick.
    sigPlayingChanged(bool)
        Playback started (True) or stopped (False).
    """

    sigFrameChanged = QtCore.Signal(int)
    sigPlayingChanged = QtCore.Signal(bool)

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(parent)
        self._count = 0
        self._frame = 0
        self._times: Optional[np.ndarray] = None
        self._clock = clock
        self._anchor = (0.0, 0)             # (clock reading, frame) playback counts from
        self._updating = False
        self._shortcuts: list[QtGui.QShortcut] = []
        self._timer = QtCore.QTimer(self)
        self._timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self._timer.setInterval(round(1000.0 / BASE_FPS))
        self._timer.timeout.connect(self._tick)
        self._build_ui()
        self.set_frame_count(0)

    # ------------------------------------------------------------------ UI
    def _tool_button(self, pixmap, tip: str, slot) -> QtWidgets.QToolButton:
        btn = QtWidgets.QToolButton(self)
        btn.setIcon(self.style().standardIcon(pixmap))
        btn.setToolTip(tip)
        btn.setAutoRaise(True)
        btn.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        btn.clicked.connect(slot)
        return btn

    def _build_ui(self) -> None:
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        self.start_button = self._tool_button(_SP.SP_MediaSkipBackward, "To start (Home)",
                                              self._on_start)
        self.back_button = self._tool_button(_SP.SP_MediaSeekBackward, "Step back (Left)",
                                             lambda: self._step(-1))
        self.play_button = self._tool_button(_SP.SP_MediaPlay, "Play (Space)",
                                             self.toggle_playing)
        self.forward_button = self._tool_button(_SP.SP_MediaSeekForward,
                                                "Step forward (Right)", lambda: self._step(1))
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal, self)
        self.slider.setMinimumWidth(120)
        self.slider.valueChanged.connect(self._on_slider)
        self.speed_combo = QtWidgets.QComboBox(self)
        self.speed_combo.setToolTip("Playback speed (1× = 30 frames per second; frames a slow "
                                    "view cannot draw in time are skipped)")
        for s in SPEEDS:
            self.speed_combo.addItem(_speed_text(s), s)
        self.speed_combo.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_combo.currentIndexChanged.connect(lambda _: self._reset_anchor())
        self.loop_check = QtWidgets.QCheckBox("Loop", self)
        self.loop_check.setToolTip("Restart from the first frame at the end")
        self.label = QtWidgets.QLabel(self)
        self._fix_label_size()
        for w in (self.start_button, self.back_button, self.play_button, self.forward_button):
            lay.addWidget(w)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.label)
        lay.addWidget(self.speed_combo)
        lay.addWidget(self.loop_check)

    def _fix_label_size(self) -> None:
        """A fixed-size time label: its text changes every frame, and a label whose size
        hint may change asks the whole window to lay out again (a fixed size does not)."""
        fm = self.fontMetrics()                 # the label inherits the bar's font
        self.label.setFixedSize(fm.horizontalAdvance("t = -0.0000e+00  (00000/00000)"),
                                fm.height() + 2)

    def changeEvent(self, event: QtCore.QEvent) -> None:  # noqa: N802 (Qt name)
        """Resize the label with the font (presentation mode enlarges it)."""
        super().changeEvent(event)
        if event.type() == QtCore.QEvent.Type.FontChange:
            self._fix_label_size()

    def install_shortcuts(self, window: QtWidgets.QWidget) -> list:
        """Create Space (play/pause), Left/Right (step) and Home (start) shortcuts.

        Parameters
        ----------
        window : QWidget
            Widget whose window receives the shortcuts (``Qt.WindowShortcut`` context).
            Text editors with focus keep their keys (Qt's shortcut override).

        Returns
        -------
        list of QShortcut
            The created shortcuts (kept alive by ``window``).
        """
        keys = ((QtCore.Qt.Key.Key_Space, self.toggle_playing),
                (QtCore.Qt.Key.Key_Left, lambda: self._step(-1)),
                (QtCore.Qt.Key.Key_Right, lambda: self._step(1)),
                (QtCore.Qt.Key.Key_Home, self._on_start))
        made = []
        for key, slot in keys:
            sc = QtGui.QShortcut(QtGui.QKeySequence(key), window)
            sc.setContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(slot)
            made.append(sc)
        self._shortcuts.extend(made)
        return made

    # ------------------------------------------------------------------ frames
    def set_frame_count(self, n: int) -> None:
        """Set the number of frames (0 disables the controls). Emits nothing."""
        n = int(n)
        if n < 0:
            raise ValueError(f"frame count must be >= 0, got {n}")
        self._count = n
        if self._times is not None and len(self._times) != n:
            self._times = None
        if n < 2:
            self.pause()
        for w in (self.start_button, self.back_button, self.play_button,
                  self.forward_button, self.slider):
            w.setEnabled(n > 0)
        self._updating = True
        try:
            self.slider.setRange(0, max(n - 1, 0))
        finally:
            self._updating = False
        self._show_frame(min(self._frame, max(n - 1, 0)))

    def frame_count(self) -> int:
        """Number of frames."""
        return self._count

    def set_times(self, times: Optional[np.ndarray]) -> None:
        """Time value of each frame for the label (``None`` shows frame numbers only).

        Parameters
        ----------
        times : ndarray of shape (frame_count,) or None
            Times shown as ``t = ...``.
        """
        if times is not None:
            times = np.asarray(times, dtype=float).ravel()
            if len(times) != self._count:
                raise ValueError(f"{len(times)} times for {self._count} frames")
        self._times = times
        self._show_frame(self._frame)

    def set_frame(self, i: int) -> None:
        """Move the slider and label to frame ``i`` (clamped). Emits nothing."""
        self._show_frame(int(np.clip(int(i), 0, max(self._count - 1, 0))))

    def frame(self) -> int:
        """The current frame index."""
        return self._frame

    def _show_frame(self, i: int) -> None:
        """Update the state, slider and label without emitting anything."""
        self._frame = i
        self._updating = True
        try:
            self.slider.setValue(i)
        finally:
            self._updating = False
        if self._count == 0:
            self.label.setText("no frames")
            return
        pos = f"({i + 1}/{self._count})"
        if self._times is not None:
            self.label.setText(f"t = {self._times[i]:.4g}  {pos}")
        else:
            self.label.setText(f"frame {pos}")

    def _go(self, i: int) -> None:
        """User-driven move: update and emit ``sigFrameChanged`` if the frame changed;
        playback, if on, goes on from there."""
        if self._move(i):
            self._reset_anchor()

    def _move(self, i: int) -> bool:
        """Show frame ``i`` (clamped) and emit ``sigFrameChanged``; False if unchanged."""
        if self._count == 0:
            return False
        i = int(np.clip(i, 0, self._count - 1))
        if i == self._frame:
            return False
        self._show_frame(i)
        self.sigFrameChanged.emit(i)
        return True

    def _on_slider(self, value: int) -> None:
        if not self._updating:
            self._go(value)

    def _step(self, delta: int) -> None:
        self.pause()
        self._go(self._frame + delta)

    def _on_start(self) -> None:
        self._go(0)

    # ------------------------------------------------------------------ playback
    def play(self) -> None:
        """Start playback (from frame 0 when at the last frame)."""
        if self._count < 2 or self.is_playing():
            return
        if self._frame >= self._count - 1:
            self._go(0)
        self._reset_anchor()
        self._timer.start()
        self._set_play_look(True)
        self.sigPlayingChanged.emit(True)

    def pause(self) -> None:
        """Stop playback (keeps the current frame)."""
        if not self._timer.isActive():
            return
        self._timer.stop()
        self._set_play_look(False)
        self.sigPlayingChanged.emit(False)

    def toggle_playing(self) -> None:
        """Play if paused, pause if playing."""
        if self.is_playing():
            self.pause()
        else:
            self.play()

    def is_playing(self) -> bool:
        """Whether playback is running."""
        return self._timer.isActive()

    def _set_play_look(self, playing: bool) -> None:
        pix = _SP.SP_MediaPause if playing else _SP.SP_MediaPlay
        self.play_button.setIcon(self.style().standardIcon(pix))
        self.play_button.setToolTip("Pause (Space)" if playing else "Play (Space)")

    def _tick(self) -> None:
        """Show the frame the clock has reached: ``speed × BASE_FPS`` frames per second
        since the anchor, rounded; frames in between are dropped (a slow draw never queues
        ticks). Past the end: the last frame, then stop, or frame 0 when looping."""
        last = self._count - 1
        if last < 1:
            self.pause()
            return
        if self._frame >= last:
            if self.loop():
                self._go(0)
            else:
                self.pause()
            return
        since, start = self._anchor
        reached = start + self.speed() * BASE_FPS * (self._clock() - since)
        target = min(int(np.floor(reached + 0.5)), last)
        if target > self._frame:
            self._move(target)          # keeps the anchor: time counts from where play started
        if self._frame >= last and not self.loop():
            self.pause()

    def _reset_anchor(self) -> None:
        """Count playback time from now and the current frame."""
        self._anchor = (self._clock(), self._frame)

    # ------------------------------------------------------------------ speed / loop
    def set_speed(self, speed: float) -> None:
        """Set the playback speed in frames per tick (e.g. 0.25 ... 8)."""
        speed = float(speed)
        if not speed > 0 or not np.isfinite(speed):
            raise ValueError(f"speed must be a positive number, got {speed}")
        idx = self.speed_combo.findData(speed)
        if idx < 0:
            self.speed_combo.addItem(_speed_text(speed), speed)
            idx = self.speed_combo.count() - 1
        self.speed_combo.setCurrentIndex(idx)

    def speed(self) -> float:
        """The playback speed in frames per tick."""
        return float(self.speed_combo.currentData())

    def set_loop(self, loop: bool) -> None:
        """Whether playback wraps to frame 0 at the end."""
        self.loop_check.setChecked(bool(loop))

    def loop(self) -> bool:
        """Whether playback wraps to frame 0 at the end."""
        return self.loop_check.isChecked()


class LatestCall(QtCore.QObject):
    """Run the newest of a stream of calls at most once every ``seconds``; the last one
    always runs (at most ``seconds`` late).

    For views that follow the playback frame but cost more than a frame to repaint (the
    curve plots' time cursors: each move repaints the plot's curves and axes, ~10 ms under
    software GL): the frames play at full rate while those views follow a few times a
    second and end on the right frame.

    Parameters
    ----------
    seconds : float
        Least time between two runs.
    parent : QObject, optional
        Qt parent (a pending call dies with it).
    """

    def __init__(self, seconds: float, parent: Optional[QtCore.QObject] = None):
        super().__init__(parent)
        self.seconds = float(seconds)
        self._last = -float("inf")
        self._pending: Optional[tuple[Callable, tuple]] = None
        self._timer = QtCore.QTimer(self, singleShot=True, timeout=self.flush)

    def call(self, fn: Callable, *args) -> None:
        """Run ``fn(*args)`` now if the last run is ``seconds`` old, else when it is (a
        newer call replaces this one)."""
        self._pending = (fn, args)
        wait = self._last + self.seconds - time.monotonic()
        if wait <= 0:
            self.flush()
        elif not self._timer.isActive():
            self._timer.start(int(1000 * wait) + 1)

    def flush(self) -> None:
        """Run the pending call now (nothing if none)."""
        self._timer.stop()
        if self._pending is None:
            return
        (fn, args), self._pending = self._pending, None
        self._last = time.monotonic()
        fn(*args)


def _demo() -> None:  # pragma: no cover - manual demo
    import sys

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    win = QtWidgets.QWidget(windowTitle="PlaybackBar demo")
    view = QtWidgets.QLabel("frame 0", alignment=QtCore.Qt.AlignmentFlag.AlignCenter)
    bar = PlaybackBar()
    bar.set_frame_count(400)
    bar.set_times(np.linspace(0.0, 8.0, 400))
    bar.sigFrameChanged.connect(lambda i: view.setText(f"frame {i}"))
    bar.install_shortcuts(win)
    lay = QtWidgets.QVBoxLayout(win)
    lay.addWidget(view)
    lay.addWidget(bar)
    win.resize(720, 140)
    win.show()
    app.exec()


if __name__ == "__main__":
    _demo()

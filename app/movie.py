"""Movies of a lab: its views only, at a watchable length, with a title and a time caption.

A recording of a short preset has few frames (10 steps: 11 frames, a third of a second at 30
fps). Each recorded frame is therefore *held* for several movie frames so the movie lasts at
least :data:`MIN_SECONDS`; each frame gets a band above the view with the title (lab and
preset) and a caption (frame number and, when the lab records times, ``t``). The picture is
the presenter's :meth:`~app.labs.base.LabPresenter.movie_widget` (its views, no button rows
or status text), grabbed once per recorded frame.
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import QApplication

from app import export

MIN_SECONDS = 5.0
BAND_PX = 44          # height of the title/caption band above the view


def hold_plan(n_frames: int, fps: float, min_seconds: float = MIN_SECONDS) -> np.ndarray:
    """Recorded-frame index of every movie frame: each of ``n_frames`` shown the same number
    of times, the fewest that make the movie last ``min_seconds`` at ``fps``."""
    if n_frames < 1 or not fps > 0:
        raise ValueError(f"need n_frames >= 1 and fps > 0 (got {n_frames}, {fps})")
    hold = max(1, math.ceil(min_seconds * fps / n_frames))
    return np.repeat(np.arange(n_frames), hold)


def frame_caption(index: int, n_frames: int, times: Optional[np.ndarray]) -> str:
    """``"frame 3/11   t = 0.200"`` (``t`` only when the lab records frame times)."""
    text = f"frame {index + 1}/{n_frames}"
    if times is not None and index < len(times) and np.isfinite(times[index]):
        text += f"   t = {float(times[index]):.4g}"
    return text


def captioned(frame: np.ndarray, title: str, caption: str) -> np.ndarray:
    """``frame`` (H, W, 3|4 uint8) below a white band of :data:`BAND_PX` px holding the
    title (bold, left) and the caption (right); returns (H + BAND_PX, W, 4) uint8."""
    frame = np.ascontiguousarray(frame[:, :, :3])
    h, w = frame.shape[:2]
    image = QImage(w, h + BAND_PX, QImage.Format.Format_RGBA8888)
    image.fill(QColor("white"))
    body = QImage(frame.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    painter = QPainter(image)
    try:
        painter.drawImage(0, BAND_PX, body)
        painter.setPen(QColor("black"))
        font = QFont()
        font.setPixelSize(BAND_PX * 2 // 5)
        painter.setFont(font)
        box = QRect(10, 0, w - 20, BAND_PX)
        painter.drawText(box, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                         caption)
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(box, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         title)
    finally:
        painter.end()
    return export.qimage_to_array(image)


def movie_widget(presenter):
    """The widget a movie shows: the presenter's ``movie_widget()`` (its views), falling back
    to ``animation_widget()`` for presenters without the narrower hook."""
    hook = getattr(presenter, "movie_widget", None) or presenter.animation_widget
    return hook()


def write_movie(presenter, path: str, fps: float = 30, dialog=None, title: str = "",
                min_seconds: float = MIN_SECONDS) -> bool:
    """Write every recorded frame of ``presenter`` as an MP4/GIF of at least ``min_seconds``.

    Parameters
    ----------
    presenter : LabPresenter
        Its recorded frames are shown with ``set_frame`` and grabbed from its movie widget.
    path : str
        ``.mp4`` or ``.gif``.
    fps : float
        Movie frame rate; frames are held so the length is ≥ ``min_seconds``.
    dialog : QProgressDialog, optional
        Shows progress; its Cancel stops the export (no file is left).
    title : str
        Burnt into each frame (default: the lab's title).

    Returns
    -------
    bool
        True when written, False when cancelled.
    """
    n = presenter.frame_count()
    plan = hold_plan(n, fps, min_seconds)
    times = presenter.frame_times()
    times = None if times is None else np.asarray(times, dtype=float)
    title = title or getattr(getattr(presenter, "spec", None), "title", "")
    widget = movie_widget(presenter)
    render = _held_renderer(presenter, widget, plan, n, times, title)
    return bool(export.export_animation(render, len(plan), path, fps=fps,
                                        progress=_progress_callback(dialog)))


def _held_renderer(presenter, widget, plan, n, times, title) -> Callable[[int], np.ndarray]:
    """``render(k)`` for movie frame ``k``: grabs recorded frame ``plan[k]`` once, then reuses
    it while it is held."""
    cache: dict[int, np.ndarray] = {}

    def render(k: int) -> np.ndarray:
        index = int(plan[k])
        if index not in cache:
            cache.clear()
            presenter.set_frame(index)
            QApplication.processEvents()
            cache[index] = captioned(export.grab_array(widget), title,
                                     frame_caption(index, n, times))
        return cache[index]

    return render


def _progress_callback(dialog) -> Callable[[float], bool]:
    def progress(fraction: float) -> bool:
        if dialog is None:
            return True
        dialog.setValue(int(1000 * fraction))
        QApplication.processEvents()
        return not dialog.wasCanceled()
    return progress

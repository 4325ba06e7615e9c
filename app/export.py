"""Export of views (PNG, SVG) and animations (MP4, GIF).

PNGs come from ``QWidget.grab()`` (in Qt 6 it includes OpenGL content, so vispy canvases
work too); SVGs from pyqtgraph's ``SVGExporter`` (2-D plots only). Animations are rendered
frame by frame through a ``render_frame(i) -> (H, W, 3|4) uint8`` callable: MP4 with the
ffmpeg bundled in ``imageio-ffmpeg`` (libx264, yuv420p), GIF with Pillow (imageio's GIF
backend), looping forever.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog, QGraphicsItem, QGraphicsScene, QWidget

PathLike = Union[str, os.PathLike]

GIF_MAX_FRAMES = 300
GIF_MAX_FPS = 25.0
SVG_ONLY_2D = "SVG export is only available for 2-D plots; use PNG"


def ask_save_path(parent, title: str, default: str, file_filter: str,
                  path: Optional[str] = None) -> Optional[str]:
    """``path`` when given (tests, CLI), else the user's choice in a save dialog (None if
    they cancel)."""
    if path is None:
        path, _ = QFileDialog.getSaveFileName(parent, title, default, file_filter)
    return path or None


# -- still images ---------------------------------------------------------------------------
def _as_widget(widget) -> QWidget:
    """The QWidget behind ``widget`` (vispy canvases expose it as ``.native``)."""
    native = getattr(widget, "native", None)
    if isinstance(native, QWidget):
        return native
    if isinstance(widget, QWidget):
        return widget
    raise TypeError(f"expected a QWidget or a vispy canvas, got {type(widget).__name__}")


def save_widget_png(widget, path: PathLike) -> Path:
    """Save a screenshot of ``widget`` (QWidget or vispy canvas) as PNG.

    Raises
    ------
    OSError
        When the image cannot be written.
    """
    path = Path(path)
    pixmap = _as_widget(widget).grab()
    if pixmap.isNull():
        raise OSError(f"could not grab the widget for {path} (is it zero-sized?)")
    if not pixmap.save(str(path), "PNG"):
        raise OSError(f"could not write PNG file {path}")
    return path


def _svg_source(obj):
    """The pyqtgraph item or scene to hand to ``SVGExporter``; ValueError otherwise."""
    import pyqtgraph as pg

    if isinstance(obj, pg.PlotWidget):
        return obj.getPlotItem()
    if isinstance(obj, pg.GraphicsLayoutWidget):
        return obj.ci
    if isinstance(obj, pg.ImageView):
        return obj.ui.graphicsView.scene()
    if isinstance(obj, pg.GraphicsView):
        return obj.scene()
    if isinstance(obj, (QGraphicsItem, QGraphicsScene)):
        if isinstance(obj, QGraphicsItem) and obj.scene() is None:
            raise ValueError("SVG export needs a plot item that is part of a scene")
        return obj
    raise ValueError(f"{SVG_ONLY_2D} ({type(obj).__name__} cannot be exported as SVG)")


def save_plot_svg(plot, path: PathLike) -> Path:
    """Save a pyqtgraph plot (PlotItem, PlotWidget, GraphicsLayoutWidget, ImageView...) as SVG.

    Raises
    ------
    ValueError
        For anything that is not a 2-D pyqtgraph plot (e.g. a vispy canvas).
    """
    from pyqtgraph.exporters import SVGExporter

    path = Path(path)
    source = _svg_source(plot)
    exporter = SVGExporter(source)
    install_svg_closed_path_fix()
    with _continuous_curves(source):
        exporter.export(fileName=str(path))
    if not path.exists():
        raise OSError(f"could not write SVG file {path}")
    path.write_text(split_svg_polylines(path.read_text(encoding="utf-8")), encoding="utf-8")
    return path


@contextlib.contextmanager
def _continuous_curves(source):
    """Curves drawn as one continuous line while exporting: pyqtgraph's segmented mode (thick
    opaque pens without antialiasing) would write one ``<polyline>`` per segment."""
    scene = source if isinstance(source, QGraphicsScene) else source.scene()
    import pyqtgraph as pg
    curves = [c for c in (scene.items() if scene is not None else [])
              if isinstance(c, pg.PlotCurveItem)]
    modes = [c.opts.get("segmentedLineMode", "auto") for c in curves]
    for curve in curves:
        curve.setSegmentedLineMode("off")
    try:
        yield
    finally:
        for curve, mode in zip(curves, modes):
            curve.setSegmentedLineMode(mode)


def split_svg_polylines(svg: str) -> str:
    """One ``<path>`` per polyline: a path of several open sub-paths (``M … L …`` without
    ``Z``, as a bundle of curves drawn as one item becomes) is split into one path per
    sub-path with the same attributes. Qt's own SVG renderer truncates very long paths, and
    editors can then select each curve. Closed paths (fills, frames) are left whole.
    """
    from xml.dom import minidom

    doc = minidom.parseString(svg)
    for node in list(doc.getElementsByTagName("path")):
        d = node.getAttribute("d")
        if "Z" in d or "z" in d:
            continue
        parts = [p.strip() for p in re.split(r"(?=M)", d) if p.strip()]
        if len(parts) < 2:
            continue
        for part in parts:
            piece = node.cloneNode(False)
            piece.setAttribute("d", part)
            node.parentNode.insertBefore(piece, node)
        node.parentNode.removeChild(node)
    return doc.toxml()


def install_svg_closed_path_fix() -> None:
    """Work around pyqtgraph 0.14 failing on closed SVG paths (``... Z``) that Qt 6.11 writes.

    pyqtgraph issue #3495 (fix in PR #3458, unreleased): its ``correctCoordinates`` pass
    expects every path token to be ``x,y``. The patched pass hides the ``Z`` tokens from it and
    puts them back at the same places afterwards (it keeps one token per token). Installed once
    for the process, so pyqtgraph's own right-click Export → SVG works too.
    """
    import pyqtgraph.exporters  # noqa: F401 (loads the SVGExporter module)
    module = sys.modules.get("pyqtgraph.exporters.SVGExporter")
    original = getattr(module, "correctCoordinates", None)
    if original is None or getattr(original, "_flowscope_fix", False):
        return

    def patched(node, defs, item, options):
        closed = []
        for element in node.getElementsByTagName("path"):
            tokens = element.getAttribute("d").split()
            marks = [i for i, t in enumerate(tokens) if t in ("Z", "z")]
            if marks:
                element.setAttribute("d", " ".join(t for t in tokens if t not in ("Z", "z")))
                closed.append((element, marks))
        result = original(node, defs, item, options)
        for element, marks in closed:
            tokens = element.getAttribute("d").split()
            for i in marks:
                tokens.insert(i, "Z")
            element.setAttribute("d", " ".join(tokens))
        return result

    patched._flowscope_fix = True
    module.correctCoordinates = patched


def qimage_to_array(image: QImage) -> np.ndarray:
    """Copy a QImage into an (H, W, 4) uint8 RGBA array (row stride handled)."""
    img = image.convertToFormat(QImage.Format.Format_RGBA8888)
    h, w, stride = img.height(), img.width(), img.bytesPerLine()
    if h == 0 or w == 0:
        return np.zeros((h, w, 4), np.uint8)
    buf = np.frombuffer(img.constBits(), np.uint8, count=stride * h)
    return buf.reshape(h, stride)[:, : w * 4].reshape(h, w, 4).copy()


def grab_array(widget) -> np.ndarray:
    """Screenshot of ``widget`` (QWidget or vispy canvas) as (H, W, 4) uint8."""
    return qimage_to_array(_as_widget(widget).grab().toImage())


# -- animations -----------------------------------------------------------------------------
def _rgb(frame, index: int) -> np.ndarray:
    """Validate a rendered frame and return it as (H, W, 3) uint8."""
    arr = np.asarray(frame)
    if arr.dtype != np.uint8:
        raise ValueError(f"frame {index}: expected uint8, got {arr.dtype}")
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or 0 in arr.shape[:2]:
        raise ValueError(f"frame {index}: expected an (H, W, 3|4) array, got {arr.shape}")
    return arr[:, :, :3]


def _fit(frame: np.ndarray, h: int, w: int) -> np.ndarray:
    """Crop or edge-pad ``frame`` to exactly (h, w)."""
    frame = frame[:h, :w]
    ph, pw = h - frame.shape[0], w - frame.shape[1]
    if ph or pw:
        frame = np.pad(frame, ((0, ph), (0, pw), (0, 0)), mode="edge")
    return np.ascontiguousarray(frame)


def _gif_plan(n_frames: int, fps: float) -> tuple[np.ndarray, float]:
    """Frame indices (at most ``GIF_MAX_FRAMES``) and fps (≤ ``GIF_MAX_FPS``) for a GIF.

    When frames are dropped the rate is lowered in proportion, keeping the duration
    (as far as the fps cap allows).
    """
    indices = np.unique(np.linspace(0, n_frames - 1, min(n_frames, GIF_MAX_FRAMES))
                        .round().astype(int))
    return indices, min(GIF_MAX_FPS, fps * len(indices) / n_frames)


class _Mp4Writer:
    """Streams RGB frames to ffmpeg (libx264, yuv420p: even width and height)."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps, self.gen, self.shape = path, fps, None, None

    def add(self, rgb: np.ndarray) -> None:
        if self.gen is None:
            import imageio_ffmpeg

            h, w = rgb.shape[:2]
            self.shape = (h + h % 2, w + w % 2)
            self.gen = imageio_ffmpeg.write_frames(
                str(self.path), (self.shape[1], self.shape[0]), fps=self.fps,
                codec="libx264", pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
                macro_block_size=1, quality=7.0, ffmpeg_log_level="error")
            self.gen.send(None)
        self._last = _fit(rgb, *self.shape).tobytes()
        self.gen.send(self._last)

    def hold(self) -> None:
        """Show the last frame for one more frame time (a video has one rate)."""
        self.gen.send(self._last)

    def close(self) -> None:
        gen, self.gen = self.gen, None
        if gen is not None:
            gen.close()  # ffmpeg finishes the file

    abort = close  # the caller removes the unfinished file


class _GifWriter:
    """Collects palette frames (1 byte per pixel) and writes a looping GIF at close; a held
    frame is one GIF frame shown longer (no repeated quantisation and encoding)."""

    def __init__(self, path: Path, fps: float):
        self.path, self.fps, self.frames, self.shape = path, fps, [], None
        self.frame_ms = max(20, round(1000.0 / fps))
        self.durations: list[int] = []

    def add(self, rgb: np.ndarray) -> None:
        from PIL import Image

        if self.shape is None:
            self.shape = rgb.shape[:2]
        img = Image.fromarray(_fit(rgb, *self.shape), "RGB")
        self.frames.append(img.convert("P", palette=Image.Palette.ADAPTIVE, colors=256))
        self.durations.append(self.frame_ms)

    def hold(self) -> None:
        """Show the last frame for one more frame time."""
        self.durations[-1] += self.frame_ms

    def close(self) -> None:
        if not self.frames:
            return
        first, *rest = self.frames
        first.save(self.path, format="GIF", save_all=True, append_images=rest, loop=0,
                   duration=self.durations, disposal=1)
        self.frames, self.durations = [], []

    def abort(self) -> None:
        self.frames = []


def export_animation(render_frame: Callable[[int], np.ndarray], n_frames: int,
                     path: PathLike, fps: float = 30,
                     progress: Optional[Callable[[float], Optional[bool]]] = None) -> bool:
    """Render ``n_frames`` frames and write them as ``.mp4`` or ``.gif``.

    Parameters
    ----------
    render_frame : callable
        ``render_frame(i)`` returns frame ``i`` as (H, W, 3|4) uint8 (alpha is dropped).
    n_frames : int
        Number of frames (a GIF uses at most 300 of them, evenly spaced, at ≤ 25 fps).
    path : path-like
        Target file; the suffix picks the format.
    fps : float
        Frames per second.
    progress : callable, optional
        Called with the fraction done after each frame; returning ``False`` cancels.

    Returns
    -------
    bool
        ``True`` when written, ``False`` when cancelled (no file is left behind; an
        existing file at ``path`` is kept).

    Raises
    ------
    ValueError
        For a suffix other than .mp4/.gif, ``n_frames < 1``, ``fps <= 0`` or bad frames.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in (".mp4", ".gif"):
        raise ValueError(f"cannot export an animation as {ext or 'a file without suffix'!r}:"
                         " use .mp4 or .gif")
    if n_frames < 1 or not fps > 0:
        raise ValueError(f"need n_frames >= 1 and fps > 0 (got {n_frames}, {fps})")
    if ext == ".gif":
        indices, fps = _gif_plan(int(n_frames), float(fps))
        writer_cls = _GifWriter
    else:
        indices, writer_cls = np.arange(int(n_frames)), _Mp4Writer
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=ext)
    os.close(fd)
    writer, done = writer_cls(Path(tmp), float(fps)), False
    try:
        done = _write_frames(writer, render_frame, indices, progress)
        if done:
            writer.close()
            os.replace(tmp, path)
    finally:
        if not done:
            writer.abort()
        if os.path.exists(tmp):
            os.unlink(tmp)
    return done


def _write_frames(writer, render_frame, indices, progress) -> bool:
    """Feed every rendered frame to ``writer``; ``False`` if ``progress`` cancelled. A
    renderer that returns the very same array again (a held frame) makes the writer hold."""
    last = None
    for k, index in enumerate(indices):
        frame = render_frame(int(index))
        if frame is last:
            writer.hold()
        else:
            writer.add(_rgb(frame, int(index)))
        last = frame
        if progress is not None and progress((k + 1) / len(indices)) is False:
            return False
    return True

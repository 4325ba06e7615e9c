"""Export: PNG/SVG of plots, MP4/GIF animations, cancel, QImage conversion."""
from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QLabel

from app.export import (export_animation, grab_array, qimage_to_array,
                        save_plot_svg, save_widget_png)


@pytest.fixture
def plot(qtbot):
    w = pg.PlotWidget()
    w.setBackground("w")
    w.resize(200, 150)
    w.plot(np.arange(10), np.arange(10) ** 2, pen=pg.mkPen("r", width=3))
    qtbot.addWidget(w)
    return w


def synthetic(shape=(37, 51)):
    """render_frame(i): a moving bright bar on a dark RGBA background (odd size on purpose)."""
    h, w = shape

    def render(i: int) -> np.ndarray:
        frame = np.zeros((h, w, 4), np.uint8)
        frame[..., 3] = 255
        frame[:, (4 * i) % w, :3] = 255
        frame[0, 0, :3] = (i % 256, i // 256, 0)  # every frame differs (GIF merges repeats)
        return frame
    return render


def test_png_of_plot_is_not_blank(plot, tmp_path):
    path = save_widget_png(plot, tmp_path / "plot.png")
    img = iio.imread(path)
    assert img.shape[0] > 10 and img.shape[1] > 10
    assert img[..., :3].std() > 1.0  # not a single colour
    red = (img[..., 0] > 150) & (img[..., 1] < 100) & (img[..., 2] < 100)
    assert red.any()


def test_svg_of_plot(plot, tmp_path):
    for obj, name in [(plot, "widget.svg"), (plot.getPlotItem(), "item.svg")]:
        path = save_plot_svg(obj, tmp_path / name)
        assert "<svg" in path.read_text()


def test_svg_refuses_non_plots(qtbot, tmp_path):
    label = QLabel("3-D view")
    qtbot.addWidget(label)
    with pytest.raises(ValueError, match="only available for 2-D plots; use PNG"):
        save_plot_svg(label, tmp_path / "x.svg")
    assert not (tmp_path / "x.svg").exists()


def test_mp4_written_and_readable(tmp_path):
    path = tmp_path / "anim.mp4"
    fractions = []
    assert export_animation(synthetic(), 10, path, fps=10,
                            progress=lambda f: fractions.append(f)) is True
    frames = np.stack(list(iio.imiter(path, plugin="FFMPEG")))
    assert frames.shape == (10, 38, 52, 3)  # padded to even size
    assert fractions[-1] == pytest.approx(1.0) and len(fractions) == 10
    assert frames[3, :, 12].mean() > frames[3, :, 30].mean() + 100  # the bar moved there
    assert [p.name for p in tmp_path.iterdir()] == ["anim.mp4"]


def test_gif_written_and_readable(tmp_path):
    path = tmp_path / "anim.gif"
    assert export_animation(synthetic(), 10, path, fps=60) is True
    frames = iio.imread(path, index=None)
    assert frames.shape[:3] == (10, 37, 51)
    assert frames[2, :, 8, 0].min() > 200 and frames[2, :, 20, 0].max() < 50
    assert [p.name for p in tmp_path.iterdir()] == ["anim.gif"]


def test_long_gif_is_subsampled(tmp_path):
    calls = []
    render = synthetic((8, 8))
    path = tmp_path / "long.gif"
    export_animation(lambda i: calls.append(i) or render(i), 1000, path)
    assert len(calls) == 300 and calls[0] == 0 and calls[-1] == 999
    assert iio.imread(path, index=None).shape[0] == 300


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_cancel_removes_partial_file(tmp_path, suffix):
    path = tmp_path / f"anim{suffix}"
    fractions = []

    def progress(f):
        fractions.append(f)
        return f < 0.5
    assert export_animation(synthetic(), 10, path, progress=progress) is False
    assert len(fractions) == 5
    assert list(tmp_path.iterdir()) == []


def test_cancel_keeps_existing_file(tmp_path):
    path = tmp_path / "anim.gif"
    path.write_bytes(b"previous export")
    assert export_animation(synthetic(), 5, path, progress=lambda f: False) is False
    assert path.read_bytes() == b"previous export"


def test_bad_extension_and_bad_frames(tmp_path):
    with pytest.raises(ValueError, match=r"\.avi.*use \.mp4 or \.gif"):
        export_animation(synthetic(), 10, tmp_path / "anim.avi")
    with pytest.raises(ValueError, match="uint8"):
        export_animation(lambda i: np.zeros((8, 8, 3)), 2, tmp_path / "anim.gif")
    assert list(tmp_path.iterdir()) == []


def test_qimage_to_array_handles_stride():
    img = QImage(13, 5, QImage.Format.Format_RGB888)  # 39 bytes per row, padded to 40
    img.fill(QColor(10, 20, 30))
    img.setPixelColor(12, 4, QColor(200, 100, 50))
    assert img.bytesPerLine() != 13 * 3
    arr = qimage_to_array(img)
    assert arr.shape == (5, 13, 4) and arr.dtype == np.uint8
    assert tuple(arr[0, 0]) == (10, 20, 30, 255)
    assert tuple(arr[4, 12]) == (200, 100, 50, 255)


def test_grabbed_frames_differ_and_make_an_animation(plot, tmp_path):
    curve = plot.getPlotItem().listDataItems()[0]

    def render(i):
        curve.setData(np.arange(10), np.arange(10) * i)
        QApplication.processEvents()
        return grab_array(plot)

    frames = [render(0), render(5)]
    assert frames[0].ndim == 3 and frames[0].shape[2] == 4
    assert not np.array_equal(frames[0], frames[1])
    path = tmp_path / "plot.gif"
    assert export_animation(render, 3, path)
    assert iio.imread(path, index=None).shape[0] == 3


def test_pyqtgraph_own_svg_exporter_works_after_app_configuration(qtbot, tmp_path):
    """The right-click Export → SVG path (pyqtgraph's SVGExporter) must not crash (#3495)."""
    import pyqtgraph as pg
    from pyqtgraph.exporters import SVGExporter

    from app.application import configure_plotting
    configure_plotting()
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    plot.plot([0, 1, 2], [0, 1, 0], fillLevel=0, brush=(0, 0, 255, 80))
    out = tmp_path / "own.svg"
    SVGExporter(plot.getPlotItem()).export(fileName=str(out))
    assert "<svg" in out.read_text()


def test_a_held_frame_is_one_gif_frame_shown_longer(tmp_path):
    """A renderer returning the same array again holds the frame: the GIF keeps one frame
    with the summed duration (not a re-encoded copy), so the length is unchanged."""
    from PIL import Image
    frames = [np.full((8, 10, 3), v, np.uint8) for v in (0, 120, 250)]
    plan = [0, 0, 0, 1, 2, 2]
    path = tmp_path / "held.gif"
    assert export_animation(lambda k: frames[plan[k]], len(plan), path, fps=10)
    with Image.open(path) as gif:
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
    assert durations == [300, 100, 200]

"""Shell exports: movies of the lab's views at a watchable length, SVG with one path per curve."""
import re
import xml.dom.minidom

import numpy as np
import pytest
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QPushButton

from app import export, menus, movie
from tests.app.conftest import run_and_wait
from widgets.curve_plot import CurvePlot

TEN_STEPS = {"dim": 2, "depth": 1, "n_init": 20, "t_max": 0.5, "dt": 0.05, "frames": 11}


def test_hold_plan_reaches_the_minimum_length():
    plan = movie.hold_plan(11, 30.0)
    assert len(plan) / 30.0 >= 5.0 and len(plan) == 11 * 14      # 14 = ceil(150 / 11)
    assert list(np.unique(plan)) == list(range(11))
    assert np.all(np.diff(plan) >= 0)                          # in order, each held
    assert len(movie.hold_plan(400, 30.0)) == 400               # long recordings: no hold


def test_caption_names_frame_and_time():
    assert movie.frame_caption(2, 11, np.linspace(0, 1, 11)) == "frame 3/11   t = 0.2"
    assert movie.frame_caption(0, 5, None) == "frame 1/5"


def test_captioned_frame_adds_a_band_with_text(qapp):
    frame = np.full((60, 200, 3), 40, np.uint8)
    out = movie.captioned(frame, "Gradient flow", "frame 1/2")
    assert out.shape == (60 + movie.BAND_PX, 200, 4)
    assert np.array_equal(out[movie.BAND_PX:, :, :3], frame)    # the view is untouched
    band = out[: movie.BAND_PX, :, :3]
    assert (band < 128).any() and (band == 255).mean() > 0.5    # dark text on white


@pytest.fixture
def ten_step_window(lab_window, qtbot):
    win = lab_window("gradient-flow", **TEN_STEPS)
    win.resize(1300, 800)
    win.show()
    qtbot.waitExposed(win)
    run_and_wait(win, qtbot)
    assert win.slot.presenter.frame_count() == 11
    return win


def test_mp4_of_a_short_run_lasts_five_seconds_and_shows_the_view(ten_step_window, tmp_path):
    import imageio_ffmpeg
    win = ten_step_window
    path = tmp_path / "m.mp4"
    assert menus.export_movie(win, path=str(path))
    n_frames, seconds = imageio_ffmpeg.count_frames_and_secs(str(path))
    assert n_frames == 11 * 14 and seconds >= 5.0
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = reader.__next__()
    reader.close()
    view = movie.movie_widget(win.slot.presenter)
    w, h = meta["size"]
    assert abs(w - view.width()) <= 1 and abs(h - view.height() - movie.BAND_PX) <= 1
    assert w < win.width()


def test_gif_of_a_short_run_lasts_five_seconds(ten_step_window, tmp_path):
    from PIL import Image
    path = tmp_path / "m.gif"
    assert menus.export_movie(ten_step_window, path=str(path))
    with Image.open(path) as gif:
        total_ms = 0
        for i in range(gif.n_frames):
            gif.seek(i)
            total_ms += gif.info["duration"]
    assert total_ms >= 5000


def test_movie_title_names_lab_and_preset(lab_window):
    win = lab_window("gradient-flow")
    assert movie_title_of(win) == win.slot.spec.title
    key, preset = next(iter(win.slot.presets.items()))
    win.apply_preset(key, run=False)
    assert movie_title_of(win) == f"{win.slot.spec.title} — {preset.get('title', key)}"


def movie_title_of(win):
    return menus.movie_title(win)


def test_svg_has_one_path_per_curve_and_renders(qtbot, tmp_path):
    plot = CurvePlot()
    qtbot.addWidget(plot)
    plot.resize(600, 400)
    plot.show()
    qtbot.waitExposed(plot)
    x = np.linspace(0.0, 1.0, 200)
    Y = np.sin(x[:, None] * np.arange(1, 51)[None, :])
    plot.set_lines("bundle", x, Y)
    plot.set_curve("square", x, x ** 2)
    path = export.save_plot_svg(plot.plot_item, tmp_path / "p.svg")
    doc = xml.dom.minidom.parse(str(path))
    open_paths = [p.getAttribute("d") for p in doc.getElementsByTagName("path")
                  if "Z" not in p.getAttribute("d")]
    assert len(open_paths) == 51
    assert all(d.count("M") == 1 for d in open_paths)
    points = [len(re.findall(r"[ML]", d)) for d in open_paths]
    assert min(points) >= 200          # every curve whole (pyqtgraph may repeat a first point)
    assert QSvgRenderer(str(path)).isValid()


def test_split_keeps_closed_paths_whole():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg"><path d="M0,0 L1,0 L1,1 Z M2,2 L3,3 Z"/>'
           '<path stroke="red" d="M0,0 L1,1 M5,5 L6,6"/></svg>')
    doc = xml.dom.minidom.parseString(export.split_svg_polylines(svg))
    paths = doc.getElementsByTagName("path")
    assert [p.getAttribute("d") for p in paths] == [
        "M0,0 L1,0 L1,1 Z M2,2 L3,3 Z", "M0,0 L1,1", "M5,5 L6,6"]
    assert paths[2].getAttribute("stroke") == "red"


@pytest.mark.parametrize("lab", ["gradient-flow", "regions", "diffusion", "recon"])
def test_movies_record_the_views_without_the_tool_rows(lab_window, lab):
    """Issue #11: a movie of a lab is its views, not its button rows or summary line."""
    presenter = lab_window(lab).slot.presenter
    views = presenter.movie_widget()
    assert views is not presenter.view and presenter.view.isAncestorOf(views)
    assert not views.isAncestorOf(presenter.info)
    buttons = views.findChildren(QPushButton)
    assert not buttons, [b.text() for b in buttons]

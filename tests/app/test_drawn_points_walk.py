"""A user's walk through drawn and loaded points (issue #17): in the diffusion lab draw
points, fit, cancel mid-fit, fit again, switch labs and back (the EM fit reports every
iteration in the progress bar and stops within the cancel budget); a points file of a
million rows, in the diffusion and the regions lab, is refused at once with the limit said.
pytest-qt fails each test on any exception raised in a Qt slot."""
from __future__ import annotations

import time

import numpy as np
import pytest

from tests.app.conftest import run_and_wait, set_config

SMALL = {"n_particles": 100, "n_steps": 5, "n_trails": 0, "compare_solver": "none",
         "solver": "posterior"}


@pytest.fixture
def window(lab_window):
    return lab_window("diffusion", **SMALL)


def _refuses_huge_points_files(window, presenter, tmp_path) -> None:
    """A million-row CSV and a 200 000-row .npy: refused at once, the limit said."""
    before = window.slot.panel.config()
    big = tmp_path / "big.csv"
    big.write_text("x,y\n" + "0.1,0.2\n" * 1_000_000)
    np.save(tmp_path / "big.npy", np.zeros((200_000, 2)))
    for name in ("big.csv", "big.npy"):
        t0 = time.perf_counter()
        assert not presenter.load_points(str(tmp_path / name))
        assert time.perf_counter() - t0 < 1.0              # not parsed on the GUI thread
        assert "at most 10000" in window.status_label.text() and name in \
            window.status_label.text()
    assert window.slot.panel.config() == before


def _draw(presenter, n: int, seed: int = 0) -> None:
    """Strokes on the canvas: a noisy ring of ``n`` points (what ``ParticleCanvas`` emits)."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, n)
    pts = np.stack([2 * np.cos(angle), np.sin(angle)], 1) + 0.05 * rng.normal(size=(n, 2))
    presenter._points_drawn(pts)


def test_draw_fit_cancel_mid_fit_fit_again_and_switch_labs(window, qtbot, tmp_path):
    presenter = window.slot.presenter
    _refuses_huge_points_files(window, presenter, tmp_path)
    _draw(presenter, 3000)
    set_config(window, fit_components=32)
    cfg = window.slot.panel.config()
    assert cfg.prior == "custom" and len(cfg.custom_points) == 3000
    messages = []
    window.runner.sigProgress.connect(lambda f, m: messages.append(m))
    window.run()
    qtbot.waitUntil(lambda: any("EM fit: iteration" in m for m in messages), timeout=60_000)
    fit = [m for m in messages if "EM fit: iteration" in m][0]
    assert "log-likelihood" in fit and "s left" in fit
    t0 = time.perf_counter()
    with qtbot.waitSignal(window.runner.sigCancelled, timeout=2000):
        window.runner.cancel()
    assert window.runner.wait(2000)
    latency = time.perf_counter() - t0
    assert latency < 1.0, latency                # goal 0.2 s; 2 shared cores under load
    assert "cancelled" in window.status_label.text() and presenter.result is None
    set_config(window, fit_components=2)         # fit again, smaller: to the end
    run_and_wait(window, qtbot)
    assert presenter.result.runs[0].status == "completed"
    assert len(presenter.result.config.custom_points) == 3000
    window.switch_lab("regions", run_if_empty=False)
    window.switch_lab("diffusion", run_if_empty=False)
    assert window.slot.panel.config().custom_points == cfg.custom_points
    assert window.slot.presenter.result is not None


def test_a_huge_regions_csv_is_refused_at_once_with_the_limit(lab_window, tmp_path):
    win = lab_window("regions")
    before = win.slot.panel.config()
    big = tmp_path / "big.csv"
    big.write_text("x1,x2,y\n" + "0.1,0.2,1\n" * 1_000_000)
    t0 = time.perf_counter()
    assert not win.slot.presenter.load_csv(str(big))
    assert time.perf_counter() - t0 < 1.0                  # not parsed on the GUI thread
    assert "at most 300" in win.status_label.text() and "big.csv" in win.status_label.text()
    assert win.slot.panel.config() == before
    ok = tmp_path / "ok.csv"
    ok.write_text("x1,x2,y\n" + "".join(f"{i / 300},{(i % 7) / 7},{1 - 2 * (i % 2)}\n"
                                         for i in range(300)))
    assert win.slot.presenter.load_csv(str(ok))
    assert len(win.slot.panel.config().custom_points) == 300

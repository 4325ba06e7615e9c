"""A user's walk through hostile input in the recon lab (issue #17): a colour TIFF loads with
its note shown, a damaged file is refused by name, a run cancelled mid-way leaves the app
ready for the next one (pytest-qt fails the test on any exception raised in a Qt slot)."""
from __future__ import annotations

import numpy as np
import pytest

from tests.app.conftest import run_and_wait, set_config

SMALL = {"size": 16, "slices": 2, "n_views": 8, "iters": 4, "every": 2,
         "method_a": "fbp", "method_b": "none"}


@pytest.fixture
def window(lab_window):
    return lab_window("recon", **SMALL)


def test_colour_tiff_is_noted_when_opened_and_in_the_result(window, qtbot, tmp_path):
    tifffile = pytest.importorskip("tifffile")
    rgb = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "colour.tif", rgb, photometric="rgb")
    assert window.slot.presenter.open_volume(str(tmp_path / "colour.tif"))
    assert "luminance" in window.status_label.text()
    run_and_wait(window, qtbot)
    assert any("luminance" in n for n in window.slot.presenter.result.notes)
    assert "luminance" in window.status_label.text()


def test_damaged_files_are_refused_by_name(window, tmp_path):
    np.savez(tmp_path / "full.npz", data=np.ones((2, 4, 4)))
    raw = (tmp_path / "full.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    np.savez(tmp_path / "spacing.npz", data=np.ones((2, 4, 4)), spacing=[1.0])
    before = window.slot.panel.config()
    for name in ("cut.npz", "spacing.npz"):
        assert not window.slot.presenter.open_volume(str(tmp_path / name))
        text = window.status_label.text()
        assert "not opened" in text and name in text
    assert window.slot.panel.config() == before


def test_cancel_mid_run_then_run_again(window, qtbot):
    set_config(window, method_a="tv", iters=2000, every=1, size=32, slices=4)
    with qtbot.waitSignal(window.runner.sigProgress, timeout=60_000):
        window.run()
    qtbot.wait(200)
    with qtbot.waitSignal(window.runner.sigCancelled, timeout=2000):
        window.runner.cancel()
    assert window.runner.wait(1000)                  # the worker has ended (≤ 1 s here)
    set_config(window, iters=3)
    run_and_wait(window, qtbot)
    assert [m.name for m in window.slot.presenter.result.runs] == ["tv"]

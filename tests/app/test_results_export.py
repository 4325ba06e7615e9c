"""File → Export results: the lab's last result as an .npz, written off the GUI thread."""
import os
import pathlib
import subprocess
import sys

import numpy as np

from engine.core.results_io import load_results
from tests.app.conftest import run_and_wait
from tests.app.test_regions_lab import SMALL

from app.results_export import export_results

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_export_before_any_run_says_so(lab_window, tmp_path):
    win = lab_window("regions", **SMALL)
    assert export_results(win, str(tmp_path / "r.npz")) is None
    assert "run the lab first" in win.status_label.text()
    assert not (tmp_path / "r.npz").exists()


def test_regions_result_exports_weights_and_config(lab_window, qtbot, tmp_path):
    win = lab_window("regions", **SMALL)
    run_and_wait(win, qtbot)
    thread = export_results(win, str(tmp_path / "weights"))       # ".npz" is appended
    thread.join(60)
    qtbot.waitUntil(lambda: win.status_label.text().startswith("Saved"), timeout=10_000)
    arrays, meta = load_results(tmp_path / "weights.npz")
    result = win.slot.presenter.result
    np.testing.assert_array_equal(arrays["convex/W1"], result.convex.W1)
    np.testing.assert_array_equal(arrays["runs/1/objective"], result.runs[1].objective)
    np.testing.assert_array_equal(arrays["X"], result.X)
    assert meta["lab"] == "regions" and meta["config"]["n_points"] == SMALL["n_points"]


def test_unwritable_path_is_reported_and_the_app_goes_on(lab_window, qtbot, tmp_path):
    win = lab_window("regions", **SMALL)
    run_and_wait(win, qtbot)
    export_results(win, str(tmp_path / "no" / "such" / "dir" / "r.npz")).join(60)
    qtbot.waitUntil(lambda: "Could not write" in win.status_label.text(), timeout=10_000)
    run_and_wait(win, qtbot)                                        # still usable


def test_cli_results_command_writes_npz(tmp_path):
    out = tmp_path / "gf.npz"
    env = dict(os.environ, FLOWSCOPE_HOME=str(tmp_path))
    res = subprocess.run([sys.executable, "main.py", "results", "--lab", "gradient-flow",
                          "--set", "n_init=20", "--set", "frames=20", "--out", str(out)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    arrays, meta = load_results(out)
    assert meta["lab"] == "gradient-flow" and meta["config"]["n_init"] == 20
    assert arrays["w"].shape[1] == 20 and np.isfinite(arrays["w"]).all()

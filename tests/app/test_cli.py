"""`main.py screenshot` / `export` render headless to non-blank files (SCIENCE-free smoke)."""
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _run(args, tmp_path):
    env = dict(os.environ, FLOWSCOPE_HOME=str(tmp_path))
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def _read(path):
    import imageio.v3 as iio
    return np.asarray(iio.imread(path))


def test_screenshot_writes_non_blank_png(tmp_path):
    out = tmp_path / "shot.png"
    res = _run(["screenshot", "--lab", "gradient-flow", "--preset", "support-vectors",
                "--out", str(out), "--size", "1200x800"], tmp_path)
    assert res.returncode == 0, res.stderr
    img = _read(out)
    assert img.shape[0] == 800 and img.shape[1] == 1200
    assert img[..., :3].std() > 10  # not a blank window


def test_export_writes_gif(tmp_path):
    out = tmp_path / "movie.gif"
    res = _run(["export", "--lab", "gradient-flow", "--out", str(out), "--size", "800x560",
                "--set", "frames=30", "--set", "n_init=50"], tmp_path)
    assert res.returncode == 0, res.stderr
    import imageio.v3 as iio
    frames = iio.imread(out, index=None)
    assert frames.shape[0] > 10 and frames[..., :3].std() > 10


@pytest.mark.parametrize("args, text", [
    (["screenshot", "--lab", "nope", "--out", "x.png"], "unknown lab"),
    (["screenshot", "--lab", "gradient-flow", "--preset", "nope", "--out", "x.png"],
     "unknown preset"),
])
def test_bad_cli_arguments_give_clear_errors(tmp_path, args, text):
    res = _run(args, tmp_path)
    assert res.returncode == 2 and text in res.stderr


def test_diffusion_screenshot_is_not_blank(tmp_path):
    out = tmp_path / "diffusion.png"
    res = _run(["screenshot", "--lab", "diffusion", "--preset", "projection-vs-mcg",
                "--set", "n_particles=300", "--set", "n_steps=20", "--out", str(out),
                "--size", "1200x800"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert _read(out)[..., :3].std() > 10


def test_regions_screenshot_is_not_blank(tmp_path):
    out = tmp_path / "regions.png"
    res = _run(["screenshot", "--lab", "regions", "--set", "n_points=12", "--set", "steps=200",
                "--set", "grid=64", "--set", "snapshots=5", "--out", str(out),
                "--size", "1200x800"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert _read(out)[..., :3].std() > 10


def test_help_lists_every_sub_command(capsys):
    from app.cli import RENDER_COMMANDS, main
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    for command, summary in RENDER_COMMANDS.items():
        assert re.search(rf"^\s+{command}\s+{re.escape(summary)}$", out, re.MULTILINE), out


def test_version_is_the_pyproject_version(capsys):
    from app.cli import main
    declared = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(),
                         re.MULTILINE).group(1)
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"flowscope {declared}"


def test_main_py_and_console_script_share_one_entry():
    """``python main.py`` runs the function ``[project.scripts] flowscope`` names."""
    script = re.search(r'^flowscope = "([\w.]+):(\w+)"', (ROOT / "pyproject.toml").read_text(),
                       re.MULTILINE)
    assert script.groups() == ("app.cli", "main")
    res = subprocess.run([sys.executable, "main.py", "--version"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.startswith("flowscope ")


def test_headless_window_shows_its_result_without_the_run_hint(qtbot):
    """A screenshot is of a finished run: no "press Run" banner over it (issue #11)."""
    from app.headless import build_window
    win = build_window("gradient-flow", "small-init-vs-depth", None, "1280x720",
                       {"n_init": 8})
    qtbot.addWidget(win)
    assert win.slot.has_result and not win.run_hint.isVisible()

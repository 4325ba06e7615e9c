"""``main.py sweep``: a sweep from the terminal writes a Parquet folder, resumes, and every
bad input is one ``error:`` line with exit status 2 before any point runs."""
import pandas as pd
import pytest

from app.cli import main
from app.sweep_cli import build_sweep, load_sweep_presets
from engine.sweeps import load_sweep, plan_sweep

BASE = ["sweep", "--lab", "gradient-flow/reduced", "--metric", "convergence_time",
        "--workers", "0"]


def test_sweep_writes_a_parquet_folder_and_resumes(tmp_path, capsys):
    out = str(tmp_path / "s")
    assert main([*BASE, "--axis", "depth=1,2", "--axis", "init_scale=log:0.1:1:2",
                 "--out", out]) == 0
    assert "wrote 4 points" in capsys.readouterr().out
    df = pd.read_parquet(out)
    assert sorted(df["depth"]) == [1, 1, 2, 2] and (df["error"] == "").all()
    assert main([*BASE, "--axis", "depth=1,2", "--axis", "init_scale=log:0.1:1:2",
                 "--out", out, "--resume"]) == 0
    assert len(load_sweep(out)) == 4


@pytest.mark.parametrize("args, says", [
    (["--axis", "depht=1,2"], "no field 'depht'"),
    (["--axis", "depth=0,1"], "depth = 0 is outside the valid range"),
    (["--axis", "depth"], "--axis expects FIELD=VALUE"),
    (["--axis", "depth=1", "--metric", "psnr"], "no metric 'psnr'"),
    (["--axis", "depth=1", "--preset", "ct-views-method"], "sweeps the recon lab"),
    (["--axis", "depth=1", "--workers", "-1"], "--workers must be"),
    ([], "at least one --axis"),
    (["--axis", "depth=1", "--set", "dpth=2"], "has no field 'dpth'"),
    (["--axis", "depth=1", "--set", "n_init=0"], "n_init = 0 is outside"),
])
def test_bad_sweeps_are_one_error_line(tmp_path, capsys, args, says):
    rc = main([*BASE, *args, "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and says in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "x").exists()


def test_every_sweep_preset_is_a_valid_sweep():
    class Args:
        lab = axis = metric = set = ()
        seeds = None
    for name, preset in load_sweep_presets().items():
        args = Args()
        args.preset, args.lab, args.axis, args.metric, args.set = name, None, [], [], []
        plan = plan_sweep(build_sweep(args))
        assert plan.lab == preset["lab"] and len(plan.points) >= 4, name
        assert preset["title"] and preset["description"]

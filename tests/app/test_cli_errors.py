"""`main.py results|screenshot --set …`: typed values, and every error is one line with exit
status 2, never a traceback (issue #17)."""
from __future__ import annotations

import pytest

from app.cli import main
from app.headless import parse_overrides
from engine.diffusion.config import DiffusionConfig
from engine.gradient_flow.config import FlowConfig
from engine.regions.config import RegionsConfig


def test_text_fields_take_bare_values_and_comma_lists():
    got = parse_overrides(["widths=8", "dataset=moons", "lr=0.05", "n_points=20"],
                          RegionsConfig)
    assert got == {"widths": "8", "dataset": "moons", "lr": "0.05", "n_points": "20"}
    assert parse_overrides(["widths=4,8"], RegionsConfig) == {"widths": "4,8"}
    assert parse_overrides(['widths="4, 64"'], RegionsConfig) == {"widths": "4, 64"}


def test_tuple_fields_take_json_arrays_or_comma_lists():
    rows = parse_overrides(["custom_points=[[0, 1, 1], [1, 0, -1]]"], RegionsConfig)
    assert rows == {"custom_points": [[0, 1, 1], [1, 0, -1]]}
    assert parse_overrides(["custom_points=1,2.5,x"], DiffusionConfig) == \
        {"custom_points": [1, 2.5, "x"]}


def test_booleans_and_untyped_values():
    assert parse_overrides(["balanced=false", "balanced=yes"], FlowConfig) == {"balanced": True}
    assert parse_overrides(["dim=3", "method=gd"]) == {"dim": 3, "method": "gd"}


@pytest.mark.parametrize("pair", ["novalue", "=3", "custom_points=" + "[" * 50 + "]" * 50])
def test_malformed_pairs_are_clear_errors(pair):
    with pytest.raises(ValueError, match="--set"):
        parse_overrides([pair], RegionsConfig)


def _error_line(capsys, args) -> str:
    rc = main(args)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err and err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1
    return err


@pytest.mark.parametrize("sets, says", [
    (["n_init=Infinity"], "n_init"),
    (["seed=1e999"], "seed"),
    (["n_init=" + "9" * 5000], "n_init"),
    (["dt=nan"], "dt"),
    (["method=[1,2]"], "method must be one of"),
    (["bogus=1"], "unknown field"),
])
def test_bad_values_are_one_line_errors(capsys, tmp_path, sets, says):
    args = ["results", "--lab", "gradient-flow", "--out", str(tmp_path / "r.npz")]
    for pair in sets:
        args += ["--set", pair]
    assert says in _error_line(capsys, args)


def test_huge_regions_coordinates_are_refused(capsys, tmp_path):
    err = _error_line(capsys, ["results", "--lab", "regions", "--out", str(tmp_path / "r.npz"),
                               "--set", "dataset=custom",
                               "--set", "custom_points=[[1e300, 0, 1], [0, 1, -1]]"])
    assert "custom_points" in err and "±1e+06" in err


@pytest.mark.parametrize("out, says", [("missing/r.npz", "does not exist"), (".", "folder")])
def test_out_into_a_missing_folder_or_onto_a_folder(capsys, tmp_path, out, says):
    err = _error_line(capsys, ["results", "--lab", "gradient-flow", "--out",
                               str(tmp_path / out)])
    assert says in err


def test_missing_volume_is_a_one_line_error(capsys, tmp_path):
    err = _error_line(capsys, ["results", "--lab", "recon", "--out", str(tmp_path / "r.npz"),
                               "--set", "source=file", "--set",
                               f"path={tmp_path / 'nope.nii.gz'}", "--set", "size=16",
                               "--set", "slices=2"])
    assert "nope.nii.gz" in err


def test_bad_size_is_a_one_line_error(capsys, tmp_path):
    assert "--size" in _error_line(capsys, ["screenshot", "--lab", "gradient-flow", "--out",
                                            str(tmp_path / "s.png"), "--size", "huge"])


def test_widths_as_a_bare_number_runs(capsys, tmp_path):
    out = tmp_path / "r.npz"
    rc = main(["results", "--lab", "regions", "--out", str(out), "--set", "widths=8",
               "--set", "n_points=12", "--set", "width=4", "--set", "steps=20",
               "--set", "n_seeds=1", "--set", "grid=32", "--set", "snapshots=2"])
    assert rc == 0, capsys.readouterr().err
    assert out.exists()

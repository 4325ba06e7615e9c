"""Results files: every array of a result tree round-trips exactly; bad files are refused."""
import dataclasses
import json
import zipfile

import numpy as np
import pytest
import torch

from engine.core.results_io import (ResultsFileError, flatten_result, load_results,
                                    save_results)


@dataclasses.dataclass
class Inner:
    values: np.ndarray
    label: str
    missing: object = None


@dataclasses.dataclass
class Outer:
    weights: torch.Tensor
    runs: list
    table: dict
    pair: tuple
    count: int


def make_result():
    rng = np.random.default_rng(0)
    return Outer(weights=torch.arange(6.0).reshape(2, 3),
                 runs=[Inner(rng.normal(size=(4, 2)), "a"), Inner(rng.integers(0, 9, 5), "b")],
                 table={"psnr": np.array([20.5, 21.0]), "rank": [1.0, 2.0],
                        "curve": [(0, 12.5), (10, 20.25)], "iterates": [(0, np.ones(2))]},
                 pair=("x", np.ones(3, np.complex64)), count=7)


def test_flatten_names_every_leaf_by_its_path():
    arrays, skipped = flatten_result(make_result())
    assert sorted(arrays) == sorted(["weights", "runs/0/values", "runs/0/label",
                                     "runs/1/values", "runs/1/label", "table/psnr",
                                     "table/rank", "table/curve", "table/iterates/0/0",
                                     "table/iterates/0/1", "pair/0", "pair/1", "count"])
    assert skipped == ["runs/0/missing", "runs/1/missing"]
    np.testing.assert_array_equal(arrays["weights"], np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(arrays["table/rank"], [1.0, 2.0])
    np.testing.assert_array_equal(arrays["table/curve"], [[0, 12.5], [10, 20.25]])


def test_round_trip_is_exact_and_keeps_dtypes(tmp_path):
    result = make_result()
    meta = save_results(tmp_path / "r.npz", result, {"lab": "test", "config": {"n": 3}})
    arrays, loaded = load_results(tmp_path / "r.npz")
    assert loaded["lab"] == "test" and loaded["config"] == {"n": 3}
    assert loaded["fields"] == meta["fields"] == sorted(arrays)
    np.testing.assert_array_equal(arrays["runs/0/values"], result.runs[0].values)
    assert arrays["runs/1/values"].dtype == result.runs[1].values.dtype
    assert arrays["pair/1"].dtype == np.complex64
    assert str(arrays["runs/1/label"]) == "b" and int(arrays["count"]) == 7


def test_save_is_atomic_and_refuses_empty_results(tmp_path):
    path = tmp_path / "r.npz"
    save_results(path, make_result())
    before = path.read_bytes()
    with pytest.raises(ValueError, match="no array data"):
        save_results(path, {"nothing": None})
    assert path.read_bytes() == before                  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.npz"]     # no temp files left


@pytest.mark.parametrize("content, text", [
    (b"not a zip at all", "cannot read results"),
    (None, "not a Flowscope results file"),
])
def test_bad_files_get_clear_errors(tmp_path, content, text):
    path = tmp_path / "bad.npz"
    if content is None:
        np.savez(path, a=np.ones(2))                    # a valid npz Flowscope did not write
    else:
        path.write_bytes(content)
    with pytest.raises(ResultsFileError, match=text):
        load_results(path)
    with pytest.raises(ResultsFileError, match="cannot read"):
        load_results(tmp_path / "absent.npz")


def test_foreign_meta_and_pickled_arrays_are_refused(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, __meta__=np.asarray(json.dumps({"format": "other/1"})))
    with pytest.raises(ResultsFileError, match="not a Flowscope"):
        load_results(path)
    np.savez(path, __meta__=np.asarray(json.dumps({"format": "flowscope-results/1"})),
             obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ResultsFileError, match="cannot read"):
        load_results(path)                              # never unpickles
    assert zipfile.is_zipfile(path)

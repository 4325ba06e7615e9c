"""config_from_dict refuses every hostile value with a ValueError naming the field and its
valid range (issue #17) — never OverflowError / TypeError / RecursionError."""
from __future__ import annotations

import math

import pytest

from engine.core import config_from_dict, validate
from engine.core.config import PointRows, points_problem
from engine.diffusion.config import DiffusionConfig
from engine.gradient_flow.config import FlowConfig
from engine.regions.config import RegionsConfig

HUGE = 10 ** 400


@pytest.mark.parametrize("field, value, says", [
    ("n_init", math.inf, "[1, 1000000]"),
    ("n_init", -math.inf, "not a finite number"),
    ("n_init", math.nan, "not a finite number"),
    ("n_init", HUGE, "outside the valid range [1, 1000000]"),
    ("n_init", 2.5, "not a whole number"),
    ("n_init", "5" * 5000, "wrong type"),
    ("n_init", [1, 2], "wrong type"),
    ("n_init", {"a": 1}, "wrong type"),
    ("n_init", None, "wrong type"),
    ("n_init", True, "wrong type"),
    ("dt", HUGE, "outside the valid range"),
    ("dt", -HUGE, "outside the valid range"),
    ("dt", "nan", "not a finite number"),
    ("dt", math.inf, "[1e-05, 1.0]"),
    ("seed", 1e999, "[0, 2147483647]"),
    ("method", ["gf"], "must be one of gf, gd"),
    ("balanced", 1, "true or false"),
])
def test_hostile_scalar_values_give_a_clear_error(field, value, says):
    with pytest.raises(ValueError) as err:
        config_from_dict(FlowConfig, {field: value})
    text = str(err.value)
    assert text.startswith(field) and says in text and len(text) < 300


def test_numeric_text_and_integral_floats_are_accepted():
    cfg = config_from_dict(FlowConfig, {"dim": "7", "n_init": 30.0, "dt": "0.5"})
    assert (cfg.dim, cfg.n_init, cfg.dt) == (7, 30, 0.5) and isinstance(cfg.n_init, int)


@pytest.mark.parametrize("cls, limit", [(RegionsConfig, 300), (DiffusionConfig, 10_000)])
@pytest.mark.parametrize("points, says", [
    ("abc", "not a list of rows"),
    ([[1, 2, 3], [1, 2]], "ragged"),
    ([[1, 2, 3, 4]], "wrong length"),
    ([["a", 1, 2]], "not a number"),
    ([[1e300, 0, 1]], "too large"),
    ([[math.nan, 0, 1]], "not finite"),
    ([7, 8, 9], "not a list of numbers"),
])
def test_bad_point_sets_are_refused_with_the_limit(cls, limit, points, says):
    with pytest.raises(ValueError) as err:
        config_from_dict(cls, {"custom_points": points})
    assert says in str(err.value) and f"at most {limit} rows" in str(err.value)


@pytest.mark.parametrize("cls, limit, cols", [(RegionsConfig, 300, 3),
                                              (DiffusionConfig, 10_000, 2)])
def test_point_count_limit_is_the_labs(cls, limit, cols):
    ok = config_from_dict(cls, {"custom_points": [[0.5] * cols] * limit})
    assert ok.custom_points == ((0.5,) * cols,) * limit
    with pytest.raises(ValueError, match=f"{limit + 1} rows, too many"):
        config_from_dict(cls, {"custom_points": [[0.5] * cols] * (limit + 1)})


def test_two_column_rows_are_not_regrouped_into_triples():
    with pytest.raises(ValueError, match="wrong length"):
        config_from_dict(RegionsConfig, {"custom_points": [[0, 1], [2, 3], [4, 5]]})
    # built directly (a notebook), validate() still refuses it
    with pytest.raises(ValueError, match="custom_points"):
        validate(RegionsConfig(custom_points=((0, 1), (2, 3), (4, 5))))


def test_points_problem_accepts_valid_sets():
    spec = PointRows((2, 3), 4, bound=10.0)
    assert points_problem(spec, ()) is None
    assert points_problem(spec, ((1, 2), (3.5, -4))) is None
    assert points_problem(spec, ((1, 2, 3),) * 4) is None
    assert "too many" in points_problem(spec, ((1, 2),) * 5)


def test_overlong_text_is_refused():
    with pytest.raises(ValueError, match="widths .* too long"):
        config_from_dict(RegionsConfig, {"widths": "8," * 5000})


def test_numpy_numbers_are_points_too():
    import numpy as np
    rows = ((np.float32(0.5), np.float64(-1.0), np.int64(1)),)
    cfg = config_from_dict(RegionsConfig, {"custom_points": rows})
    assert cfg.custom_points == ((0.5, -1.0, 1.0),)
    with pytest.raises(ValueError, match="too large"):
        config_from_dict(RegionsConfig, {"custom_points": [[10 ** 400, 0, 1]]})

"""The config fuzzer at a small count (CI): per lab, random valid runs and hostile values
through every entry path end in ok or a clear error — no crash, no silent NaN, no hang.
The full count, on demand: ``python -m tests.fuzz.full_run`` (tests/fuzz/README.md)."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from app.registry import LABS
from engine.core import validate
from tests.fuzz.fuzz_configs import (PATHS, fuzz_lab, hostile_values, random_config,
                                     table)


#: Random runs per lab in CI (a learned run trains two nets on brain slices: two runs).
RUNS = {"learned": 2}


@pytest.mark.parametrize("lab", list(LABS))
def test_small_fuzz_has_no_crash_nan_or_hang(lab, caplog):
    caplog.set_level(logging.ERROR)
    runs = RUNS.get(lab, 3)
    out = fuzz_lab(lab, count=len(hostile_values()), runs=runs, seed=1)
    bad = {o: out["examples"].get(o, []) for o in ("crash", "nan", "hung")}
    assert not any(bad.values()), f"{lab}: {bad}\n{table({lab: out})}"
    assert sum(out["runs"].values()) == runs
    assert sum(out["hostile"].values()) == len(hostile_values()) * len(PATHS)
    assert out["hostile"]["clear"] > 0 and out["hostile"]["ok"] > 0


@pytest.mark.parametrize("lab", list(LABS))
def test_random_configs_are_valid_and_seeded(lab):
    cls = LABS[lab].config_class()
    a = [random_config(cls, lab, np.random.default_rng(5)) for _ in range(2)]
    for cfg in a:
        validate(cfg)
    assert a[0] == a[1]

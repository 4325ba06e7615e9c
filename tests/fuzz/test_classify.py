"""The fuzzer's strict classifier (tests/fuzz/classify.py): a ValueError counts as a clear
error only when a project ``raise`` gave it a short readable message; numpy's own, an empty
or unreadable message, and a CLI traceback are crashes. Guards the fuzzer against counting
a real bug as "clear" again (issue #17)."""
from __future__ import annotations

import linecache

import numpy as np
import pytest

from engine.core import config_from_dict
from engine.regions.config import RegionsConfig
from tests.fuzz.classify import REPO, classify_cli, classify_error
from tests.fuzz.cli_path import judge_cli_output


def _raised(action):
    try:
        action()
    except Exception as err:  # noqa: BLE001 - the test inspects it
        return err
    raise AssertionError("nothing raised")


def _classify_in_project(source: str) -> tuple[str, str]:
    """:func:`classify_error` of what ``source`` raises when run as if it were a line of
    ``engine/`` (a file name under the repository's engine folder, its text served from
    linecache while the traceback is read)."""
    name = str(REPO / "engine" / "_fuzz_classifier_probe.py")
    linecache.cache[name] = (len(source), None, [source + "\n"], name)
    try:
        return classify_error(_raised(lambda: exec(compile(source, name, "exec"), {})))
    finally:
        linecache.cache.pop(name, None)


def test_numpy_raised_value_error_is_a_crash():
    err = _raised(lambda: np.max(np.zeros(0)))
    outcome, detail = classify_error(err)
    assert outcome == "crash"
    assert "zero-size array" in detail and "raised outside" in detail


def test_engine_raised_value_error_is_clear():
    err = _raised(lambda: config_from_dict(RegionsConfig, {"n_points": "abc"}))
    outcome, detail = classify_error(err)
    assert outcome == "clear" and detail.startswith("n_points = 'abc'")


@pytest.mark.parametrize("source, why", [
    ("raise ValueError('')", "empty message"),
    ("raise ValueError('x' * 600)", "message of 600 characters"),
    ("raise ValueError('bad: array([1., 2.])')", "raw repr"),
    ("int('abc')", "raised outside the project's own raise statements"),
    ("raise KeyError('n_points')", "not a ValueError"),
])
def test_project_errors_without_a_clear_message_are_crashes(source, why):
    outcome, detail = _classify_in_project(source)
    assert outcome == "crash" and why in detail
    assert "engine/_fuzz_classifier_probe.py:1" in detail


def test_project_raise_with_a_message_is_clear():
    assert _classify_in_project("raise ValueError('n = 3: expected 1..2')") \
        == ("clear", "n = 3: expected 1..2")


TRACEBACK = ('Traceback (most recent call last):\n  File "{file}", line 7, in f\n'
             '    {line}\nValueError: {msg}\n')


@pytest.mark.parametrize("rc, stderr, outcome", [
    (0, "", "ok"),
    (2, "error: seed = 'x' is not a finite number\n", "clear"),
    (1, TRACEBACK.format(file="x.py", line="f()", msg="m"), "crash"),
    (2, "error: TypeError: unhashable type: 'list'\n", "crash"),
    (2, "error: \n", "crash"),
    (2, "error: a\nerror: b\n", "crash"),
])
def test_cli_output_rule(rc, stderr, outcome):
    assert classify_cli(rc, "", stderr)[0] == outcome


def test_cli_debug_traceback_must_end_in_a_project_raise():
    project = TRACEBACK.format(file=REPO / "engine/core/config.py", line="raise ValueError(",
                               msg="n bad")
    numpy = TRACEBACK.format(file="/venv/site-packages/numpy/core/fromnumeric.py",
                             line="return ufunc.reduce(obj, axis)", msg="zero-size array")
    assert judge_cli_output(2, "", project + "error: n bad\n") == ("clear", "n bad")
    outcome, detail = judge_cli_output(2, "", numpy + "error: zero-size array\n")
    assert outcome == "crash" and "fromnumeric.py" in detail


def test_cli_subprocess_refuses_a_hostile_value_in_one_line():
    """The fuzzer's command-line path end to end: ``main.py results --set seed=1e999``."""
    from tests.fuzz.cli_path import through_cli_process
    outcome, detail = through_cli_process("regions", RegionsConfig, "seed", "1e999")
    assert (outcome, detail.split(" =")[0]) == ("clear", "seed"), detail

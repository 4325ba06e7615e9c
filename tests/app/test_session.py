"""Sessions: JSON round trip, clear errors, defaults for bad configs, safe autosave."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest

from app.session import (Autosaver, Session, SessionError, autosave_path, load_autosave,
                         restore_config)
from engine.core import param


@dataclass(frozen=True)
class DemoConfig:
    width: int = param(64, help="hidden units", min=1, max=4096)
    lr: float = param(0.1, help="learning rate", min=1e-6, max=10.0, log=True)
    init: str = param("small", help="initialisation", choices=("small", "large"))
    seed: int = param(0, help="random seed", min=0)


def make_session() -> Session:
    s = Session(current_lab="gradient-flow", device="cpu")
    s.set_lab("gradient-flow", DemoConfig(width=128, lr=0.05, seed=7), preset="two-layer")
    s.set_lab("diffusion", DemoConfig(), preset=None)
    return s


def test_json_round_trip():
    s = make_session()
    data = json.loads(s.to_json())
    assert data["format"] == "flowscope-session" and data["version"] == 1
    assert data["labs"]["gradient-flow"] == {
        "config": {"width": 128, "lr": 0.05, "init": "small", "seed": 7},
        "preset": "two-layer"}
    back = Session.from_json(s.to_json())
    assert back == s
    cfg, warning = back.lab_config("gradient-flow", DemoConfig)
    assert cfg == DemoConfig(width=128, lr=0.05, seed=7) and warning is None


def test_save_load_round_trip_is_atomic(tmp_path):
    path = tmp_path / "my.flowscope.json"
    s = make_session()
    s.save(path)
    s.device = "cuda:0"
    s.save(path)  # overwrite
    assert Session.load(path) == s
    assert [p.name for p in tmp_path.iterdir()] == ["my.flowscope.json"]


@pytest.mark.parametrize("text, reason", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"format": "something-else", "version": 1}', "not a Flowscope session"),
    ('{"format": "flowscope-session", "version": 99}', "unsupported session version 99"),
    ('{"format": "flowscope-session", "version": "1"}', "'version' must be an integer"),
    ('{"format": "flowscope-session", "version": 1, "labs": []}', "'labs' must be an object"),
    ('{"format": "flowscope-session", "version": 1, "device": 3}', "'device' must be a string"),
    ('{"format": "flowscope-session", "version": 1, "labs": {"a": {"preset": 5}}}',
     "labs['a'].preset"),
])
def test_invalid_text_raises_clear_error(text, reason):
    with pytest.raises(SessionError, match=re.escape(reason)):
        Session.from_json(text)


def test_load_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("{oops")
    with pytest.raises(SessionError) as err:
        Session.load(bad)
    assert "broken.json" in str(err.value) and "not valid JSON" in str(err.value)
    assert bad.read_text() == "{oops"  # never touched
    with pytest.raises(SessionError, match="not found"):
        Session.load(tmp_path / "missing.json")
    binary = tmp_path / "image.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(SessionError, match="image.json"):
        Session.load(binary)


@pytest.mark.parametrize("data", [
    {"width": -5},                      # out of range
    {"lr": "fast"},                     # wrong type
    {"init": "huge"},                   # not a choice
    ["not", "a", "dict"],               # foreign
])
def test_restore_config_falls_back_to_defaults(data):
    cfg, warning = restore_config(DemoConfig, data)
    assert cfg == DemoConfig()
    assert warning and "DemoConfig" in warning and "defaults" in warning


def test_restore_config_keeps_valid_values_and_ignores_unknown_keys():
    cfg, warning = restore_config(DemoConfig, {"width": 8, "seed": 3, "removed_field": 1})
    assert cfg == DemoConfig(width=8, seed=3) and warning is None


def test_restore_config_resets_only_the_invalid_fields_and_names_them():
    cfg, warning = restore_config(DemoConfig, {"width": -5, "lr": 0.5, "init": "huge",
                                               "seed": 9})
    assert cfg == DemoConfig(lr=0.5, seed=9)
    assert "width" in warning and "init" in warning
    assert "lr" not in warning and "seed" not in warning


def test_corrupt_lab_entry_opens_defaults():
    s = Session.from_json(json.dumps({
        "format": "flowscope-session", "version": 1, "current_lab": "x",
        "labs": {"x": {"config": {"width": 10 ** 9}, "preset": None}}}))
    cfg, warning = s.lab_config("x", DemoConfig)
    assert cfg == DemoConfig() and "width" in warning
    assert s.lab_config("absent", DemoConfig) == (DemoConfig(), None)


def test_autosave_path_honours_env(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path))
    assert autosave_path() == tmp_path / "autosave.json"


def test_corrupt_autosave_is_renamed_aside(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_HOME", str(tmp_path))
    path = autosave_path()
    path.write_text('{"format": "flowscope-session", "version": 1, "labs": ')
    session, warning = load_autosave()
    assert session is None
    kept = list(tmp_path.glob("autosave.corrupt-*.json"))
    assert len(kept) == 1 and not path.exists()
    assert kept[0].read_text().startswith('{"format"')  # contents preserved
    assert str(kept[0]) in warning and "default" in warning
    # the next autosave goes to a fresh file and leaves the corrupt copy alone
    make_session().save(path)
    assert kept[0].exists() and load_autosave() == (make_session(), None)


def test_missing_autosave_is_silent(tmp_path):
    assert load_autosave(tmp_path / "autosave.json") == (None, None)


def test_autosaver_debounces_and_flushes(qtbot, tmp_path):
    path = tmp_path / "sub" / "autosave.json"
    state = make_session()
    saver = Autosaver(lambda: state, path, interval_ms=50)
    assert saver.flush() and not path.exists()  # nothing dirty: no write
    saver.mark_dirty()
    saver.mark_dirty()
    assert not path.exists()
    with qtbot.waitSignal(saver.sigSaved, timeout=2000):
        pass
    assert Session.load(path) == state and not saver.is_dirty()
    state.current_lab = "diffusion"
    saver.mark_dirty()
    assert saver.flush()
    assert Session.load(path).current_lab == "diffusion"


def test_autosaver_reports_errors_without_raising(qtbot, tmp_path):
    def broken():
        raise RuntimeError("no session")
    saver = Autosaver(broken, tmp_path / "autosave.json", interval_ms=10)
    saver.mark_dirty()
    with qtbot.waitSignal(saver.sigError, timeout=2000) as err:
        pass
    assert "no session" in err.args[0] and saver.is_dirty()


@dataclass(frozen=True)
class PointsConfig:
    points: tuple = param((), help="clicked points (x, y, label)", hidden=True)


def test_nested_points_come_back_as_tuples():
    cfg = PointsConfig(points=((0.5, -1.0, 1.0), (0.25, 0.0, -1.0)))
    back, warning = restore_config(PointsConfig, json.loads(json.dumps({"points": cfg.points})))
    assert warning is None and back == cfg


# -- issue #17: a restore never prevents start-up -------------------------------------------
def _session_text(config: dict) -> str:
    return json.dumps({"format": "flowscope-session", "version": 1, "current_lab": "x",
                       "labs": {"x": {"config": config, "preset": None}}})


@pytest.mark.parametrize("text, reason", [
    ('{"format": "flowscope-session", "version": ' + "9" * 5000 + "}", "digits"),
    ("[" * 100_000 + "]" * 100_000, "nested deeper"),
    ('{"a": ' + "[" * 40 + "]" * 40 + "}", "nested deeper than 16"),
    (" " * (17 * 2 ** 20), "too large"),
])
def test_hostile_json_raises_only_session_error(text, reason):
    with pytest.raises(SessionError, match=reason):
        Session.from_json(text)


def test_huge_autosave_file_is_set_aside(tmp_path):
    path = tmp_path / "autosave.json"
    path.write_text('{"format": "flowscope-session", "version": 1, "labs": {}}'
                    + " " * (17 * 2 ** 20))
    session, warning = load_autosave(path)
    assert session is None and "too large" in warning
    assert len(list(tmp_path.glob("autosave.corrupt-*.json"))) == 1


def test_invalid_field_resets_alone_and_the_old_autosave_is_copied(tmp_path):
    path = tmp_path / "autosave.json"
    path.write_text(_session_text({"width": 10 ** 400, "lr": 0.5, "seed": 4}))
    session, warning = load_autosave(path, {"x": DemoConfig})
    copies = list(tmp_path.glob("autosave.replaced-*.json"))
    assert len(copies) == 1 and str(copies[0]) in warning and "x" in warning
    assert copies[0].read_text() == path.read_text()          # the replaced values are kept
    cfg, field_warning = session.lab_config("x", DemoConfig)
    assert cfg == DemoConfig(lr=0.5, seed=4) and "width" in field_warning
    assert "huge integer" in field_warning and len(field_warning) < 300


def test_valid_autosave_makes_no_copy(tmp_path):
    path = tmp_path / "autosave.json"
    path.write_text(_session_text({"width": 8}))
    session, warning = load_autosave(path, {"x": DemoConfig})
    assert warning is None and session.lab_config("x", DemoConfig) == (DemoConfig(width=8), None)
    assert list(tmp_path.iterdir()) == [path]


def test_orphan_temporary_files_are_removed_at_start(tmp_path):
    import os
    import time
    path = tmp_path / "autosave.json"
    old = tmp_path / ".autosave.json.abc123.tmp"
    fresh = tmp_path / ".autosave.json.def456.tmp"
    other = tmp_path / ".other.json.abc.tmp"
    for f in (old, fresh, other):
        f.write_text("{")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    os.utime(other, (time.time() - 3600, time.time() - 3600))
    assert load_autosave(path) == (None, None)
    assert not old.exists() and fresh.exists() and other.exists()


def test_an_edit_is_on_disk_within_half_a_second_even_while_edits_go_on(qtbot, tmp_path):
    path = tmp_path / "autosave.json"
    state = make_session()
    saver = Autosaver(lambda: state, path)                  # the default delay
    saver.mark_dirty()
    assert 0 < saver._timer.remainingTime() <= 500
    qtbot.wait(150)
    saver.mark_dirty()                                      # a drag: edits keep coming …
    assert saver._timer.remainingTime() <= 400              # … and do not push the save back
    qtbot.waitUntil(path.exists, timeout=2000)
    assert Session.load(path) == state

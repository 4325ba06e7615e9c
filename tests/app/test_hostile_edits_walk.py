"""Hostile values through the shell's own entry paths in the two newer labs (issue #17):
typed into the panel's editors, sent as a view's edit (``sigConfigEdit`` →
``MainWindow.edit_config``) and restored from a session file. A refused value leaves the
config as it was and says why in the status line; pytest-qt fails the test on any
exception raised in a Qt slot."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from PySide6 import QtWidgets

from app.registry import LABS as REGISTRY
from app.session import Session, SessionError
from engine.core import validate
from tests.fuzz.fuzz_configs import _typed, hostile_values

LABS = ("learned", "convex-duals")


def _fields(config) -> list:
    return [f.name for f in dataclasses.fields(config) if not f.metadata.get("hidden")]


@pytest.mark.parametrize("lab", LABS)
def test_hostile_text_in_the_panel_and_view_edits(lab_window, lab, qtbot):
    win = lab_window(lab)
    panel, rng = win.slot.panel, np.random.default_rng(3)
    names = _fields(panel.config())
    values = [v for v in hostile_values() if not isinstance(v, list) or len(v) < 1000]
    for value in values:
        name = names[rng.integers(len(names))]
        before = panel.config()
        editor = panel.editor(name)
        if isinstance(editor, QtWidgets.QLineEdit):
            editor.setText(value if isinstance(value, str) else _typed(value))
            editor.editingFinished.emit()
            after = panel.config()
            validate(after)                          # accepted only when valid
            if after == before and panel.error_text():
                assert name in panel.error_text() and len(panel.error_text()) < 400
        panel.set_config(before)
        win.edit_config({names[rng.integers(len(names))]: value})
        validate(panel.config())
    assert not win.runner.is_running()


@pytest.mark.parametrize("lab", LABS)
def test_hostile_session_values_reset_alone(lab):
    cls = REGISTRY[lab].config_class()
    names = [n for n in _fields(cls()) if n != "seed"]
    rng = np.random.default_rng(4)
    for value in hostile_values()[:30]:
        name = names[rng.integers(len(names))]
        try:
            text = json.dumps({"format": "flowscope-session", "version": 1,
                               "current_lab": lab,
                               "labs": {lab: {"config": {name: value, "seed": 7},
                                              "preset": None}}})
        except (ValueError, RecursionError):
            continue
        try:
            session = Session.from_json(text)
        except SessionError as err:                   # the whole file refused, said why
            assert "nested deeper" in str(err)
            continue
        cfg, warning = session.lab_config(lab, cls)
        validate(cfg)
        assert cfg.seed == 7                          # the good field kept
        kept = getattr(cfg, name)
        if kept != value and not (isinstance(value, str) and str(kept) == value.strip()):
            assert warning and name in warning and len(warning) < 400

"""Tests for widgets.parameter_panel.ParameterPanel."""
from __future__ import annotations

import dataclasses

import pytest
from PySide6 import QtCore, QtWidgets

from widgets.parameter_panel import ParameterPanel, format_number


@dataclasses.dataclass(frozen=True)
class Cfg:
    dim: int = dataclasses.field(default=8, metadata={
        "help": "Input dimension", "unit": "px", "min": 1, "max": 64})
    lr: float = dataclasses.field(default=1e-5, metadata={
        "label": "Learning rate", "help": "Step size", "min": 1e-8, "max": 1.0, "log": True})
    bias: bool = dataclasses.field(default=True, metadata={"help": "Use biases"})
    init: str = dataclasses.field(default="he", metadata={
        "help": "Initialisation", "choices": ("he", "xavier", "small")})
    tag: str = dataclasses.field(default="run", metadata={"help": "Run tag"})
    seed: int = dataclasses.field(default=0, metadata={"help": "Seed", "hidden": True})


@pytest.fixture
def panel(qtbot):
    w = ParameterPanel(Cfg(dim=16))
    qtbot.addWidget(w)
    w.show()
    return w


def _type(qtbot, editor, text):
    editor.setFocus()
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, QtCore.Qt.Key.Key_Return)


def test_editors_for_visible_fields(panel):
    assert isinstance(panel.editor("dim"), QtWidgets.QLineEdit)
    assert isinstance(panel.editor("lr"), QtWidgets.QLineEdit)
    assert isinstance(panel.editor("bias"), QtWidgets.QCheckBox)
    assert isinstance(panel.editor("init"), QtWidgets.QComboBox)
    assert isinstance(panel.editor("tag"), QtWidgets.QLineEdit)
    with pytest.raises(KeyError):
        panel.editor("seed")
    assert panel.editor("dim").text() == "16"
    assert panel.editor("lr").text() == "1e-05"
    assert panel.editor("bias").isChecked()
    assert panel.editor("init").currentText() == "he"
    labels = {lab.text() for lab in panel.findChildren(QtWidgets.QLabel)}
    assert {"Dim", "Learning rate", "Bias", "Init", "Tag", "px"} <= labels
    assert "Seed" not in labels


def test_tooltips_contain_help_and_range(panel):
    tip = panel.editor("dim").toolTip()
    assert "Input dimension" in tip and "[1, 64]" in tip and "px" in tip
    assert "he, xavier, small" in panel.editor("init").toolTip()


def test_valid_edit_emits_new_config(qtbot, panel):
    with qtbot.waitSignal(panel.sigConfigChanged, timeout=1000) as blocker:
        _type(qtbot, panel.editor("dim"), "32")
    assert blocker.args[0] == Cfg(dim=32)
    assert panel.config().dim == 32
    with qtbot.waitSignal(panel.sigConfigChanged, timeout=1000) as blocker:
        _type(qtbot, panel.editor("lr"), "3e-4")
    assert blocker.args[0].lr == pytest.approx(3e-4)
    with qtbot.waitSignal(panel.sigConfigChanged, timeout=1000):
        panel.editor("bias").setChecked(False)
    with qtbot.waitSignal(panel.sigConfigChanged, timeout=1000):
        panel.editor("init").setCurrentIndex(1)
    assert panel.config() == Cfg(dim=32, lr=3e-4, bias=False, init="xavier")
    assert panel.error_text() == ""


@pytest.mark.parametrize("field,text,needle", [
    ("dim", "0", "dim = 0 is outside the valid range [1, 64]"),
    ("dim", "abc", "dim: 'abc' is not a number"),
    ("dim", "2.5", "not an integer"),
    ("lr", "nan", "NaN"),
    ("lr", "5", "[1e-08, 1]"),
    ("lr", "inf", "finite"),
])
def test_invalid_edit_refused(qtbot, panel, field, text, needle):
    before = panel.config()
    changed = []
    panel.sigConfigChanged.connect(changed.append)
    with qtbot.waitSignal(panel.sigInvalid, timeout=1000) as blocker:
        _type(qtbot, panel.editor(field), text)
    assert needle in blocker.args[0]
    assert needle in panel.error_text()
    assert panel.config() == before and changed == []
    assert "border" in panel.editor(field).styleSheet()
    # correcting the value clears the message and the red border
    with qtbot.waitSignal(panel.sigConfigChanged, timeout=1000):
        _type(qtbot, panel.editor(field), {"dim": "2", "lr": "0.5"}[field])
    assert panel.error_text() == ""
    assert panel.editor(field).styleSheet() == ""


def test_set_config_emits_nothing(qtbot, panel):
    with qtbot.assertNotEmitted(panel.sigConfigChanged), \
            qtbot.assertNotEmitted(panel.sigInvalid):
        panel.set_config(Cfg(dim=4, bias=False, init="small", tag="x"))
    assert panel.editor("dim").text() == "4"
    assert not panel.editor("bias").isChecked()
    assert panel.editor("init").currentText() == "small"
    assert panel.config().tag == "x"
    with pytest.raises(TypeError):
        panel.set_config(object())


def test_defaults_button(qtbot, panel):
    btn = next(b for b in panel.findChildren(QtWidgets.QPushButton) if b.text() == "Defaults")
    with qtbot.waitSignal(panel.sigResetRequested, timeout=1000), \
            qtbot.waitSignal(panel.sigConfigChanged, timeout=1000) as blocker:
        qtbot.mouseClick(btn, QtCore.Qt.MouseButton.LeftButton)
    assert blocker.args[0] == Cfg()
    assert panel.editor("dim").text() == "8"


def test_format_number():
    assert format_number(1e-5) == "1e-05"
    assert format_number(100.0) == "100"
    assert format_number(0.1) == "0.1"
    assert format_number(7) == "7"


@dataclasses.dataclass(frozen=True)
class SolverCfg:
    solver: str = dataclasses.field(default="a", metadata={"help": "", "choices": ("a", "b", "c")})
    other: str = dataclasses.field(default="none", metadata={"help": "",
                                                             "choices": ("none", "a", "b")})
    step: float = dataclasses.field(default=0.5, metadata={
        "help": "b's knob", "visible_when": {"solver": ("b",), "other": ("b",)}})
    always: int = dataclasses.field(default=1, metadata={"help": "no condition"})


def test_visible_when_shows_only_the_chosen_solvers_knobs(qtbot):
    w = ParameterPanel(SolverCfg())
    qtbot.addWidget(w)
    w.show()
    step = w.editor("step")
    assert not step.isVisibleTo(w) and not w.row_shown("step")
    assert w.editor("always").isVisibleTo(w)
    w.editor("solver").setCurrentText("b")              # live: the row appears
    assert step.isVisibleTo(w) and w.config().solver == "b"
    _type(qtbot, step, "0.25")
    assert w.config().step == 0.25
    w.editor("solver").setCurrentText("c")              # hidden again, value kept
    assert not step.isVisibleTo(w) and w.config().step == 0.25
    w.editor("other").setCurrentText("b")               # the comparison solver counts too
    assert step.isVisibleTo(w)
    w.set_config(SolverCfg(solver="a", other="none", step=0.75))
    assert not step.isVisibleTo(w) and w.config().step == 0.75

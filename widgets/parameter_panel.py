"""A form generated from a frozen dataclass config.

Each dataclass field becomes one editor; its ``field.metadata`` (keys ``label``, ``help``,
``unit``, ``min``, ``max``, ``choices``, ``log``, ``hidden``, ``visible_when``; see
docs/CONTRACTS.md) gives the label, tooltip, unit suffix and the valid range. Invalid values are
refused, never clamped. ``visible_when = {"solver": ("ddim",), "compare_solver": ("ddim",)}``
shows the row only while one of the named fields has one of the listed values (e.g. the knobs
of the chosen solvers); hidden rows keep their values.

Only the stdlib :mod:`dataclasses` module is used to read configs: this module must not
import ``engine`` or ``app``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

from PySide6 import QtCore, QtWidgets

from widgets.parameter_fields import (field_kind, format_number, humanise, parse_value, tooltip,
                                      visible)

__all__ = ["ParameterPanel", "format_number"]

_ERROR_STYLE = "border: 1px solid #e03030;"


class ParameterPanel(QtWidgets.QWidget):
    """Editors for every non-hidden field of a frozen dataclass instance.

    Parameters
    ----------
    config : dataclass instance
        The initial configuration; its class fixes the set of editors.
    parent : QWidget, optional
        Qt parent.

    Signals
    -------
    sigConfigChanged(object)
        A valid edit (or Defaults) produced a new config instance.
    sigInvalid(str)
        An edit was refused; the message names the field and its valid range.
    sigResetRequested()
        The Defaults button was pressed (emitted before ``sigConfigChanged``).
    """

    sigConfigChanged = QtCore.Signal(object)
    sigInvalid = QtCore.Signal(str)
    sigResetRequested = QtCore.Signal()

    def __init__(self, config, parent: Optional[QtWidgets.QWidget] = None):
        super().__init__(parent)
        if not dataclasses.is_dataclass(config) or isinstance(config, type):
            raise TypeError("ParameterPanel needs a dataclass instance")
        self._config = config
        self._cls = type(config)
        self._fields: dict[str, dataclasses.Field] = {}
        self._kinds: dict[str, str] = {}
        self._editors: dict[str, QtWidgets.QWidget] = {}
        self._rows: dict[str, QtWidgets.QWidget] = {}
        self._errors: dict[str, str] = {}
        self._build_ui()
        self._load_editors()

    # ------------------------------------------------------------------ public API
    def config(self):
        """The current (always valid) dataclass instance."""
        return self._config

    def set_config(self, cfg) -> None:
        """Show ``cfg`` in the editors without emitting ``sigConfigChanged``.

        Parameters
        ----------
        cfg : dataclass instance
            A config of the same class as the one the panel was built from.
        """
        if type(cfg) is not self._cls:
            raise TypeError(f"expected {self._cls.__name__}, got {type(cfg).__name__}")
        self._config = cfg
        self._errors.clear()
        self._load_editors()

    def error_text(self) -> str:
        """The current validation message ('' when every editor is valid)."""
        return "\n".join(self._errors.values())

    def editor(self, name: str) -> QtWidgets.QWidget:
        """The editor widget of field ``name`` (for tests and focus handling)."""
        return self._editors[name]

    def row_shown(self, name: str) -> bool:
        """Whether the row of field ``name`` is shown (its ``visible_when`` holds)."""
        return visible(self._fields[name], self._config)

    # ------------------------------------------------------------------ UI construction
    def _build_ui(self) -> None:
        outer = QtWidgets.QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        scroll = QtWidgets.QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        inner = QtWidgets.QWidget(scroll)
        self._form = QtWidgets.QFormLayout(inner)
        self._form.setFieldGrowthPolicy(
            QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for f in dataclasses.fields(self._cls):
            if f.metadata.get("hidden"):
                continue
            self._add_row(f)
        scroll.setWidget(inner)
        outer.addWidget(scroll, 1)
        self._message = QtWidgets.QLabel(self)
        self._message.setWordWrap(True)
        self._message.setStyleSheet("color: #e03030;")
        self._message.setVisible(False)
        outer.addWidget(self._message)
        self._defaults_btn = QtWidgets.QPushButton("Defaults", self)
        self._defaults_btn.setToolTip("Reset every parameter to its default value")
        self._defaults_btn.clicked.connect(self._on_defaults)
        self._defaults_btn.setEnabled(self._defaults() is not None)
        row = QtWidgets.QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self._defaults_btn)
        outer.addLayout(row)

    def _add_row(self, f: dataclasses.Field) -> None:
        """Create the editor for field ``f`` and add it (with label and unit) to the form."""
        kind = field_kind(f, getattr(self._config, f.name))
        tip = tooltip(f)
        if kind == "bool":
            editor = QtWidgets.QCheckBox()
            editor.toggled.connect(lambda _=None, n=f.name: self._commit(n))
        elif kind == "choice":
            editor = QtWidgets.QComboBox()
            editor.addItems(list(f.metadata["choices"]))
            editor.currentIndexChanged.connect(lambda _=None, n=f.name: self._commit(n))
        else:
            editor = QtWidgets.QLineEdit()
            editor.editingFinished.connect(lambda n=f.name: self._commit(n))
        editor.setObjectName(f"editor_{f.name}")
        editor.setToolTip(tip)
        self._fields[f.name], self._kinds[f.name], self._editors[f.name] = f, kind, editor
        label = QtWidgets.QLabel(f.metadata.get("label") or humanise(f.name))
        label.setToolTip(tip)
        unit = f.metadata.get("unit")
        if unit and kind in ("int", "float"):
            box = QtWidgets.QWidget()
            lay = QtWidgets.QHBoxLayout(box)
            lay.setContentsMargins(0, 0, 0, 0)
            lay.addWidget(editor, 1)
            lay.addWidget(QtWidgets.QLabel(unit))
            self._form.addRow(label, box)
            self._rows[f.name] = box
        else:
            self._form.addRow(label, editor)
            self._rows[f.name] = editor

    def _update_rows(self) -> None:
        """Show the rows whose ``visible_when`` holds for the current config, hide the rest."""
        for name, widget in self._rows.items():
            self._form.setRowVisible(widget, visible(self._fields[name], self._config))

    # ------------------------------------------------------------------ editor <-> config
    def _load_editors(self) -> None:
        """Write the current config into every editor, without triggering commits."""
        for name, editor in self._editors.items():
            value = getattr(self._config, name)
            blocked = editor.blockSignals(True)
            try:
                self._set_editor_value(name, editor, value)
            finally:
                editor.blockSignals(blocked)
            editor.setStyleSheet("")
        self._show_errors()
        self._update_rows()

    def _set_editor_value(self, name: str, editor, value) -> None:
        kind = self._kinds[name]
        if kind == "bool":
            editor.setChecked(bool(value))
        elif kind == "choice":
            idx = editor.findText(str(value))
            if idx < 0:
                editor.addItem(str(value))
                idx = editor.count() - 1
            editor.setCurrentIndex(idx)
        elif kind in ("int", "float"):
            editor.setText(format_number(value))
        elif kind == "str":
            editor.setText(str(value))
        else:
            editor.setText(repr(value))
        if isinstance(editor, QtWidgets.QLineEdit):
            editor.setCursorPosition(0)

    def _editor_text(self, name: str) -> Any:
        editor, kind = self._editors[name], self._kinds[name]
        if kind == "bool":
            return editor.isChecked()
        if kind == "choice":
            return editor.currentText()
        return editor.text()

    def _commit(self, name: str) -> None:
        """Parse the editor of ``name``; accept (emit the new config) or refuse it."""
        raw = self._editor_text(name)
        if self._kinds[name] == "bool":
            value, err = raw, None
        else:
            value, err = parse_value(self._fields[name], self._kinds[name], raw)
        editor = self._editors[name]
        if err is not None:
            self._errors[name] = err
            editor.setStyleSheet(_ERROR_STYLE)
            self._show_errors()
            self.sigInvalid.emit(err)
            return
        self._errors.pop(name, None)
        editor.setStyleSheet("")
        self._show_errors()
        if value == getattr(self._config, name) and type(value) is type(getattr(self._config, name)):
            return
        self._config = dataclasses.replace(self._config, **{name: value})
        self._update_rows()
        self.sigConfigChanged.emit(self._config)

    def _show_errors(self) -> None:
        text = self.error_text()
        self._message.setText(text)
        self._message.setVisible(bool(text))

    # ------------------------------------------------------------------ defaults
    def _defaults(self):
        """A default instance of the config class, or None if it needs arguments."""
        try:
            return self._cls()
        except TypeError:
            return None

    def _on_defaults(self) -> None:
        cfg = self._defaults()
        if cfg is None:
            return
        self.sigResetRequested.emit()
        self.set_config(cfg)
        self.sigConfigChanged.emit(cfg)


def _demo() -> None:  # pragma: no cover - manual demo
    import sys

    @dataclasses.dataclass(frozen=True)
    class DemoConfig:
        width: int = dataclasses.field(default=64, metadata={
            "help": "Hidden width of the ReLU network", "unit": "neurons",
            "min": 1, "max": 4096})
        lr: float = dataclasses.field(default=1e-5, metadata={
            "label": "Learning rate", "help": "Gradient-descent step size",
            "min": 1e-8, "max": 10.0, "log": True})
        init: str = dataclasses.field(default="he", metadata={
            "help": "Weight initialisation", "choices": ("he", "xavier", "small")})
        bias: bool = dataclasses.field(default=True, metadata={"help": "Use biases"})
        t_max: float = dataclasses.field(default=2.5, metadata={
            "help": "Integration horizon", "unit": "s", "min": 0.0, "max": 100.0})
        name: str = dataclasses.field(default="run-1", metadata={"help": "Run name"})
        seed: int = dataclasses.field(default=0, metadata={"help": "hidden", "hidden": True})

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv)
    panel = ParameterPanel(DemoConfig())
    panel.setWindowTitle("ParameterPanel demo")
    panel.sigConfigChanged.connect(lambda c: print("config:", c))
    panel.sigInvalid.connect(lambda m: print("invalid:", m))
    panel.resize(380, 320)
    panel.show()
    app.exec()


if __name__ == "__main__":
    _demo()

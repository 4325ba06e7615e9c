"""Run → Sweep…: run the current lab over a grid of its parameters and seeds (issue #15).

Axes are picked from the lab config's fields (labels from their metadata), values typed as
``1,2,3`` / ``lin:a:b:n`` / ``log:a:b:n``; seeds, the plotted metric, the executor (this
process, local Dask workers, a cluster's scheduler address) and the output folder. The sweep
runs through its own :class:`app.runner.Runner` (off the GUI thread; progress, cancel), the
plot fills in as points finish, and a click on a point loads its values into the lab.
"""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Optional

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QFormLayout, QGridLayout,
                               QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton,
                               QSpinBox, QVBoxLayout, QWidget)

from app.runner import Runner
from app.session import autosave_path
from app.sweep_cli import load_sweep_presets
from app.sweep_table import show_table, values_at
from widgets.sweep_plot import SweepPlot

__all__ = ["SweepDialog", "open_sweep_dialog", "EXECUTORS"]

EXECUTORS = (("Local Dask workers", "dask"), ("This process", "local"),
             ("Cluster scheduler address", "address"))
AXIS_ROWS = 3


def default_folder(lab: str) -> str:
    """``sweeps/<lab>-<time>`` in the user folder (``$FLOWSCOPE_HOME`` when set)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return str(autosave_path().parent / "sweeps" / f"{lab.replace('/', '-')}-{stamp}")


class SweepDialog(QDialog):
    """Sweep the lab ``lab`` around the base config ``config`` (a config instance)."""

    sigLoadConfig = Signal(object)      # {field: value} of a clicked point

    def __init__(self, lab: str, config, parent: Optional[QWidget] = None):
        super().__init__(parent)
        from engine.core import config_to_dict
        from engine.sweeps import target
        self.setWindowTitle(f"Sweep — {lab}")
        self.lab, self.target = lab, target(lab)
        self.base = config_to_dict(config)
        self.fields = [f for f in dataclasses.fields(type(config))
                       if not f.metadata.get("hidden") and f.metadata.get("points") is None
                       and f.name != "seed"]
        self.runner = Runner(self)
        self.table, self.axes, self.total, self.reduced = None, {}, 0, None
        self._build()
        self._connect()

    # -- layout -----------------------------------------------------------------------------
    def _build(self) -> None:
        form = QFormLayout()
        self.preset_box = QComboBox()
        self.preset_box.addItem("(current config)", None)
        for key, p in load_sweep_presets().items():
            if p["lab"] == self.lab:
                self.preset_box.addItem(p["title"], key)
        form.addRow("Preset", self.preset_box)
        form.addRow("Axes", self._axes_grid())
        self.seeds_spin = QSpinBox()
        self.seeds_spin.setRange(1, 1000)
        form.addRow("Seeds per point", self.seeds_spin)
        self.metric_box = QComboBox()
        for name, (_fn, help_text) in self.target.metrics.items():
            self.metric_box.addItem(name, name)
            self.metric_box.setItemData(self.metric_box.count() - 1, help_text,
                                        Qt.ItemDataRole.ToolTipRole)
        form.addRow("Metric", self.metric_box)
        form.addRow("Run on", self._executor_row())
        self.out_edit = QLineEdit(default_folder(self.lab))
        self.resume_box = QCheckBox("Resume the sweep in this folder")
        form.addRow("Output folder", self.out_edit)
        form.addRow("", self.resume_box)
        self.plot = SweepPlot()
        self.plot.setMinimumSize(520, 320)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(self._run_row())
        layout.addWidget(self.plot, 1)

    def _axes_grid(self) -> QWidget:
        box, grid = QWidget(), QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        box.setLayout(grid)
        self.axis_fields, self.axis_values = [], []
        for row in range(AXIS_ROWS):
            combo = QComboBox()
            combo.addItem("(none)", None)
            for f in self.fields:
                combo.addItem(f.metadata.get("label", f.name), f.name)
            edit = QLineEdit()
            edit.setPlaceholderText("1,2,3  or  lin:a:b:n  or  log:a:b:n")
            combo.currentIndexChanged.connect(lambda _i, r=row: self._field_picked(r))
            grid.addWidget(combo, row, 0)
            grid.addWidget(edit, row, 1)
            self.axis_fields.append(combo)
            self.axis_values.append(edit)
        return box

    def _executor_row(self) -> QWidget:
        box, row = QWidget(), QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        box.setLayout(row)
        self.executor_box = QComboBox()
        for text, key in EXECUTORS:
            self.executor_box.addItem(text, key)
        self.workers_spin = QSpinBox()
        self.workers_spin.setRange(1, max(1, os.cpu_count() or 1) * 4)
        self.workers_spin.setValue(max(1, min(2, os.cpu_count() or 1)))
        self.workers_spin.setSuffix(" workers")
        self.address_edit = QLineEdit()
        self.address_edit.setPlaceholderText("tcp://host:8786")
        for w in (self.executor_box, self.workers_spin, self.address_edit):
            row.addWidget(w)
        self._executor_changed()
        return box

    def _run_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.start_button = QPushButton("Start sweep")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.dashboard = QLabel("")
        self.dashboard.setOpenExternalLinks(True)
        for w in (self.start_button, self.cancel_button, self.progress):
            row.addWidget(w)
        col = QVBoxLayout()
        col.addWidget(self.status)
        col.addWidget(self.dashboard)
        row.addLayout(col, 1)
        return row

    def _connect(self) -> None:
        self.preset_box.currentIndexChanged.connect(lambda _i: self.apply_preset(
            self.preset_box.currentData()))
        self.executor_box.currentIndexChanged.connect(lambda _i: self._executor_changed())
        self.metric_box.currentIndexChanged.connect(lambda _i: self._redraw())
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.plot.sigPointClicked.connect(self._point_clicked)
        self.runner.sigProgress.connect(self._on_progress)
        self.runner.sigPartial.connect(self._on_partial)
        self.runner.sigFinished.connect(self._on_finished)
        self.runner.sigFailed.connect(lambda msg, _t: self._ended(f"Sweep failed: {msg}", True))
        self.runner.sigCancelled.connect(lambda _t: self._ended(
            "Sweep cancelled: the finished points are stored; tick Resume to finish it."))

    # -- settings ---------------------------------------------------------------------------
    def _field_picked(self, row: int) -> None:
        name = self.axis_fields[row].currentData()
        f = next((f for f in self.fields if f.name == name), None)
        if f is None:
            self.axis_values[row].clear()
            return
        if f.metadata.get("choices"):
            text = ",".join(f.metadata["choices"])
        elif isinstance(f.default, bool):
            text = "true,false"
        else:
            text = str(self.base.get(name, f.default))
        self.axis_values[row].setText(text)
        self.axis_fields[row].setToolTip(f.metadata.get("help", ""))

    def set_axis(self, row: int, field: str, values: str) -> None:
        """Put axis ``row`` on ``field`` with ``values`` (text)."""
        self.axis_fields[row].setCurrentIndex(max(0, self.axis_fields[row].findData(field)))
        self.axis_values[row].setText(values)

    def apply_preset(self, key: Optional[str]) -> None:
        """Fill axes, seeds, metric and base config from a sweep preset."""
        if not key:
            return
        p = load_sweep_presets()[key]
        self.base = {**self.base, **p["config"]}
        for row in range(AXIS_ROWS):
            self.axis_fields[row].setCurrentIndex(0)
        for row, (name, values) in enumerate(list(p["axes"].items())[:AXIS_ROWS]):
            text = values if isinstance(values, str) else ",".join(map(str, values))
            self.set_axis(row, name, text)
        self.seeds_spin.setValue(int(p.get("seeds", 1)))
        self.metric_box.setCurrentIndex(max(0, self.metric_box.findData(p["metrics"][0])))

    def _executor_changed(self) -> None:
        key = self.executor_box.currentData()
        self.workers_spin.setVisible(key == "dask")
        self.address_edit.setVisible(key == "address")

    def sweep(self):
        """The :class:`engine.sweeps.Sweep` the settings describe (every metric of the lab
        is kept, so the plotted one can change afterwards)."""
        from engine.sweeps import Sweep
        axes = {}
        for combo, edit in zip(self.axis_fields, self.axis_values):
            if combo.currentData():
                axes[combo.currentData()] = edit.text()
        if not axes:
            raise ValueError("pick at least one axis")
        return Sweep(self.lab, self.base, axes, self.seeds_spin.value(),
                     list(self.target.metrics))

    def executor(self) -> str:
        key = self.executor_box.currentData()
        if key != "address":
            return key
        address = self.address_edit.text().strip()
        if "://" not in address:
            raise ValueError("type the scheduler's address, e.g. tcp://host:8786")
        return address

    # -- running ----------------------------------------------------------------------------
    def start(self) -> bool:
        """Validate everything, then run the sweep off the GUI thread (False if refused)."""
        from engine.sweeps import prepare_sweep, run_sweep
        if self.runner.is_running():
            return False
        try:
            sweep, executor = self.sweep(), self.executor()
            out, resume = self.out_edit.text().strip(), self.resume_box.isChecked()
            if not out:
                raise ValueError("choose an output folder")
            prep = prepare_sweep(sweep, out, resume)
        except ValueError as err:
            self._say(str(err), error=True)
            return False
        self.axes, self.total, self.table = prep.plan.axes, len(prep.plan.points), None
        self.plot.clear(f"0/{self.total} points")
        workers = self.workers_spin.value()
        self.runner.start(lambda: run_sweep(sweep, executor=executor, workers=workers,
                                            store=out, resume=resume), tag="sweep")
        self._running(True)
        self._say(f"Starting {self.total} points…")
        return True

    def cancel(self) -> None:
        self.runner.cancel()

    def _running(self, on: bool) -> None:
        self.start_button.setEnabled(not on)
        self.cancel_button.setEnabled(on)

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(round(1000 * fraction)))
        self._say(message)

    def _on_partial(self, partial) -> None:
        points = partial.get("points") if isinstance(partial, dict) else None
        if not points:
            return
        self.table = points["table"]
        link = points.get("dashboard")
        self.dashboard.setText(f"{points.get('workers', 1)} workers · <a href='{link}'>Dask "
                               f"dashboard</a>" if link else "")
        self._redraw()

    def _on_finished(self, table, _tag) -> None:
        self.table = table
        self._redraw()
        failed = int((table["error"] != "").sum())
        self._ended(f"Done: {len(table)} points in {self.out_edit.text()}"
                    + (f" ({failed} failed)" if failed else ""))
        self.progress.setValue(1000)

    def _ended(self, text: str, error: bool = False) -> None:
        self._running(False)
        self._say(text, error)

    def _redraw(self) -> None:
        if self.table is None or not self.axes:
            return
        done = len(self.table)
        self.reduced = show_table(self.plot, self.table, self.axes,
                                  self.metric_box.currentData(), done, self.total)

    def _point_clicked(self, index) -> None:
        if self.reduced is not None:
            values = values_at(self.reduced, index)
            self.sigLoadConfig.emit(values)
            self._say("Loaded into the lab: " + ", ".join(f"{k} = {v}"
                                                           for k, v in values.items()))

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #b00020;" if error else "")
        self.status.setText(text)

    def shutdown(self, timeout_ms: int = 60_000) -> None:
        """Cancel a running sweep and wait for it (its cluster closes)."""
        self.runner.cancel()
        self.runner.shutdown(timeout_ms)

    def done(self, result: int) -> None:  # noqa: D102 - closing cancels a running sweep
        self.shutdown()
        super().done(result)


def open_sweep_dialog(win) -> SweepDialog:
    """Open the sweep dialog for ``win``'s current lab; a clicked point edits that lab."""
    lab = win.current
    dialog = SweepDialog(lab, win.slot.panel.config(), win)
    dialog.sigLoadConfig.connect(lambda values: win.edit_config(values, lab))
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.close_watcher = _CloseWatcher(dialog, win)
    dialog.show()
    win.sweep_dialog = dialog
    return dialog


class _CloseWatcher(QObject):
    """Stops ``dialog``'s sweep (and its cluster) when the main window closes."""

    def __init__(self, dialog: SweepDialog, win: QWidget):
        super().__init__(dialog)
        self.dialog = dialog
        win.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        if event.type() == QEvent.Type.Close:
            self.dialog.shutdown()
        return False

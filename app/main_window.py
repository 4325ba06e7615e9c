"""The shell: lab switcher, parameter panel, run/cancel/progress, playback, status bar.

Nothing lab-specific lives here; presenters (``app/labs``) do the lab work.
"""
from __future__ import annotations

import logging
import time
from typing import Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QDockWidget, QHBoxLayout, QLabel, QMainWindow,
                               QProgressBar, QPushButton, QStackedWidget, QVBoxLayout, QWidget,
                               QCheckBox)

from app import menus
from app.registry import LABS
from app.runner import Runner
from app.session import Autosaver, Session, restore_config
from engine.core.config import config_from_dict, config_to_dict
from widgets.elided_label import ElidedLabel
from widgets.parameter_panel import ParameterPanel
from widgets.playback_bar import PlaybackBar

log = logging.getLogger(__name__)
PROGRESS_SECONDS = 0.1     # progress-bar updates at most 10 per second


class LabSlot:
    """One lab in the window: its spec, presenter, panel and presets."""

    def __init__(self, spec, config):
        self.spec = spec
        self.presenter = spec.load_presenter()(spec)
        self.panel = ParameterPanel(config)
        self.presenter.current_config = self.panel.config
        self.presets = spec.presets()
        self.preset: Optional[str] = None


class MainWindow(QMainWindow):
    """Main window. ``session`` restores every lab's config; ``autosave_path`` may be None."""

    def __init__(self, session: Optional[Session] = None, autosave_path=None,
                 session_path=None, devices=None, auto_run: bool = True):
        super().__init__()
        self.setWindowTitle("Flowscope")
        self.resize(1500, 950)
        self.session_path = session_path
        self.runner = Runner(self)
        self._progress_at = -float("inf")
        self.slots: dict[str, LabSlot] = {}
        self.current: Optional[str] = None
        self._warnings: list[str] = []
        self._build(devices or [("cpu", "CPU")])
        self._restore(session)
        self.auto_run.setChecked(auto_run)
        self.autosaver = Autosaver(self.session, autosave_path) if autosave_path else None
        self._wire()
        menus.build_menus(self)

    # -- construction ----------------------------------------------------------------------
    def _build(self, devices) -> None:
        self.views = QStackedWidget()
        self.playback = PlaybackBar()
        central = QWidget()
        box = QVBoxLayout(central)
        box.setContentsMargins(4, 4, 4, 4)
        box.addWidget(self.views, 1)
        box.addWidget(self.playback)
        self.setCentralWidget(central)
        self._build_side_panel()
        self._build_status_bar(devices)
        self.playback.install_shortcuts(self)

    def _build_side_panel(self) -> None:
        self.lab_box = QComboBox()
        self.preset_box = QComboBox()
        self.preset_note = QLabel()
        self.preset_note.setWordWrap(True)
        self.panels = QStackedWidget()
        self.run_button = QPushButton("Run")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.auto_run = QCheckBox("Re-run on every change")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        side = QWidget()
        lay = QVBoxLayout(side)
        lay.addWidget(QLabel("Lab"))
        lay.addWidget(self.lab_box)
        lay.addWidget(QLabel("Preset"))
        lay.addWidget(self.preset_box)
        lay.addWidget(self.preset_note)
        lay.addWidget(self.panels, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        lay.addLayout(buttons)
        lay.addWidget(self.auto_run)
        lay.addWidget(self.progress)
        self.side_dock = QDockWidget("Parameters", self)
        self.side_dock.setObjectName("parameters")
        self.side_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.side_dock.setWidget(side)
        self.side_dock.setMinimumWidth(300)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.side_dock)

    def _build_status_bar(self, devices) -> None:
        self.status_label = ElidedLabel("Ready")     # long summaries: "…", full text as tooltip
        self.device_box = QComboBox()
        self.device_box.setToolTip("Compute device for engine runs")
        for dev, name in devices:
            self.device_box.addItem(name, dev)
        bar = self.statusBar()
        bar.addWidget(self.status_label, 1)
        bar.addPermanentWidget(QLabel("Device:"))
        bar.addPermanentWidget(self.device_box)

    def _restore(self, session: Optional[Session]) -> None:
        saved = session.labs if session else {}
        for name, spec in LABS.items():
            entry = saved.get(name, {}) if isinstance(saved, dict) else {}
            config, warning = restore_config(spec.config_class(), entry.get("config", {}))
            if warning:
                self._warnings.append(f"{spec.title}: {warning}")
            slot = LabSlot(spec, config)
            slot.preset = entry.get("preset") if entry.get("preset") in slot.presets else None
            self.slots[name] = slot
            self.views.addWidget(slot.presenter.view)
            self.panels.addWidget(slot.panel)
            self.lab_box.addItem(spec.title, name)
        if session and session.device:
            idx = self.device_box.findData(session.device)
            if idx >= 0:
                self.device_box.setCurrentIndex(idx)
        first = session.current_lab if session and session.current_lab in LABS else next(iter(LABS))
        self.switch_lab(first)

    def _wire(self) -> None:
        self.lab_box.currentIndexChanged.connect(
            lambda i: self.switch_lab(self.lab_box.itemData(i)))
        self.preset_box.activated.connect(
            lambda i: self.apply_preset(self.preset_box.itemData(i)))
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.device_box.currentIndexChanged.connect(self._device_changed)
        for slot in self.slots.values():
            slot.panel.sigConfigChanged.connect(self._config_changed)
            slot.panel.sigInvalid.connect(self.show_message)
            slot.presenter.sigMessage.connect(self.show_message)
            slot.presenter.sigConfigEdit.connect(self.edit_config)
        self.playback.sigFrameChanged.connect(self._frame_changed)
        self.runner.sigStarted.connect(self._run_started)
        self.runner.sigProgress.connect(self._run_progress)
        self.runner.sigPartial.connect(lambda partial: self.slot.presenter.show_partial(partial))
        self.runner.sigFinished.connect(self._run_finished)
        self.runner.sigFailed.connect(self._run_failed)
        self.runner.sigCancelled.connect(self._run_cancelled)

    # -- state -----------------------------------------------------------------------------
    @property
    def slot(self) -> LabSlot:
        return self.slots[self.current]

    @property
    def device(self) -> str:
        return self.device_box.currentData() or "cpu"

    def session(self) -> Session:
        """Every lab's config and preset, the current lab and device (seeds are config fields)."""
        labs = {name: {"config": config_to_dict(s.panel.config()), "preset": s.preset}
                for name, s in self.slots.items()}
        return Session(current_lab=self.current, device=self.device, labs=labs)

    def load_session(self, session: Session) -> None:
        for name, slot in self.slots.items():
            entry = session.labs.get(name, {})
            config, warning = restore_config(slot.spec.config_class(), entry.get("config", {}))
            if warning:
                self.show_message(f"{slot.spec.title}: {warning}")
            slot.panel.set_config(config)
            slot.preset = entry.get("preset") if entry.get("preset") in slot.presets else None
        self.switch_lab(session.current_lab if session.current_lab in self.slots else self.current)
        self._mark_dirty()
        self.run()

    def startup_warnings(self) -> list[str]:
        return list(self._warnings)

    def _mark_dirty(self) -> None:
        if getattr(self, "autosaver", None) is not None:
            self.autosaver.mark_dirty()

    # -- lab switching and presets ---------------------------------------------------------
    def switch_lab(self, name: str) -> None:
        if name == self.current or name not in self.slots:
            return
        self.runner.cancel()
        self.current = name
        slot = self.slot
        self.views.setCurrentWidget(slot.presenter.view)
        self.panels.setCurrentWidget(slot.panel)
        self.lab_box.blockSignals(True)
        self.lab_box.setCurrentIndex(self.lab_box.findData(name))
        self.lab_box.blockSignals(False)
        self._fill_presets()
        self._sync_playback()
        self._mark_dirty()

    def _fill_presets(self) -> None:
        slot = self.slot
        self.preset_box.blockSignals(True)
        self.preset_box.clear()
        self.preset_box.addItem("(custom)", None)
        for key, preset in slot.presets.items():
            self.preset_box.addItem(preset.get("title", key), key)
        self.preset_box.setCurrentIndex(max(0, self.preset_box.findData(slot.preset)))
        self.preset_box.blockSignals(False)
        desc = slot.presets.get(slot.preset, {}).get("description", "") if slot.preset else ""
        self.preset_note.setText(desc)

    def apply_preset(self, key: Optional[str], run: bool = True) -> None:
        """Load a preset's config into the panel, show its view and run it."""
        slot = self.slot
        if key is None:
            slot.preset = None
            self._fill_presets()
            return
        if key not in slot.presets:
            raise ValueError(f"unknown preset {key!r} for lab {self.current}; "
                             f"choose from {', '.join(slot.presets)}")
        preset = slot.presets[key]
        cls = slot.spec.config_class()
        config, warning = restore_config(cls, preset.get("config", {}))
        if warning:
            self.show_message(warning)
        slot.preset = key
        slot.panel.set_config(config)
        self._fill_presets()
        slot.presenter.show_view(preset.get("view"))
        self._mark_dirty()
        if run:
            self.run()

    # -- runs ------------------------------------------------------------------------------
    def run(self) -> None:
        slot = self.slot
        config = slot.panel.config()
        self.runner.start(slot.presenter.make_run(config, self.device), tag=self.current)

    def edit_config(self, changes: dict) -> None:
        """Apply field edits coming from a view; refused edits are reported, nothing changes."""
        panel = self.slot.panel
        data = {**config_to_dict(panel.config()), **changes}
        try:
            config = config_from_dict(type(panel.config()), data)
        except ValueError as err:
            self.show_message(str(err))
            return
        panel.set_config(config)
        self._config_changed(config)

    def _config_changed(self, _config) -> None:
        self.slot.preset = None
        self._fill_presets()
        self._mark_dirty()
        if self.auto_run.isChecked():
            self.run()

    def _device_changed(self, _index) -> None:
        self._mark_dirty()
        self.show_message(f"Device: {self.device_box.currentText()}")
        if self.auto_run.isChecked():
            self.run()

    def _run_started(self, _tag) -> None:
        self._progress_at = -float("inf")
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.progress.setFormat("%p%")

    def _run_progress(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - self._progress_at < PROGRESS_SECONDS:
            return          # every repaint recomposes the window (software GL: ~10 ms)
        self._progress_at = now
        self.progress.setValue(int(1000 * max(0.0, min(1.0, fraction))))
        self.progress.setFormat(f"%p%  {message}" if message else "%p%")

    def _run_finished(self, result, tag) -> None:
        self.cancel_button.setEnabled(False)
        self.progress.setValue(1000)
        self.progress.setFormat("done")
        slot = self.slots.get(tag)
        if slot is None:
            return
        slot.presenter.show_result(result)
        if tag == self.current:
            self._sync_playback()
        self.show_message(slot.presenter.result_summary(result))

    def _run_failed(self, message: str, tag) -> None:
        self.cancel_button.setEnabled(False)
        self.progress.setFormat("failed")
        self._abandoned(tag)
        self.show_message(f"Run failed: {message}")

    def _run_cancelled(self, tag) -> None:
        self.cancel_button.setEnabled(False)
        self.progress.setFormat("cancelled")
        self._abandoned(tag)
        self.show_message("Run cancelled; the previous result is still shown.")

    def _abandoned(self, tag) -> None:
        """A run ended without a result: its lab shows the result from before it again."""
        slot = self.slots.get(tag)
        if slot is not None and slot.presenter.run_abandoned() and tag == self.current:
            self._sync_playback()

    # -- playback --------------------------------------------------------------------------
    def _sync_playback(self) -> None:
        presenter = self.slot.presenter
        n = presenter.frame_count()
        self.playback.set_frame_count(n)
        times = presenter.frame_times()
        if times is not None and n:
            self.playback.set_times(times)
        if n:
            self.playback.set_frame(getattr(presenter, "opening_frame", n - 1))

    def _frame_changed(self, index: int) -> None:
        self.slot.presenter.set_frame(index)

    # -- misc ------------------------------------------------------------------------------
    def show_message(self, text: str) -> None:
        log.info(text)
        self.status_label.setText(text)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the worker, save the session, release presenters (idempotent)."""
        self.playback.pause()
        self.runner.shutdown()
        if getattr(self, "autosaver", None) is not None:
            self.autosaver.mark_dirty()
            self.autosaver.flush()
        for slot in self.slots.values():
            slot.presenter.shutdown()

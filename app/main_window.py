"""The shell: lab switcher, parameter panel, run/cancel/progress, playback, status bar.

Nothing lab-specific lives here; presenters (``app/labs``) do the lab work.
"""
from __future__ import annotations

import logging
from typing import Optional

from PySide6.QtWidgets import QMainWindow

from app import file_open, menus, window_layout, window_state
from app.registry import LABS
from app.run_progress import RunClock, progress_text
from app.runner import Runner
from app.session import Autosaver, Session, restore_config
from app.window_labs import LabSlots
from app.window_layout import RUN_HINT
from app.window_slots import LabSlot
from engine.core.config import config_from_dict, config_to_dict

log = logging.getLogger(__name__)
PROGRESS_SECONDS = 0.25    # progress-bar updates at most 4 per second: under software GL each
                          # one recomposes the whole window (regions live cost, #16)
MIN_SIZE = (1100, 620)     # fits a 1280 × 720 screen with its panels and title bar
DEFAULT_SIZE = (1500, 950)


class MainWindow(QMainWindow):
    """Main window. ``session`` restores every lab's config; ``autosave_path`` may be None.

    With ``defer_labs`` the window is only the shell ("Loading the labs…"): it can show before
    torch and the engine are imported, and :meth:`load_labs` builds the labs later (issue #16).
    A lab is built when first shown or asked for (``slots[name]``, see
    :class:`app.window_labs.LabSlots`); until then its session entry is kept as it was.
    """

    def __init__(self, session: Optional[Session] = None, autosave_path=None,
                 session_path=None, devices=None, auto_run: bool = True, settings=None,
                 defer_labs: bool = False):
        super().__init__()
        self.setWindowTitle("Flowscope")
        self.setMinimumSize(*MIN_SIZE)
        self.resize(*DEFAULT_SIZE)
        self.drops = file_open.DropHandler(self)     # sessions, volumes, CSV files
        self.session_path = session_path
        self.settings = settings
        self.recent = window_state.RecentFiles(settings)
        self.runner = Runner(self)
        self.clock = RunClock(PROGRESS_SECONDS)
        self.running_tag: Optional[str] = None
        self.slots: LabSlots = LabSlots()
        self.current: Optional[str] = None
        self._warnings: list[str] = []
        self.autosaver: Optional[Autosaver] = None
        self._unsaved = False          # changed before the autosaver started
        self._pending = (session, autosave_path, auto_run)
        window_layout.build(self, devices or [("cpu", "CPU")])
        if not defer_labs:
            self.load_labs()
        menus.build_menus(self)
        if not window_state.restore_window(self, settings):
            window_state.fit_to_screen(self)
        if defer_labs:
            window_layout.show_loading(self, True)

    def load_labs(self, devices=None, first: Optional[str] = None) -> None:
        """List every lab, build the one shown first (``first``, else the session's current
        lab, else the first: this imports torch and its engine) and wire the window;
        ``devices`` replaces the device choice first. Nothing runs yet. Idempotent."""
        if self.slots:
            return
        session, autosave_path, auto_run = self._pending
        if devices:
            window_layout.set_devices(self, devices)
        self._restore(session, first)     # auto-run is still off here: nothing runs yet
        self.auto_run.setChecked(auto_run)
        self.start_autosave(autosave_path)
        self._wire()
        window_layout.show_loading(self, False)

    def start_autosave(self, path) -> None:
        """Save the session to ``path`` (None: nowhere) from now on, and now if it changed
        before: ``app.gui`` calls it once the autosave read at start-up is checked."""
        if not self.slots:
            session, _old, auto_run = self._pending
            self._pending = (session, path, auto_run)
        elif self.autosaver is None and path is not None:
            self.autosaver = Autosaver(self.session, path)
            if self._unsaved:
                self.autosaver.mark_dirty()

    # -- construction ----------------------------------------------------------------------
    def _restore(self, session: Optional[Session], first: Optional[str]) -> None:
        saved = session.labs if session and isinstance(session.labs, dict) else {}
        self.slots = LabSlots(LABS, saved, self._install)
        for name, spec in LABS.items():
            self.lab_box.addItem(spec.title, name)
        if session and session.device:
            idx = self.device_box.findData(session.device)
            if idx >= 0:
                self.device_box.setCurrentIndex(idx)
        shown = first if first in LABS else getattr(session, "current_lab", None)
        self.switch_lab(shown if shown in LABS else next(iter(LABS)))

    def _install(self, name: str, slot: LabSlot) -> None:
        """Put a newly built lab in the window (view, panel, signals); say its warning."""
        window_layout.add_lab(self, name, slot)
        if slot.warning:                  # said now too: a lab built later is past start-up
            self._warnings.append(slot.warning)
            self.show_message(slot.warning, name)

    def _wire(self) -> None:
        self.lab_box.currentIndexChanged.connect(
            lambda i: self.switch_lab(self.lab_box.itemData(i)))
        self.preset_box.activated.connect(
            lambda i: self.apply_preset(self.preset_box.itemData(i)))
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.runner.cancel)
        self.device_box.currentIndexChanged.connect(self._device_changed)
        self.playback.sigFrameChanged.connect(self._frame_changed)
        self.runner.sigStarted.connect(self._run_started)
        self.runner.sigProgress.connect(self._run_progress)
        self.runner.sigPartial.connect(self._run_partial)
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
        """Every lab's config and preset, the current lab and device (seeds are config fields);
        a lab not built yet keeps the entry it was restored from."""
        labs = {name: entry for name in self.slots if (entry := self.slots.entry(name))}
        return Session(current_lab=self.current, device=self.device, labs=labs)

    def load_session(self, session: Session) -> list[str]:
        """Put a session's configs in the panels and run; returns the warnings (fields reset
        to defaults), which are also logged and shown in the status bar."""
        warnings = [self.slots.load(name, session.labs.get(name, {})) for name in self.slots]
        warnings = [w for w in warnings if w]
        self.switch_lab(session.current_lab if session.current_lab in self.slots else self.current,
                        run_if_empty=False)
        self._fill_presets()
        self._mark_dirty()
        self.run()
        if warnings:
            self.show_message("Session opened; " + " | ".join(warnings))
        return warnings

    def startup_warnings(self) -> list[str]:
        return list(self._warnings)

    def _mark_dirty(self) -> None:
        if getattr(self, "autosaver", None) is not None:
            self.autosaver.mark_dirty()
        else:
            self._unsaved = True

    # -- lab switching and presets ---------------------------------------------------------
    def switch_lab(self, name: str, run_if_empty: bool = True) -> None:
        """Show lab ``name``. A run of the lab left goes on in the background and its result
        goes to that lab; a lab without a result runs (auto-run) or shows the Run hint."""
        if name == self.current or name not in self.slots:
            return
        self.playback.pause()           # the frames shown are another lab's from here on
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
        self._show_lab_status()
        if run_if_empty and not slot.has_result and self.auto_run.isChecked() \
                and not self._busy_elsewhere():
            self.run()

    def _busy_elsewhere(self) -> bool:
        """Whether a run of another lab is going on (the runner runs one job at a time)."""
        return self.runner.is_running() and self.running_tag != self.current

    def _show_lab_status(self) -> None:
        """The status line, hint and progress bar of the lab now shown (never another's)."""
        slot = self.slot
        running_here = self.runner.is_running() and self.running_tag == self.current
        self.run_hint.setVisible(not slot.has_result and not running_here)
        text = slot.message
        if self._busy_elsewhere():
            other = self.slots[self.running_tag].spec.title
            text = text or f"The {other} run goes on in the background; press Run (F5) here " \
                           f"to cancel it and run {slot.spec.title}."
        self.status_label.setText(text)
        self._show_progress_of_lab()

    def _fill_presets(self) -> None:
        window_layout.fill_presets(self, self.slot.presets, self.slot.preset)

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
        """Run the current lab (a run of another lab is cancelled, and that is said)."""
        if not self.slots:
            return                      # the labs are still loading
        slot = self.slot
        config = slot.panel.config()
        if self._busy_elsewhere():
            other = self.slots[self.running_tag]
            other.message = f"Run cancelled to run {slot.spec.title}."
        self.running_tag = self.current
        self.clock.restart()
        slot.message = "Running…"
        self.runner.start(slot.presenter.make_run(config, self.device), tag=self.current)
        self._show_lab_status()

    def edit_config(self, changes: dict, lab: Optional[str] = None) -> None:
        """Apply field edits coming from the views of ``lab`` (default: the current one);
        refused edits are reported, nothing changes. Only the lab shown re-runs."""
        lab = lab if lab in self.slots else self.current
        panel = self.slots[lab].panel
        data = {**config_to_dict(panel.config()), **changes}
        try:
            config = config_from_dict(type(panel.config()), data)
        except ValueError as err:
            self.show_message(str(err), lab)
            return
        panel.set_config(config)
        if lab == self.current:
            self._config_changed(config)
        else:
            self.slots[lab].preset = None
            self._mark_dirty()

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
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.progress.setFormat("%p%")

    def _run_progress(self, fraction: float, message: str) -> None:
        if not self.clock.due():
            return          # every repaint recomposes the window (software GL: ~10 ms)
        self.progress.setValue(int(1000 * max(0.0, min(1.0, fraction))))
        lab = "" if self.running_tag == self.current or self.running_tag not in self.slots \
            else self.slots[self.running_tag].spec.title
        self.progress.setFormat(progress_text(fraction, self.clock.elapsed(), message, lab))

    def _run_partial(self, partial) -> None:
        slot = self.slots.get(self.running_tag)
        if slot is not None:
            slot.presenter.show_partial(partial)

    def _run_finished(self, result, tag) -> None:
        self._run_ended("done", tag)
        slot = self.slots.get(tag)
        if slot is None:
            return
        slot.presenter.show_result(result)
        slot.has_result = True
        if tag == self.current:
            self._sync_playback()
        self.show_message(slot.presenter.result_summary(result) or "Run finished.", tag)
        self._run_current_if_empty()

    def _run_failed(self, message: str, tag) -> None:
        self._run_ended("failed", tag)
        self._abandoned(tag)
        self.show_message(f"Run failed: {message}", tag)

    def _run_cancelled(self, tag) -> None:
        superseded = self.runner.is_running()     # a new run took its place
        if not superseded:
            self._run_ended("cancelled", tag)
        self._abandoned(tag)
        slot = self.slots.get(tag)
        if superseded and (tag == self.running_tag or slot is None
                           or slot.message.startswith("Run cancelled to run")):
            self._show_lab_status()     # its message was set by run(): nothing stale
            return
        shown = slot is not None and slot.has_result
        self.show_message("Run cancelled; the previous result is still shown." if shown
                          else "Run cancelled; press Run (F5) to run again.", tag)

    def _run_ended(self, word: str, tag) -> None:
        """Progress bar and Cancel button after a run of ``tag`` ended (done, failed,
        cancelled); the lab keeps the words for when it is shown again."""
        self.cancel_button.setEnabled(False)
        if tag in self.slots:
            self.slots[tag].ended = f"{word} in {self.clock.elapsed():.1f} s"
        self._show_progress_of_lab()

    def _show_progress_of_lab(self) -> None:
        """While nothing runs, the progress bar tells how the shown lab's last run ended."""
        if self.runner.is_running():
            return
        ended = self.slot.ended
        self.progress.setValue(1000 if ended.startswith("done") else 0)
        self.progress.setFormat(ended)

    def _run_current_if_empty(self) -> None:
        """After a background run: the lab now shown runs when it has no result yet."""
        if not self.slot.has_result and self.auto_run.isChecked() and \
                not self.runner.is_running():
            self.run()
        else:
            self._show_lab_status()

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
    def show_message(self, text: str, lab: Optional[str] = None) -> None:
        """Status message of ``lab`` (default: the current one); shown while it is in front,
        kept with it while another lab is shown."""
        lab = lab if lab in self.slots else self.current
        log.info("%s: %s", lab, text)
        if lab is None:
            self.status_label.setText(text)
            return
        self.slots[lab].message = text
        if lab == self.current:
            self._show_lab_status()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the worker, save the session, release presenters (idempotent)."""
        self.playback.pause()
        self.runner.shutdown()
        if self.isVisible():
            window_state.save_window(self, self.settings)
        if getattr(self, "autosaver", None) is not None:
            self.autosaver.mark_dirty()
            self.autosaver.flush()
        for slot in self.slots.built().values():
            slot.presenter.shutdown()

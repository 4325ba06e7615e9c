"""Train a slice prior on your own volume from the app (issue #6): "Training runs from the app
too (progress, cancel, resume) for users who want a prior of their own volumes; it uses CUDA
when present."

:class:`TrainPriorDialog` reads a volume (NIfTI, DICOM folder, NumPy, TIFF; min–max scaled)
in the background, trains with :func:`engine.slice_prior.checkpoint.train_to_files_iter` on an
:class:`app.runner.Runner`, shows the progress and the loss curve live, and leaves the prior
(``<user folder>/priors/<volume>_<size>.pt``) and a checkpoint beside it both when it finishes
and when it is cancelled, so a run can be resumed. ``sigPriorReady(path)`` announces a finished
prior; the Reconstruction lab sets its ``prior_path`` from it. The dialog's widgets are built
(and show its state) in :mod:`app.labs.prior_training_view`.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QDialog, QFileDialog, QVBoxLayout, QWidget

from app.labs.prior_training_view import TrainPriorForm
from app.runner import Runner
from app.session import autosave_path
from engine.core import Progress, default_device, device_name
from engine.slice_prior.checkpoint import checkpoint_path, train_to_files_iter
from engine.slice_prior.train import TrainConfig, describe_data, load_training_volume

__all__ = ["TrainPriorDialog", "open_train_dialog", "priors_dir", "volume_name",
           "time_left_text", "step_rate_text"]

VOLUME_FILTER = ("Volumes (*.nii *.nii.gz *.npy *.npz *.tif *.tiff *.dcm);;All files (*)")
_SUFFIXES = (".nii.gz", ".nii", ".npy", ".npz", ".tiff", ".tif", ".dcm")


def priors_dir() -> Path:
    """``priors/`` in the user folder of :func:`app.session.autosave_path` (``$FLOWSCOPE_HOME``
    when set)."""
    return autosave_path().parent / "priors"


def volume_name(path: str) -> str:
    """A file-name-safe name for a volume path (``scan.nii.gz`` → ``scan``); "phantoms" if
    empty."""
    name = Path(path).name if path else ""
    for suffix in _SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[:-len(suffix)]
            break
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "phantoms"


def _clock(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss`` from an hour on) of a non-negative duration."""
    minutes, sec = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{sec:02d}" if hours else f"{minutes}:{sec:02d}"


def time_left_text(elapsed: float, steps_done: int, steps_left: int) -> str:
    """``"1:05 elapsed, about 3:20 left"``: the time left at the mean step rate of this run
    (``steps_done`` steps in ``elapsed`` seconds); no estimate before the first step."""
    text = f"{_clock(elapsed)} elapsed"
    if steps_done > 0 and elapsed > 0:
        text += f", about {_clock(steps_left * elapsed / steps_done)} left"
    return text


def step_rate_text(elapsed: float, steps_done: int) -> str:
    """The mean step rate of this run: ``"2.4 steps/s"``, or ``"1.6 s/step"`` when slower than
    one step a second; "" before the first step."""
    if steps_done <= 0 or not elapsed > 0:
        return ""
    rate = steps_done / elapsed
    return f"{rate:.1f} steps/s" if rate >= 1.0 else f"{1.0 / rate:.2f} s/step"


def _load_job(path: str):
    """Progress generator reading a training volume (run off the GUI thread)."""
    yield Progress(0.0, f"reading {Path(path).name}…")
    return load_training_volume(path)


class TrainPriorDialog(QDialog):
    """Train a diffusion slice prior on a volume: choose data, size, steps; start, cancel,
    resume; live progress and loss curve.

    Parameters
    ----------
    parent : QWidget, optional
    device : str, optional
        Training device; default CUDA when available, else CPU.
    sizes : tuple of int
        Slice sizes offered.
    overrides : dict, optional
        Extra :class:`~engine.slice_prior.train.TrainConfig` fields (e.g. a tiny ``base``
        and ``mults`` for tests).

    Signals
    -------
    sigPriorReady(str)
        Path of a prior file that finished training.
    """

    sigPriorReady = Signal(str)

    def __init__(self, parent: Optional[QWidget] = None, device: Optional[str] = None,
                 sizes=(64, 128), overrides: Optional[dict] = None):
        super().__init__(parent)
        self.setWindowTitle("Train slice prior")
        self.device = device or default_device()
        self.overrides = dict(overrides or {})
        self.volume = None                 # (z, y, x) tensor in [0, 1], once read
        self._volume_error: Optional[str] = None
        self._volume_path = ""
        self._training = False
        self._out_edited = False
        self._outcome: dict = {}
        self._curve: tuple[list, list] = ([], [])
        self._started_at = time.monotonic()
        self.runner = Runner(self, interruptible=False)  # cancel saves at a step
        self._poll = QTimer(self, interval=50, timeout=self._check_cancelled)
        self.form = TrainPriorForm(self.device, self.overrides.get("precision", "auto"), sizes)
        QVBoxLayout(self).addWidget(self.form)
        self.resize(620, 720)
        self._connect()
        self._update_output()
        self._set_busy(False)

    # -- wiring (the widgets are the form's: app.labs.prior_training_view) ---------------------
    def _connect(self) -> None:
        self.form.file_button.clicked.connect(lambda: self._browse("volume"))
        self.form.folder_button.clicked.connect(lambda: self._browse("folder"))
        self.form.volume_edit.editingFinished.connect(
            lambda: self.set_volume(self.form.volume_edit.text().strip()))
        self.form.size_box.currentIndexChanged.connect(lambda _i: self._update_output())
        self.form.out_edit.textEdited.connect(self._output_edited)
        self.form.out_button.clicked.connect(lambda: self._browse("output"))
        self.form.ckpt_button.clicked.connect(lambda: self._browse("checkpoint"))
        self.form.start_button.clicked.connect(self.start)
        self.form.cancel_button.clicked.connect(self.cancel)
        self.form.close_button.clicked.connect(self.close)
        self.runner.sigProgress.connect(self._on_progress)
        self.runner.sigPartial.connect(self._on_partial)
        self.runner.sigFinished.connect(self._on_finished)
        self.runner.sigFailed.connect(self._on_failed)
        self.runner.sigCancelled.connect(self._on_cancelled)

    # -- choosing files -----------------------------------------------------------------------
    def _browse(self, what: str) -> None:
        """File dialog for ``what``: "volume", "folder", "output" or "checkpoint"."""
        if what == "folder":
            path = QFileDialog.getExistingDirectory(self, "DICOM series folder")
        elif what == "output":
            path = QFileDialog.getSaveFileName(self, "Save prior", self.form.out_edit.text(),
                                               "Slice prior (*.pt)")[0]
        elif what == "volume":
            path = QFileDialog.getOpenFileName(self, "Training volume", "", VOLUME_FILTER)[0]
        else:
            path = QFileDialog.getOpenFileName(self, "Checkpoint", self.form.ckpt_edit.text(),
                                               "Checkpoint (*.ckpt.pt *.pt)")[0]
        if not path:
            return
        if what in ("volume", "folder"):
            self.set_volume(path)
        elif what == "output":
            self.form.out_edit.setText(path)
            self._output_edited()
        else:
            self.form.ckpt_edit.setText(path)
            self.form.resume_box.setChecked(True)

    def _output_edited(self, _text: str = "") -> None:
        self._out_edited = True
        self.form.ckpt_edit.setText(str(checkpoint_path(self.form.out_edit.text().strip())))

    def _update_output(self) -> None:
        """Default output ``<user folder>/priors/<volume>_<size>.pt`` (until the user edits
        it) and its checkpoint."""
        if not self._out_edited:
            name = volume_name(self.form.volume_edit.text().strip())
            self.form.out_edit.setText(str(priors_dir() / f"{name}_{self.size}.pt"))
        self.form.ckpt_edit.setText(str(checkpoint_path(self.form.out_edit.text().strip())))

    @property
    def size(self) -> int:
        """The chosen slice size."""
        return int(self.form.size_box.currentData())

    def set_volume(self, path: str) -> None:
        """Use the volume at ``path`` (read in the background; "" = phantoms only)."""
        if path == self._volume_path:
            return
        self._volume_path = path
        self.form.volume_edit.setText(path)
        self.volume, self._volume_error = None, None
        self._update_output()
        if not path:
            self.form.show_info("No volume: phantoms only.")
            return
        self.form.show_info(f"Reading {Path(path).name}…")
        self.runner.start(lambda: _load_job(path), tag="load")

    # -- running ----------------------------------------------------------------------------
    def config(self) -> TrainConfig:
        """The training configuration the dialog describes."""
        steps = self.form.steps_spin.value()
        mix = "mixed" if self.form.phantoms_box.isChecked() else "volume"
        fields = {"size": self.size, "steps": steps, "batch": self.form.batch_spin.value(),
                  "every": max(1, min(10, steps // 100)), "mix": mix, **self.overrides}
        return TrainConfig(**fields)

    def _problem(self) -> Optional[str]:
        """Why Start cannot go ahead, or None."""
        if self.runner.is_running():
            return "Wait until the volume has been read."
        if self._volume_error:
            return "The volume could not be read (see above): choose another, or clear it " \
                   "to train on phantoms only."
        if self.volume is None and not self.form.phantoms_box.isChecked():
            return "Choose a volume, or tick “Include phantoms” to train on phantoms only."
        if not self.form.out_edit.text().strip():
            return "Choose where to save the prior."
        ckpt = Path(self.form.ckpt_edit.text().strip())
        if self.form.resume_box.isChecked() and not ckpt.is_file():
            return f"No checkpoint to resume at {ckpt}."
        return None

    def start(self) -> bool:
        """Start (or resume) training; False (with a message) when the inputs are not ready."""
        problem = self._problem()
        if problem:
            self.form.show_status(problem, error=True)
            return False
        cfg, device, brain = self.config(), self.device, self.volume
        out, ckpt = self.form.out_edit.text().strip(), self.form.ckpt_edit.text().strip()
        resume = self.form.resume_box.isChecked()
        vol = Path(self._volume_path).name if brain is not None else None
        data = describe_data(cfg.size, cfg.mix, None if vol is None else f"volume {vol}")
        self._outcome = outcome = {}
        self._curve = ([], [])
        self._started_at = time.monotonic()
        self.form.curve.remove("loss")
        self.form.progress.setValue(0)
        self.form.progress.setFormat(f"step 0 of {cfg.steps}")
        self.runner.start(lambda: train_to_files_iter(cfg, device, brain, out, ckpt, resume,
                                                      data, outcome), tag="train")
        verb = "Resuming" if resume else "Starting"
        self.form.show_status(f"{verb} on {device_name(device)}…")
        self._set_busy(True)
        return True

    def cancel(self) -> None:
        """Cancel training; the weights and a checkpoint are saved at the last step."""
        if self.runner.is_running():
            self.runner.cancel()

    # -- runner signals -----------------------------------------------------------------------
    def _on_progress(self, fraction: float, message: str) -> None:
        if self._training:
            self.form.progress.setValue(int(round(1000 * fraction)))
            self.form.show_status(message)

    def _on_partial(self, partial) -> None:
        xs, ys = self._curve
        if not xs:                       # first report: the curve so far (resume)
            for s, v in self._outcome.get("curve", []):
                if s < partial["step"]:
                    xs.append(s)
                    ys.append(v)
        total, first = self._outcome["cfg"].steps, self._outcome.get("resumed_from") or 0
        elapsed, done = time.monotonic() - self._started_at, partial["step"] - first
        eta = time_left_text(elapsed, done, total - partial["step"])
        rate = step_rate_text(elapsed, done)
        self.form.progress.setFormat(f"step {partial['step']} of {total}   (%p %)   {eta}"
                                     + (f"   {rate}" if rate else ""))
        if not xs or partial["step"] > xs[-1]:
            xs.append(partial["step"])
            ys.append(partial["loss"])
        self.form.show_curve(xs, ys)

    def _on_finished(self, result, tag) -> None:
        if tag == "load":
            self.volume = result
            z, y, x = result.shape
            self.form.show_info(f"{z} × {y} × {x} voxels (z, y, x), min–max scaled to [0, 1].")
            self._set_busy(False)
            return
        self._show_curve(result.get("curve", []))
        self.form.progress.setValue(1000)
        self.form.show_status(f"Done: {result['step']} steps. Prior saved to {result['prior']}; "
                          f"checkpoint {result['checkpoint']} (resume it for more steps).")
        self._after_run(result["checkpoint"])
        self.sigPriorReady.emit(result["prior"])

    def _on_failed(self, message: str, tag) -> None:
        if tag == "load":
            message = message.split(": ", 1)[-1]                  # drop the exception type
            self._volume_error = message.removeprefix(f"{self._volume_path}: ")
            name = Path(self._volume_path).name if self._volume_path else "?"
            self.form.show_info(f"Cannot use this volume ({name}): {self._volume_error}",
                                error=True)
        else:
            self.form.show_status(f"Training failed: {message}", error=True)
        self._set_busy(False)

    def _on_cancelled(self, tag) -> None:
        if tag == "train":
            self.form.show_status("Cancelling: finishing the current step and saving…")
            self.form.cancel_button.setEnabled(False)
            self._poll.start()

    def _check_cancelled(self) -> None:
        """After a cancel: once the worker has saved, report the files (or why not)."""
        if not self.runner.wait(0):
            return
        self._poll.stop()
        res = self._outcome
        if res.get("prior"):
            self._show_curve(res.get("curve", []))
            total = res["cfg"].steps
            self.form.progress.setValue(int(round(1000 * res["step"] / total)))
            self.form.progress.setFormat(f"step {res['step']} of {total}   (%p %)")
            self.form.show_status(f"Cancelled at step {res['step']}. Weights saved to "
                              f"{res['prior']}; checkpoint {res['checkpoint']}. Press Start "
                              "with “Resume from checkpoint” ticked to continue.")
            self._after_run(res["checkpoint"])
        elif res.get("error"):
            self.form.show_status(f"Cancelled; {res['error']}", error=True)
        else:
            self.form.show_status("Cancelled before the first step; nothing was saved.")
        self._set_busy(False)

    def _set_busy(self, training: bool) -> None:
        """Lock the inputs while training; only Cancel is enabled then."""
        self._training = training
        self.form.set_busy(training)

    def _show_curve(self, curve) -> None:
        """Show a whole ``[(step, loss), …]`` curve (nothing when empty)."""
        if curve:
            self._curve = ([s for s, _ in curve], [v for _, v in curve])
            self.form.show_curve(*self._curve)

    def _after_run(self, checkpoint: str) -> None:
        self.form.ckpt_edit.setText(checkpoint)
        self.form.resume_box.setChecked(True)
        self._set_busy(False)

    # -- closing ----------------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 60_000) -> None:
        """Cancel a run and wait for it (its checkpoint is written); stop polling."""
        self._poll.stop()
        self.runner.shutdown(timeout_ms)

    def done(self, result: int) -> None:  # noqa: D102 - closing cancels (and saves) a run
        self.shutdown()
        super().done(result)


def open_train_dialog(parent: Optional[QWidget] = None, **kwargs) -> TrainPriorDialog:
    """Show the training dialog (non-modal; one per parent, raised if already open).

    Parameters
    ----------
    parent : QWidget, optional
    **kwargs
        Passed to :class:`TrainPriorDialog` when a new one is made.

    Returns
    -------
    TrainPriorDialog
        Connect to its ``sigPriorReady(str)``.
    """
    existing = parent.findChild(TrainPriorDialog) if parent is not None else None
    if existing is not None and not existing.isVisible():
        existing = None                                   # closed: being deleted
    dialog = existing if existing is not None else TrainPriorDialog(parent, **kwargs)
    if existing is None:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog

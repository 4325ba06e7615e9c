"""The widgets of the "Train slice prior" dialog (:mod:`app.labs.prior_training`).

:class:`TrainPriorForm` is the dialog's one child widget: the controls (training data, training
settings, device, progress bar, loss curve, status line and buttons) as its attributes, and the
display of state in them: busy/idle, messages, the loss curve. The dialog (its ``form``) adds
the behaviour (choosing files, running, the runner's signals).
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QProgressBar, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

from engine.core import device_name
from engine.slice_prior.train import TrainConfig, uses_bf16
from widgets.curve_plot import CurvePlot

__all__ = ["TrainPriorForm"]


def _path_row(edit: QLineEdit, *buttons: QPushButton) -> QWidget:
    """A row: the path ``edit`` stretched, then its ``buttons``."""
    row = QWidget()
    lay = QHBoxLayout(row)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(edit, 1)
    for b in buttons:
        lay.addWidget(b)
    return row


def _say(label: QLabel, text: str, error: bool) -> None:
    """Show ``text`` in ``label``, red when ``error``."""
    label.setStyleSheet("color: #c0392b;" if error else "")
    label.setText(text)


class TrainPriorForm(QWidget):
    """Controls of :class:`app.labs.prior_training.TrainPriorDialog` and the display of its state.

    Parameters
    ----------
    device : str
        Training device: shown, and it sets the default steps and batch.
    precision : str
        The ``TrainConfig.precision`` the dialog trains with (shown as bfloat16 or not).
    sizes : sequence of int
        Slice sizes offered (64 chosen when offered).
    parent : QWidget, optional
    """

    def __init__(self, device: str, precision: str, sizes, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self._data_group())
        lay.addWidget(self._run_group(sizes, device.startswith("cuda")))
        bf16 = uses_bf16(TrainConfig(precision=precision), device)
        self.device_label = QLabel(f"Device: <b>{device_name(device)}</b>"
                                   + (" (bfloat16 mixed precision)" if bf16 else ""))
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("")
        self.curve = CurvePlot("Training loss", "step", "ε-MSE (mean per report)", log_y=True)
        self.curve.setMinimumHeight(200)
        self.status = QLabel("Choose a volume (or train on phantoms only) and press Start.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for w in (self.device_label, self.progress, self.curve, self.status):
            lay.addWidget(w)
        lay.addLayout(self._buttons())

    def _data_group(self) -> QGroupBox:
        """Volume path (file or DICOM folder), what was read, the phantoms option."""
        box = QGroupBox("Training data")
        form = QFormLayout(box)
        self.volume_edit = QLineEdit()
        self.volume_edit.setPlaceholderText("NIfTI / NumPy / TIFF file or DICOM folder")
        self.file_button = QPushButton("File…")
        self.folder_button = QPushButton("DICOM folder…")
        form.addRow("Volume", _path_row(self.volume_edit, self.file_button, self.folder_button))
        self.volume_info = QLabel("No volume: phantoms only.")
        self.volume_info.setWordWrap(True)
        form.addRow("", self.volume_info)
        self.phantoms_box = QCheckBox("Include phantoms (ellipses and Shepp–Logan slices, "
                                      "60 % of each batch)")
        self.phantoms_box.setChecked(True)
        form.addRow("", self.phantoms_box)
        return box

    def _run_group(self, sizes, cuda: bool) -> QGroupBox:
        """Slice size, steps, batch (CUDA or CPU defaults), output and checkpoint paths."""
        box = QGroupBox("Training")
        form = QFormLayout(box)
        self.size_box = QComboBox()
        for s in sizes:
            self.size_box.addItem(f"{s} × {s}", int(s))
        self.size_box.setCurrentIndex(max(0, self.size_box.findData(64)))
        self.steps_spin = QSpinBox(minimum=1, maximum=1_000_000, singleStep=500)
        self.batch_spin = QSpinBox(minimum=1, maximum=1024, singleStep=8)
        self.steps_spin.setValue(4000 if cuda else 1000)
        self.batch_spin.setValue(64 if cuda else 16)
        self.out_edit = QLineEdit()
        self.out_button = QPushButton("Browse…")
        self.resume_box = QCheckBox("Resume from checkpoint")
        self.ckpt_edit = QLineEdit()
        self.ckpt_button = QPushButton("Browse…")
        form.addRow("Slice size", self.size_box)
        form.addRow("Steps (total)", self.steps_spin)
        form.addRow("Batch", self.batch_spin)
        form.addRow("Save prior to", _path_row(self.out_edit, self.out_button))
        form.addRow(self.resume_box, _path_row(self.ckpt_edit, self.ckpt_button))
        return box

    def _buttons(self) -> QHBoxLayout:
        """Start, Cancel training and Close, right-aligned."""
        row = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel training")
        self.cancel_button.setToolTip("Stop after the current step; the weights and a "
                                      "checkpoint are saved so you can resume")
        self.close_button = QPushButton("Close")
        row.addStretch(1)
        for b in (self.start_button, self.cancel_button, self.close_button):
            row.addWidget(b)
        return row

    # -- state ------------------------------------------------------------------------------
    def set_busy(self, training: bool) -> None:
        """Lock the inputs while training; only Cancel is enabled then."""
        for w in (self.volume_edit, self.file_button, self.folder_button, self.phantoms_box,
                  self.size_box, self.steps_spin, self.batch_spin, self.out_edit,
                  self.out_button, self.resume_box, self.ckpt_edit, self.ckpt_button):
            w.setEnabled(not training)
        self.start_button.setEnabled(not training)
        self.cancel_button.setEnabled(training)

    def show_curve(self, steps, values) -> None:
        """Show the loss curve ``values`` at ``steps``."""
        self.curve.set_curve("loss", steps, values, color=(80, 150, 255), width=2)

    def show_info(self, text: str, error: bool = False) -> None:
        """Message under the volume path."""
        _say(self.volume_info, text, error)

    def show_status(self, text: str, error: bool = False) -> None:
        """Message in the status line."""
        _say(self.status, text, error)

"""File → Export results: the current lab's last result as an ``.npz`` a notebook can open.

The file holds every array of the result (weights, trajectories, paths, volumes, curves …)
under its path in the result (``engine.core.results_io``) and a JSON ``__meta__`` entry with
the lab, preset, config and device. Writing runs on a background thread (a big recon or
region-map result takes seconds to compress); the GUI stays usable and the status bar says
when the file is written or why it could not be.
"""
from __future__ import annotations

import datetime
import threading
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox

from app.export import ask_save_path

from engine.core import config_to_dict
from engine.core.results_io import save_results

__all__ = ["track_results", "export_results", "results_meta", "write_results"]


class _Writer(QObject):
    """Carries the outcome of a background write back to the GUI thread."""
    sigDone = Signal(str, str)        # status line, error message ("" on success)

    def __init__(self, parent: QObject):
        super().__init__(parent)
        self.thread: Optional[threading.Thread] = None


def track_results(win) -> None:
    """Remember the last finished result of every lab on ``win.last_results``."""
    win.last_results = {}
    win.runner.sigFinished.connect(
        lambda result, tag: win.last_results.__setitem__(tag, result))


def results_meta(win, result) -> dict:
    """The JSON meta stored with a result: lab, preset, config, device, time."""
    config = getattr(result, "config", None)
    if config is None:
        config = win.slot.panel.config()
    return {"lab": win.current, "preset": win.slot.preset, "device": win.device,
            "config": config_to_dict(config),
            "created": datetime.datetime.now().isoformat(timespec="seconds")}


def write_results(path, result, meta: dict) -> str:
    """Write ``result`` synchronously; returns a one-line summary for the status bar."""
    stored = save_results(path, result, meta)
    size = Path(path).stat().st_size / 2**20
    return f"Saved {path}: {len(stored['fields'])} arrays, {size:.1f} MiB (open with np.load)"


def export_results(win, path: Optional[str] = None) -> Optional[threading.Thread]:
    """Ask for a path and write the current lab's last result in the background.

    Returns the writer thread (tests join it), or None when nothing was started.
    """
    result = getattr(win, "last_results", {}).get(win.current)
    if result is None:
        win.show_message("Nothing to export yet: run the lab first.")
        return None
    path = ask_save_path(win, "Export results", f"{win.current}.npz", "NumPy arrays (*.npz)",
                         path)
    if path is None:
        return None
    if not path.endswith(".npz"):
        path += ".npz"
    meta = results_meta(win, result)
    writer = _Writer(win)
    writer.sigDone.connect(lambda p, err: _written(win, writer, p, err))

    def work():
        try:
            message = write_results(path, result, meta)
            writer.sigDone.emit(message, "")
        except (OSError, ValueError) as err:
            writer.sigDone.emit(path, f"Could not write {path}: {err}")

    writer.thread = threading.Thread(target=work, name="results-export", daemon=True)
    win.show_message(f"Writing {path}…")
    writer.thread.start()
    return writer.thread


def _written(win, writer: _Writer, message: str, error: str) -> None:
    writer.deleteLater()
    if error:
        win.show_message(error)
        box = QMessageBox(QMessageBox.Icon.Warning, "Export results", error, parent=win)
        box.open()                                      # not modal: the app stays usable
    else:
        win.show_message(message)

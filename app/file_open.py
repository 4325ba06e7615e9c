"""Opening files by kind: dropped on the window, chosen in File → Open DICOM, or recent.

Each kind goes to the loader that already exists in the app: sessions to
:func:`app.menus.open_session`, volumes to the presenter that offers ``open_volume`` (the
recon lab), CSV/point files to the current lab's ``load_csv``/``load_points`` when it has one,
else to the first lab that has it. The shell knows loaders only by these method names.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QFileDialog

VOLUME_SUFFIXES = (".nii", ".nii.gz", ".npy", ".npz", ".tif", ".tiff", ".dcm", ".dicom",
                   ".ima")
DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
DATA_LOADERS = ("load_csv", "load_points")


def file_kind(path) -> Optional[str]:
    """``"session"``, ``"volume"``, ``"csv"`` or None for a path (a folder is a DICOM
    series, hence a volume)."""
    path = Path(path)
    name = path.name.lower()
    if path.is_dir():
        return "volume"
    if name.endswith(".json"):
        return "session"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(VOLUME_SUFFIXES):
        return "volume"
    return None


def dicom_series_path(path) -> Path:
    """The folder of a DICOM file when the folder holds more files of the series (same
    suffix), so that choosing any one slice loads the whole series; else ``path``."""
    path = Path(path)
    if path.is_dir() or not path.name.lower().endswith(DICOM_SUFFIXES):
        return path
    suffix = path.suffix.lower()
    siblings = [p for p in path.parent.iterdir() if p.is_file() and p.suffix.lower() == suffix]
    return path.parent if len(siblings) > 1 else path


def _lab_with(win, method: str, prefer_current: bool = True) -> Optional[str]:
    """The lab whose presenter has ``method`` (the current lab first)."""
    names = list(win.slots)
    if prefer_current and win.current in names:
        names.remove(win.current)
        names.insert(0, win.current)
    from app.registry import LABS       # the presenter classes: no lab is built to ask
    return next((n for n in names if callable(getattr(LABS[n].load_presenter(), method, None))),
                None)


def open_volume(win, path) -> bool:
    """Show the lab that opens volumes and load ``path`` (a DICOM slice loads its series)."""
    lab = _lab_with(win, "open_volume")
    if lab is None:
        win.show_message(f"No lab opens volumes; {path} was not opened.")
        return False
    path = dicom_series_path(path)
    win.switch_lab(lab)
    ok = bool(win.slot.presenter.open_volume(str(path)))
    if ok:
        win.recent.add(path, "volume")
    return ok


def open_data(win, path) -> bool:
    """Load a CSV/points file in the current lab when it takes data, else in one that does."""
    for prefer_current in (True, False):
        for method in DATA_LOADERS:
            lab = _lab_with(win, method)
            if lab is not None and (lab == win.current or not prefer_current):
                win.switch_lab(lab)
                return bool(getattr(win.slot.presenter, method)(str(path)))
    win.show_message(f"No lab loads data files; {path} was not opened.")
    return False


def open_path(win, path) -> bool:
    """Open one file by its kind; unknown kinds are reported in the status bar."""
    from app import menus
    kind = file_kind(path)
    if kind == "session":
        ok = menus.open_session(win, str(path))
        if ok:
            win.recent.add(path, "session")
        return ok
    if kind == "volume":
        return open_volume(win, path)
    if kind == "csv":
        return open_data(win, path)
    win.show_message(f"Cannot open {Path(path).name}: drop a session (.json), a volume "
                     "(.nii, .nii.gz, .npy, .npz, .tif, DICOM) or a CSV file.")
    return False


def ask_volume(win, path: Optional[str] = None) -> bool:
    """File → Open volume: a NIfTI/NumPy/TIFF file, or any file of a DICOM series (the whole
    series is loaded)."""
    if path is None:
        path, _ = QFileDialog.getOpenFileName(
            win, "Open volume", "", "Volumes (*.nii *.nii.gz *.npy *.npz *.tif *.tiff *.dcm "
            "*.dicom *.ima);;All files (*)")
        if not path:
            return False
    return open_volume(win, path)


def ask_dicom(win, path: Optional[str] = None) -> bool:
    """File → Open DICOM series: choose the folder of the series (or pass ``path``)."""
    if path is None:
        path = QFileDialog.getExistingDirectory(win, "Open DICOM series (folder)")
        if not path:
            return False
    return open_volume(win, path)


def dropped_paths(mime) -> list[str]:
    """Local file paths of a drag's mime data (empty when it carries none)."""
    if mime is None or not mime.hasUrls():
        return []
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


class DropHandler(QObject):
    """Makes ``win`` accept dropped files and opens them with :func:`open_path` (an event
    filter, so the window class needs no drag-and-drop methods)."""

    def __init__(self, win):
        super().__init__(win)
        self.win = win
        win.setAcceptDrops(True)
        win.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt name)
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if any(file_kind(p) for p in dropped_paths(event.mimeData())):
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop:
            paths = dropped_paths(event.mimeData())
            if paths:
                event.acceptProposedAction()
                self.open_all(paths)
                return True
        return False

    def open_all(self, paths) -> int:
        """Open every path by its kind; returns how many opened."""
        return sum(bool(open_path(self.win, p)) for p in paths)

"""File and movie actions of the reconstruction lab: open a volume, save method A as NIfTI,
slice-sweep and 3-D rotation movies (``lab`` is the :class:`app.labs.recon.ReconLab`)."""
from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtWidgets import QFileDialog

from app.file_open import dicom_series_path


def open_volume(lab, path: Optional[str] = None) -> bool:
    """Use a NIfTI / DICOM folder / .npy / TIFF volume as ground truth (checked first)."""
    from engine.recon import load_volume
    if path is None:
        path, _ = QFileDialog.getOpenFileName(
            lab.view, "Open volume", "", "Volumes (*.nii *.nii.gz *.npy *.npz *.tif "
            "*.tiff *.dcm);;All files (*)")
        if not path:
            return False
    path = dicom_series_path(path)          # one slice of a DICOM series loads the series
    try:
        vol = load_volume(path)
    except (ValueError, OSError) as err:
        lab.sigMessage.emit(f"Volume not opened: {err}")
        return False
    lab.sigMessage.emit(f"Opened {path}: {vol.shape} voxels, spacing {vol.spacing} mm"
                        + "".join(f" — note: {n}" for n in vol.notes))
    lab.sigConfigEdit.emit({"source": "file", "path": str(path)})
    return True


def save_result(lab, path: Optional[str] = None) -> bool:
    """Save method A's reconstruction as NIfTI (spacing kept)."""
    import torch

    from engine.recon import Volume, save_nifti
    if lab.result is None:
        lab.sigMessage.emit("Nothing to save yet: run the lab first.")
        return False
    if path is None:
        path, _ = QFileDialog.getSaveFileName(lab.view, "Save reconstruction",
                                             f"{lab.result.runs[0].name}.nii.gz",
                                             "NIfTI (*.nii *.nii.gz)")
        if not path:
            return False
    r = lab.result
    sz, sy, sx = r.spacing
    affine = np.diag([sx, sy, sz, 1.0])
    save_nifti(Volume(torch.from_numpy(r.runs[0].volume), r.spacing, affine,
                      r.runs[0].name, {}), path)
    lab.sigMessage.emit(f"Saved {path}")
    return True


def _movie_path(lab, title: str, default: str) -> str:
    path, _ = QFileDialog.getSaveFileName(lab.view, title, default, "Movie (*.mp4 *.gif)")
    return path


def export_slice_sweep(lab, path: Optional[str] = None, fps: int = 8) -> bool:
    """Write a movie of the shown tab sweeping through the axial slices."""
    from PySide6.QtWidgets import QApplication

    from app import export
    if lab.result is None:
        lab.sigMessage.emit("Nothing to export yet: run the lab first.")
        return False
    path = path or _movie_path(lab, "Export slice sweep", "slices.mp4")
    if not path:
        return False
    viewer = lab.tri if lab.tabs.currentWidget() is lab.tri else lab.viewers[0]
    i, j, k0 = viewer.cursor()
    widget = lab.tabs.currentWidget()

    def render(k: int):
        viewer.set_cursor(i, j, k)
        QApplication.processEvents()
        return export.qimage_to_array(widget.grab().toImage())

    try:
        ok = export.export_animation(render, lab.result.truth.shape[0], path, fps=fps)
    finally:
        viewer.set_cursor(i, j, k0)
    lab.sigMessage.emit(f"Saved {path}" if ok else "Slice sweep cancelled")
    return bool(ok)


def export_rotation(lab, path: Optional[str] = None, n_frames: int = 72,
                    fps: int = 24) -> bool:
    """Write a movie of the 3-D view (method A) turning 360° about the vertical axis."""
    from app import export
    if lab.result is None or not lab.volume3d.available:
        lab.sigMessage.emit("Nothing to export: run the lab first" if lab.result is None
                            else "The 3-D view needs OpenGL, which is not available here")
        return False
    path = path or _movie_path(lab, "Export 3-D rotation", "rotation.mp4")
    if not path:
        return False
    lab.tabs.setCurrentWidget(lab.volume3d)
    start = lab.volume3d.azimuth()

    def render(k: int):
        lab.volume3d.set_azimuth(start + 360.0 * k / n_frames)
        return lab.volume3d.render()

    try:
        ok = export.export_animation(render, n_frames, path, fps=fps)
    finally:
        lab.volume3d.set_azimuth(start)
    lab.sigMessage.emit(f"Saved {path}" if ok else "3-D rotation cancelled")
    return bool(ok)

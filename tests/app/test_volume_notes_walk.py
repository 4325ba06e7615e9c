"""What a loader changed is shown, not only recorded (issue #17: "replaced NaN voxels and
missing DICOM slices are recorded but never shown"): opening a volume with non-finite voxels,
then a DICOM series with a slice missing, puts each note in the recon lab's status line at
once. pytest-qt fails the test on any exception raised in a Qt slot."""
from __future__ import annotations

import numpy as np
import pytest

from tests.engine.test_recon_io import _write_dicom_series


def test_nan_voxels_and_a_missing_dicom_slice_are_shown_when_opened(lab_window, tmp_path):
    pytest.importorskip("pydicom")
    win = lab_window("recon", size=16, slices=2, n_views=8, method_a="fbp", method_b="none")
    holes = np.arange(60, dtype=np.float32).reshape(3, 4, 5) / 10.0
    holes[0, 0, :2] = [np.nan, np.inf]
    np.save(tmp_path / "holes.npy", holes)
    assert win.slot.presenter.open_volume(str(tmp_path / "holes.npy"))
    assert "2 non-finite voxel(s)" in win.status_label.text()
    series = tmp_path / "series"
    series.mkdir()
    _write_dicom_series(series)                     # positions 10, 4, 7, 1 (files im0..im3)
    (series / "im1.dcm").unlink()                   # position 4: 1, 7, 10 → one missing
    assert win.slot.presenter.open_volume(str(series / "im0.dcm"))
    assert "1 slice(s) missing" in win.status_label.text()

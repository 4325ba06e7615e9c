"""Hostile volume files (issue #17): the test data nibabel and pydicom ship, found at test time,
plus crafted files. Every one loads as a clean float32 volume (what was changed said in
``vol.notes``) or raises a ``ValueError`` naming the file and the reason (SCIENCE.md §4)."""
from __future__ import annotations

import gzip
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest

from engine.imaging.volume_checks import LUMA, VolumeLoadError
from engine.imaging.volume_io import load_volume
from tests.engine.test_recon_io import _write_dicom_series


def _package_files(package: str, folder: str, suffixes: tuple) -> list:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return []
    root = Path(spec.origin).parent / folder
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(suffixes)
                  and p.stat().st_size < 4 << 20)


def _loads_or_names_the_file(path: Path) -> str:
    """"loaded" or "refused"; fails on any other exception or a dirty volume."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            vol = load_volume(path, allow_2d=True)
        except (ValueError, FileNotFoundError) as err:
            assert path.name in str(err) and len(str(err)) > len(str(path)) + 5, str(err)
            return "refused"
    data = vol.data.numpy()
    assert data.dtype == np.float32 and data.ndim == 3 and data.size > 0
    assert np.isfinite(data).all(), path.name
    assert all(np.isfinite(s) and s > 0 for s in vol.spacing), (path.name, vol.spacing)
    return "loaded"


def test_nibabel_test_data_load_or_are_refused_by_name():
    files = _package_files("nibabel", "tests/data", (".nii", ".nii.gz"))
    if not files:
        pytest.skip("nibabel's test data are not installed")
    outcomes = {p.name: _loads_or_names_the_file(p) for p in files}
    assert outcomes.get("anatomical.nii") == "loaded"
    assert outcomes.get("row_major.dconn.nii", "refused") == "refused"       # CIFTI


def test_pydicom_test_data_load_or_are_refused_by_name():
    files = _package_files("pydicom", "data", (".dcm",))
    if not files:
        pytest.skip("pydicom's test data are not installed")
    outcomes = {p.name: _loads_or_names_the_file(p) for p in files}
    assert outcomes.get("CT_small.dcm") == "loaded"
    assert "loaded" in outcomes.values() and "refused" in outcomes.values()


def test_colour_dicom_becomes_luminance():
    from pydicom.data import get_testdata_file
    path = get_testdata_file("SC_rgb_small_odd.dcm")
    if path is None:
        pytest.skip("pydicom's SC_rgb_small_odd.dcm is not installed")
    import pydicom
    rgb = pydicom.dcmread(path).pixel_array.astype(float)
    vol = load_volume(path, allow_2d=True)
    assert vol.shape == (1,) + rgb.shape[:2]
    assert np.allclose(vol.data.numpy()[0], rgb @ np.asarray(LUMA), atol=1e-4)
    assert any("luminance" in n for n in vol.notes)


def _ramp(shape=(3, 4, 5)) -> np.ndarray:
    return np.arange(np.prod(shape), dtype=np.float32).reshape(shape) / 10.0


@pytest.mark.parametrize("content, reason", [
    ({"data": _ramp(), "spacing": [2.0]}, "spacing needs 3 values"),
    ({"data": _ramp(), "spacing": [np.nan, 1, 1]}, "finite and positive"),
    ({"data": _ramp(), "spacing": [1, 0, 1]}, "finite and positive"),
    ({"data": _ramp(), "spacing": [1, 1, -2]}, "finite and positive"),
    ({"data": np.full((2, 3, 4), np.nan)}, "no voxel holds a finite number"),
    ({"data": np.zeros((0, 3, 4), np.float32)}, "empty"),
])
def test_crafted_npz_refused_with_the_reason(tmp_path, content, reason):
    path = tmp_path / "crafted.npz"
    np.savez(path, **content)
    with pytest.raises(VolumeLoadError, match=reason) as err:
        load_volume(path)
    assert str(path) in str(err.value)


def test_truncated_npz_and_flipped_gzip_byte(tmp_path):
    nib = pytest.importorskip("nibabel")
    full = tmp_path / "full.npz"
    np.savez(full, data=_ramp())
    cut = tmp_path / "cut.npz"
    cut.write_bytes(full.read_bytes()[:len(full.read_bytes()) // 2])
    with pytest.raises(VolumeLoadError, match="cut.npz: corrupt, truncated"):
        load_volume(cut)
    good = tmp_path / "good.nii.gz"
    nib.save(nib.Nifti1Image(_ramp((6, 8, 10)), np.eye(4)), str(good))
    raw = bytearray(good.read_bytes())
    raw[-6] ^= 0xFF                                 # the gzip trailer's CRC-32
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(bytes(raw))
    assert gzip.decompress(bytes(good.read_bytes()))    # the good file is sound
    with pytest.raises(VolumeLoadError, match="bad.nii.gz: corrupt or truncated NIfTI"):
        load_volume(bad)


def test_values_are_kept_or_changed_with_a_note(tmp_path):
    nib = pytest.importorskip("nibabel")
    z = (_ramp((4, 5, 6)) + 1j * _ramp((4, 5, 6))).astype(np.complex64)
    nib.save(nib.Nifti1Image(z, np.eye(4)), str(tmp_path / "c.nii"))
    vol = load_volume(tmp_path / "c.nii")
    assert np.allclose(vol.data.numpy(), np.abs(z).transpose(2, 1, 0))
    assert any("magnitude" in n for n in vol.notes)
    huge = _ramp().astype(np.float64) * 1e300
    np.save(tmp_path / "huge.npy", huge)
    vol = load_volume(tmp_path / "huge.npy")
    ratio = vol.data.numpy()[1:] / huge.astype(np.float64)[1:]
    assert np.allclose(ratio, ratio.flat[0], rtol=1e-6) and np.isfinite(vol.data.numpy()).all()
    assert any("float32 range" in n for n in vol.notes)
    holes = _ramp()
    holes[0, 0, :2] = [np.nan, np.inf]
    np.save(tmp_path / "holes.npy", holes)
    vol = load_volume(tmp_path / "holes.npy")
    assert vol.meta["nonfinite"] == 2 and float(vol.data[0, 0, 0]) == 0.0
    assert any("2 non-finite voxel(s)" in n for n in vol.notes)
    np.save(tmp_path / "clean.npy", _ramp())
    assert load_volume(tmp_path / "clean.npy").notes == []


def test_rgb_tiff_becomes_luminance(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    rgb = np.random.default_rng(0).integers(0, 256, (2, 6, 7, 3)).astype(np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    vol = load_volume(tmp_path / "rgb.tif")
    assert vol.shape == (2, 6, 7)
    assert np.allclose(vol.data.numpy(), rgb.astype(float) @ np.asarray(LUMA), atol=1e-4)
    assert any("luminance" in n for n in vol.notes)


def test_missing_dicom_slice_is_noted(tmp_path):
    _write_dicom_series(tmp_path)                   # positions 10, 4, 7, 1 (files im0..im3)
    vol = load_volume(tmp_path)
    assert vol.meta["missing_slices"] == 0 and vol.notes == []
    (tmp_path / "im1.dcm").unlink()                 # position 4: 1, 7, 10 → one missing
    vol = load_volume(tmp_path)
    assert vol.meta["missing_slices"] == 1 and vol.shape[0] == 3
    assert any("1 slice(s) missing" in n for n in vol.notes)


def test_dicom_without_rows_is_refused_by_name(tmp_path):
    pytest.importorskip("pydicom")
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(tmp_path / "norows.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, generate_uid()
    ds.PixelData = bytes(16)
    ds.save_as(str(tmp_path / "norows.dcm"), enforce_file_format=True)
    with pytest.raises(VolumeLoadError, match="norows.dcm: DICOM pixel data without Rows"):
        load_volume(tmp_path / "norows.dcm")

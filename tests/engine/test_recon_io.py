"""Volume I/O round trips and bad input (SCIENCE.md §4; PLATFORM.md demo data)."""
import numpy as np
import pytest
import torch

from engine.imaging.volume_io import (Volume, brain_template_path, demo_volume, load_volume,
                                    resample_volume, save_nifti)


def _vol(shape=(5, 7, 9), spacing=(2.5, 0.8, 0.7)):
    data = torch.from_numpy(np.random.default_rng(0).random(shape, dtype=np.float32))
    affine = np.diag([spacing[2], spacing[1], spacing[0], 1.0])
    affine[:3, 3] = [-10.0, 4.0, 12.5]
    return Volume(data, spacing, affine)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_nifti_round_trip(tmp_path, suffix):
    pytest.importorskip("nibabel")
    vol = _vol()
    path = save_nifti(vol, tmp_path / f"v{suffix}")
    back = load_volume(path)
    assert back.data.dtype == torch.float32 and back.shape == vol.shape
    assert torch.equal(back.data, vol.data)
    assert np.allclose(back.spacing, vol.spacing)
    assert np.allclose(back.affine, vol.affine)


def test_nifti_orientation_axes(tmp_path):
    nib = pytest.importorskip("nibabel")
    arr = np.zeros((4, 6, 8), np.float32)                    # nibabel order (x, y, z)
    arr[3, 0, 0] = 1.0                                        # x = 3
    nib.save(nib.Nifti1Image(arr, np.diag([1.0, 2.0, 3.0, 1.0])), str(tmp_path / "a.nii"))
    vol = load_volume(tmp_path / "a.nii")
    assert vol.shape == (8, 6, 4) and vol.spacing == (3.0, 2.0, 1.0)
    assert float(vol.data[0, 0, 3]) == 1.0                    # data[z, y, x]


def test_nifti_corrupt_and_2d(tmp_path):
    nib = pytest.importorskip("nibabel")
    vol = _vol()
    good = save_nifti(vol, tmp_path / "g.nii.gz")
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="NIfTI"):
        load_volume(bad)
    junk = tmp_path / "junk.nii"
    junk.write_bytes(b"not a nifti file at all" * 3)
    with pytest.raises(ValueError):
        load_volume(junk)
    nib.save(nib.Nifti1Image(np.ones((6, 5), np.float32), np.eye(4)), str(tmp_path / "f.nii"))
    with pytest.raises(ValueError, match="2-D"):
        load_volume(tmp_path / "f.nii")
    assert load_volume(tmp_path / "f.nii", allow_2d=True).shape == (1, 5, 6)


def test_size_guard_unknown_missing_nan(tmp_path):
    arr = np.ones((4, 8, 8), np.float32)
    arr[0, 0, 0] = np.nan
    np.save(tmp_path / "v.npy", arr)
    with pytest.raises(ValueError, match="limit"):
        load_volume(tmp_path / "v.npy", max_bytes=1000)
    vol = load_volume(tmp_path / "v.npy")
    assert vol.meta["nonfinite"] == 1 and float(vol.data[0, 0, 0]) == 0.0
    (tmp_path / "x.xyz").write_text("hello")
    with pytest.raises(ValueError, match="unknown volume format"):
        load_volume(tmp_path / "x.xyz")
    with pytest.raises(FileNotFoundError):
        load_volume(tmp_path / "missing.nii")
    (tmp_path / "t.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ValueError):
        load_volume(tmp_path / "t.npy")


def test_npz_and_tiff(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    np.savez(tmp_path / "v.npz", data=arr, spacing=np.array([3.0, 1.0, 0.5]))
    vol = load_volume(tmp_path / "v.npz")
    assert np.array_equal(vol.data.numpy(), arr) and vol.spacing == (3.0, 1.0, 0.5)
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "s.tif", arr.astype(np.uint16), photometric="minisblack")
    assert np.array_equal(load_volume(tmp_path / "s.tif").data.numpy(), arr)


def _write_dicom_series(folder, n=4, rows=8, cols=6, slope=2.0, intercept=-100.0, uid=None,
                        prefix="im"):
    pytest.importorskip("pydicom")
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    series = uid or generate_uid()
    truth = []
    for i, z in enumerate([10.0, 4.0, 7.0, 1.0][:n]):          # written out of order
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(str(folder / f"{prefix}{i}.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
        ds.SeriesInstanceUID, ds.Modality = series, "CT"
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-5.0, -6.0, z]
        ds.PixelSpacing = [0.5, 0.25]
        ds.SliceThickness = 3.0
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        px = (np.full((rows, cols), int(z * 10), np.uint16) + np.arange(cols, dtype=np.uint16))
        ds.PixelData = px.tobytes()
        ds.save_as(str(folder / f"{prefix}{i}.dcm"), enforce_file_format=True)
        truth.append((z, px.astype(np.float32) * slope + intercept))
    return [t for _, t in sorted(truth, key=lambda p: p[0])]


def test_dicom_series_sorted_and_rescaled(tmp_path):
    expected = _write_dicom_series(tmp_path)
    (tmp_path / "notes.txt").write_text("not dicom")
    vol = load_volume(tmp_path)
    assert vol.shape == (4, 8, 6)
    assert np.allclose(vol.data.numpy(), np.stack(expected))
    assert np.allclose(vol.spacing, (3.0, 0.5, 0.25))
    assert vol.meta["nonfinite"] == 0
    # voxel (x, y, z) = (0, 0, 0) sits at the first slice's position (LPS → RAS)
    assert np.allclose(vol.affine[:3, 3], [5.0, 6.0, 1.0])


def test_dicom_corrupt_and_mixed(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    _write_dicom_series(a, n=2)
    _write_dicom_series(a, n=2, uid="1.2.3.4.5", prefix="other")
    with pytest.raises(ValueError, match="series"):
        load_volume(a)
    _write_dicom_series(b, n=3)
    data = (b / "im0.dcm").read_bytes()
    (b / "im0.dcm").write_bytes(data[:400])
    with pytest.raises(ValueError, match="truncated"):
        load_volume(b)
    (b / "im0.dcm").write_bytes(data[:-20])                   # cut inside the pixel data
    with pytest.raises(ValueError, match="pixel data"):
        load_volume(b)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no DICOM"):
        load_volume(empty)


def test_resample_keeps_field_of_view():
    vol = _vol((8, 8, 8), (1.0, 1.0, 1.0))
    small = resample_volume(vol, (4, 4, 2))
    assert small.shape == (4, 4, 2) and small.spacing == (2.0, 2.0, 4.0)
    assert np.allclose(np.diag(small.affine)[:3], [4.0, 2.0, 2.0])


@pytest.mark.skipif(brain_template_path() is None, reason="brain template missing from resources/brain")
def test_brain_demo():
    pytest.importorskip("nibabel")
    vol = demo_volume("brain")
    assert vol.shape == (189, 233, 197)
    assert np.allclose(vol.spacing, 1.0)
    assert float(vol.data.min()) == 0.0 and float(vol.data.max()) == 1.0
    small = demo_volume("brain", shape=(48, 58, 49))
    assert small.shape == (48, 58, 49) and 0 <= float(small.data.min()) <= float(small.data.max()) <= 1


def test_dicom_ct_demo():
    pytest.importorskip("pydicom")
    vol = demo_volume("dicom-ct")
    assert vol.shape == (1, 128, 128)

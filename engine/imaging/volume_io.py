"""Volume I/O: NIfTI, DICOM series, NumPy, TIFF stacks, and demo volumes (SCIENCE.md §4).

Convention (SCIENCE.md §4): ``Volume.data[z, y, x]`` float32; ``spacing`` in mm in (z, y, x)
order; ``affine`` is the NIfTI-style 4×4 map from voxel indices **(x, y, z)** = (i, j, k) to
world millimetres (RAS+), so ``world = affine @ [x, y, z, 1]`` for the voxel ``data[z, y, x]``.
NIfTI files are reoriented to the closest canonical (RAS+) orientation on load. DICOM positions
(LPS) are converted to RAS. Optional dependencies (nibabel, pydicom, tifffile) are imported only
when a file of that kind is read.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

import resources
from engine.imaging.volume_checks import (VolumeLoadError, check_gzip, check_spacing,
                                          clean_voxels, luminance, slice_gap_note)

DEFAULT_MAX_BYTES = 2 << 30          # 2 GiB of float32 voxels
BRAIN_FILE = "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"


@dataclass
class Volume:
    """A 3-D image ``data[z, y, x]`` with voxel ``spacing`` (mm, z-y-x) and NIfTI ``affine``."""
    data: torch.Tensor
    spacing: tuple = (1.0, 1.0, 1.0)
    affine: np.ndarray = field(default_factory=lambda: np.eye(4))
    name: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple:
        return tuple(self.data.shape)

    @property
    def notes(self) -> list:
        """What loading changed or found (colour → luminance, NaN voxels, missing slices …),
        one sentence each naming the file; the app shows them."""
        return list(self.meta.get("notes", []))


def _affine_from_spacing(spacing: Sequence[float]) -> np.ndarray:
    """Diagonal affine for spacing given in (z, y, x) order."""
    return np.diag([spacing[2], spacing[1], spacing[0], 1.0]).astype(float)


def _check_size(shape: Sequence[int], max_bytes: int, path) -> None:
    nbytes = int(np.prod([int(s) for s in shape])) * 4
    if nbytes > max_bytes:
        raise ValueError(f"{path}: volume {tuple(shape)} needs {nbytes / 2**20:.0f} MiB as float32,"
                         f" more than the limit of {max_bytes / 2**20:.0f} MiB; downsample it first")


def _finish(arr: np.ndarray, spacing, affine, name: str, allow_2d: bool, path,
            notes: Sequence[str] = ()) -> Volume:
    """Check dimensionality, voxels (:func:`~engine.imaging.volume_checks.clean_voxels`) and
    spacing, and wrap as a float32 Volume whose ``meta["notes"]`` say what was changed."""
    arr = np.asarray(arr)
    if arr.ndim == 2:
        if not allow_2d:
            raise ValueError(f"{path}: the file holds a 2-D image {arr.shape}, expected a 3-D "
                             "volume (pass allow_2d=True to load it as one slice)")
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"{path}: expected a 3-D volume, got an array of shape {arr.shape}")
    arr, more, bad = clean_voxels(arr, path)
    spacing = check_spacing(spacing, path)
    meta = {"nonfinite": bad, "notes": list(notes) + more}
    return Volume(torch.from_numpy(np.ascontiguousarray(arr)), spacing,
                  np.asarray(affine, dtype=float), name, meta)


# -- NIfTI -----------------------------------------------------------------------------------

def _load_nifti(path: Path, max_bytes: int, allow_2d: bool, canonical: bool = True) -> Volume:
    import nibabel as nib
    if path.name.lower().endswith(".gz"):
        check_gzip(path, "NIfTI")
    try:
        img = nib.load(str(path))
        if not hasattr(img.header, "get_zooms"):          # CIFTI-2: grayordinates, not voxels
            raise VolumeLoadError(path, f"a {type(img).__name__} file (surface / grayordinate "
                                        "data), not a voxel volume")
        if len(img.shape) == 4 and img.shape[3] == 1:
            img = img.slicer[..., 0]
        _check_size(img.shape, max_bytes, path)
        if canonical and len(img.shape) == 3:
            img = nib.as_closest_canonical(img)
        arr = np.asarray(img.dataobj)              # native type: complex stays complex
    except VolumeLoadError:
        raise
    except ValueError as exc:
        if "needs" in str(exc) and "MiB" in str(exc):
            raise
        raise ValueError(f"{path}: cannot read NIfTI file ({exc})") from exc
    except Exception as exc:  # nibabel raises ImageFileError, EOFError, zlib/gzip errors, ...
        raise ValueError(f"{path}: corrupt or truncated NIfTI file ({type(exc).__name__}: {exc})"
                         ) from exc
    if arr.ndim not in (2, 3):
        raise ValueError(f"{path}: expected a 3-D volume, got shape {arr.shape}")
    zooms = tuple(float(z) for z in img.header.get_zooms()[:arr.ndim])
    if arr.ndim == 2:
        if not allow_2d:
            raise ValueError(f"{path}: the file holds a 2-D image {arr.shape}, expected a 3-D "
                             "volume (pass allow_2d=True to load it as one slice)")
        arr, zooms = arr[:, :, None], zooms + (1.0,)
    return _finish(arr.transpose(2, 1, 0), zooms[::-1], img.affine, path.name, allow_2d, path)


def save_nifti(vol: Volume, path) -> Path:
    """Write ``vol`` as NIfTI-1 (.nii or .nii.gz), float32, with its affine (SCIENCE.md §4)."""
    import nibabel as nib
    data = vol.data.detach().cpu().numpy().astype(np.float32).transpose(2, 1, 0)
    affine = np.asarray(vol.affine, dtype=float)
    img = nib.Nifti1Image(np.ascontiguousarray(data), affine)
    img.header.set_zooms(tuple(float(s) for s in vol.spacing[::-1]))
    img.header.set_xyzt_units("mm")
    path = Path(path)
    nib.save(img, str(path))
    return path


# -- DICOM -----------------------------------------------------------------------------------

def _dicom_affine(first, normal, step: float, spacing_yx) -> np.ndarray:
    """Voxel (x, y, z) → RAS mm from ImageOrientation/Position (LPS → RAS)."""
    iop = np.asarray(first.ImageOrientationPatient, dtype=float)
    aff = np.eye(4)
    aff[:3, 0] = iop[:3] * spacing_yx[1]
    aff[:3, 1] = iop[3:] * spacing_yx[0]
    aff[:3, 2] = normal * step
    aff[:3, 3] = np.asarray(first.ImagePositionPatient, dtype=float)
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ aff


def _read_dicom_datasets(files, path) -> list:
    import pydicom
    from pydicom.errors import InvalidDicomError
    dsets, no_pixels = [], []
    for f in files:
        try:
            ds = pydicom.dcmread(str(f))
        except (InvalidDicomError, IsADirectoryError):
            continue
        except Exception as exc:
            raise ValueError(f"{f}: corrupt or truncated DICOM file ({exc})") from exc
        (dsets if "PixelData" in ds else no_pixels).append((f, ds))
    for f, ds in dsets:
        if "Rows" not in ds or "Columns" not in ds:
            raise VolumeLoadError(f, "DICOM pixel data without Rows/Columns (not an image)")
    if not dsets:
        raise ValueError(f"{path}: no DICOM images found")
    series = {getattr(ds, "SeriesInstanceUID", "") for _, ds in dsets}
    if len(series) > 1:
        raise ValueError(f"{path}: the folder mixes {len(series)} DICOM series; "
                         "put each series in its own folder")
    classes = {str(getattr(ds, "SOPClassUID", "")) for _, ds in dsets} - {""}
    for f, ds in no_pixels:     # same series or image class but no pixel data: truncated
        if (getattr(ds, "SeriesInstanceUID", None) in series
                or str(getattr(ds, "SOPClassUID", "")) in classes):
            raise ValueError(f"{f}: truncated DICOM file (no pixel data)")
    return [ds for _, ds in dsets]


def _pixels(ds, path, notes: list) -> np.ndarray:
    try:
        arr = ds.pixel_array
    except Exception as exc:
        raise ValueError(f"{path}: cannot decode DICOM pixel data ({exc})") from exc
    if int(getattr(ds, "SamplesPerPixel", 1) or 1) > 1 and arr.shape[-1] in (3, 4):
        arr, note = luminance(arr, path, str(getattr(ds, "PhotometricInterpretation", "RGB")))
        if note not in notes:
            notes.append(note)
    arr = np.asarray(arr, dtype=np.float32)
    slope = float(getattr(ds, "RescaleSlope", 1.0) or 1.0)
    return arr * slope + float(getattr(ds, "RescaleIntercept", 0.0) or 0.0)


def _load_dicom(path: Path, max_bytes: int, allow_2d: bool) -> Volume:
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    dsets = _read_dicom_datasets(files, path)
    first = dsets[0]
    frames = int(getattr(first, "NumberOfFrames", 1) or 1)
    _check_size((len(dsets) * frames, first.Rows, first.Columns), max_bytes, path)
    sp = [float(v) for v in getattr(first, "PixelSpacing", (1.0, 1.0))]
    notes: list = []
    if len(dsets) == 1:
        arr = _pixels(first, path, notes)
        dz = float(getattr(first, "SliceThickness", 1.0) or 1.0)
        return _finish(arr, (dz, sp[0], sp[1]), _affine_from_spacing((dz, sp[0], sp[1])),
                       path.name, allow_2d or arr.ndim == 3, path, notes)
    if any((ds.Rows, ds.Columns) != (first.Rows, first.Columns) for ds in dsets):
        raise ValueError(f"{path}: DICOM slices have different sizes")
    try:
        iop = np.asarray(first.ImageOrientationPatient, dtype=float)
        normal = np.cross(iop[:3], iop[3:])
        pos = np.array([np.dot(normal, np.asarray(ds.ImagePositionPatient, float)) for ds in dsets])
    except AttributeError:  # no geometry: fall back to InstanceNumber
        normal, pos = np.array([0.0, 0.0, 1.0]), np.array(
            [float(getattr(ds, "InstanceNumber", i)) for i, ds in enumerate(dsets)])
    order = np.argsort(pos, kind="stable")
    dsets, pos = [dsets[i] for i in order], pos[order]
    steps = np.diff(pos)
    dz = float(np.median(steps)) if len(steps) else 1.0
    if dz <= 0:
        raise ValueError(f"{path}: DICOM slices share the same position (duplicate slices?)")
    arr = np.stack([_pixels(ds, path, notes) for ds in dsets])
    first = dsets[0]                                   # lowest position along the normal
    affine = _dicom_affine(first, normal, dz, sp) if hasattr(first, "ImagePositionPatient") \
        else _affine_from_spacing((dz, sp[0], sp[1]))
    gap_notes, missing = slice_gap_note(pos, dz, path)
    vol = _finish(arr, (dz, sp[0], sp[1]), affine, path.name, True, path, notes + gap_notes)
    vol.meta["irregular_spacing"] = bool(np.ptp(steps) > 1e-3 * abs(dz))
    vol.meta["missing_slices"] = missing
    return vol


# -- NumPy / TIFF ----------------------------------------------------------------------------

def _load_numpy(path: Path, max_bytes: int, allow_2d: bool) -> Volume:
    try:
        obj = np.load(str(path), mmap_mode="r" if path.suffix == ".npy" else None,
                      allow_pickle=False)
        spacing = (1.0, 1.0, 1.0)
        if isinstance(obj, np.lib.npyio.NpzFile):
            keys = list(obj.keys())
            key = next((k for k in ("data", "volume", "vol", "arr_0") if k in keys), None)
            key = key or next(k for k in keys if obj[k].ndim >= 2)
            if "spacing" in keys:
                spacing = check_spacing(obj["spacing"], path)
            _check_size(obj[key].shape, max_bytes, path)
            arr = obj[key]
        else:
            _check_size(obj.shape, max_bytes, path)
            arr = np.array(obj)
    except VolumeLoadError:
        raise
    except ValueError as exc:
        if "MiB" in str(exc):
            raise
        raise ValueError(f"{path}: cannot read NumPy file ({exc})") from exc
    except (OSError, EOFError, StopIteration, zipfile.BadZipFile, KeyError) as exc:
        raise VolumeLoadError(path, f"corrupt, truncated or empty NumPy file "
                                    f"({type(exc).__name__}: {exc})") from exc
    return _finish(arr, spacing, _affine_from_spacing(spacing), path.name, allow_2d, path)


def _load_tiff(path: Path, max_bytes: int, allow_2d: bool) -> Volume:
    import tifffile
    try:
        with tifffile.TiffFile(str(path)) as tif:
            _check_size(tif.series[0].shape, max_bytes, path)
            arr, axes = tif.asarray(), tif.series[0].axes
    except ValueError as exc:
        if "MiB" in str(exc):
            raise
        raise ValueError(f"{path}: cannot read TIFF file ({exc})") from exc
    except Exception as exc:
        raise ValueError(f"{path}: corrupt TIFF file ({type(exc).__name__}: {exc})") from exc
    notes = []
    if axes.endswith("S") and arr.shape[-1] in (3, 4):          # samples per pixel: colour
        arr, note = luminance(arr, path, "RGB")
        notes.append(note)
    arr = np.squeeze(arr)
    return _finish(arr, (1.0, 1.0, 1.0), np.eye(4), path.name, allow_2d, path, notes)


def load_volume(path, max_bytes: int = DEFAULT_MAX_BYTES, allow_2d: bool = False) -> Volume:
    """Load a 3-D volume as ``Volume`` (``data[z, y, x]`` float32, spacing in mm; SCIENCE.md §4).

    Parameters
    ----------
    path : str or Path
        ``.nii``/``.nii.gz`` (nibabel), a DICOM series folder or ``.dcm`` file (pydicom; sorted
        along the slice normal, rescale slope/intercept applied), ``.npy``/``.npz`` (optional
        ``spacing`` entry), ``.tif``/``.tiff`` stack (tifffile).
    max_bytes : int
        Refuse volumes whose float32 copy would exceed this many bytes (``ValueError``).
    allow_2d : bool
        Accept a 2-D image as a single-slice volume instead of raising ``ValueError``.

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    ValueError
        (:class:`~engine.imaging.volume_checks.VolumeLoadError` or a plain ``ValueError``,
        both ``"<file>: <reason>"``) Unknown format, corrupt/truncated file (gzip CRC
        included), mixed DICOM series, DICOM without Rows, CIFTI, wrong dimensionality, empty,
        no finite voxel, bad spacing (3 finite positive values needed), too large.

    Notes
    -----
    What loading changes is said in ``vol.notes`` (``meta["notes"]``): non-finite voxels
    replaced by 0 (count in ``meta["nonfinite"]``), complex → magnitude, colour (RGB TIFF,
    colour DICOM) → luminance, values beyond float32 scaled, DICOM slices missing
    (``meta["missing_slices"]``) or irregularly spaced.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    loader = _loader(path)
    try:
        return loader(path, max_bytes, allow_2d)
    except (ValueError, FileNotFoundError) as exc:
        if path.name in str(exc):
            raise
        raise VolumeLoadError(path, f"cannot read the file ({exc})") from exc
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - a reader's own failure, named with the file
        raise VolumeLoadError(path, f"cannot read the file ({type(exc).__name__}: {exc})"
                              ) from exc


def _loader(path: Path):
    """The reader of ``path`` by its name (a folder is a DICOM series)."""
    name = path.name.lower()
    if path.is_dir() or name.endswith((".dcm", ".dicom", ".ima")):
        return _load_dicom
    if name.endswith((".nii", ".nii.gz")):
        return _load_nifti
    if name.endswith((".npy", ".npz")):
        return _load_numpy
    if name.endswith((".tif", ".tiff")):
        return _load_tiff
    raise VolumeLoadError(path, "unknown volume format (use .nii, .nii.gz, a DICOM folder, "
                                ".dcm, .npy, .npz, .tif or .tiff)")


# -- demo data -------------------------------------------------------------------------------

def brain_template_path() -> Optional[Path]:
    """Path of the MNI ICBM152 2009a T1 template shipped in ``resources/brain`` (its licence
    notice beside it), or None when the package data is missing."""
    p = resources.path("brain", BRAIN_FILE)
    return p if p.is_file() else None


def resample_volume(vol: Volume, shape: Sequence[int]) -> Volume:
    """Resample to ``shape`` (area averaging when shrinking, trilinear otherwise); spacing and
    affine are scaled so the field of view is kept."""
    shape = tuple(int(s) for s in shape)
    x = vol.data[None, None]
    shrink = all(n <= o for n, o in zip(shape, vol.shape))
    out = torch.nn.functional.interpolate(x, size=shape, mode="area" if shrink else "trilinear",
                                          **({} if shrink else {"align_corners": False}))[0, 0]
    f = [o / n for o, n in zip(vol.shape, shape)]          # (z, y, x) factors
    affine = np.asarray(vol.affine, float).copy()
    affine[:3, :3] = affine[:3, :3] * np.array([f[2], f[1], f[0]])[None, :]
    spacing = tuple(s * fi for s, fi in zip(vol.spacing, f))
    return Volume(out.contiguous(), spacing, affine, vol.name, dict(vol.meta))


def demo_volume(name: str = "brain", shape: Optional[Sequence[int]] = None) -> Volume:
    """Demo volumes shipped inside packages (PLATFORM.md "Real data that ships inside packages").

    Parameters
    ----------
    name : {"brain", "dicom-ct"}
        ``"brain"``: MNI ICBM152 2009a T1 template (shipped in ``resources/brain``), 1 mm, scaled to
        [0, 1]. ``"dicom-ct"``: pydicom's ``CT_small.dcm`` (one 128² slice, HU).
    shape : sequence of int, optional
        Resample to this (z, y, x) shape (see :func:`resample_volume`).
    """
    if name == "brain":
        path = brain_template_path()
        if path is None:
            raise FileNotFoundError("the brain demo volume is missing from the installed "
                                    "package (resources/brain); reinstall Flowscope")
        vol = load_volume(path)
        d = vol.data
        vol.data = (d - d.min()) / max(float(d.max() - d.min()), 1e-12)
        vol.name = "MNI ICBM152 T1"
    elif name == "dicom-ct":
        from pydicom.data import get_testdata_file
        vol = load_volume(get_testdata_file("CT_small.dcm"), allow_2d=True)
        vol.name = "CT_small (pydicom)"
    else:
        raise ValueError(f"unknown demo volume {name!r}; use 'brain' or 'dicom-ct'")
    return resample_volume(vol, shape) if shape is not None else vol

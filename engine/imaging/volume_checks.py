"""Checks every loaded volume passes (SCIENCE.md §4): voxels, spacing, colour, gzip integrity.

:mod:`engine.imaging.volume_io` reads a file into a NumPy array; the functions here turn what
a file may hold into either a clean float32 volume plus *notes* (what was changed, said to the
user) or a :class:`VolumeLoadError` naming the file and the reason. Nothing is changed
silently: complex voxels become their magnitude, colour becomes luminance, values beyond the
float32 range are scaled by a power of two, non-finite voxels become 0 — each with a note.
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["VolumeLoadError", "check_gzip", "check_spacing", "clean_voxels", "luminance",
           "slice_gap_note", "FLOAT32_MAX"]

FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Rec. 601 luma weights of R, G, B (the luminance a grey-scale viewer shows).
LUMA = (0.299, 0.587, 0.114)


class VolumeLoadError(ValueError):
    """A volume file that cannot be used: ``str(err)`` is ``"<file>: <reason>"``.

    A ``ValueError`` so that every caller catching those keeps working.
    """

    def __init__(self, path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")


def check_gzip(path: Path, kind: str, chunk: int = 1 << 22) -> None:
    """Read a ``.gz`` file to its end so gzip's CRC-32 and length checks run (readers that stop
    at the last voxel they need never reach the trailer, so a flipped byte went unnoticed)."""
    try:
        with gzip.open(path, "rb") as f:
            while f.read(chunk):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise VolumeLoadError(path, f"corrupt or truncated {kind} file: its gzip data fail "
                                    f"to decompress ({type(exc).__name__}: {exc}); get a "
                                    "fresh copy") from exc


def luminance(arr: np.ndarray, path, what: str) -> tuple[np.ndarray, str]:
    """Colour samples on the last axis (3 = RGB, 4 = RGBA) → Rec. 601 luminance, with a note."""
    rgb = np.asarray(arr[..., :3], dtype=np.float64)
    out = rgb @ np.asarray(LUMA)
    note = (f"{Path(str(path)).name}: {what} colour ({arr.shape[-1]} samples per pixel) "
            "converted to grey-scale luminance (0.299 R + 0.587 G + 0.114 B)")
    return out, note


def clean_voxels(arr: np.ndarray, path) -> tuple[np.ndarray, list, int]:
    """Float32 voxels of ``arr``, the notes of what was changed, and the count of non-finite
    voxels replaced by 0.

    Refuses an empty volume, a non-numeric type and a volume without one finite voxel;
    complex voxels become their magnitude; finite values beyond the float32 range are scaled
    by a power of two so the largest fits (relative contrast kept).
    """
    name = Path(str(path)).name
    if arr.size == 0:
        raise VolumeLoadError(path, f"the volume is empty (shape {tuple(arr.shape)})")
    notes = []
    if np.iscomplexobj(arr):
        arr = np.abs(arr)
        notes.append(f"{name}: complex voxels loaded as their magnitude |z|")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    if not np.issubdtype(arr.dtype, np.number):
        raise VolumeLoadError(path, f"unsupported voxel type {arr.dtype}")
    arr = np.asarray(arr, dtype=np.float64 if arr.dtype.itemsize > 4 else np.float32)
    peak, bad = _finite_peak(arr)
    if peak < 0:
        raise VolumeLoadError(path, "no voxel holds a finite number (all NaN or ±∞)")
    if peak > FLOAT32_MAX:
        exponent = int(np.ceil(np.log2(peak / FLOAT32_MAX))) + 1
        arr = np.ldexp(arr, -exponent)
        notes.append(f"{name}: values up to {peak:.3g} exceed the float32 range; scaled by "
                     f"2^-{exponent}")
    given, arr = arr, arr.astype(np.float32, copy=not arr.flags.writeable)  # no copy of float32
    if bad:
        if np.may_share_memory(arr, given):      # the caller's array stays as it was
            arr = arr.copy()
        arr[~np.isfinite(arr)] = 0.0
        notes.append(f"{name}: {bad} non-finite voxel(s) (NaN/∞) replaced by 0")
    return arr, notes, bad


def _finite_peak(arr: np.ndarray, voxels: int = 1 << 20) -> tuple[float, int]:
    """The largest ``|v|`` over finite voxels (−1 when there is none) and the count of the
    others, slab by slab along the first axis (about ``voxels`` per slab): small temporaries
    instead of three volume-sized ones, and Python between slabs, so that a cancelled run is
    interrupted within milliseconds (issue #17) rather than after a whole-volume operation."""
    arr, peak, bad = np.atleast_1d(arr), -1.0, 0
    step = max(1, voxels // max(1, arr[:1].size))
    for lo in range(0, arr.shape[0], step):
        slab = arr[lo:lo + step]
        finite = np.isfinite(slab)
        kept = int(finite.sum())
        bad += slab.size - kept
        if kept:
            peak = max(peak, float(np.abs(slab[finite]).max()))
    return peak, bad


def check_spacing(spacing: Sequence, path) -> tuple:
    """Three finite, positive voxel sizes (mm, z-y-x) or a :class:`VolumeLoadError`."""
    values = np.asarray(spacing, dtype=float).ravel()
    if values.size != 3:
        raise VolumeLoadError(path, f"the voxel spacing needs 3 values (z, y, x), got "
                                    f"{values.size}: {values.tolist()}")
    if not (np.isfinite(values).all() and (values > 0).all()):
        raise VolumeLoadError(path, f"the voxel spacing {values.tolist()} must be finite and "
                                    "positive")
    return tuple(float(v) for v in values)


def slice_gap_note(positions: np.ndarray, step: float, path) -> tuple[list, int]:
    """Notes on a DICOM series whose slice positions (sorted, mm) skip slices or vary in
    spacing, and the number of slices missing: in units of the smallest step, a gap of ``g``
    steps misses ``g - 1`` slices (``step``, the spacing used, is only reported)."""
    steps = np.diff(positions)
    if len(steps) == 0 or float(steps.min()) <= 0:
        return [], 0
    gaps = steps / float(steps.min())
    missing = int(np.clip(np.rint(gaps) - 1, 0, None).sum())
    name, notes = Path(str(path)).name, []
    if missing:
        notes.append(f"{name}: {missing} slice(s) missing from the series (gaps in the slice "
                     f"positions); the volume is stacked without them")
    elif float(np.ptp(gaps)) > 1e-3:
        notes.append(f"{name}: the slice spacing varies ({np.diff(positions).min():.3g}–"
                     f"{np.diff(positions).max():.3g} mm); the median {step:.3g} mm is used")
    return notes, missing

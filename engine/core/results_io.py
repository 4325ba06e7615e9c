"""Lab results as plain arrays: one ``.npz`` file a notebook opens with ``np.load``.

A lab result is a dataclass tree (results hold configs, solutions, runs, lists of runs,
dicts of arrays). :func:`flatten_result` walks it and names every leaf by its path
(``"convex/W1"``, ``"runs/2/objective"``, ``"methods/dds/volume"``); :func:`save_results`
writes the leaves with :func:`numpy.savez_compressed` plus a JSON ``__meta__`` entry (lab,
preset, config, field list) and :func:`load_results` reads them back without pickle, so a
file from anywhere can be opened safely. Users of TensorFlow Playground keep asking to take
the trained weights out (``tensorflow/playground#39``); this is that, for every lab.
"""
from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Optional

import numpy as np

__all__ = ["flatten_result", "save_results", "load_results", "ResultsFileError",
           "FORMAT_VERSION"]

FORMAT_VERSION = 1
META_KEY = "__meta__"


class ResultsFileError(ValueError):
    """A results file that is missing, corrupt, or not written by Flowscope."""


def _leaf(value: Any) -> Optional[np.ndarray]:
    """The array of a leaf value, or None when the value is not array-like data."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):          # torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, (bool, int, float, complex, str, np.generic)):
        return np.asarray(value)
    if isinstance(value, np.ndarray):
        return None if value.dtype == object else value
    return None


def _children(value: Any) -> Optional[list[tuple[str, Any]]]:
    """``(name, child)`` pairs of a container value; None for anything else."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)]
    if isinstance(value, dict):
        return [(str(k), v) for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        if _numeric_table(value):
            return None                         # numbers or equal-length rows: one array
        return [(str(i), v) for i, v in enumerate(value)]
    return None


def _is_number(v: Any) -> bool:
    return isinstance(v, (bool, int, float, np.integer, np.floating))


def _numeric_table(value) -> bool:
    """A non-empty list of numbers, or of equal-length tuples/lists of numbers (e.g. a
    ``[(iteration, psnr), ...]`` curve) — stored as one 1-D / 2-D array. Lists of arrays stay
    separate leaves (their shapes may differ from one data set to the next)."""
    if not value:
        return False
    if all(_is_number(v) for v in value):
        return True
    rows = [v for v in value if isinstance(v, (list, tuple))]
    return (len(rows) == len(value) and len({len(r) for r in rows}) == 1
            and all(_is_number(x) for r in rows for x in r))


def flatten_result(result: Any, prefix: str = "") -> tuple[dict[str, np.ndarray], list[str]]:
    """Every array-like leaf of a result tree, keyed by its ``/``-joined path.

    Parameters
    ----------
    result : dataclass, dict, list/tuple, array or scalar
        A lab result (engine dataclasses of CPU NumPy arrays; torch tensors are copied).
    prefix : str
        Path of ``result`` itself (empty at the root).

    Returns
    -------
    arrays : dict of str → ndarray
        Leaves (numbers, strings and numeric lists become 0-d / 1-d arrays).
    skipped : list of str
        Paths of leaves that are not array data (``None``, callables, object arrays).
    """
    arrays: dict[str, np.ndarray] = {}
    skipped: list[str] = []
    children = _children(result)
    if children is None:
        array = _leaf(result)
        if array is None and isinstance(result, (list, tuple)):
            array = np.asarray(result)
        if array is None:
            skipped.append(prefix)
        else:
            arrays[prefix or "value"] = array
        return arrays, skipped
    for name, child in children:
        sub, miss = flatten_result(child, f"{prefix}/{name}" if prefix else name)
        arrays.update(sub)
        skipped.extend(miss)
    return arrays, skipped


def save_results(path, result: Any, meta: Optional[dict] = None) -> dict:
    """Write ``result`` to ``path`` (``.npz``, compressed, atomic: temp file + rename).

    Parameters
    ----------
    path : str or Path. result : the lab result (see :func:`flatten_result`).
    meta : JSON-serialisable dict stored under ``__meta__`` (lab, preset, config …).

    Returns
    -------
    dict
        The stored meta (with ``format``, ``fields`` and ``skipped`` added).
    """
    arrays, skipped = flatten_result(result)
    if not arrays:
        raise ValueError("the result holds no array data to save")
    meta = {**(meta or {}), "format": f"flowscope-results/{FORMAT_VERSION}",
            "fields": sorted(arrays), "skipped": skipped}
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays, **{META_KEY: np.asarray(json.dumps(meta))})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return meta


def load_results(path) -> tuple[dict[str, np.ndarray], dict]:
    """Read a file written by :func:`save_results`: ``(arrays, meta)``.

    Raises
    ------
    ResultsFileError
        Missing, unreadable or corrupt file, or an ``.npz`` Flowscope did not write.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            if META_KEY not in data.files:
                raise ResultsFileError(f"{path}: not a Flowscope results file (no {META_KEY})")
            meta = json.loads(str(data[META_KEY]))
            arrays = {k: data[k] for k in data.files if k != META_KEY}
    except ResultsFileError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, json.JSONDecodeError) as err:
        raise ResultsFileError(f"{path}: cannot read results ({err})") from err
    if not str(meta.get("format", "")).startswith("flowscope-results/"):
        raise ResultsFileError(f"{path}: not a Flowscope results file")
    return arrays, meta

"""The sweep store: a Parquet dataset folder, one part file per finished point.

``pandas.read_parquet(folder)`` opens it directly (``_meta.json`` is skipped: pyarrow
ignores names starting with ``_``). Each part is written under a hidden temporary name and
renamed, so a killed sweep never leaves half a file; resuming reads which points exist.
"""
from __future__ import annotations

import json
import os
import platform
import re
from pathlib import Path

__all__ = ["SweepStore", "load_sweep", "arrow_schema", "META_NAME", "package_versions"]

META_NAME = "_meta.json"
FORMAT = "flowscope-sweep"
PART = re.compile(r"^part-(\d+)\.parquet$")
COMPARED = ("lab", "config", "axes", "seeds", "metrics")


def package_versions() -> dict:
    """Versions of the packages a sweep's numbers depend on."""
    from importlib.metadata import PackageNotFoundError, version
    out = {"python": platform.python_version()}
    for name in ("flowscope", "torch", "numpy", "pandas", "pyarrow", "dask", "distributed"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


class SweepStore:
    """One sweep's folder: ``_meta.json`` plus ``part-<point>.parquet`` files.

    Parameters
    ----------
    folder : str or Path
    meta : dict
        The plan's description (lab, config, axes, seeds, metrics).
    resume : bool
        Continue a sweep already in ``folder`` (its description must match); without it a
        folder that already holds a sweep is refused.
    """

    def __init__(self, folder, meta: dict, resume: bool = False):
        self.folder = Path(folder)
        self.meta = {"format": FORMAT, "version": 1, **meta}
        self._check_folder(resume)

    def _check_folder(self, resume: bool) -> None:
        meta_path = self.folder / META_NAME
        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(f"{self.folder} exists and is not a folder")
        if meta_path.exists():
            if not resume:
                raise ValueError(f"{self.folder} already holds a sweep: resume it, or choose "
                                 "another output folder")
            old = json.loads(meta_path.read_text(encoding="utf-8"))
            differ = [k for k in COMPARED if old.get(k) != json.loads(json.dumps(self.meta[k]))]
            if differ:
                raise ValueError(f"{self.folder} holds a different sweep ({', '.join(differ)} "
                                 "differ): choose another output folder")
        elif self.folder.is_dir() and any(self.folder.iterdir()):
            raise ValueError(f"{self.folder} is not empty and holds no sweep: choose an empty "
                             "or new folder")

    def open(self) -> None:
        """Create the folder and write ``_meta.json`` (with package versions) if new."""
        self.folder.mkdir(parents=True, exist_ok=True)
        meta_path = self.folder / META_NAME
        if not meta_path.exists():
            _write_atomic(meta_path, json.dumps({**self.meta, "versions": package_versions()},
                                                indent=1).encode("utf-8"))

    def finished(self) -> set:
        """Indices of the points already stored."""
        if not self.folder.is_dir():
            return set()
        return {int(m.group(1)) for m in map(PART.match, os.listdir(self.folder)) if m}

    def write(self, row: dict, schema) -> None:
        """Store one finished point (``row`` has a ``point`` index) atomically."""
        import pyarrow as pa
        import pyarrow.parquet as pq
        table = pa.Table.from_pylist([row], schema=schema)
        final = self.folder / f"part-{int(row['point']):06d}.parquet"
        tmp = self.folder / f".{final.name}.{os.getpid()}.tmp"
        pq.write_table(table, tmp)
        os.replace(tmp, final)

    def read(self):
        """The stored points as a DataFrame (None when there are none)."""
        return load_sweep(self.folder) if self.finished() else None


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def load_sweep(folder, meta: bool = False, indexed: bool = False):
    """A stored sweep as a pandas DataFrame, one row per finished point, sorted by point.

    Axis columns are the swept fields (plus ``seed``), metric columns are floats, ``seconds``
    the point's wall time and ``error`` its error text (``""`` when it ran). For xarray:
    ``df.set_index([*axes, "seed"]).to_xarray()``.

    Parameters
    ----------
    folder : str or Path
    meta : bool
        Also return the ``_meta.json`` dict: ``(df, meta)``.
    indexed : bool
        Index the rows by the axes and ``seed`` (a MultiIndex: the form ``df.to_xarray()``
        turns into a Dataset with the axes as coordinates and the metrics as variables).
    """
    import pandas as pd
    path = Path(folder)
    if not (path / META_NAME).exists():
        raise ValueError(f"{path} holds no sweep (no {META_NAME})")
    info = json.loads((path / META_NAME).read_text(encoding="utf-8"))
    if any(PART.match(n) for n in os.listdir(path)):
        df = pd.read_parquet(path).sort_values("point").reset_index(drop=True)
    else:
        df = arrow_schema(info["axes"], info["metrics"]).empty_table().to_pandas()
    if indexed:
        keys = list(dict.fromkeys([*info["axes"], "seed"]))
        df = df.set_index(keys).drop(columns="point")
    return (df, info) if meta else df


def arrow_schema(axes: dict, metrics: list):
    """The Parquet schema of a sweep's rows (the same for every part)."""
    import pyarrow as pa
    fields = [pa.field("point", pa.int64())]
    for name, values in axes.items():
        fields.append(pa.field(name, _arrow_type(values[0])))
    if "seed" not in axes:
        fields.append(pa.field("seed", pa.int64()))
    fields += [pa.field(m, pa.float64()) for m in metrics]
    fields += [pa.field("seconds", pa.float64()), pa.field("error", pa.string())]
    return pa.schema(fields)


def _arrow_type(value):
    import pyarrow as pa
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return pa.int64()
    if isinstance(value, float):
        return pa.float64()
    return pa.string()


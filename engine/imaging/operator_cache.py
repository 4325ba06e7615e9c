"""On-disk cache of assembled sparse reconstruction operators (SCIENCE.md §4.1, §4.2).

Assembling the Radon and back-projection matrices of a ``256²`` slice at 180 views takes
seconds; loading them back takes a fraction of that.  Matrices are stored as uncompressed
``.npz`` files (CSR arrays plus the geometry they were built for) under

* ``$FLOWSCOPE_CACHE_DIR/radon`` when that variable is set (``""``, ``0``, ``off`` or ``none``
  switch the disk cache off), else
* ``radon`` in the per-user cache folder (``platformdirs.user_cache_dir("flowscope")``:
  ``$XDG_CACHE_HOME/flowscope`` or ``~/.cache/flowscope`` on Linux).

A file is keyed by the matrix kind, the slice size, a hash of the exact angle array, the value
type and :data:`FORMAT_VERSION`; the stored geometry is compared on load, so a hash collision
cannot return the wrong operator.  Unreadable or inconsistent files are ignored and rebuilt.
Writes are atomic (temporary file + rename) and the folder is pruned to :data:`MAX_BYTES`
(least recently used first).  Small operators, cheap to rebuild, are never written
(:data:`MIN_CACHED_SAMPLES`).
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from engine.core.progress import unbroken

__all__ = ["FORMAT_VERSION", "MAX_BYTES", "MIN_CACHED_SAMPLES", "cache_dir", "cached_matrix",
           "is_cached"]

FORMAT_VERSION = 2  # 2: matrices stacked in column bands (engine.imaging.ct)
MAX_BYTES = 2 * 2 ** 30
MIN_CACHED_SAMPLES = 2 ** 21  # n² · n_angles below this: rebuild (well under a second)
_OFF = ("", "0", "off", "none", "false")


def cache_dir() -> Path | None:
    """Folder of the cached Radon matrices, or ``None`` when the disk cache is switched off."""
    env = os.environ.get("FLOWSCOPE_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in _OFF else Path(env).expanduser() / "radon"
    import platformdirs  # only here: importing the engine needs no cache folder
    return Path(platformdirs.user_cache_dir("flowscope")) / "radon"


def _key(kind: str, n: int, angles_rad: np.ndarray, dtype: np.dtype) -> str:
    digest = hashlib.sha1(np.ascontiguousarray(angles_rad, dtype=np.float64).tobytes())
    return f"{kind}-n{n}-a{len(angles_rad)}-{digest.hexdigest()[:16]}-{np.dtype(dtype).str[1:]}" \
           f"-v{FORMAT_VERSION}.npz"


def _valid(m: sp.csr_matrix, shape: tuple[int, int], dtype: np.dtype) -> bool:
    ip, ix = m.indptr, m.indices
    return (m.shape == shape and m.data.dtype == dtype and len(ip) == shape[0] + 1
            and ip[0] == 0 and ip[-1] == len(ix) == len(m.data)
            and bool(np.all(np.diff(ip) >= 0))
            and (len(ix) == 0 or (int(ix.min()) >= 0 and int(ix.max()) < shape[1])))


def _mapped(path: Path, names: tuple) -> dict | None:
    """The ``.npy`` members ``names`` of an uncompressed ``.npz`` as read-only memory maps.

    No copy and no CRC pass over hundreds of MB (issue #16: reading the arrays was most of
    a disk-cached set-up); the pages are read when a product touches them.  Files are only
    ever replaced by a rename, never rewritten in place, so a mapping stays valid.  None
    when a member is compressed or not a plain ``.npy`` array (then :func:`np.load` reads).
    """
    out = {}
    with zipfile.ZipFile(path) as zf, open(path, "rb") as fh:
        for name in names:
            info = zf.getinfo(name + ".npy")
            if info.compress_type != zipfile.ZIP_STORED:
                return None
            fh.seek(info.header_offset)
            head = fh.read(30)                       # the member's local file header
            if head[:4] != b"PK\x03\x04":
                return None
            skip = int.from_bytes(head[26:28], "little") + int.from_bytes(head[28:30], "little")
            fh.seek(info.header_offset + 30 + skip)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(
                               np.lib.format.read_magic(fh))
            if read_header is None:
                return None
            shape, fortran, dtype = read_header(fh)
            if fortran or dtype.hasobject:
                return None
            out[name] = (np.memmap(path, dtype=dtype, mode="r", offset=fh.tell(), shape=shape)
                         if int(np.prod(shape)) else np.zeros(shape, dtype))
    return out


def _load(path: Path, n: int, angles_rad: np.ndarray, shape, dtype) -> sp.csr_matrix | None:
    try:
        with np.load(path, allow_pickle=False) as f:
            if (int(f["version"]) != FORMAT_VERSION or int(f["n"]) != n
                    or not np.array_equal(f["angles"], angles_rad)):
                return None
            arrays = _mapped(path, ("data", "indices", "indptr")) or {
                k: f[k] for k in ("data", "indices", "indptr")}
            m = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]),
                              shape=tuple(f["shape"]), copy=False)
        if not _valid(m, tuple(shape), np.dtype(dtype)):
            return None
        os.utime(path)  # recency for the pruning
        return m
    except Exception:  # noqa: BLE001 - any unreadable file is simply rebuilt
        return None


def _prune(folder: Path, keep: Path) -> None:
    files = []
    for p in folder.glob("*.npz"):
        try:
            st = p.stat()
            files.append((st.st_mtime, st.st_size, p))
        except OSError:
            continue
    total = sum(s for _, s, _ in files)
    for _, size, p in sorted(files):
        if total <= MAX_BYTES:
            break
        if p != keep:
            try:
                p.unlink()
                total -= size
            except OSError:
                pass


def _save(path: Path, m: sp.csr_matrix, n: int, angles_rad: np.ndarray) -> None:
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with unbroken():                        # a cancel waits for the file (app runner)
            fd, tmp = tempfile.mkstemp(suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, version=FORMAT_VERSION, n=n, angles=angles_rad,
                         shape=np.array(m.shape, dtype=np.int64), indptr=m.indptr,
                         indices=m.indices, data=m.data)
            os.replace(tmp, path)
            tmp = None
        _prune(path.parent, path)
    except OSError:  # read-only or full disk: the cache is an optimisation only
        pass
    finally:  # also when a cancelled run is interrupted mid-write: no .tmp left behind
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _compact(m: sp.csr_matrix, dtype) -> sp.csr_matrix:
    """CSR with int32 indices when they fit and values of ``dtype`` (halves memory and disk)."""
    idx = np.int32 if max(m.nnz, m.shape[1]) < 2 ** 31 - 1 else np.int64
    return sp.csr_matrix((m.data.astype(dtype, copy=False), m.indices.astype(idx, copy=False),
                          m.indptr.astype(idx, copy=False)), shape=m.shape, copy=False)


def _path(kind: str, n: int, angles_rad: np.ndarray, dtype) -> Path | None:
    """File of matrix ``kind`` of a geometry, or None when it would not be cached on disk."""
    folder = cache_dir()
    if folder is None or n * n * len(angles_rad) < MIN_CACHED_SAMPLES:
        return None
    return folder / _key(kind, n, angles_rad, np.dtype(dtype))


def is_cached(kind: str, n: int, angles_rad: np.ndarray, dtype) -> bool:
    """Whether :func:`cached_matrix` would find ``kind`` of this geometry on disk (a file of
    that name exists; it is validated only when read)."""
    path = _path(kind, n, np.ascontiguousarray(angles_rad, dtype=np.float64), dtype)
    return path is not None and path.is_file()


def cached_matrix(kind: str, n: int, angles_rad: np.ndarray, shape: tuple[int, int], dtype,
                  build: Callable[[], sp.csr_matrix]) -> sp.csr_matrix:
    """The CSR matrix ``kind`` of a geometry, from the disk cache or from ``build()`` (§4.1).

    Parameters
    ----------
    kind : str
        Name of the matrix (e.g. ``"radon"``, ``"fbp"``); part of the file name.
    n : int
        Slice size.
    angles_rad : numpy.ndarray
        Exact float64 projection angles (radians).
    shape : tuple of int
        Expected matrix shape (a stored file of another shape is rebuilt).
    dtype : numpy dtype
        Value type of the returned matrix (float32 or float64).
    build : callable
        Assembles the matrix (any float type) when it is not cached.

    Returns
    -------
    scipy.sparse.csr_matrix
        Values of ``dtype``, int32 indices when they fit.
    """
    angles_rad = np.ascontiguousarray(angles_rad, dtype=np.float64)
    dtype = np.dtype(dtype)
    path = _path(kind, n, angles_rad, dtype)
    if path is not None and path.is_file():
        m = _load(path, n, angles_rad, shape, dtype)
        if m is not None:
            return m
    m = _compact(build(), dtype)
    if path is not None:
        _save(path, m, n, angles_rad)
    return m

"""Points for the diffusion lab's ``custom`` prior read from a file (CSV/text or ``.npy``):
checked where they enter, the row limit (the ``custom_points`` field's ``PointRows``) before
any value is parsed, so a huge file is refused at once with the limit said (issue #17)."""
from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

__all__ = ["read_points"]


def read_points(path: str, max_rows: Optional[int] = None) -> np.ndarray:
    """(n, 2|3) finite points from ``.npy`` or comma/space-separated text (header allowed).

    ``max_rows`` (default: the ``custom_points`` field's limit) is checked before the values
    are parsed, so a huge file is refused at once with the limit said."""
    limit = _points_limit() if max_rows is None else int(max_rows)
    if str(path).endswith(".npy"):
        pts = np.load(path, mmap_mode="r", allow_pickle=False)
        _check_rows(path, len(pts) if pts.ndim else 0, limit)
        pts = np.array(pts)
    else:
        rows = _text_rows(path, limit + 2)
        if rows and not _is_number(rows[0][0]):
            rows = rows[1:]
        _check_rows(path, len(rows), limit)
        try:
            pts = np.array([[float(v) for v in row] for row in rows])
        except ValueError:
            raise ValueError(f"{path}: non-numeric or ragged rows") from None
    pts = np.asarray(pts, dtype=float)
    if pts.ndim != 2 or pts.shape[1] not in (2, 3):
        raise ValueError(f"{path}: expected rows of 2 or 3 coordinates, got shape {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError(f"{path}: contains NaN or infinite values")
    if len(pts) < 4:
        raise ValueError(f"{path}: need at least 4 points, got {len(pts)}")
    return pts


def _points_limit() -> int:
    """Most rows the diffusion config's ``custom_points`` accepts (its ``PointRows``)."""
    from engine.diffusion import DiffusionConfig
    field = {f.name: f for f in dataclasses.fields(DiffusionConfig)}["custom_points"]
    return int(field.metadata["points"].max_rows)


def _text_rows(path: str, most: int) -> list:
    """The first ``most`` non-blank lines of a text file, split at commas and spaces."""
    rows = []
    with open(path, encoding="utf-8-sig") as text:
        for line in text:
            if line.strip():
                rows.append(line.replace(",", " ").split())
                if len(rows) >= most:
                    break
    return rows


def _check_rows(path: str, rows: int, limit: int) -> None:
    if rows > limit:
        raise ValueError(f"{path}: more than {limit} points; at most {limit} are accepted")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True

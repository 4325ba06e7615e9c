"""2-D data sets of the activation-regions lab, user points and a CSV loader (SCIENCE.md §2).

Every generator takes an explicit seed (``numpy.random.default_rng(seed)``) and returns
``(X, y)`` with ``X`` (n, 2) in roughly ``[−1, 1]²``. Classification sets have labels ``±1``
(regression on the labels, as in PE's experiments); ``noise`` is the standard deviation of
Gaussian jitter on the points (classification) or on the targets (regression surfaces).
Duplicate and collinear points are legal everywhere (the exact enumeration handles them).
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["DATASETS", "make_dataset", "custom_dataset", "load_csv", "data_box"]


SPIRAL_TURNS = 1.75     # turns of each arm about the origin (a spiral, not a bent line)
SPIRAL_R0 = 0.15        # radius where the arms start


def _spiral(n, rng):
    """Two interleaved Archimedean arms ``r = r0 + (1 − r0)s``, ``φ = 2π·turns·s + π·arm``.

    Each arm's ``s`` is stratified (one uniform draw per equal slice of [0, 1]), so even a
    few points trace the whole arm; adjacent turns of the two arms are ``(1 − r0)/(2·turns)``
    ≈ 0.24 apart, several times the default jitter.
    """
    arm = np.arange(n) % 2
    s = np.empty(n)
    for a in (0, 1):
        k = int((arm == a).sum())
        s[arm == a] = (np.arange(k) + rng.uniform(size=k)) / max(k, 1)
    r = SPIRAL_R0 + (1.0 - SPIRAL_R0) * s
    ang = 2.0 * np.pi * SPIRAL_TURNS * s + np.pi * arm
    return np.stack([r * np.cos(ang), r * np.sin(ang)], axis=1), 1.0 - 2.0 * arm


def _circles(n, rng):
    outer = np.arange(n) % 2
    r = np.where(outer, 0.9, 0.4) + 0.05 * rng.standard_normal(n)
    ang = rng.uniform(0, 2 * np.pi, n)
    return np.stack([r * np.cos(ang), r * np.sin(ang)], axis=1), 1.0 - 2.0 * outer


def _xor(n, rng):
    X = rng.uniform(-1, 1, (n, 2))
    return X, np.where(X[:, 0] * X[:, 1] >= 0, 1.0, -1.0)


def _moons(n, rng):
    lower = np.arange(n) % 2
    t = rng.uniform(0, np.pi, n)
    x = np.where(lower, 1.0 - np.cos(t), np.cos(t))
    yy = np.where(lower, 0.5 - np.sin(t), np.sin(t))
    X = np.stack([(x - 0.5) / 1.5, (yy - 0.25) / 1.5], axis=1)
    return X, 1.0 - 2.0 * lower


def _surface(f: Callable) -> Callable:
    def make(n, rng):
        X = rng.uniform(-1, 1, (n, 2))
        return X, f(X[:, 0], X[:, 1])
    return make


DATASETS: dict[str, tuple[Callable, str, str]] = {
    "spiral": (_spiral, "classification",
               f"two interleaved spiral arms of {SPIRAL_TURNS:g} turns, labels ±1"),
    "circles": (_circles, "classification", "inner circle +1, outer ring −1"),
    "xor": (_xor, "classification", "XOR of the quadrants, labels ±1"),
    "moons": (_moons, "classification", "two interleaving half-moons, labels ±1"),
    "regression": (_surface(lambda a, b: np.sin(np.pi * a) * np.cos(np.pi * b)),
                   "regression", "smooth surface sin(πx₁)cos(πx₂)"),
    "ridge": (_surface(lambda a, b: np.maximum(a + b, 0) - np.maximum(a - b - 0.5, 0)),
              "regression", "piecewise-linear surface relu(x₁+x₂) − relu(x₁−x₂−½)"),
    "saddle": (_surface(lambda a, b: a * a - b * b), "regression", "saddle x₁² − x₂²"),
}


def make_dataset(name: str, n: int, noise: float = 0.0, seed: int = 0):
    """``(X, y)`` of the named 2-D data set (module docstring; names in :data:`DATASETS`)."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    if int(n) < 2:
        raise ValueError(f"a data set needs at least 2 points, got n = {n}")
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be ≥ 0, got {noise}")
    rng = np.random.default_rng(seed)
    make, kind, _ = DATASETS[name]
    X, y = make(int(n), rng)
    if kind == "classification":
        X = X + noise * rng.standard_normal(X.shape)
    else:
        y = y + noise * rng.standard_normal(len(y))
    return np.ascontiguousarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)


def custom_dataset(points, targets):
    """``(X, y)`` from points the user placed (any count ≥ 2, duplicates allowed)."""
    X = np.asarray(points, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64).reshape(-1)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"points must be (n, 2), got shape {X.shape}")
    if len(X) != len(y):
        raise ValueError(f"{len(X)} points but {len(y)} targets")
    if len(X) < 2:
        raise ValueError(f"need at least 2 points, got {len(X)}")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError("points or targets contain NaN or infinite values")
    return X, y


def _parse_row(row, line_no):
    vals = []
    for j, cell in enumerate(row, 1):
        try:
            v = float(cell)
        except ValueError:
            raise ValueError(f"line {line_no}, column {j}: {cell.strip()!r} is not a number")
        if not np.isfinite(v):
            raise ValueError(f"line {line_no}, column {j}: {cell.strip()} (NaN or infinite "
                             "values are not allowed)")
        vals.append(v)
    return vals


def load_csv(path, min_rows: int = 2, max_rows: int | None = None):
    """``(X, y)`` from a CSV file: input columns first, the target in the last column.

    A first line that is not numeric is taken as a header; blank lines are skipped. Raises
    ``ValueError`` naming the line and column for ragged rows, non-numeric cells, NaN or
    infinite values, fewer than 2 columns, fewer than ``min_rows`` rows or more than
    ``max_rows`` (checked while reading: a huge file is refused at once).
    """
    path = Path(path)
    most = None if max_rows is None else int(max_rows) + 2       # a header, then one too many
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = []
        for i, r in enumerate(csv.reader(fh), 1):
            if any(c.strip() for c in r):
                rows.append((i, r))
                if most is not None and len(rows) >= most:
                    break
    if rows and not _numeric(rows[0][1]):
        rows = rows[1:]
    if max_rows is not None and len(rows) > max_rows:
        raise ValueError(f"{path.name}: more than {max_rows} data rows; at most {max_rows} "
                         "are accepted")
    if len(rows) < min_rows:
        raise ValueError(f"{path.name}: {len(rows)} data rows, need at least {min_rows}")
    width = len(rows[0][1])
    if width < 2:
        raise ValueError(f"{path.name}: need at least 2 columns (inputs, then the target)")
    data = []
    for line_no, row in rows:
        if len(row) != width:
            raise ValueError(f"{path.name}, line {line_no}: {len(row)} values, expected {width}")
        data.append(_parse_row(row, line_no))
    arr = np.asarray(data, dtype=np.float64)
    return np.ascontiguousarray(arr[:, :-1]), arr[:, -1].copy()


def _numeric(row) -> bool:
    try:
        [float(c) for c in row]
        return True
    except ValueError:
        return False


def data_box(X: np.ndarray, pad: float = 0.15):
    """Square viewport ``(xmin, xmax, ymin, ymax)`` around the data with ``pad`` margins."""
    lo, hi = X[:, :2].min(axis=0), X[:, :2].max(axis=0)
    c, half = 0.5 * (lo + hi), 0.5 * max(float((hi - lo).max()), 1e-6) * (1 + 2 * pad)
    return (c[0] - half, c[0] + half, c[1] - half, c[1] + half)

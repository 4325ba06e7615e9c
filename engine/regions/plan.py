"""The plan of an activation-regions lab run (SCIENCE.md §2): its widths, its data, whether
its region maps fit in memory, and the share of the run time each stage gets (the progress
edges of :func:`engine.regions.lab.run_config`).
"""
from __future__ import annotations

import numpy as np

from engine.regions.config import RegionsConfig
from engine.regions.datasets import custom_dataset, make_dataset

__all__ = ["MAX_MAP_BYTES", "MAX_WIDTHS", "check_size", "dataset_points", "lab_data",
           "progress_edges", "run_widths"]

MAX_MAP_BYTES = 2 * 2**30      # region-map snapshots kept in memory
MAX_WIDTHS = 16                # distinct widths of one lab run


def run_widths(cfg: RegionsConfig) -> list[int]:
    """Widths of the two-layer runs: ``cfg.width`` and those listed in ``cfg.widths``.

    Returns
    -------
    list of int
        Distinct, ascending.

    Raises
    ------
    ValueError
        When ``cfg.widths`` holds anything but comma/space-separated integers in [1, 4096],
        or more than :data:`MAX_WIDTHS` distinct widths.
    """
    out = {int(cfg.width)}
    for tok in cfg.widths.replace(",", " ").replace(";", " ").split():
        try:
            m = int(tok)
        except ValueError:
            raise ValueError(f"widths: {tok!r} is not an integer (write e.g. '4, 8, 64')") \
                from None
        if not 1 <= m <= 4096:
            raise ValueError(f"widths: {m} is outside the valid range [1, 4096]")
        out.add(m)
    if len(out) > MAX_WIDTHS:
        raise ValueError(f"widths: {len(out)} distinct widths, at most {MAX_WIDTHS}")
    return sorted(out)


def check_size(cfg: RegionsConfig) -> None:
    """``ValueError`` when the region-map snapshots (int32 ids and float32 outputs of every
    run, ids of the deep net) would not fit :data:`MAX_MAP_BYTES`."""
    runs = len(run_widths(cfg)) * cfg.n_seeds
    frames = min(cfg.snapshots, cfg.steps + 1) * (2 * runs + (cfg.depth > 1))
    need = 4 * frames * cfg.grid ** 2
    if need > MAX_MAP_BYTES:
        raise ValueError(f"region maps would need {need / 2**30:.1f} GiB (limit "
                         f"{MAX_MAP_BYTES / 2**30:.0f} GiB): reduce grid, snapshots, seeds "
                         "or widths")


def dataset_points(cfg: RegionsConfig) -> tuple[np.ndarray, np.ndarray]:
    """The training data ``(X (n, 2), y (n,))`` of ``cfg``: its generated data set, or its
    ``custom_points`` rows ``(x₁, x₂, target)`` when ``dataset == "custom"``.

    Raises
    ------
    ValueError
        A custom data set of fewer than 2 points (or with non-finite values).
    """
    if cfg.dataset != "custom":
        return make_dataset(cfg.dataset, cfg.n_points, cfg.noise, cfg.seed)
    pts = np.asarray(cfg.custom_points, dtype=np.float64).reshape(-1, 3)
    if len(pts) < 2:
        raise ValueError("the 'custom' data set needs at least 2 points: click the map "
                         "(Shift+click for class −1) or load a CSV file")
    return custom_dataset(pts[:, :2], pts[:, 2])


def lab_data(cfg: RegionsConfig, data):
    """``data`` (``(X, y)``, checked as a custom data set) or, when None, ``cfg``'s data."""
    return dataset_points(cfg) if data is None else custom_dataset(*data)


# Cost model of a run, in seconds of one CPU core (measured on the spiral preset, issue #16):
# the stage edges of the progress fraction are the stages' shares of the estimated total, so
# the percentage follows the run's real time instead of fixed stage weights.
CONVEX_SECONDS_PER_POINT2 = 2e-3      # convex program: ≈ c · n² (patterns grow like n²)
STEP_SECONDS = 3e-3                   # one optimiser step of a batch: fixed overhead …
STEP_SECONDS_PER_UNIT = 2e-7          # … + c · seeds · (width + 8) · n (depth: × depth)
MAP_SECONDS = (0.08, 1e-3)            # one snapshot map at 256²: a + b · width, ∝ grid²


def progress_edges(cfg: RegionsConfig, n_points: int) -> dict:
    """Fractions where each stage of :func:`run_config` starts and ends.

    Each stage gets its share of the estimated run time (``CONVEX_…``, ``STEP_…``,
    ``MAP_…`` constants): the convex program, the two-layer training (one span per width),
    the deep training, the region maps of the two-layer runs and of the deep net.

    Returns
    -------
    dict
        ``"convex"``, ``"deep"``, ``"maps"``, ``"deep_maps"``: ``(lo, hi)``;
        ``"widths"``: the ``len(run_widths(cfg)) + 1`` edges of the two-layer training.
    """
    widths, seeds, n = run_widths(cfg), cfg.n_seeds, max(n_points, 1)
    snaps, area = min(cfg.snapshots, cfg.steps + 1), (cfg.grid / 256.0) ** 2

    def train(width, count, depth=1):
        return cfg.steps * (STEP_SECONDS + STEP_SECONDS_PER_UNIT * count * (width + 8) * n
                            * depth)

    def maps(width, count):
        return snaps * count * area * (MAP_SECONDS[0] + MAP_SECONDS[1] * width)

    deep_width = max(1, cfg.width // cfg.depth)
    deep = cfg.depth > 1
    costs = [CONVEX_SECONDS_PER_POINT2 * n * n, *(train(m, seeds) for m in widths),
             train(deep_width, 1, cfg.depth) if deep else 0.0,
             sum(maps(m, seeds) for m in widths), maps(deep_width * cfg.depth, 1) if deep
             else 0.0]
    edges = np.concatenate([[0.0], np.cumsum(costs) / np.sum(costs)])
    k = len(widths)
    return {"convex": (0.0, edges[1]), "widths": edges[1:k + 2],
            "deep": (edges[k + 1], edges[k + 2]), "maps": (edges[k + 2], edges[k + 3]),
            "deep_maps": (edges[k + 3], 1.0)}

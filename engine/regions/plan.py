"""The plan of an activation-regions lab run (SCIENCE.md §2): its widths, its data, whether
its region maps fit in memory, and the share of the run time each stage gets (the progress
edges of :func:`engine.regions.lab.run_config`).
"""
from __future__ import annotations

import time
from typing import Generator

import numpy as np

from engine.core import Progress
from engine.regions.config import RegionsConfig
from engine.regions.datasets import custom_dataset, make_dataset

__all__ = ["MAX_MAP_BYTES", "MAX_WIDTHS", "TimedFraction", "check_size", "cost_edges",
           "dataset_points", "lab_data", "map_seconds", "progress_edges", "run_widths",
           "stage_costs", "timed_progress"]

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


# Cost model of a run in CPU seconds of one core (torch and BLAS on one thread), measured
# stage by stage on the development machine (2-core Xeon, issue #16; the measurements are in
# benchmarks/regions_live.py's docstring). Only the ratios between stages matter before the
# run has measured its own speed (:class:`TimedFraction`).
CONVEX_SECONDS = (0.4, 1.75)          # convex program ≈ a · (n / 40)^p; data-dependent (×3
                                      # between data sets): its real time is measured
STEP_MS = (0.38, 0.10)                # one optimiser step of a batch: a + b · depth …
STEP_MS_PER_UNIT = 1.1e-5             # … + c · seeds · (width + 8) · n · depth
MAP_IDS_MS = (2.5, 0.03)              # one snapshot's pattern ids at 256²: a + b · neurons
MAP_OUTPUT_MS = (3.2e-6, 128, 0.45)   # its output on the grid: c · pixels · m · (1 + m / w) + d
MAP_COUNT_MS = (0.15, 4e-5)           # its exact region counts: a + b · width²
DEEP_MAP_MS = (8.0, 0.1)              # a deep net's ids at 256² (torch): a + b · neurons


def _step_seconds(n: int, width: int, seeds: int, depth: int = 1) -> float:
    """Model seconds of one optimiser step of ``seeds`` nets trained as one batch."""
    return 1e-3 * (STEP_MS[0] + STEP_MS[1] * depth
                   + STEP_MS_PER_UNIT * seeds * (width + 8) * n * depth)


def map_seconds(grid: int, width: int, depth: int = 1) -> float:
    """Model seconds of one snapshot's region map (ids, output, exact counts) of one net."""
    area = (grid / 256.0) ** 2
    if depth > 1:
        return 1e-3 * area * (DEEP_MAP_MS[0] + DEEP_MAP_MS[1] * width * depth)
    return 1e-3 * (area * (MAP_IDS_MS[0] + MAP_IDS_MS[1] * width)
                   + MAP_OUTPUT_MS[0] * grid * grid * width * (1 + width / MAP_OUTPUT_MS[1])
                   + MAP_OUTPUT_MS[2]
                   + MAP_COUNT_MS[0] + MAP_COUNT_MS[1] * width * width)


def stage_costs(cfg: RegionsConfig, n_points: int) -> list[tuple[str, float]]:
    """Model CPU seconds of each stage of :func:`engine.regions.lab.run_config`, in order.

    Returns
    -------
    list of (name, seconds)
        ``"convex"``, ``"width <m>"`` for each two-layer width (all seeds in one batch),
        ``"deep"`` (0 when ``depth == 1``), ``"maps"`` (every snapshot of every two-layer
        run, the deep preview included), ``"deep_maps"`` (0 when ``depth == 1``).
    """
    widths, seeds, n = run_widths(cfg), cfg.n_seeds, max(n_points, 1)
    snaps, deep = min(cfg.snapshots, cfg.steps + 1), cfg.depth > 1
    deep_width = max(1, cfg.width // cfg.depth)
    deep_map = map_seconds(cfg.grid, deep_width, cfg.depth) if deep else 0.0
    return [("convex", CONVEX_SECONDS[0] * (n / 40.0) ** CONVEX_SECONDS[1]),
            *((f"width {m}", cfg.steps * _step_seconds(n, m, seeds)) for m in widths),
            ("deep", cfg.steps * _step_seconds(n, deep_width, 1, cfg.depth) if deep else 0.0),
            ("maps", snaps * seeds * sum(map_seconds(cfg.grid, m) for m in widths)
             + deep_map / 3.0),
            ("deep_maps", snaps * deep_map)]


def progress_edges(cfg: RegionsConfig, n_points: int) -> dict:
    """Fractions where each stage of :func:`run_config` starts and ends in the model's
    coordinate: each stage's share of the modelled run (:func:`stage_costs`). The
    fraction the run reports is the measured one (:class:`TimedFraction`) built on these.

    Returns
    -------
    dict
        ``"convex"``, ``"deep"``, ``"maps"``, ``"deep_maps"``: ``(lo, hi)``;
        ``"widths"``: the ``len(run_widths(cfg)) + 1`` edges of the two-layer training.
    """
    edges = cost_edges([c for _, c in stage_costs(cfg, n_points)])
    k = len(run_widths(cfg))
    return {"convex": (0.0, edges[1]), "widths": edges[1:k + 2],
            "deep": (edges[k + 1], edges[k + 2]), "maps": (edges[k + 2], edges[k + 3]),
            "deep_maps": (edges[k + 3], 1.0)}


def cost_edges(costs) -> np.ndarray:
    """``[0, c₀, c₀ + c₁, …] / Σc``: where each stage starts in the model coordinate."""
    edges = np.concatenate([[0.0], np.cumsum(costs)]) / max(float(np.sum(costs)), 1e-300)
    edges[-1] = 1.0
    return edges


class TimedFraction:
    """The fraction of a run done, measured: time spent over time spent plus time left.

    The run reports where it is in the model's coordinate ``u`` (stage ``k`` spans
    ``edges[k] … edges[k+1]``, :func:`cost_edges` of the stage costs). The time left is the
    modelled cost of the rest times speed factors measured as the run goes: one per kind of
    stage (training steps, region maps: each regular, cost ∝ steps or snapshots), a kind
    not reached yet at the speed of the last one measured. The first stage (the convex
    program) takes a time that depends on the data as much as on the machine, so its ratio
    ``r`` of measured to modelled time counts half as the machine's speed: the rest is
    estimated at speed ``√r`` until measured (while it runs: ``max(model − spent, 0)`` left
    of it, ``r = max(spent / model, 1)``). With an exact model the fraction is the fraction
    of the run's time; the reported fraction never steps back and is 1 only at the end. The
    shell's time-left estimate, ``elapsed · (1 − f) / f``, is then the time left estimated
    here.

    Parameters
    ----------
    costs : model seconds of each stage, in order (:func:`stage_costs`).
    kinds : kind of each stage (stages of one kind share a speed factor); default: the first
        stage alone, the rest one kind.
    clock : seconds now (default: the CPU time of the thread that runs the stages, so a
        machine shared with other work does not skew the shares).
    prior_seconds : weight, in model seconds, of the speed known before a kind is measured.
    """

    def __init__(self, costs, kinds=None, clock=None, prior_seconds: float = 0.2):
        self.costs = np.asarray(costs, dtype=np.float64)
        self.edges = cost_edges(self.costs)
        self.kinds = list(kinds) if kinds is not None else [0] + [1] * (len(self.costs) - 1)
        self.clock = clock or time.thread_time
        self.prior = float(prior_seconds)
        self.start = self.clock()
        self.stage, self.entered = 0, 0.0       # stage now and when it began (spent)
        self.measured: dict = {}                # kind → [spent seconds, model seconds done]
        self.speed = 1.0                        # of the last kind measured
        self.shown = 0.0

    def __call__(self, u: float) -> float:
        """The fraction to report for a run at model coordinate ``u``."""
        if u >= 1.0:
            self.shown = 1.0
            return 1.0
        spent = self.clock() - self.start
        left = self.seconds_left(u, spent)
        f = spent / (spent + left) if spent + left > 0 else 0.0
        self.shown = max(self.shown, min(f, np.nextafter(1.0, 0.0)))
        return self.shown

    def seconds_left(self, u: float, spent: float) -> float:
        """Estimated seconds left at coordinate ``u`` after ``spent`` seconds."""
        total = float(self.costs.sum())
        k = int(np.clip(np.searchsorted(self.edges, u, side="right") - 1, 0,
                        len(self.costs) - 1))
        while self.stage < k:                   # stages ended since the last report
            self._close(self.stage, spent, self.costs[self.stage])
            self.stage += 1
            self.entered = spent
        inner = total * (u - self.edges[k])     # model seconds of stage k done
        if k == 0:
            first = max(self.costs[0], 1e-12)
            return (max(first - spent, 0.0)
                    + (total - self.costs[0]) * np.sqrt(max(spent / first, 1.0)))
        speed = self._speed(self.kinds[k], spent - self.entered, inner)
        rest = sum(self.costs[j] * (self._speed(self.kinds[j])
                                    if self.kinds[j] in self.measured
                                    and self.kinds[j] != self.kinds[k] else speed)
                   for j in range(k + 1, len(self.costs)))
        return speed * (self.costs[k] - inner) + rest

    def _close(self, k: int, spent: float, model: float) -> None:
        if k == 0:
            self.speed = float(np.sqrt(max(spent, 1e-12) / max(model, 1e-12)))
            return
        m = self.measured.setdefault(self.kinds[k], [0.0, 0.0])
        m[0] += spent - self.entered
        m[1] += model
        self.speed = self._speed(self.kinds[k])

    def _speed(self, kind, spent: float = 0.0, model: float = 0.0) -> float:
        """Seconds per model second of ``kind`` (with the stage now: ``spent``, ``model``)."""
        done = self.measured.get(kind, [0.0, 0.0])
        return ((done[0] + spent + self.prior * self.speed)
                / (done[1] + model + self.prior))


def timed_progress(gen, costs, kinds=None, clock=None) -> Generator:
    """Relay a run whose fractions are model coordinates (:func:`cost_edges` of ``costs``),
    reporting the measured fraction (:class:`TimedFraction`) instead; partials pass on."""
    fraction = TimedFraction(costs, kinds, clock)
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return stop.value
        yield Progress(fraction(p.fraction), p.message, p.partial)

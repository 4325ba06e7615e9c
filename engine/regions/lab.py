"""The activation-regions lab: data, convex optimum, non-convex runs, region maps and counts
(SCIENCE.md §2; docs/CONTRACTS.md "Lab contract").

:func:`run_config` is the lab's engine entry, a progress generator (``engine.core``
contract): it yields :class:`~engine.core.Progress` at least every ~40 ms of compute (stop
iterating to cancel) and returns a :class:`RegionsResult` that holds everything the lab draws
(region ids, exact counts, the nets' outputs on the grid per frame, the gate-space charts).
Stage results travel as ``Progress.partial`` dicts, one stage each (``{"stage": name, …}``),
so the app draws them before the run ends; the app's runner keeps the newest partial of every
stage. In order: ``"data"`` (X, y, box); ``"convex"`` (the certified optimum with its region
map, output and gate charts); ``"curves"`` (objective curves so far, many times during
training); ``"training"`` (the runs); for deep nets ``"deep_curves"`` (its objective so far)
and ``"deep_preview"`` (coarse-to-fine maps of the trained deep net); ``"final_maps"`` (the
last snapshot's maps and outputs of every run).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Generator, Optional

import numpy as np

from engine.core import Progress, drain, validate
from engine.core.device import adopt_torch_threads
from engine.regions.arrangement import count_regions
from engine.regions.config import RegionsConfig
from engine.regions.convex import fit_convex_iter
from engine.regions.datasets import data_box
from engine.regions.dual import relay
from engine.regions.gate_space import gate_chart
from engine.regions.nonconvex import NonconvexRun
from engine.regions.pattern_map import network_output, pattern_ids_iter
from engine.regions.plan import (MAX_MAP_BYTES, check_size, dataset_points, lab_data,
                                 map_seconds, progress_edges, run_widths, stage_costs,
                                 timed_progress)
from engine.regions.solution import ConvexSolution
from engine.regions.widths_study import GAP_METRIC, WidthsStudy, train_batch
from engine.sweeps import plan_sweep
from engine.sweeps.point import batch_steps

__all__ = ["RegionsConfig", "RegionsResult", "run_config", "run", "run_widths",
           "dataset_points", "progress_edges", "MAX_MAP_BYTES"]

LIVE_MAP_SECONDS = 1.0         # region map of the net in training at most this often (issue #16:
                               # each costs a 256² pattern map in the run and a redraw in the GUI)


@dataclass
class RegionsResult:
    """Everything a lab run computed (CPU numpy).

    Attributes
    ----------
    config : RegionsConfig. X : (n, 2). y : (n,).
    box : (xmin, xmax, ymin, ymax) of the grid; grid_x : (nx,), grid_y : (ny,).
    convex : ConvexSolution  (global optimum over all exact patterns, with certificate).
    convex_region_ids : int32 (ny, nx); convex_region_keys : uint64 (K,) colour keys.
    convex_output : float32 (ny, nx)
        The recovered convex net's output on the grid.
    gate_charts : tuple of two dicts
        Gate-space charts ``b > 0`` and ``b < 0`` (:func:`engine.regions.gate_space.gate_chart`).
    convex_region_count, convex_region_count_plane : int
        Exact cell counts of the recovered net's arrangement inside ``box`` / in the plane.
    runs : list of NonconvexRun
        One per (width, seed): widths ascending (:func:`run_widths`), seeds ``seed, seed+1,
        …`` within each width; :attr:`widths` gives each run's width.
    snapshot_steps : (T,) steps of the snapshots.
    region_ids : int32 (T, S, ny, nx)
        Activation-pattern ids on the grid per snapshot and seed.
    region_keys : list (T) of lists (S) of uint64 (K,)
        64-bit pattern hash of each id (stable colour key across snapshots).
    region_counts, region_counts_plane : int (T, S)
        Exact cell counts of each snapshot's arrangement inside ``box`` / in the plane.
    outputs : float32 (T, S, ny, nx)
        Each run's output ``f(x)`` on the grid per snapshot.
    gaps : (S,) final non-convex objective minus the convex optimum.
    deep_run : NonconvexRun or None (``depth > 1``).
    deep_region_ids : int32 (T, ny, nx) or None.
    deep_region_counts_lower : int (T,) or None
        Distinct patterns on the grid: a LOWER BOUND on the deep net's linear regions.
    """
    config: RegionsConfig
    X: np.ndarray
    y: np.ndarray
    box: tuple
    grid_x: np.ndarray
    grid_y: np.ndarray
    convex: ConvexSolution
    convex_region_ids: np.ndarray
    convex_region_keys: np.ndarray
    convex_region_count: int
    convex_region_count_plane: int
    convex_output: np.ndarray
    gate_charts: tuple
    runs: list
    snapshot_steps: np.ndarray
    region_ids: np.ndarray
    region_keys: list
    region_counts: np.ndarray
    region_counts_plane: np.ndarray
    outputs: np.ndarray
    gaps: np.ndarray
    deep_run: Optional[NonconvexRun] = None
    deep_region_ids: Optional[np.ndarray] = None
    deep_region_counts_lower: Optional[np.ndarray] = None

    @property
    def widths(self) -> np.ndarray:
        """Hidden width of each two-layer run, int (S,)."""
        return np.array([run.W1.shape[1] for run in self.runs], dtype=np.int64)

    def reached(self, rtol: float = 1e-3) -> np.ndarray:
        """Runs whose final objective is within ``rtol·p*`` of the convex optimum, bool (S,)."""
        return np.asarray(self.gaps < rtol * max(self.convex.objective, 1e-12))


def _maps(runs, grid_x, grid_y, box, device, lo, hi, final: bool = True) -> Generator:
    """Pattern-id maps, outputs (two-layer nets; zeros for deep ones) and exact counts of
    every snapshot of every run.

    The last snapshot is computed first and sent as a ``{"stage": "final_maps"}`` partial
    (ids and outputs (S, ny, nx), keys, counts), so the view shows the trained nets' regions
    while the earlier snapshots are still being mapped (``final=False``: no partial).
    """
    T, S = len(runs[0].steps), len(runs)
    ids = np.empty((T, S, len(grid_y), len(grid_x)), dtype=np.int32)
    outputs = np.zeros(ids.shape, dtype=np.float32)
    keys = [[None] * S for _ in range(T)]
    counts, plane = np.zeros((T, S), dtype=np.int64), np.zeros((T, S), dtype=np.int64)
    cost = np.array([map_seconds(len(grid_x), run.W1.shape[1], run.depth) for run in runs])
    share = np.concatenate([[0.0], np.cumsum(cost)]) / cost.sum()   # of one snapshot's maps
    for i, t in enumerate([T - 1, *range(T - 1)]):
        for s, run in enumerate(runs):
            hidden = run.hidden_at(t)
            done = lo + (hi - lo) * (i + share[s]) / T
            m, k = yield from relay(pattern_ids_iter(hidden, grid_x, grid_y, device), done, done)
            ids[t, s], keys[t][s] = m, k
            if run.depth == 1:
                outputs[t, s] = network_output(hidden, run.w_out[t], grid_x, grid_y)
                counts[t, s] = count_regions(*hidden[0], box=box)
                plane[t, s] = count_regions(*hidden[0])
            else:
                counts[t, s] = plane[t, s] = len(k)
            yield Progress(lo + (hi - lo) * (i + share[s + 1]) / T,
                           f"region maps: snapshot {i + 1}/{T}, run {s + 1}/{S}")
        if i == 0 and final:
            yield Progress(lo + (hi - lo) / T, "final region maps", {
                "stage": "final_maps", "ids": ids[t].copy(), "keys": list(keys[t]),
                "outputs": outputs[t].copy(), "counts": counts[t].copy(),
                "plane": plane[t].copy(), "step": int(runs[0].steps[t])})
    return ids, keys, counts, plane, outputs


def _deep_preview(run, grid_x, grid_y, device, frac) -> Generator:
    """Coarse-to-fine maps (grid / 8, / 4, / 2) of a deep net's last snapshot, sent as
    ``{"stage": "deep_preview"}`` partials: the Deep-net view refines while the
    full-resolution maps of every snapshot are computed (issue #4)."""
    hidden = run.hidden_at(len(run.steps) - 1)
    for f in (8, 4, 2):
        gx, gy = grid_x[::f], grid_y[::f]
        if min(len(gx), len(gy)) < 16:
            continue
        m, k = yield from relay(pattern_ids_iter(hidden, gx, gy, device), frac, frac)
        yield Progress(frac, f"deep-net map preview (1/{f} resolution)", {
            "stage": "deep_preview", "ids": m.astype(np.int32), "keys": k, "grid_x": gx,
            "grid_y": gy, "factor": f})


def _train(cfg, X, y, device, depth, width, seeds, lo, hi) -> Generator:
    return (yield from train_batch(cfg, X, y, device, depth, width, seeds, lo, hi))


def _train_widths(cfg, X, y, device, grid, edges, convex_objective: float) -> Generator:
    """Two-layer runs of every width (one batch of all seeds per width), width-major; batch
    ``k`` reports progress in ``[edges[k], edges[k + 1]]`` (:func:`progress_edges`).

    The runs are the points of the lab's widths sweep (:class:`WidthsStudy`), computed by
    its batch hook through :func:`engine.sweeps.point.batch_steps`; training reports become
    ``"curves"`` partials (:func:`_curves`), so the objective plot grows and the regions move
    live. Returns ``(runs, gaps)``: ``gaps`` is the sweep's ``objective_gap`` column.

    Raises
    ------
    ValueError
        The error of the first point that failed.
    """
    study = WidthsStudy(cfg, X, y, convex_objective, edges,
                        lambda gen, finished, plan: _curves(gen, finished, plan, grid=grid))
    points = plan_sweep(study.sweep()).points
    rows = yield from batch_steps(study.target(), [p.config for p in points], [GAP_METRIC],
                                  device)
    failed = [row["error"] for row in rows if row["error"]]
    if failed:
        raise ValueError(failed[0])
    runs = [study.runs[(p.config["width"], p.seed)] for p in points]
    return runs, np.array([row[GAP_METRIC] for row in rows])


def _curves(gen: Generator, finished: list, plan: list, stage: str = "curves",
            grid=None) -> Generator:
    """Relay a training generator, turning its ``{"objective"}`` partials into ``stage``
    partials.

    ``objective``: the curves of the ``finished`` runs, then of the batch in training;
    ``widths`` / ``seeds``: of every run of the lab run (``plan``: ``(width, seed)`` in run
    order, so curve ``i`` is run ``plan[i]``). With ``grid = (gx, gy)`` also, at most every
    :data:`LIVE_MAP_SECONDS`, the region map of the batch's first net now (``map_ids``,
    ``map_keys``, ``map_W1``, ``map_step``, ``map_run``: its index among the curves).
    """
    last = -np.inf
    widths, seeds = [w for w, _ in plan], [s for _, s in plan]
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return stop.value
        part = p.partial
        if isinstance(part, dict) and "objective" in part:
            out = {"stage": stage, "objective": finished + list(part["objective"]),
                   "widths": widths, "seeds": seeds}
            if grid is not None and time.perf_counter() - last >= LIVE_MAP_SECONDS:
                W = part["W1"][0]
                ids, keys = drain(pattern_ids_iter([(W[:, :-1], W[:, -1])], *grid))
                last = time.perf_counter()
                out.update(map_ids=ids.astype(np.int32), map_keys=keys, map_W1=W,
                           map_step=part["step"], map_run=len(finished))
            part = out
        yield Progress(p.fraction, p.message, part)


def run_config(cfg: RegionsConfig, device: str = "cpu", data=None
               ) -> Generator[Progress, None, RegionsResult]:
    """Run the lab for ``cfg`` on ``device``; yields Progress, returns :class:`RegionsResult`.

    Parameters
    ----------
    cfg : RegionsConfig (validated; ``ValueError`` names a bad field). Its data set is
        :func:`dataset_points` (``dataset = "custom"``: the ``custom_points`` rows).
    device : torch device of the non-convex training and deep pattern maps.
    data : optional ``(X, y)`` replacing the config's data set (scripts, tests).

    Each stage partial (module docstring) carries its own stage only. The thread that drives
    the generator gets the process's torch thread count (:func:`adopt_torch_threads`).
    """
    adopt_torch_threads()
    validate(cfg)
    check_size(cfg)
    X, y = lab_data(cfg, data)
    costs = stage_costs(cfg, len(X))
    kinds = [name.split(" ")[0].replace("width", "deep").replace("deep_maps", "maps")
             for name, _ in costs]                 # convex; training (deep); maps
    return (yield from timed_progress(_stages(cfg, X, y, device, progress_edges(cfg, len(X))),
                                      [c for _, c in costs], kinds))


def _stages(cfg: RegionsConfig, X, y, device, edges) -> Generator:
    """The stages of :func:`run_config`, reporting model coordinates (``edges``)."""
    box = data_box(X)
    gx = np.linspace(box[0], box[1], cfg.grid)
    gy = np.linspace(box[2], box[3], cfg.grid)
    yield Progress(0.0, "convex program", {"stage": "data", "X": X, "y": y, "box": box,
                                           "grid_x": gx, "grid_y": gy})
    convex = yield from _convex_stage(cfg, X, y, box, gx, gy, device, edges["convex"])
    runs, gaps = yield from _train_widths(cfg, X, y, device, (gx, gy), edges["widths"],
                                          convex["convex"].objective)
    yield Progress(edges["deep"][0], "training done", {"stage": "training", "runs": runs})
    deep = deep_ids = deep_counts = None
    if cfg.depth > 1:
        deep_width = max(1, cfg.width // cfg.depth)
        deep = (yield from _curves(_train(cfg, X, y, device, cfg.depth, deep_width, [cfg.seed],
                                          *edges["deep"]), [], [(deep_width, cfg.seed)],
                                   "deep_curves"))[0]
        yield from _deep_preview(deep, gx, gy, device, edges["maps"][0])
    ids, keys, counts, plane, outputs = yield from _maps(runs, gx, gy, box, device,
                                                         *edges["maps"])
    if deep is not None:
        d_ids, _, d_counts, _, _ = yield from _maps([deep], gx, gy, box, device,
                                                    *edges["deep_maps"], final=False)
        deep_ids, deep_counts = d_ids[:, 0], d_counts[:, 0]
    sol = convex["convex"]
    return RegionsResult(
        config=cfg, X=X, y=y, box=box, grid_x=gx, grid_y=gy, convex=sol,
        convex_region_ids=convex["ids"], convex_region_keys=convex["keys"],
        convex_region_count=convex["count"], convex_region_count_plane=convex["count_plane"],
        convex_output=convex["output"], gate_charts=convex["gate_charts"], runs=runs,
        snapshot_steps=runs[0].steps.copy(), region_ids=ids, region_keys=keys,
        region_counts=counts, region_counts_plane=plane, outputs=outputs,
        gaps=gaps, deep_run=deep,
        deep_region_ids=deep_ids, deep_region_counts_lower=deep_counts)


def _convex_stage(cfg, X, y, box, gx, gy, device, span) -> Generator:
    """The certified convex optimum with its region map, output, exact counts and gate-space
    charts (§2.2-2.3), sent as the ``"convex"`` partial and returned; progress in ``span``."""
    sol = yield from relay(fit_convex_iter(X, y, cfg.lam, cfg.formulation, cfg.tol), *span)
    hidden = _convex_hidden(sol)
    cids, ckeys = yield from pattern_ids_iter(hidden, gx, gy, device)
    W, b = hidden[0]
    output = network_output([(sol.W1[:, :2], sol.W1[:, 2])], sol.w2, gx, gy) if len(sol.w2) \
        else np.zeros((len(gy), len(gx)))
    stage = {"stage": "convex", "convex": sol, "ids": cids.astype(np.int32), "keys": ckeys,
             "count": count_regions(W, b, box), "count_plane": count_regions(W, b),
             "output": output.astype(np.float32),
             "gate_charts": tuple(gate_chart(X, sol, sign) for sign in (1.0, -1.0))}
    yield Progress(span[1], "convex optimum found", stage)
    return stage


def _convex_hidden(sol: ConvexSolution):
    """Hidden layer ``[(W, b)]`` of the recovered convex net (gated: its gates)."""
    W1 = sol.gates if sol.formulation == "gated" and sol.gates is not None else sol.W1
    if len(W1) == 0:
        return [(np.zeros((1, 2)), np.zeros(1))]
    return [(W1[:, :-1], W1[:, -1])]


def run(cfg: RegionsConfig, device: str = "cpu", data=None) -> RegionsResult:
    """Blocking :func:`run_config`."""
    return drain(run_config(cfg, device, data))

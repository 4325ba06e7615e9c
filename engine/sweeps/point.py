"""One sweep point: build the config, run the lab's ``run_config``, keep the metrics.

:func:`compute_point` is what every executor runs (in this process, on a LocalCluster
worker or on a remote Dask worker), so all give the same numbers for the same seed. A point
that raises is returned as a row with its error text, never raised: the sweep goes on.
"""
from __future__ import annotations

import math
import sys
import time
from typing import Generator

from engine.core import config_from_dict
from engine.sweeps.labs import SweepTarget, target

__all__ = ["compute_point", "point_steps", "batch_steps", "pin_worker_threads"]


def _target_of(lab) -> SweepTarget:
    """``lab`` as a target: a name of ``TARGETS``, or the target itself (what the Dask
    executor ships, so a worker runs exactly the target the sweep was planned with)."""
    return lab if isinstance(lab, SweepTarget) else target(lab)


def point_steps(lab, config: dict, metrics: list, device: str = "cpu") -> Generator:
    """Run one point as a progress generator; return ``{metric: value, "seconds", "error"}``.

    ``error`` is ``""`` for a finished run, else the exception's type and message (metrics
    are then NaN).
    """
    tgt = _target_of(lab)
    start = time.perf_counter()
    row = {name: math.nan for name in metrics}
    try:
        cfg = config_from_dict(tgt.config_class(), config)
        result = yield from tgt.run_entry()(cfg, device)
        for name in metrics:
            row[name] = float(tgt.metrics[name][0](cfg, result))
        row["error"] = ""
    except Exception as exc:            # recorded with the point; the sweep goes on
        row["error"] = f"{type(exc).__name__}: {exc}"[:2000] or type(exc).__name__
    row["seconds"] = time.perf_counter() - start
    return row


def batch_steps(lab: str, configs: list, metrics: list, device: str = "cpu") -> Generator:
    """Run a group of points in one call of the lab's ``batch`` entry (a progress
    generator returning one result per config); return one row per config, as
    :func:`point_steps` would.

    The batch entry must give the per-point results exactly (the target's promise; tested
    per lab). If the group fails as a whole, every point is run alone so that only the
    points that fail are recorded with their error.
    """
    tgt = _target_of(lab)
    start = time.perf_counter()
    try:
        cfgs = [config_from_dict(tgt.config_class(), c) for c in configs]
        results = yield from tgt.batch_entry()(cfgs, device)
        rows = [{name: float(tgt.metrics[name][0](cfg, res)) for name in metrics}
                for cfg, res in zip(cfgs, results)]
    except Exception:                   # find the failing points one by one
        rows = []
        for config in configs:
            rows.append((yield from point_steps(lab, config, metrics, device)))
        return rows
    seconds = (time.perf_counter() - start) / max(len(configs), 1)
    return [{**row, "error": "", "seconds": seconds} for row in rows]


def pin_worker_threads() -> None:
    """One torch thread per task when running inside a Dask worker (one task per core); a
    no-op in the app's own process and for labs that do not use torch (not imported)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return
    try:
        from distributed import get_worker
        get_worker()
    except (ImportError, ValueError):
        return
    torch.set_num_threads(1)    # always: OpenMP's count is per thread, and a fresh worker
    #                             thread starts at one per core whatever torch reports


def compute_point(lab, config: dict, metrics: list) -> dict:
    """:func:`point_steps` run to the end (the function Dask workers execute)."""
    tgt = _target_of(lab)
    try:
        tgt.run_entry()                 # imports the lab (and torch if it uses it) ...
        pin_worker_threads()            # ... so that its threads can be pinned
    except Exception:                   # point_steps records the error in the row
        pass
    gen = point_steps(tgt, config, metrics)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value



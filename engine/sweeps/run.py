"""Run a sweep as a progress generator; write each finished point as it arrives.

:func:`run_sweep` validates everything first (fields, ranges, metrics, the output folder,
the scheduler's address), then runs the missing points on the chosen executor and yields
:class:`engine.core.Progress` with a ``{"stage": "points", ...}`` partial holding the table
of finished points so far (docs/CONTRACTS.md "Partials"). Stop iterating to cancel: pending
Dask tasks are cancelled and an embedded cluster is shut down. SCIENCE.md §1.5 is the
convergence-time study that runs on it.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Generator, Optional

from engine.core import Progress
from engine.sweeps.executors import in_process, open_executor
from engine.sweeps.labs import target
from engine.sweeps.spec import Sweep, SweepPlan, plan_sweep
from engine.sweeps.store import SweepStore, arrow_schema

__all__ = ["run_sweep", "prepare_sweep", "PreparedSweep"]


@dataclass
class PreparedSweep:
    """A validated sweep with its store (None: kept in memory) and the points left."""
    plan: SweepPlan
    store: Optional[SweepStore]
    schema: object
    rows: list
    todo: list


def prepare_sweep(sweep: Sweep, store=None, resume: bool = False) -> PreparedSweep:
    """Validate ``sweep`` and its output folder, read the points already stored.

    Raises
    ------
    ValueError
        Any invalid field, value, metric or folder (see :func:`plan_sweep`, ``SweepStore``).
    """
    plan = plan_sweep(sweep)
    st = SweepStore(store, plan.meta(), resume) if store is not None else None
    schema = arrow_schema(plan.axes, plan.metrics)
    finished = st.finished() if st is not None else set()
    rows = []
    if finished:
        rows = [r for r in st.read().to_dict("records") if r["point"] in finished]
    todo = [p for p in plan.points if p.index not in finished]
    return PreparedSweep(plan, st, schema, rows, todo)


def run_sweep(sweep: Sweep, executor: str = "dask", workers: int = 2, store=None,
              resume: bool = False) -> Generator[Progress, None, object]:
    """Run ``sweep``; return its table (a pandas DataFrame, one row per point).

    Parameters
    ----------
    sweep : Sweep
    executor : str
        ``"local"`` (this process, one point after another), ``"dask"`` (an embedded
        LocalCluster: ``workers`` processes, one thread each) or a scheduler address
        ``"tcp://host:8786"`` (a Slurm/Kubernetes cluster's scheduler).
    store : str or Path, optional
        Parquet dataset folder; each finished point is written as it arrives.
    resume : bool
        Continue the sweep in ``store``: only the missing points run.

    Raises
    ------
    ValueError
        Bad input or an unreachable scheduler, before any point runs.
    """
    prep = prepare_sweep(sweep, store, resume)
    total = len(prep.plan.points)
    yield Progress(len(prep.rows) / max(total, 1), "starting the sweep")
    ex = open_executor(executor, workers) if prep.todo else None
    try:
        if prep.store is not None:
            prep.store.open()
        lab = target(sweep.lab)
        if ex is None:
            events = in_process(lab, prep.todo, prep.plan.metrics)
        else:
            events = ex.run(lab, prep.todo, prep.plan.metrics)
        yield from _follow(events, prep, ex)
    finally:
        if ex is not None:
            ex.close()
    return _frame(prep.rows, prep.schema)


def _follow(events, prep: PreparedSweep, ex) -> Generator:
    """Write rows and turn executor events into Progress."""
    total, start, fresh = len(prep.plan.points), time.perf_counter(), 0
    info = {"workers": ex.worker_count() if ex is not None else 1,
            "dashboard": ex.dashboard if ex is not None else None,
            "scheduler": ex.address if ex is not None else None}
    for event in events:
        if event[0] == "rows":
            for point, result in event[1]:
                row = _row(point, result, prep.plan.metrics)
                if prep.store is not None:
                    prep.store.write(row, prep.schema)
                prep.rows.append(row)
                fresh += 1
            partial = {"stage": "points", "table": _frame(prep.rows, prep.schema),
                       "done": len(prep.rows), "total": total, **info}
            yield Progress(len(prep.rows) / total, _message(prep, start, fresh), partial)
        else:
            inner = event[1] if ex is None else 0.0
            yield Progress(min(1.0, (len(prep.rows) + inner) / total),
                           _message(prep, start, fresh))


def _row(point, result: dict, metrics: list) -> dict:
    row = {"point": point.index, **point.values, "seed": point.seed}
    row.update({m: float(result.get(m, math.nan)) for m in metrics})
    row["seconds"] = float(result.get("seconds", math.nan))
    row["error"] = str(result.get("error", ""))
    return row


def _message(prep: PreparedSweep, start: float, fresh: int) -> str:
    total, done = len(prep.plan.points), len(prep.rows)
    elapsed = time.perf_counter() - start
    text = f"{done}/{total} points, {elapsed:.0f} s elapsed"
    if fresh:
        text += f", about {elapsed / fresh * (total - done):.0f} s left"
    return text


def _frame(rows: list, schema):
    """Rows as a DataFrame with the schema's columns and dtypes, sorted by point."""
    import pyarrow as pa
    table = pa.Table.from_pylist(sorted(rows, key=lambda r: r["point"]), schema=schema)
    return table.to_pandas()

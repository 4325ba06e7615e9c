"""Where a sweep's points run: this process, an embedded LocalCluster, or a Dask scheduler.

Every executor yields events ``("rows", [(point, row), ...])`` for finished points and ``("tick",
fraction)`` while waiting, so :func:`engine.sweeps.run_sweep` can write, report progress and
be cancelled between events. The Dask executors submit :func:`compute_point` for every point
and let the scheduler place, retry and reschedule them (a killed worker's tasks run again).
"""
from __future__ import annotations

import logging
from typing import Generator, Iterable, Optional

from engine.sweeps.labs import target
from engine.sweeps.point import batch_steps, compute_point, point_steps

__all__ = ["in_process", "DaskExecutor", "open_executor", "CONNECT_TIMEOUT"]

CONNECT_TIMEOUT = 5.0   # seconds to reach a scheduler before the sweep is refused
TICK = 0.25             # seconds between progress ticks while Dask works
BATCH = 64              # points per call of a lab's batch entry (in this process)


def in_process(lab, points: Iterable, metrics: list) -> Generator:
    """Run the points here, relaying each run's progress as ticks: one after another, or
    in groups of :data:`BATCH` when the lab has a ``batch`` entry (same numbers)."""
    points = list(points)
    if target(lab).batch:
        groups = [points[i:i + BATCH] for i in range(0, len(points), BATCH)]
        for group in groups:
            rows = yield from _ticks(batch_steps(lab, [p.config for p in group], metrics),
                                     len(group))
            yield ("rows", list(zip(group, rows)))
        return
    for point in points:
        row = yield from _ticks(point_steps(lab, point.config, metrics))
        yield ("rows", [(point, row)])


def _ticks(gen, weight: int = 1) -> Generator:
    """Relay a run's progress as ``("tick", points done)`` events (``weight`` points run
    in it); return its value."""
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return stop.value
        yield ("tick", weight * p.fraction)


class DaskExecutor:
    """A Dask client: on an embedded LocalCluster (``address=None``) or a scheduler address.

    Parameters
    ----------
    address : str or None
        ``tcp://host:port`` of a running scheduler; None starts a LocalCluster of
        ``workers`` processes with one thread each.
    workers : int
        LocalCluster size (ignored with an address).

    Raises
    ------
    ValueError
        The scheduler cannot be reached within :data:`CONNECT_TIMEOUT` seconds.
    """

    def __init__(self, address: Optional[str] = None, workers: int = 2):
        from distributed import Client, LocalCluster
        self.cluster = None
        if address is None:
            self.cluster = LocalCluster(n_workers=max(1, int(workers)), processes=True,
                                        threads_per_worker=1, dashboard_address=":0",
                                        silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
            return
        try:
            self.client = Client(address, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ValueError(f"cannot reach the Dask scheduler at {address} within "
                             f"{CONNECT_TIMEOUT:g} s: {exc}") from None

    @property
    def dashboard(self) -> Optional[str]:
        """The Dask dashboard's address (None when the scheduler serves none)."""
        try:
            return self.client.dashboard_link
        except Exception:       # no dashboard configured
            return None

    @property
    def address(self) -> str:
        """The scheduler's address (``tcp://…``)."""
        return self.client.scheduler.address

    def worker_count(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    def run(self, lab, points: list, metrics: list) -> Generator:
        """Submit every point, then yield rows as they finish (any order) and ticks."""
        from distributed import wait
        futures, tgt = {}, target(lab)      # shipped whole: workers need not know its name
        for point in points:
            fut = self.client.submit(compute_point, tgt, point.config, metrics, pure=False,
                                     key=f"sweep-point-{point.index}-{id(self):x}")
            futures[fut] = point
        pending = set(futures)
        try:
            while pending:
                done, pending = _wait_first(wait, pending)
                if done:
                    yield ("rows", [(futures[f], _row_of(f)) for f in done])
                yield ("tick", 0.0)
        finally:
            if pending:
                self.client.cancel(list(pending))

    def close(self) -> None:
        """Close the client, and the LocalCluster if this executor started one."""
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


def _wait_first(wait, pending: set) -> tuple:
    """``(done, pending)`` after at most :data:`TICK` seconds."""
    try:
        result = wait(pending, timeout=TICK, return_when="FIRST_COMPLETED")
    except TimeoutError:
        return set(), pending
    return set(result.done), set(result.not_done)


def _row_of(fut) -> dict:
    """A finished future's row; a task Dask gave up on (e.g. killed too often) is an error
    row like any failed point."""
    try:
        return fut.result()
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:2000], "seconds": float("nan")}


def open_executor(executor: str, workers: int):
    """``"local"`` → None (run in this process); ``"dask"`` → a LocalCluster executor;
    ``"tcp://…"`` (or any scheduler address) → a client of that scheduler."""
    if executor == "local":
        return None
    if executor == "dask":
        return DaskExecutor(None, workers)
    if "://" in executor:
        return DaskExecutor(executor, workers)
    raise ValueError(f"executor {executor!r}: expected 'local', 'dask' or a scheduler "
                     "address such as tcp://host:8786")

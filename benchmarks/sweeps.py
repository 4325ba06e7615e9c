"""Benchmark of engine.sweeps (issue #15): a 64-point gradient-flow sweep run serially in
this process and on 2 local Dask workers.

Targets on a 2-core machine: 2 workers ≥ 1.7× the serial time (workers started and warmed
beforehand; the cold figure, cluster start included, is printed too) and a scheduling
overhead ≤ 50 ms per point, where the overhead is the workers' time not spent computing
points: ``(wall × workers − Σ point seconds) / points``. The machine may be shared: the load
average is printed with the figures.

Usage::

    .venv/bin/python benchmarks/sweeps.py [--quick] [--workers 2]
"""
from __future__ import annotations

import argparse
import logging
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from engine.core import drain  # noqa: E402
from engine.gradient_flow import FlowConfig  # noqa: E402
from engine.sweeps import Sweep, run_sweep  # noqa: E402

TARGET_SPEEDUP = 1.7
TARGET_OVERHEAD = 0.050
CONFIG = FlowConfig(n_init=32, t_max=20.0, frames=100, dt=0.02)


def make_sweep(quick: bool) -> Sweep:
    """64 points (4 depths × 8 scales × 2 seeds); 16 with ``quick``."""
    scales = "log:0.05:1:4" if quick else "log:0.05:1:8"
    depths = [1, 2] if quick else [1, 2, 3, 4]
    return Sweep("gradient-flow", CONFIG, {"depth": depths, "init_scale": scales}, 2,
                 ["convergence_time", "final_loss"])


def warm(_=None) -> float:
    """Imports and the lab's cached study in this process (what a first point pays)."""
    from engine.gradient_flow.lab import run_config
    torch.set_num_threads(1)
    start = time.perf_counter()
    drain(run_config(FlowConfig(n_init=2, t_max=1.0, frames=4), "cpu"))
    return time.perf_counter() - start


def timed(gen):
    start = time.perf_counter()
    table = drain(gen)
    wall = time.perf_counter() - start
    bad = (table["error"] != "").sum()
    if bad:
        raise SystemExit(f"{bad} points failed: {table['error'][table['error'] != ''].iloc[0]}")
    return table, wall


def study_figures() -> str:
    """The gradient-flow lab's 36-point convergence-time study: as the in-process sweep
    (batch hook), point by point through the same sweep engine, and the older common-step
    batched ``convergence_times``."""
    from engine.gradient_flow.lab import DEPTHS, SCALES, convergence_study
    from engine.gradient_flow.reduced import convergence_times
    from engine.sweeps import TARGETS
    start = time.perf_counter()
    drain(convergence_study(1.0))
    t_batch = time.perf_counter() - start
    target = TARGETS["gradient-flow/reduced"]
    TARGETS["gradient-flow/reduced"] = type(target)(
        target.name, target.config, target.run, target.metrics)        # no batch hook
    try:
        start = time.perf_counter()
        drain(convergence_study(1.0))
        t_points = time.perf_counter() - start
    finally:
        TARGETS["gradient-flow/reduced"] = target
    start = time.perf_counter()
    convergence_times(SCALES, depths=DEPTHS, nu=1.0)
    t_common = time.perf_counter() - start
    return (f"convergence study (36 points): sweep with batch hook {t_batch:.2f} s, point by "
            f"point {t_points:.2f} s, common-step batched ODE {t_common:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="16 points instead of 64")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from distributed import Client, LocalCluster
    sweep = make_sweep(args.quick)
    warm()
    serial, t_serial = timed(run_sweep(sweep, executor="local"))
    n = len(serial)
    start = time.perf_counter()
    with LocalCluster(n_workers=args.workers, processes=True, threads_per_worker=1,
                      dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        client.run(warm)
        t_start = time.perf_counter() - start
        table, t_dask = timed(run_sweep(sweep, executor=cluster.scheduler_address))
    _, t_cold = timed(run_sweep(sweep, executor="dask", workers=args.workers))
    same = serial.drop(columns="seconds").equals(table.drop(columns="seconds"))
    overhead = (t_dask * args.workers - table["seconds"].sum()) / n
    speedup = t_serial / t_dask
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {n} points")
    print(f"serial (this process)      {t_serial:7.2f} s  ({t_serial / n * 1e3:.0f} ms/point)")
    print(f"{args.workers} workers (warm)          {t_dask:7.2f} s  speed-up {speedup:.2f}x "
          f"(target >= {TARGET_SPEEDUP}x) {'OK' if speedup >= TARGET_SPEEDUP else 'MISSED'}")
    print(f"{args.workers} workers (cold, start incl.) {t_cold:5.2f} s  (cluster start + warm-up "
          f"alone {t_start:.1f} s)")
    print(f"scheduling overhead        {overhead * 1e3:7.1f} ms/point (target <= "
          f"{TARGET_OVERHEAD * 1e3:.0f} ms) {'OK' if overhead <= TARGET_OVERHEAD else 'MISSED'}")
    print(f"results identical to serial: {same}")
    print(study_figures())


if __name__ == "__main__":
    main()

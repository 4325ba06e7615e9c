"""Sweeps: run any lab over a grid of parameters and seeds, here or on a Dask cluster
(issue #15; docs/SWEEPS.md; SCIENCE.md §1.5 for the convergence-time study built on it).

>>> from engine.sweeps import Sweep, run_sweep
>>> sw = Sweep(lab="gradient-flow", config=cfg, axes={"depth": [1, 2], "init_scale": "log:0.01:1:3"},
...            seeds=2, metrics=["convergence_time"])
>>> table = drain(run_sweep(sw, executor="dask", workers=2, store="out.parquet"))

Results are a Parquet dataset folder (``pandas.read_parquet(folder)``; :func:`load_sweep`);
``load_sweep(folder, indexed=True).to_xarray()`` gives an xarray Dataset.
"""
from engine.sweeps.labs import TARGETS, SweepTarget, target
from engine.sweeps.run import PreparedSweep, prepare_sweep, run_sweep
from engine.sweeps.spec import Point, Sweep, SweepPlan, parse_values, plan_sweep
from engine.sweeps.store import META_NAME, SweepStore, load_sweep

__all__ = ["Sweep", "run_sweep", "prepare_sweep", "PreparedSweep", "load_sweep", "plan_sweep",
           "parse_values", "SweepPlan", "Point", "SweepStore", "META_NAME", "TARGETS",
           "SweepTarget", "target"]

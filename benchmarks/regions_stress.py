"""Stress test of the exact-pattern convex solves (issue #4, robustness).

Times ``fit_convex`` (gated and ReLU) on *all* exact activation patterns of 2-D data sets of
the app (spiral, circles, XOR, moons) over data seeds, sizes and λ, and reports wall time,
iterations, rounds and the relative duality gap. Each solve is capped at ``--cap`` seconds
(driven through :func:`fit_convex_iter`, which yields every ~40 ms); a capped solve is
reported as ``STALL``. Patterns are enumerated once per data set (as
``benchmarks/regions.py`` does for its "exact" cases) and passed in.

Run from the repository root::

    .venv/bin/python benchmarks/regions_stress.py [--n 100 200] [--seeds 0 1 2 3 4 5]
        [--data spiral circles xor moons] [--lams 1e-3 1e-2 1e-1] [--forms gated relu]
        [--cap 20] [--tol 1e-8]
"""
from __future__ import annotations

import argparse
import os
import sys

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.regions import enumerate_patterns, make_dataset  # noqa: E402
from engine.regions.convex import fit_convex_iter  # noqa: E402


def solve_capped(X, y, lam, form, tol, D, G, cap):
    """``(solution or None, seconds)``; None when the solve ran past ``cap`` seconds."""
    gen = fit_convex_iter(X, y, lam, form, tol, patterns=D, gates=G)
    t0 = time.perf_counter()
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value, time.perf_counter() - t0
        if time.perf_counter() - t0 > cap:
            gen.close()
            return None, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[100, 200])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    ap.add_argument("--data", nargs="+", default=["spiral", "circles", "xor", "moons"])
    ap.add_argument("--lams", type=float, nargs="+", default=[1e-3, 1e-2, 1e-1])
    ap.add_argument("--forms", nargs="+", default=["gated", "relu"])
    ap.add_argument("--noise", type=float, default=0.05)
    ap.add_argument("--tol", type=float, default=1e-8)
    ap.add_argument("--cap", type=float, default=20.0)
    args = ap.parse_args()
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}; tol {args.tol:g}; "
          f"cap {args.cap:g} s")
    print(f"{'data':8s} {'n':>4s} {'seed':>4s} {'P':>6s} {'form':5s} {'lam':>6s} "
          f"{'time s':>7s} {'iters':>6s} {'rounds':>6s} {'rel gap':>9s} cert")
    worst, stalls, total = {}, 0, 0
    for data in args.data:
        for n in args.n:
            for seed in args.seeds:
                X, y = make_dataset(data, n, args.noise, seed)
                D, G = enumerate_patterns(X, return_gates=True)
                keep = D.any(axis=1)
                D, G = D[keep], G[keep]
                for form in args.forms:
                    for lam in args.lams:
                        sol, t = solve_capped(X, y, lam, form, args.tol, D, G, args.cap)
                        total += 1
                        key = (form, n)
                        worst[key] = max(worst.get(key, 0.0), t)
                        if sol is None:
                            stalls += 1
                            print(f"{data:8s} {n:4d} {seed:4d} {len(D):6d} {form:5s} "
                                  f"{lam:6.0e} {t:7.2f}  STALL (> {args.cap:g} s)", flush=True)
                            continue
                        print(f"{data:8s} {n:4d} {seed:4d} {len(D):6d} {form:5s} {lam:6.0e} "
                              f"{t:7.2f} {sol.n_iter:6d} {sol.rounds:6d} "
                              f"{sol.relative_gap:9.1e} {'yes' if sol.certified else 'NO'}",
                              flush=True)
    print(f"\n{total} solves, {stalls} stalled; worst times: "
          + ", ".join(f"{f} n={n}: {t:.2f} s" for (f, n), t in sorted(worst.items())))
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()

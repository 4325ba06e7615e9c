"""Benchmark of the ReLU-discriminator WGAN game (SCIENCE.md §7.4.4).

1. Fixed support (the data and a few extra points): our column-free cutting-plane LP with the
   exact arrangement oracle against cvxpy + Clarabel on the same program written with one
   second-order cone per arrangement cell and sign (the test's formulation).
2. The full game (columns generated anywhere in R²) at the presets' sizes: time, p*, the
   certified gap, LPs, and the whole preset run (convex solve + 3 GDA seeds).

Run from the repository root (cvxpy and clarabel are test/benchmark-only)::

    .venv/bin/python benchmarks/convex_duals_wgan_relu.py [--quick]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from engine.convex_duals import wgan  # noqa: E402
from engine.convex_duals.wgan_relu_game import solve_relu_game  # noqa: E402
from engine.convex_duals.wgan_relu_oracle import lift  # noqa: E402
from engine.core import drain  # noqa: E402
from tests.engine.duals_reference_wgan import arrangement_cells as _cells  # noqa: E402


def _cvxpy_fixed(cp, X, S, beta) -> float:
    P = lift(np.r_[X, S])
    cells = _cells(P)
    p = cp.Variable(len(S), nonneg=True)
    a = (cells[:, :len(X)] @ lift(X)) / len(X) - cells[:, len(X):] @ cp.diag(p) @ lift(S)
    cons = [cp.sum(p) == 1]
    for s in (1, -1):
        lam = cp.Variable(cells.shape, nonneg=True)
        cons.append(cp.norm(s * a + cp.multiply(lam, 2.0 * cells - 1.0) @ P, 2, axis=1) <= beta)
    prob = cp.Problem(cp.Minimize(0.5 * np.sum(S ** 2, 1) @ p), cons)
    prob.solve(solver="CLARABEL")
    return prob.value


def fixed_rows(cp) -> list[str]:
    rows = ["| data, n, extra, β | cells | ours p* | cvxpy p* | abs. diff | gap | ours s | "
            "cvxpy s |", "|---|---|---|---|---|---|---|---|"]
    for data, n, extra, beta in (("ring", 6, 5, 0.15), ("two_blobs", 8, 6, 0.2),
                                 ("gaussian", 10, 8, 0.2)):
        X, _ = wgan.make_data(wgan.Params(data=data, samples=n, data_seed=2))
        E = np.random.default_rng(4).uniform(-1, 1, (extra, 2))
        t = time.perf_counter()
        sol = solve_relu_game(X, beta, columns=False, support=E, tol=1e-9)
        ours = time.perf_counter() - t
        t = time.perf_counter()
        ref = _cvxpy_fixed(cp, X, np.r_[X, E], beta)
        cv = time.perf_counter() - t
        cells = len(_cells(lift(np.r_[X, X, E])))
        rows.append(f"| {data}, {n}, {extra}, {beta} | {cells} | {sol.upper:.6f} | {ref:.6f} | "
                    f"{abs(sol.upper - ref):.1e} | {sol.gap:.1e} | {ours:.2f} | {cv:.2f} |")
    return rows


def game_rows(whole: bool) -> list[str]:
    rows = ["| preset data, n = 20, β | solve s | p* | certified gap | LPs | whole run s |",
            "|---|---|---|---|---|---|"]
    for data, beta in (("two_blobs", 0.25), ("ring", 0.25), ("gaussian", 0.25)):
        p = wgan.Params(discriminator="relu", data=data, samples=20, beta=beta, steps=3000,
                        lr=0.02, neurons=8)
        X, _ = wgan.make_data(p)
        t = time.perf_counter()
        sol = solve_relu_game(X, beta)
        solve = time.perf_counter() - t
        total = "—"
        if whole:
            t = time.perf_counter()
            drain(wgan.run(p))
            total = f"{time.perf_counter() - t:.1f}"
        rows.append(f"| {data}, {beta} | {solve:.2f} | {sol.upper:.6f} | {sol.gap:.1e} | "
                    f"{sol.iterations} | {total} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="no whole-preset runs")
    args = ap.parse_args()
    import cvxpy as cp
    for block in (fixed_rows(cp), game_rows(not args.quick)):
        print("\n".join(block) + "\n")


if __name__ == "__main__":
    main()

"""Benchmark of the convex-duals attention and WGAN models (SCIENCE.md §7.3, §7.4, §7.6).

1. Attention: our ADMM + singular-value thresholding (``solve_block_nuclear``, duality-gap
   stop 1e-7 relative) against cvxpy + Clarabel on the *same* program (the same lifted
   matrix, ``β Σ_b ||Z_b||_*``), for every head family at the lab's default size
   (n = 20 sequences, s = 4 tokens, d = 3, c = 2, planted data, β = 0.5) and on the §7.3.5
   known-answer instance (Gaussian, β = 0.05, p* = 60.233620). Times: best of ``--repeats``
   (cvxpy: build + solve).
2. WGAN: the closed-form generator against the SDP ``min ½ tr C_g s.t. ||C_x − C_g||₂ ≤ β,
   C_g ⪰ 0`` in cvxpy + Clarabel (a whitened latent makes the two the same problem), n = 200.
3. Whole model runs at the defaults (convex solve + 3 seeds of Adam / GDA), unless ``--quick``.

Run from the repository root (cvxpy and clarabel are test/benchmark-only)::

    .venv/bin/python benchmarks/convex_duals_attention_wgan.py [--quick] [--repeats 3]
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

from engine.convex_duals import attention, wgan  # noqa: E402
from engine.convex_duals.attention_ops import lifted_matrix, solve_block_nuclear  # noqa: E402
from engine.convex_duals.wgan_gda import closed_form  # noqa: E402
from engine.core import drain  # noqa: E402


def _best(fn, repeats: int):
    best, out = np.inf, None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _cvxpy_attention(cp, op, A, Y, beta):
    Zs = [cp.Variable(op.block_shape) for _ in range(op.blocks)]
    z = cp.hstack([cp.vec(Z, order="C") for Z in Zs])
    obj = 0.5 * cp.sum_squares(A @ z - Y.ravel()) + beta * sum(cp.normNuc(Z) for Z in Zs)
    prob = cp.Problem(cp.Minimize(obj))
    prob.solve(solver="CLARABEL")
    return prob.value


def attention_rows(cp, repeats: int) -> list[str]:
    cases = [(head, attention.Params(head=head)) for head in attention.HEADS]
    cases.append(("self_attention (§7.3.5 KAT)",
                  attention.Params(data="gaussian", beta=0.05, data_seed=4)))
    rows = ["| head | unknowns | ours p* | cvxpy p* | rel. diff | gap | ours s | cvxpy s |",
            "|---|---|---|---|---|---|---|---|"]
    for name, p in cases:
        X, Y = attention.make_data(p)
        op = attention.build_operator(p, X)
        A = lifted_matrix(op)
        ours_s, sol = _best(lambda: solve_block_nuclear(op, Y, p.beta, A=lifted_matrix(op)),
                            repeats)
        cv_s, ref = _best(lambda: _cvxpy_attention(cp, op, A, Y, p.beta), repeats)
        rows.append(f"| {name} | {A.shape[1]} | {sol.value:.6f} | {ref:.6f} | "
                    f"{abs(sol.value - ref) / abs(ref):.1e} | {sol.gap:.1e} | {ours_s:.3f} | "
                    f"{cv_s:.3f} |")
    return rows


def wgan_rows(cp, repeats: int) -> list[str]:
    rows = ["| data, β | ours p* | cvxpy p* | abs. diff | ours s | cvxpy s |",
            "|---|---|---|---|---|---|"]
    for data in wgan.DATASETS:
        X, _ = wgan.make_data(wgan.Params(data=data))
        Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((X.shape[0], 2)))
        Z = Q * np.sqrt(X.shape[0])                           # C_z = I: the SDP is the same
        C_x = X.T @ X / X.shape[0]
        for beta in (0.1, 0.5):
            ours_s, cf = _best(lambda: closed_form(X, Z, beta), repeats)

            def sdp():
                C = cp.Variable((2, 2), PSD=True)
                prob = cp.Problem(cp.Minimize(0.5 * cp.trace(C)),
                                  [C_x - C << beta * np.eye(2), C - C_x << beta * np.eye(2)])
                prob.solve(solver="CLARABEL")
                return prob.value
            cv_s, ref = _best(sdp, repeats)
            rows.append(f"| {data}, {beta} | {cf.value:.6f} | {ref:.6f} | "
                        f"{abs(cf.value - ref):.1e} | {ours_s * 1e3:.2f} ms | {cv_s:.3f} |")
    return rows


def run_rows() -> list[str]:
    rows = ["| model run (defaults) | seconds | p* | certificate | final gap per seed |",
            "|---|---|---|---|---|"]
    runs = [(f"attention {h}", attention.run, attention.Params(head=h)) for h in attention.HEADS]
    runs.append(("wgan gaussian", wgan.run, wgan.Params()))
    for name, fn, p in runs:
        t = time.perf_counter()
        out = drain(fn(p))
        rows.append(f"| {name} | {time.perf_counter() - t:.2f} | {out.convex_objective:.6f} | "
                    f"{out.certificate:.1e} ({out.certificate_kind}) | "
                    f"{', '.join(f'{g:.2e}' for g in out.gaps())} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="one repeat, no whole-model runs")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    import cvxpy as cp
    repeats = 1 if args.quick else args.repeats
    for block in (attention_rows(cp, repeats), wgan_rows(cp, repeats)):
        print("\n".join(block) + "\n")
    if not args.quick:
        print("\n".join(run_rows()))


if __name__ == "__main__":
    main()

"""Benchmark of the convex-duals engine (SCIENCE.md §7.6): each model's convex solve against
cvxpy + Clarabel on the same instance (cvxpy/clarabel are test-only packages).

Instances (β as in §7.1.9 / §7.2.5; sizes printed per row):

- COP exact 2-D: spiral, c = 3 one-hot classes, no bias, β = 0.5, n = 12 / 24 / 40
  (P = 2n cells): our column generation with the exact oracle against §7.1.4's ray SDP.
- COP whitened: n = 6, d = 8, β = 0.8: ours against the soft-thresholded-SVD closed form
  (the cvxpy relaxation over all 63 patterns takes seconds, §7.6; not run here).
- BN 2-D: the §7.2.5 data, β = 0.1, n = 10 / 16 (P = n² − n + 1 non-zero patterns of Ũ):
  ours against §2.3's scalar cone program on Ũ.
- BN over-parameterized: n = 7, d = 6, β = 0.6: ours against the §7.2.3 closed form.

Times: ours best of 3 (imports and warm-up excluded); cvxpy build + solve, best of 2 after a
warm-up solve. Run from the repository root::

    .venv/bin/python benchmarks/convex_duals.py [--quick]
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

from engine.convex_duals import batchnorm as bn, data, vector_output as vo  # noqa: E402
from engine.convex_duals.atoms import solve_atomic  # noqa: E402
from engine.convex_duals.oracle import best_atom, nonneg_atom  # noqa: E402
from engine.convex_duals.patterns import boundary_rays, enumerate_patterns  # noqa: E402
from engine.core import drain  # noqa: E402


def _best(fn, repeats):
    times, value = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return min(times), value


def _exact_solver(X, Y, beta):
    pats, rays = enumerate_patterns(X), boundary_rays(X)
    return lambda: drain(solve_atomic(X, Y, beta, lambda R: best_atom(X, R, pats, rays)))


def cases(quick: bool):
    from tests.engine.duals_reference import ray_sdp, scalar_cone_program
    for n in ((12, 24) if quick else (12, 24, 40)):
        X, labels = data.spiral(n, 3, np.random.default_rng(0))
        Y = data.one_hot(labels, 3)
        yield (f"COP exact 2-D, n={n}, c=3, P={2 * n}", _exact_solver(X, Y, 0.5),
               lambda X=X, Y=Y: ray_sdp(X, Y, 0.5), "ray SDP (Clarabel)")
    X = data.whitened(6, 8, np.random.default_rng(1))
    Y = data.one_hot(np.sort(np.arange(6) % 3), 3)
    yield ("COP whitened, n=6, d=8, c=3",
           lambda: drain(solve_atomic(X, Y, 0.8, lambda R: nonneg_atom(X, R))),
           lambda: vo.soft_thresholded_svd(Y, 0.8)[3], "closed form (SVT)")
    for n in ((10,) if quick else (10, 16)):
        Xb, y = bn._dataset(bn.Params(n=n))
        Ut = bn.whiten(Xb)[0]
        yield (f"BN 2-D, n={n}, P={n * n - n + 1}", _exact_solver(Ut, y, 0.1),
               lambda Ut=Ut, y=y: scalar_cone_program(Ut, y, 0.1), "cone program (Clarabel)")
    Xo, yo = bn._dataset(bn.Params(regime="over-parameterized", n=7))
    Uo = bn.whiten(Xo)[0]
    yield ("BN over-param, n=7, d=6",
           lambda: drain(solve_atomic(Uo, yo, 0.6, lambda R: nonneg_atom(Uo, R))),
           lambda: bn.closed_form(yo, 0.6)[1], "closed form")
    # COP relaxation for any d (§7.1.4, sampled patterns, ADMM on facet rows) against the
    # literal program with all n² cone rows; BN's truncated-whitening rung p*(1) (§7.2.4)
    from engine.convex_duals.bn_gd import truncated_whitening
    from engine.convex_duals.cop_relaxation import RelaxationProblem, solve_relaxation
    from engine.convex_duals.cop_sampled import make_data
    from engine.convex_duals.patterns import sample_patterns
    from tests.engine.duals_reference_cop import literal_relaxation
    for kind, n, d, gates, seed in (("teacher", 12, 4, 16, 0),) + (
            () if quick else (("mixture", 16, 5, 24, 1),)):
        Xr, Yr, _ = make_data(kind, n, d, 3, np.random.default_rng(seed))
        pats = sample_patterns(Xr, gates, np.random.default_rng(seed + 1))
        prob = RelaxationProblem.build(Xr, Yr, 0.5, pats)
        yield (f"COP relax {kind}, n={n}, d={d}, P={pats.shape[1]}",
               lambda prob=prob: drain(solve_relaxation(prob)),
               lambda Xr=Xr, Yr=Yr, pats=pats: literal_relaxation(Xr, Yr, 0.5, pats),
               "literal relaxation, n² rows (Clarabel)")
    U1 = truncated_whitening(bn.whiten(bn._dataset(bn.Params(n=12, minor_scale=0.05))[0])[0], 1)
    y1 = bn._dataset(bn.Params(n=12))[1]
    yield ("BN GD ladder p*(1), n=12", _exact_solver(U1, y1, 0.1),
           lambda: scalar_cone_program(U1, y1, 0.1), "cone program (Clarabel)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, smaller instances")
    args = parser.parse_args(argv)
    print(f"{'instance':34s} {'ours s':>8s} {'p* ours':>12s} {'gap':>8s} "
          f"{'ref s':>8s} {'p* ref':>12s} {'|Δ|/p*':>8s}  reference")
    for name, ours, ref, ref_name in cases(args.quick):
        ours()                                              # warm-up (imports, caches)
        t_ours, sol = _best(ours, 3)
        ref()
        t_ref, value = _best(ref, 2)
        rel = abs(sol.objective - value) / max(abs(value), 1e-12)
        print(f"{name:34s} {t_ours:8.3f} {sol.objective:12.6f} {sol.gap:8.1e} "
              f"{t_ref:8.3f} {value:12.6f} {rel:8.1e}  {ref_name}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

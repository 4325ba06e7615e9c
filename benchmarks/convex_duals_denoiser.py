"""Benchmark of the conv denoiser's exact ReLU program (SCIENCE.md §7.5 eq 4): our barrier
solver (:mod:`engine.convex_duals.den_program`, certified duality gap) against cvxpy +
Clarabel on the same instance (cvxpy/clarabel are test-only packages).

Instances: crops of the MNI slice as the lab makes them (σ = 0.2, data seed 0, 3×3 patches,
zero padding), ``P`` distinct patterns of the sampled gates (2P groups), β = 0.5; ``1×10²``
is one 10×10 crop (n = 100 patches); ``1×16²`` with 24 gates is the ``den-brain`` preset
(n = 256, P = 22). Times: ours best of 2, cvxpy build + solve once. Run from the
repository root::

    .venv/bin/python benchmarks/convex_duals_denoiser.py [--quick]
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

from engine.convex_duals import den_program as dp, denoiser as dn  # noqa: E402
from engine.core import drain  # noqa: E402


def instance(crops: int, size: int, patterns: int, beta: float = 0.5):
    """The lab's data for these sizes: ``ReluProgram`` and the gates of its patterns."""
    p = dn.Params(crops=crops, size=size, patterns=patterns, beta=beta)
    rng = np.random.default_rng(p.data_seed)
    clean = dn._crops(p, rng)
    noisy = clean + p.sigma * rng.standard_normal(clean.shape)
    F = dn.patch_matrix(noisy)
    D, gates = dp.sample_gates(F, patterns, rng)
    return dp.ReluProgram(F, D.astype(float), clean.ravel(), beta), gates


def main(argv=None) -> int:
    from tests.engine.duals_denoiser_reference import relu_program_clarabel
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small instances only")
    args = parser.parse_args(argv)
    sizes = [(1, 10, 16), (1, 16, 24)] + ([] if args.quick else [(1, 16, 32), (2, 16, 32)])
    print(f"{'instance':26s} {'ours s':>7s} {'p* ours':>10s} {'gap':>8s} "
          f"{'Clarabel s':>10s} {'p* Clarabel':>11s} {'|Δ|/p*':>8s}")
    for crops, size, patterns in sizes:
        prog, gates = instance(crops, size, patterns)
        times = []
        for _ in range(2):
            t0 = time.perf_counter()
            U, gap = drain(dp.solve_relu(prog, gates))
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref = relu_program_clarabel(prog.F, prog.D, prog.x, prog.beta)
        t_ref = time.perf_counter() - t0
        ours = prog.objective(U)
        name = f"{crops}×{size}², n={len(prog.x)}, P={prog.D.shape[1]}"
        print(f"{name:26s} {min(times):7.2f} {ours:10.6f} {gap:8.1e} {t_ref:10.2f} "
              f"{ref:11.6f} {abs(ours - ref) / abs(ref):8.1e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

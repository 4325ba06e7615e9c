"""The MCGdiff Gaussian-mixture protocol: every conditional solver's sliced W2 to the exact posterior.

Protocol (issue #18; Cardoso et al., "Monte Carlo guided diffusion for Bayesian linear inverse
problems", ICLR 2024, arXiv 2308.07983, §4.1 and ``gabrielvc/mcg_diff``
``scripts/viz_gaussian.py``; the same mixture in TMPD, Boys et al. 2023, arXiv 2310.06721 §5):
a 25-component mixture ``N(μ_ij, I_d)``, ``μ_ij = (-8i, -8j, -8i, -8j, …)``, ``i, j ∈ {-2..2}``,
weights ``∝ ξ²`` (``engine.diffusion.protocol.mcgdiff_mixture``); ``A`` random ``(m, d)`` with
``U(0, 1)`` singular values, ``y = A x* + σ_y n`` (``mcgdiff_measurement``, seeded per run).

For each ``d``, ``m`` rows, ``σ_y`` and seed, each solver of the shared table (toy defaults)
runs ``--particles`` particles over ``--steps`` respaced steps from the exact ``p_T`` (or
``--start "N(0, I)"``) on the exact O(N K d) model (``engine.diffusion.shared_cov``); the
table prints the mean ± sd over seeds of the sliced W2 distance (``SW_PROJECTIONS`` = 128
directions, seeded) of its cloud to as many fresh exact posterior samples, next to the
exact-vs-exact floor (mean ± sd over 10 pairs, first seed) and the start-mismatch bound
``Σ_k π̃_k ᾱ_T ‖μ̃_k‖²/2`` of the posterior. ``*`` marks a mean above floor + 3 sd.

Run::

    .venv/bin/python benchmarks/diffusion_protocol.py --quick    # ~8 min on one busy CPU
    .venv/bin/python benchmarks/diffusion_protocol.py [--dims 8 80 800] [--rows 1 2 4]
        [--sigmas 0.01 0.1 1] [--seeds 3] [--particles 1000] [--steps 500]
        [--solvers posterior dps ...] [--start "exact p_T"|"N(0, I)"] [--device cpu|cuda]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from engine.core import make_generator  # noqa: E402
from engine.diffusion.context import LinearData  # noqa: E402
from engine.diffusion.linalg import Measurement  # noqa: E402
from engine.diffusion.metrics import SW_PROJECTIONS, sliced_w2, sliced_w2_floor  # noqa: E402
from engine.diffusion.protocol import (mcgdiff_measurement, mcgdiff_mixture,  # noqa: E402
                                       start_kl_bound)
from engine.diffusion.shared_cov import SharedScore  # noqa: E402
from engine.diffusion.table import SPECS, check_params  # noqa: E402
from engine.sampling.contract import START_EXACT, STARTS, Context  # noqa: E402
from engine.sampling.schedule import Schedule  # noqa: E402

SOLVERS = ("posterior", "projection", "mcg", "dps", "ccdf", "dds", "reddiff", "pigdm", "tmpd",
           "tds")
FLOOR_PAIRS = 10


def run_solver(name, mix, post, A, y, sigma_y, n, steps, seed, start, device) -> torch.Tensor:
    """Final cloud (n, d) of solver ``name`` (the oracle runs on the exact posterior)."""
    sched = Schedule.linear()
    target = post if SPECS[name].oracle else mix
    dev = torch.device(device)
    ctx = Context(model=SharedScore(target, sched, dev, torch.float64), grid=sched.grid(steps),
                  shape=(n, mix.dim), gen=make_generator(seed, str(dev)),
                  dc=LinearData(Measurement(A, y, sigma_y, mix.dim, dev, torch.float64)),
                  aux=make_generator(seed + 1, str(dev)), dtype=torch.float64, device=dev,
                  start=start)
    x = None
    for st in SPECS[name].fn(ctx, **check_params(name, {})):
        x = st.x
    return x


def one_setting(d, rows, sigma_y, seeds, args) -> dict:
    """SW per solver (list over seeds), the floor and the start bound of the first seed."""
    mix = mcgdiff_mixture(d, 0)
    out = {name: [] for name in args.solvers}
    ab_T = Schedule.linear().ab(1000)
    for k in range(seeds):
        A, y = mcgdiff_measurement(mix, rows, sigma_y, seed=k)
        post = mix.posterior(A, y, sigma_y)
        gen = torch.Generator().manual_seed(1000 + k)
        ref = post.sample(args.particles, gen)
        if k == 0:
            out["floor"] = sliced_w2_floor(post, args.particles, gen, SW_PROJECTIONS,
                                           FLOOR_PAIRS, seed=k)
            out["kl"] = start_kl_bound(post, ab_T)
        for name in args.solvers:
            x = run_solver(name, mix, post, A, y, sigma_y, args.particles, args.steps, k,
                           args.start, args.device).cpu()
            ok = bool(torch.isfinite(x).all())
            out[name].append(sliced_w2(x, ref, SW_PROJECTIONS, torch.Generator().manual_seed(k))
                             if ok else float("nan"))
    return out


def _cell(values, floor) -> str:
    v = np.asarray(values, dtype=float)
    mean, sd = float(np.mean(v)), float(np.std(v))
    star = "*" if not mean <= floor[0] + 3 * floor[1] else " "
    return f"{mean:7.3f}±{sd:5.3f}{star}"


def header(solvers) -> str:
    return f"{'d':>4} {'m':>2} {'σ_y':>5} {'KL≤':>7} {'floor':>13} " + " ".join(
        f"{s:>14}" for s in solvers)


def table_row(d: int, m: int, sig: float, res: dict, solvers) -> str:
    """One line of the table: the setting, the start bound, the floor, each solver's cell."""
    fl = res["floor"]
    return (f"{d:>4} {m:>2} {sig:>5g} {res['kl']:7.3f} {fl[0]:7.3f}±{fl[1]:5.3f} " +
            " ".join(f"{_cell(res[s], fl):>14}" for s in solvers))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="d 8/80/800, 1 and 4 rows, σ_y 0.1, 2 seeds, 500 particles, 100 steps")
    ap.add_argument("--dims", type=int, nargs="+", default=[8, 80, 800])
    ap.add_argument("--rows", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--sigmas", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--particles", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--solvers", nargs="+", default=list(SOLVERS), choices=list(SPECS))
    ap.add_argument("--start", default=START_EXACT, choices=STARTS)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    if args.quick:
        args.rows, args.sigmas, args.seeds, args.particles, args.steps = [1, 4], [0.1], 2, 500, 100
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    print(f"MCGdiff protocol: {args.particles} particles, {args.steps} steps, start {args.start},"
          f" sliced W2 with {SW_PROJECTIONS} seeded directions; mean ± sd over {args.seeds} "
          f"seeds (* = above floor + 3 sd)")
    print(header(args.solvers))
    for d in args.dims:
        for m in args.rows:
            for sig in args.sigmas:
                res = one_setting(d, m, sig, args.seeds, args)
                print(table_row(d, m, sig, res, args.solvers), flush=True)
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()

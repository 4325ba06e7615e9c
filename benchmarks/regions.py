"""Benchmark of the activation-regions engine (SCIENCE.md §2; issue "Activation-regions lab").

1. Convex solvers vs cvxpy + Clarabel on the *same program and the same patterns*
   (scnn scaling ``(1/(2n))‖·‖² + λΣ‖u‖``): ``fit_convex(..., patterns=D)`` against the
   literal cvxpy program solved by Clarabel; pyscnn (AL / R-FISTA, ``unitize_data=False``,
   float64, bias as a column of ones) for reference when it is installed. Objectives are all
   re-evaluated here from each solver's variables; cone violation is
   ``max relu(−(2D − I)X̃u)`` over all groups (absolute, data in ``[−1, 1]²``).
   Targets (n ≤ 200, p ≤ 1000 patterns): objective within 1e-4 relative of Clarabel's, cone
   violation ≤ 1e-8, wall time ≤ cvxpy + Clarabel (goal ≥ 2× faster). The exact-pattern case
   n = 200 (39 802 patterns) is reported for both.
   Times: best of 3 (ours below 2 s; cvxpy: build + solve, 3 runs unless huge), best of 10
   for both on tiny problems (``P·n ≤ 20 000``, tens of ms, where a loaded machine makes
   single timings noisy); cvxpy and Clarabel are imported and warmed up before timing.
   d > 2 (issue #18): Gaussian data ``X ~ N(0, I_d)``, ``y = tanh(X w) + 0.1 ε`` (seed 0),
   sampled gate patterns (``sample_patterns``, seed 0), ReLU program, λ = 0.01 and 0.1, sizes
   up to n = 200, d = 20, P = 500; each row also says whether our result is certified
   (relative duality gap ≤ tol, the certificate over all P patterns) and the objective
   difference to Clarabel's; ours and cvxpy + Clarabel alternate (interleaved repeats, best
   of 3; 1 when ``P·n > 50 000``) in one child process stopped after ``--cvxpy-timeout``, so
   both see the same machine load (the load average is printed; the machine is shared).
2. Pattern-id map of a width-512 two-layer net on a 1024 × 1024 grid (target ≤ 0.5 s).

Run from the repository root (test/benchmark-only packages: cvxpy, clarabel, pyscnn)::

    .venv/bin/python benchmarks/regions.py [--quick] [--nd-only] [--threads 1] [--cvxpy-timeout 300]

BLAS / torch threads are pinned (default 1, the same for every solver) before numpy is
imported: on a small shared CPU, multi-threaded BLAS makes these small solves much slower.
"""
from __future__ import annotations

import argparse
import os
import sys

if __name__ == "__main__":                                 # pin threads before numpy loads
    _threads = "1"
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            _threads = sys.argv[i + 1]
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, _threads)

import multiprocessing as mp  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.regions import (enumerate_patterns, fit_convex, make_dataset,  # noqa: E402
                            pattern_ids, sample_patterns)
from engine.regions.patterns import augment  # noqa: E402

LAM = 0.01
REPEATS_TINY = 10        # best of 10 (both solvers) for 10-100 ms problems (P·n ≤ 20 000)


def evaluate(A, y, D, V, W, lam):
    """Objective and cone violation of convex variables (``W`` None: gated)."""
    Df = D.astype(float)
    pred = (Df * (V @ A.T)).sum(0)
    pen = np.linalg.norm(V, axis=1).sum()
    viol = 0.0
    if W is not None:
        pred -= (Df * (W @ A.T)).sum(0)
        pen += np.linalg.norm(W, axis=1).sum()
        S = 2 * Df - 1
        viol = max(float(np.maximum(-S * (V @ A.T), 0).max()),
                   float(np.maximum(-S * (W @ A.T), 0).max()))
    r = pred - y
    return 0.5 * float(r @ r) / len(y) + lam * float(pen), viol


def _cvxpy_solve(X, y, D, formulation, lam):
    """Build the literal program and solve it with Clarabel: ``(V, W, total s, solve s)``."""
    import cvxpy as cp
    t0 = time.perf_counter()
    A, n = augment(X), len(y)
    Df = D.astype(float)
    V = cp.Variable((len(D), A.shape[1]))
    pred = cp.sum(cp.multiply(Df, V @ A.T), axis=0)
    pen = cp.sum(cp.norm(V, 2, axis=1))
    cons, W = [], None
    if formulation == "relu":
        W = cp.Variable((len(D), A.shape[1]))
        pred = pred - cp.sum(cp.multiply(Df, W @ A.T), axis=0)
        pen = pen + cp.sum(cp.norm(W, 2, axis=1))
        S = 2 * Df - 1
        cons = [cp.multiply(S, V @ A.T) >= 0, cp.multiply(S, W @ A.T) >= 0]
    prob = cp.Problem(cp.Minimize(cp.sum_squares(pred - y) / (2 * n) + lam * pen), cons)
    prob.solve(solver=cp.CLARABEL)
    return (V.value, None if W is None else W.value, time.perf_counter() - t0,
            prob.solver_stats.solve_time)


def run_cvxpy(X, y, D, formulation, lam, out, repeats=1):
    """Best of ``repeats`` cvxpy + Clarabel solves; puts (obj, viol, total s, solve s)."""
    best = None
    for _ in range(repeats):
        V, W, total, solve = _cvxpy_solve(X, y, D, formulation, lam)
        if best is None or total < best[2]:
            best = (V, W, total, solve)
    obj, viol = evaluate(augment(X), y, D, best[0], best[1], lam)
    out.put((obj, viol, best[2], best[3]))


def cvxpy_with_timeout(X, y, D, formulation, lam, timeout, repeats=1, mem_gb=12):
    """:func:`run_cvxpy` in a child process (killed after ``timeout`` s or ``mem_gb`` GiB)."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()

    def target():
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (mem_gb * 2**30, mem_gb * 2**30))
        try:
            run_cvxpy(X, y, D, formulation, lam, q, repeats)
        except MemoryError:
            q.put("out of memory")
    p = ctx.Process(target=target)
    p.start()
    p.join(timeout)
    if p.is_alive():
        p.kill()
        p.join()
        return f"did not finish in {timeout:.0f} s"
    if not q.empty():
        return q.get()
    if p.exitcode in (-6, -9, -11):                # abort / kill / segfault under the cap
        return f"aborted (signal {-p.exitcode}; likely the {mem_gb} GiB memory cap)"
    return f"failed (exit code {p.exitcode})"


def run_pyscnn(X, y, D, G, formulation, lam):
    """pyscnn with the same gates (bias as a ones column, no unitizing, float64)."""
    try:
        from scnn.metrics import Metrics
        from scnn.models import ConvexGatedReLU, ConvexReLU
        from scnn.optimize import optimize_model
        from scnn.regularizers import NeuronGL1
        from scnn.solvers import AL, RFISTA
    except ImportError:
        return None
    A = augment(X)
    model = (ConvexReLU if formulation == "relu" else ConvexGatedReLU)(G.T.copy())
    solver = AL(model) if formulation == "relu" else RFISTA(model)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cm, _ = optimize_model(model, solver, Metrics(), A, y, regularizer=NeuronGL1(lam),
                               unitize_data=False, dtype="float64", return_convex=True)
    wall = time.perf_counter() - t0
    Ds = (A @ cm.G >= 0).T
    if formulation == "relu":
        obj, viol = evaluate(A, y, Ds, cm.parameters[0][0], cm.parameters[1][0], lam)
    else:
        obj, viol = evaluate(A, y, Ds, cm.parameters[0][0], None, lam)
    return obj, viol, wall


def patterns_for(X, kind, gates, seed):
    if kind == "exact":
        D, G = enumerate_patterns(X, return_gates=True)
    else:
        D, G = sample_patterns(X, gates, seed, return_gates=True)
    keep = D.any(axis=1)
    return D[keep], G[keep]


def bench_case(n, kind, gates, formulation, lam, args, seed=0):
    """Ours, cvxpy + Clarabel and pyscnn on one problem; times are best of 3 below 2 s."""
    X, y = make_dataset("spiral", n, 0.05, seed)
    D, G = patterns_for(X, kind, gates, seed)
    times, tiny = [], len(D) * n <= 20_000         # tiny: per-call overhead, noisy timings
    for _ in range(REPEATS_TINY if tiny else 3):
        t0 = time.perf_counter()
        sol = fit_convex(X, y, lam, formulation, tol=1e-8, patterns=D, gates=G)
        times.append(time.perf_counter() - t0)
        if times[-1] > 2.0:
            break
    viol = sol.cone_violation if formulation == "relu" else 0.0
    big = len(D) * n > 2_000_000
    ref = ("skipped (--quick)" if args.quick and big else
           cvxpy_with_timeout(X, y, D, formulation, lam, args.cvxpy_timeout,
                              repeats=1 if big else REPEATS_TINY if tiny else 3))
    scnn = None if (big or args.no_pyscnn) else run_pyscnn(X, y, D, G, formulation, lam)
    return dict(n=n, kind=kind, P=len(D), form=formulation, lam=lam, obj=sol.objective,
                viol=viol, t=min(times), gap=sol.relative_gap, ref=ref, scnn=scnn,
                m=sol.m_star)


def gaussian_case(n, d, gates, seed=0):
    """The d > 2 instances of issue #18: ``X ~ N(0, I_d)``, ``y = tanh(Xw) + 0.1ε`` and the
    distinct nonzero patterns of ``gates`` sampled gates."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.tanh(X @ rng.normal(size=d)) + 0.1 * rng.normal(size=n)
    D, G = sample_patterns(X, gates, seed, return_gates=True)
    keep = D.any(axis=1)
    return X, y, D[keep], G[keep]


def _nd_interleaved(X, y, D, G, lam, max_iter, repeats, out, mem_gb=12):
    """``repeats`` × (our ReLU solve at tol 1e-8, then cvxpy + Clarabel) in one process, so
    both see the same machine load; each result is put on ``out`` as it arrives."""
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (mem_gb * 2**30, mem_gb * 2**30))
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        sol = fit_convex(X, y, lam, "relu", tol=1e-8, patterns=D, gates=G, max_iter=max_iter)
        out.put(("ours", dict(obj=sol.objective, viol=sol.cone_violation,
                              t=time.perf_counter() - t0, cpu=time.process_time() - c0,
                              gap=sol.relative_gap, m=sol.m_star, certified=sol.certified)))
        c0 = time.process_time()
        V, W, total, solve = _cvxpy_solve(X, y, D, "relu", lam)
        obj, viol = evaluate(augment(X), y, D, V, W, lam)
        out.put(("ref", (obj, viol, total, solve, time.process_time() - c0)))


def bench_nd_case(n, d, gates, args, lam=LAM, seed=0, max_iter=50_000):
    """Ours (ReLU, tol 1e-8) vs cvxpy + Clarabel on one d > 2 instance, interleaved (best of
    3, 1 for ``P·n > 50 000``) in a child process stopped after ``--cvxpy-timeout`` s (a row
    then says what did not finish)."""
    X, y, D, G = gaussian_case(n, d, gates, seed)
    repeats = 1 if len(D) * n > 50_000 else 3
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_nd_interleaved, args=(X, y, D, G, lam, max_iter, repeats, q))
    p.start()
    p.join(args.cvxpy_timeout)
    if p.is_alive():
        p.kill()
        p.join()
    ours, refs = [], []
    while not q.empty():
        kind, value = q.get()
        (ours if kind == "ours" else refs).append(value)
    row = dict(n=n, kind=f"d={d}", P=len(D), form="relu", lam=lam, scnn=None)
    if not ours:
        row.update(ours=f"did not finish in {args.cvxpy_timeout:.0f} s (NOT certified)")
    else:
        row.update(min(ours, key=lambda r: r["t"]), cpu=min(r["cpu"] for r in ours))
    row["ref"] = (min(refs, key=lambda r: r[2])[:4] + (min(r[4] for r in refs),) if refs else
                  f"did not finish in {args.cvxpy_timeout:.0f} s")   # best wall, best CPU
    return row


def fmt_row(r):
    case = f"{r['kind']:7s} n={r['n']:<3d} P={r['P']:<6d} {r['form']:5s} λ={r['lam']:g}"
    if "ours" in r:                                       # ours did not finish
        return f"{case} | ours {r['ours']} | cvxpy+Clarabel: {r['ref']}", False
    ours = f"{r['obj']:.8f} viol {r['viol']:.1e} {r['t']:7.3f} s"
    if "certified" in r:
        ours += f" gap {r['gap']:.0e} {'certified' if r['certified'] else 'NOT certified'}"
    if isinstance(r["ref"], str):
        return f"{case} | ours {ours} | cvxpy+Clarabel: {r['ref']}", None
    obj, viol, total, solve = r["ref"][:4]
    rel = (r["obj"] - obj) / abs(obj)
    met = rel <= 1e-4 and r["viol"] <= 1e-8 and r["t"] <= total and r.get("certified", True)
    goal = met and r["t"] * 2 <= total
    line = (f"{case} | ours {ours} | Clarabel {obj:.8f} viol {viol:.1e} {total:7.3f} s "
            f"(solve {solve:.2f}) | ours − Clarabel {r['obj'] - obj:+.1e} (rel {rel:+.1e}) | "
            f"speed-up {total / r['t']:5.1f}x | "
            f"{'MET' if met else 'NOT MET'}{' (≥2x)' if goal else ''}")
    if "cpu" in r and len(r["ref"]) > 4:           # d > 2 rows: CPU seconds (shared machine)
        line += (f" | CPU ours {r['cpu']:.3f} s, cvxpy+Clarabel {r['ref'][4]:.3f} s "
                 f"({r['ref'][4] / r['cpu']:.1f}x)")
    if r["scnn"] is not None:
        so, sv, st = r["scnn"]
        line += f" | pyscnn {so:.8f} ({(so - obj) / abs(obj):+.1e}) viol {sv:.1e} {st:.2f} s"
    return line, met


def bench_pattern_map(repeats=5):
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(512, 2)), 0.5 * rng.normal(size=512)
    g = np.linspace(-1, 1, 1024)
    pattern_ids([(W, b)], g, g)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ids = pattern_ids([(W, b)], g, g)
        times.append(time.perf_counter() - t0)
    return min(times), float(np.median(times)), int(ids.max() + 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small cases only")
    ap.add_argument("--threads", default="1", help="BLAS/torch threads (set before import)")
    ap.add_argument("--cvxpy-timeout", type=float, default=300.0)
    ap.add_argument("--no-pyscnn", action="store_true")
    ap.add_argument("--nd-only", action="store_true", help="only the d > 2 section")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(int(args.threads))
    X, y = make_dataset("spiral", 8, 0.05, 0)                 # warm both solvers up
    fit_convex(X, y, LAM)
    q = mp.get_context("fork").Queue()
    run_cvxpy(X, y, enumerate_patterns(X), "relu", LAM, q)
    print(f"threads: {os.environ.get('OPENBLAS_NUM_THREADS')} (BLAS), "
          f"{torch.get_num_threads()} (torch); data: spiral, noise 0.05; tol 1e-8; "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}\n")
    print("case | ours: objective, cone violation, wall | cvxpy + Clarabel: objective, "
          "violation, wall (build + solve) | ours − Clarabel (relative) | speed-up | target")
    cases = [(10, "exact", 0), (20, "exact", 0), (30, "exact", 0), (50, "sampled", 200),
             (100, "sampled", 1000), (200, "sampled", 200), (200, "sampled", 1000)]
    if args.quick:
        cases = cases[:4]
    if args.nd_only:
        cases = []
    mets = []
    for n, kind, gates in cases:
        for form in ("relu", "gated"):
            line, met = fmt_row(bench_case(n, kind, gates, form, LAM, args))
            mets.append(met)
            print(line, flush=True)
    if not (args.quick or args.nd_only):
        print("\nall exact 2-D patterns at n = 200 (report only):")
        for form in ("relu", "gated"):
            print(fmt_row(bench_case(200, "exact", 0, form, LAM, args))[0], flush=True)
    print("\nd > 2, Gaussian data, sampled patterns (issue #18):")
    nd_cases = [(60, 3, 60), (100, 6, 100), (150, 10, 120), (200, 20, 500)]
    for n, d, gates in nd_cases[:2] if args.quick else nd_cases:
        for lam in (LAM, 0.1):
            line, met = fmt_row(bench_nd_case(n, d, gates, args, lam=lam))
            mets.append(met)
            print(line, flush=True)
    best, med, k = bench_pattern_map()
    print(f"\npattern-id map, width 512, 1024 x 1024 grid: best {best:.3f} s, median {med:.3f} s "
          f"({k} regions) | target ≤ 0.5 s: {'MET' if best <= 0.5 else 'NOT MET'}")
    done = [m for m in mets if m is not None]
    print(f"convex targets (n ≤ 200, p ≤ 1000): {sum(done)}/{len(done)} cases met; "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()

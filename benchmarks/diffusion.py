"""Diffusion-paths engine benchmark: batched DDPM with an exact mixture score vs plain NumPy.

Work: ``N = 100 000`` particles × ``1 000`` ancestral DDPM steps (SCIENCE.md §3.1) with the
exact score of an 8-component 2-D Gaussian mixture (§3.2), float32. Target: ≤ 8 s on the
2-core CPU and ≥ 3× a straightforward NumPy implementation of the same steps (per step:
noised covariances, per-component precision / log-det, Mahalanobis terms, log-sum-exp,
responsibility-weighted score, Tweedie estimate, ancestral update). NumPy is timed on fewer
steps (``--numpy-steps``) and extrapolated linearly; both numbers and the ratio are printed.

The engine run uses ``engine.diffusion.solve`` exactly as the app does, at ``--threads``
and (for comparison on a shared machine) at one thread, with a bounded recording: every
``--record-every``-th frame of the first ``--record-particles`` particles (+ the full final
cloud, + 8 fully traced particles); its size is printed.

Run::

    .venv/bin/python benchmarks/diffusion.py [--particles 100000] [--steps 1000]
        [--numpy-steps 50] [--threads 2] [--device cpu|cuda] [--metrics]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from engine.diffusion import GaussianMixture, Schedule, solve  # noqa: E402


def make_prior(k: int = 8) -> GaussianMixture:
    """``k`` anisotropic components on a circle of radius 2 (float64, CPU)."""
    ang = 2 * math.pi * np.arange(k) / k
    means = 2.0 * np.stack([np.cos(ang), np.sin(ang)], 1)
    covs = []
    for a in ang:
        R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        covs.append(R @ np.diag([0.05 ** 2, 0.3 ** 2]) @ R.T)
    return GaussianMixture(torch.full((k,), 1.0 / k, dtype=torch.float64),
                           torch.tensor(means), torch.tensor(np.stack(covs)))


def numpy_score(x, ab, pi, mu, cov):
    """Straightforward NumPy exact score of the noised mixture at ``x`` (N, 2), float32."""
    d = x.shape[1]
    logp, scores = [], []
    for k in range(len(pi)):
        C = (ab * cov[k] + (1.0 - ab) * np.eye(d)).astype(np.float32)
        P = np.linalg.inv(C).astype(np.float32)
        diff = x - np.float32(math.sqrt(ab)) * mu[k]
        pd = diff @ P
        maha = np.einsum("ni,ni->n", pd, diff)
        logdet = np.float32(np.linalg.slogdet(C)[1])
        logp.append(np.log(pi[k]) - 0.5 * logdet - 0.5 * maha - np.float32(math.log(2 * math.pi)))
        scores.append(-pd)
    logp = np.stack(logp, 1)
    w = np.exp(logp - logp.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    return np.einsum("nk,kni->ni", w, np.stack(scores))


def numpy_ddpm(prior: GaussianMixture, n: int, steps_total: int, steps_run: int, seed: int):
    """Run the first ``steps_run`` steps of an ``steps_total``-step DDPM in NumPy; seconds."""
    pi, mu, cov = (t.numpy().astype(np.float32) for t in (prior.weights, prior.means,
                                                          prior.covs))
    sched = Schedule.linear()
    grid = sched.grid(steps_total)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 2), dtype=np.float32)
    t0 = time.perf_counter()
    for i in range(steps_run):
        t, s = grid[i], grid[i + 1]
        ab_t, ab_s = sched.ab(t), sched.ab(s)
        score = numpy_score(x, ab_t, pi, mu, cov)
        x0 = (x + np.float32(1 - ab_t) * score) / np.float32(math.sqrt(ab_t))
        alpha = ab_t / ab_s
        c0 = math.sqrt(ab_s) * (1 - alpha) / (1 - ab_t)
        ct = math.sqrt(alpha) * (1 - ab_s) / (1 - ab_t)
        sig = math.sqrt((1 - alpha) * (1 - ab_s) / (1 - ab_t))
        x = np.float32(c0) * x0 + np.float32(ct) * x + np.float32(sig) * rng.standard_normal(
            (n, 2), dtype=np.float32)
    return time.perf_counter() - t0


def check_same_score(prior: GaussianMixture) -> float:
    """Max |engine score - NumPy score| at random points (the two do the same work)."""
    x = torch.randn(1000, 2, generator=torch.Generator().manual_seed(0))
    p32 = prior.to("cpu", torch.float32)
    ab = 0.3
    eng = p32.noised(ab).score(x).numpy()
    ref = numpy_score(x.numpy(), ab, *(t.numpy().astype(np.float32) for t in
                                       (prior.weights, prior.means, prior.covs)))
    return float(np.abs(eng - ref).max() / (np.abs(ref).max() + 1e-12))


def pick_device(requested: str) -> str:
    if requested.startswith("cuda") and not torch.cuda.is_available():
        print(f"device {requested!r} is not available (torch {torch.__version__} without CUDA); "
              "falling back to the CPU")
        return "cpu"
    return requested


def run_engine(prior, args, device: str):
    """Seconds and the recording of the engine's DDPM run (a warm-up run first)."""
    kw = dict(n_particles=args.particles, n_steps=args.steps, seed=0, device=device,
              dtype="float32", record_every=args.record_every,
              record_particles=args.record_particles, n_trails=8, metrics=args.metrics)
    solve("ddpm", prior, **{**kw, "n_steps": 5, "n_particles": 1000})        # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    rec = solve("ddpm", prior, **kw)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0, rec


def recording_bytes(rec) -> int:
    tensors = [rec.x, rec.x0_hat, rec.final, rec.trails, rec.t, rec.step_index,
               *rec.metrics.values()]
    return sum(t.numel() * t.element_size() for t in tensors)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--particles", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--numpy-steps", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--record-every", type=int, default=50)
    ap.add_argument("--record-particles", type=int, default=2000)
    ap.add_argument("--metrics", action="store_true", help="also compute per-frame metrics")
    ap.add_argument("--no-single", action="store_true",
                    help="skip the extra single-thread engine run")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    prior = make_prior(8)
    print(f"DDPM, {args.particles} particles x {args.steps} steps, 8-component exact score, "
          f"float32, {args.threads} threads, device {device}")
    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"note: load average {load:.1f} on {os.cpu_count()} cores: other processes "
              "share the CPU; multi-threaded timings suffer most (OpenMP barriers wait for "
              "descheduled threads)")
    print(f"score check: engine vs NumPy max relative difference {check_same_score(prior):.1e}")
    t_eng, rec = run_engine(prior, args, device)
    rows = [(f"engine ({device}, {args.threads} thr)", args.steps, t_eng, t_eng)]
    if device == "cpu" and args.threads != 1 and not args.no_single:
        torch.set_num_threads(1)
        t1, _ = run_engine(prior, args, device)
        rows.append(("engine (cpu, 1 thr)", args.steps, t1, t1))
        torch.set_num_threads(args.threads)
    t_np = numpy_ddpm(prior, args.particles, args.steps, args.numpy_steps, seed=0)
    t_np_full = t_np * args.steps / args.numpy_steps
    rows.append(("NumPy per-step loop", args.numpy_steps, t_np, t_np_full))
    print(f"\n{'implementation':<24}{'steps timed':>12}{'time [s]':>11}{'ms/step':>10}"
          f"{'1000-step total [s]':>22}")
    for name, steps, t, total in rows:
        print(f"{name:<24}{steps:>12}{t:>11.2f}{1e3 * t / steps:>10.2f}"
              f"{total * 1000 / args.steps:>22.2f}")
    print()
    best = min(r[3] for r in rows[:-1])
    for name, _, _, total in rows[:-1]:
        print(f"speed-up {name} vs NumPy: {t_np_full / total:.1f}x  (target >= 3x)")
    print(f"best engine total {best:.2f} s  (target <= 8 s)   status: {rec.status}")
    print(f"recording: {tuple(rec.x.shape)} frames (every {rec.record_every} steps, first "
          f"{rec.x.shape[1]} particles) + final cloud {tuple(rec.final.shape)} + trails "
          f"{tuple(rec.trails.shape)} = {recording_bytes(rec) / 2**20:.1f} MiB "
          f"(all frames of all particles would be "
          f"{2 * (args.steps + 1) * args.particles * 2 * 4 / 2**20:.0f} MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

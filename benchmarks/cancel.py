"""Cancel latency per lab and phase (issue #17; goal ≤ 0.2 s everywhere).

Each case starts the lab's engine run in the app's worker (:class:`app.runner._Run`, the
thread the GUI's Runner uses), waits until the run reaches the phase named (a progress
message or fraction), waits ``settle`` seconds more so the cancel lands inside that phase's
work, then requests the cancel exactly as the Runner does and measures the time from the
request to the worker thread's end. ``how``: ``yield`` when the generator stopped at its next
report, ``interrupt`` when the runner had to raise ``RunCancelled`` in the worker (a step
without a report longer than ``app.runner.CANCEL_GRACE_S``).

Run: ``.venv/bin/python benchmarks/cancel.py [--quick] [--repeats 3] [--labs recon,regions]``.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere
warnings.filterwarnings("ignore")

import torch  # noqa: E402

from app.registry import LABS  # noqa: E402
from app.runner import _Run  # noqa: E402
from engine.core import config_from_dict  # noqa: E402

GOAL_S = 0.2
PHASE_TIMEOUT_S = 120.0


@dataclass
class Case:
    """One lab, one phase: the config overrides and when the phase has begun."""
    lab: str
    phase: str
    overrides: dict
    reached: Callable[[float, str], bool]
    settle: float = 0.3
    before: Callable[[], None] = field(default=lambda: None)


def _fresh_radon() -> None:
    """Forget the in-memory CT operators so the recon set-up builds one (disk cache aside)."""
    from engine.recon.lab import cached_radon
    cached_radon.cache_clear()


def _drawn_points(n: int = 10_000) -> list:
    """A noisy ring of ``n`` drawn points (the most the diffusion lab accepts)."""
    import numpy as np
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 2 * np.pi, n)
    pts = np.stack([2 * np.cos(a), np.sin(a)], 1) + 0.05 * rng.normal(size=(n, 2))
    return pts.round(4).tolist()


def cases(quick: bool) -> list[Case]:
    """The measured phases (``quick``: smaller sizes, same phases)."""
    n, slices = (64, 8) if quick else (128, 16)
    return [
        Case("gradient-flow", "simulation", {}, lambda f, m: f < 0.8, 0.2),
        Case("gradient-flow", "study after the main run", {},
             lambda f, m: f >= 0.82, 0.2),
        Case("regions", "convex program", {}, lambda f, m: True, 0.1),
        Case("regions", "training", {}, lambda f, m: "training" in m, 0.3),
        Case("regions", "region maps", {}, lambda f, m: "map" in m, 0.05),
        Case("diffusion", "sampling", {}, lambda f, m: f > 0.0, 0.3),
        Case("diffusion", "EM fit of 10 000 drawn points, 32 components",
             {"prior": "custom", "fit_components": 32, "custom_points": _drawn_points()},
             lambda f, m: "EM fit: iteration" in m, 0.3),
        Case("recon", "set-up (new CT geometry)",
             {"size": 2 * n, "slices": slices, "n_views": 97, "method_a": "fbp",
              "method_b": "none"}, lambda f, m: True, 0.0, _fresh_radon),
        Case("recon", f"iterative (TV, {slices}×{n}²)",
             {"size": n, "slices": slices, "method_a": "tv", "method_b": "none",
              "iters": 2000}, lambda f, m: "step" in m, 0.3),
        Case("recon", f"DDS ({slices}×{n}²)",
             {"size": n, "slices": slices, "method_a": "dds", "method_b": "none",
              "diffusion_steps": 200}, lambda f, m: "dds" in m and "step" in m, 0.3),
    ]


def _start_phase(case: Case) -> tuple[_Run, float]:
    """Start the case's run; return it once the phase has begun (and settled)."""
    spec = LABS[case.lab]
    cfg = config_from_dict(spec.config_class(), case.overrides)
    case.before()
    run = _Run(lambda: spec.run_entry()(cfg, "cpu"), case.lab)
    if case.phase.startswith("set-up"):          # the set-up precedes the first report
        run.thread.start()
        time.sleep(case.settle + 0.05)
        return run, 0.0
    run.thread.start()
    deadline = time.perf_counter() + PHASE_TIMEOUT_S
    while time.perf_counter() < deadline and run.outcome is None:
        progress = run.progress
        if progress is not None and case.reached(*progress):
            time.sleep(case.settle)
            return run, progress[0]
        time.sleep(0.002)
    return run, float("nan")


def measure(case: Case) -> tuple[float, str]:
    """(seconds from the cancel request to the worker's end, how it stopped)."""
    run, _ = _start_phase(case)
    if run.outcome is not None:
        return float("nan"), f"ended before the cancel ({run.outcome[0]})"
    t0 = time.perf_counter()
    run.request_cancel()
    run.thread.join(60.0)
    latency = time.perf_counter() - t0
    if run.thread.is_alive():
        return latency, "STILL RUNNING after 60 s"
    return latency, "interrupt" if run.interrupts else "yield"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller recon volumes")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--labs", default="", help="comma-separated labs (default: all)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    labs = {s.strip() for s in args.labs.split(",") if s.strip()}
    print(f"{'lab':14} {'phase':32} {'worst ms':>9} {'median ms':>9}  how")
    worst_all = 0.0
    for case in cases(args.quick):
        if labs and case.lab not in labs:
            continue
        got = [measure(case) for _ in range(max(1, args.repeats))]
        times = sorted(t for t, _ in got if t == t)
        hows = sorted({h for _, h in got})
        if not times:
            print(f"{case.lab:14} {case.phase:32} {'-':>9} {'-':>9}  {', '.join(hows)}")
            continue
        worst_all = max(worst_all, times[-1])
        print(f"{case.lab:14} {case.phase:32} {1e3 * times[-1]:9.0f} "
              f"{1e3 * times[len(times) // 2]:9.0f}  {', '.join(hows)}", flush=True)
    verdict = "meets" if worst_all <= GOAL_S else "MISSES"
    print(f"worst {1e3 * worst_all:.0f} ms: {verdict} the {1e3 * GOAL_S:.0f} ms goal")
    return 0 if worst_all <= GOAL_S else 1


if __name__ == "__main__":
    raise SystemExit(main())

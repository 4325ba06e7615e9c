"""A homotopy in λ for large sampled-pattern ReLU programs (SCIENCE.md §2.3, §2.6).

With d > 2 and a small λ the working-set rounds of :mod:`engine.regions.convex` start far
from the support of the optimum. Solving first at larger λ (few nonzero groups, fast) and
passing each stage's solution and working set on to the next lands close to the requested
program's support; only the last stage's certificate, over every group, is returned.
"""
from __future__ import annotations

from typing import Callable, Generator

from engine.regions.dual import relay

__all__ = ["continuation", "CONTINUATION", "LAM_CONTINUE", "CONTINUE_SIZE"]

CONTINUATION = (10.0, 6.0, 3.5, 2.0, 1.4)  # large d > 2 ReLU programs with λ < LAM_CONTINUE
LAM_CONTINUE = 0.05      # are first solved at these multiples of λ (a homotopy in λ) when
CONTINUE_SIZE = 1_000_000  # groups · n · (d + 1) ≥ this


def continuation(prob, method: str, tol: float, max_iter: int,
                 working_set: Callable) -> Generator:
    """Large sampled-pattern ReLU programs (d > 2) with a small λ: solved first at
    ``λ·CONTINUATION[k]`` (largest first, to a relative gap of 1e-4), each solution and
    working set starting the next — a homotopy in λ: a large λ has few nonzero groups and
    solves fast, and each stage's support is close to the next one's (at n = 200, d = 20,
    P = 500, λ = 0.01: ~50 s instead of not finishing in 330 s). The last stage is the
    requested program; its certificate (over all groups) is the one returned."""
    lam = prob.lam
    size = len(prob.pat) * prob.A.shape[0] * prob.A.shape[1]
    homotopy = (prob.relu and method == "projected" and prob.cones is None
                and lam < LAM_CONTINUE and size >= CONTINUE_SIZE)
    stages = [lam * f for f in CONTINUATION] * homotopy + [lam]
    start, used = None, 0
    for k, stage in enumerate(stages):
        prob.lam, prob.last_cert = stage, None
        last = k == len(stages) - 1
        U, ws, info, history = yield from relay(working_set(
            prob, method, tol if last else max(tol, 1e-4), max_iter - used, start),
            k / len(stages), (k + 1) / len(stages))
        used += info[0]
        start = (ws, U)
    return U, ws, (used, info[1], info[2]), history

"""The non-convex networks trained by Adam (or plain gradient descent) from several seeds at
once (SCIENCE.md §7.1.8; plain GD for batch norm's implicit bias, §7.2.4).

Each seed's weights live in one slice of a leading seed axis; the summed objective's gradient
is the per-seed gradient, and Adam is elementwise, so the runs are independent — one batched
run instead of a loop. A run whose objective stops being finite (or grows past ``1e6`` times
its start) is stopped there: its row is NaN afterwards and its path up to there is kept.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Generator, Sequence

import numpy as np
import torch

from engine.core import Progress

__all__ = ["GDRuns", "adam_runs", "init_weights", "relu_net_objective", "OPTIMIZERS"]


@dataclass
class GDRuns:
    """Recorded objectives and final weights of the seeds' runs.

    Attributes
    ----------
    steps : (T,) int array
    objectives : (S, T) float array
        NaN after a run diverged.
    weights : list of (S, ...) arrays
        The final weights (the last finite ones for a diverged run).
    diverged : (S,) bool array
    """
    steps: np.ndarray
    objectives: np.ndarray
    weights: list
    diverged: np.ndarray


def init_weights(seeds: Sequence[int], shapes: Sequence[tuple], scale: float = 0.5
                 ) -> list[torch.Tensor]:
    """Gaussian initial weights of the given shapes (``std = scale/√fan_in``), one stacked
    slice per seed drawn from ``torch.Generator().manual_seed(seed)``; float64."""
    out = [[] for _ in shapes]
    for seed in seeds:
        gen = torch.Generator().manual_seed(int(seed))
        for k, shape in enumerate(shapes):
            std = scale / np.sqrt(max(shape[0], 1))
            out[k].append(torch.randn(shape, generator=gen, dtype=torch.float64) * std)
    return [torch.stack(ws).requires_grad_(True) for ws in out]


class _Adam:
    """Adam (Kingma & Ba 2015; β₁ = 0.9, β₂ = 0.999, ε = 1e-8), written out: importing
    ``torch.optim`` pulls in ``torch._dynamo`` (seconds on a loaded CPU)."""

    def __init__(self, weights: list[torch.Tensor], lr: float):
        self.weights, self.lr, self.t = weights, lr, 0
        self.m = [torch.zeros_like(w) for w in weights]
        self.v = [torch.zeros_like(w) for w in weights]

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        c1, c2 = 1 - 0.9 ** self.t, 1 - 0.999 ** self.t
        for w, m, v in zip(self.weights, self.m, self.v):
            m.mul_(0.9).add_(w.grad, alpha=0.1)
            v.mul_(0.999).addcmul_(w.grad, w.grad, value=0.001)
            w.sub_(self.lr * (m / c1) / ((v / c2).sqrt() + 1e-8))
            w.grad = None


def relu_net_objective(X: np.ndarray, Y: np.ndarray, beta: float
                       ) -> Callable[[list], torch.Tensor]:
    """The per-seed objective ``½‖relu(XU)V − Y‖² + (β/2)(‖U‖² + ‖V‖²)`` of stacked weights
    ``(U (S, d, m), V (S, m, c))`` (SCIENCE.md §7.1.1)."""
    Xt, Yt = torch.as_tensor(X), torch.as_tensor(Y)

    def value(ws):
        U, V = ws
        fit = torch.relu(Xt @ U) @ V - Yt
        return 0.5 * (fit ** 2).sum((1, 2)) + 0.5 * beta * ((U ** 2).sum((1, 2))
                                                             + (V ** 2).sum((1, 2)))
    return value


class _GradientDescent:
    """Plain gradient descent ``w ← w − η ∇w``: no per-coordinate rescaling, so its implicit
    bias is the parameterisation's (SCIENCE.md §7.2.4)."""

    def __init__(self, weights: list[torch.Tensor], lr: float):
        self.weights, self.lr = weights, lr

    @torch.no_grad()
    def step(self) -> None:
        for w in self.weights:
            w.sub_(self.lr * w.grad)
            w.grad = None


OPTIMIZERS = {"Adam": _Adam, "GD": _GradientDescent}


def _record_points(steps: int, points: int = 200) -> np.ndarray:
    pts = np.unique(np.round(np.geomspace(1, steps, points)).astype(int))
    return np.concatenate([[0], pts])


def adam_runs(weights: list[torch.Tensor], objective: Callable[[list], torch.Tensor],
              steps: int, lr: float, *, stage: str = "gd", every_s: float = 0.25,
              seeds: Sequence[int] | None = None, method: str = "Adam"
              ) -> Generator[Progress, None, GDRuns]:
    """Adam (``method="GD"``: plain gradient descent) on ``objective(weights) -> (S,)`` (one
    value per seed) for ``steps`` steps.

    Yields Progress whose partial is ``{"stage": stage, "steps", "objectives", "seeds",
    "optimizer": method}`` (every run so far; ``seeds`` the rows' seeds, default 0..S−1) at
    most every ``every_s`` seconds; returns :class:`GDRuns`.
    """
    record = _record_points(int(steps))
    opt = OPTIMIZERS[method](weights, lr)
    S = weights[0].shape[0]
    seed_ids = np.arange(S) if seeds is None else np.asarray(seeds)
    objs = np.full((S, len(record)), np.nan)
    alive = torch.ones(S, dtype=torch.bool)
    start, last_yield, k_rec = None, time.monotonic(), 0
    best = [w.detach().clone() for w in weights]
    for step in range(int(steps) + 1):
        values = objective(weights)
        finite = torch.isfinite(values).detach()
        if start is None:
            start = values.detach().abs().clamp(min=1.0)
        alive &= finite & (values.detach().abs() < 1e6 * start)
        if k_rec < len(record) and step == record[k_rec]:
            objs[:, k_rec] = np.where(alive.numpy(), values.detach().numpy(), np.nan)
            k_rec += 1
        for w, b in zip(weights, best):
            b[alive] = w.detach()[alive]
        if step == steps or not alive.any():
            break
        torch.where(alive, values, torch.zeros_like(values)).sum().backward()
        opt.step()
        if time.monotonic() - last_yield > every_s:
            last_yield = time.monotonic()
            yield Progress(step / steps, f"{method} step {step}/{steps}",
                           {"stage": stage, "steps": record[:k_rec].copy(),
                            "objectives": objs[:, :k_rec].copy(), "seeds": seed_ids,
                            "optimizer": method})
    return GDRuns(record, objs, [b.numpy() for b in best], ~alive.numpy())

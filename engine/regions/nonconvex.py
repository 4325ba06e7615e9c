"""Non-convex training of ReLU networks with weight decay, recorded step by step (§2.1).

The two-layer model is ``f(x) = relu([x, 1] W₁ᵀ) w₂`` with the objective of
:func:`engine.regions.two_layer_objective` (scnn scaling, bias penalised). Deeper nets stack
hidden layers ``h_l = relu([h_{l−1}, 1] W_lᵀ)`` under a linear output ``w_out``; the penalty is
``(λ/2)(Σ_l ‖W_l‖² + ‖w_out‖²)``. Several seeds train together as one batch on the device
(float64, autograd); each seed's initialisation comes from its own generator, so a seed gives
the same run alone or in a batch. Optimisers: gradient descent or Adam (β = (0.9, 0.999),
ε = 1e-8).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Generator, Optional, Sequence

import numpy as np
import torch

from engine.core import Progress, drain, make_generator
from engine.regions.solution import check_data

__all__ = ["NonconvexRun", "divergence_notes", "fit_nonconvex", "fit_nonconvex_batch",
           "fit_nonconvex_iter", "MAX_BYTES", "snapshot_steps"]

MAX_BYTES = 2 * 2**30
_REPORT_SECONDS = 0.04
_DIVERGED = 1e12


@dataclass
class NonconvexRun:
    """One recorded run (CPU numpy, float64).

    Attributes
    ----------
    seed, optimizer, lr, lam : the run's settings.
    objective : (steps+1,)
        Objective after ``k`` steps (``k = 0..steps``; NaN after a divergence).
    steps : (T,) int
        Steps of the snapshots (0 and the last step included).
    layers : list of (T, m_l, in_l + 1)
        Hidden-layer weights with the bias in the last column, at each snapshot.
    w_out : (T, m_L)
        Output weights at each snapshot.
    diverged_step : int or None
        First step whose objective was non-finite or above 1e12 (training of that seed stops).
    """
    seed: int
    optimizer: str
    lr: float
    lam: float
    objective: np.ndarray
    steps: np.ndarray
    layers: list
    w_out: np.ndarray
    diverged_step: Optional[int]

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def W1(self) -> np.ndarray:
        """First-layer snapshots (T, m, d+1) (``(W, b)`` as one matrix)."""
        return self.layers[0]

    @property
    def w2(self) -> np.ndarray:
        """Second-layer snapshots (T, m) of a two-layer run."""
        if self.depth != 1:
            raise ValueError("w2 is defined for two-layer runs; use w_out for deep nets")
        return self.w_out

    @property
    def final_objective(self) -> float:
        return float(self.objective[-1])

    @property
    def note(self) -> Optional[str]:
        """What the user must know about this run: None, or that it diverged and where."""
        if self.diverged_step is None:
            return None
        return (f"seed {self.seed} diverged at step {self.diverged_step} (objective NaN or "
                f"above {_DIVERGED:.0e}; {self.optimizer}, step size {self.lr:g}): its "
                "training stopped there and its path up to then is kept — lower the step size")

    def hidden_at(self, k: int = -1) -> list[tuple[np.ndarray, np.ndarray]]:
        """``[(W_l, b_l), ...]`` of snapshot ``k`` (input for :func:`pattern_ids`)."""
        return [(L[k][:, :-1], L[k][:, -1]) for L in self.layers]


def snapshot_steps(steps: int, n_snapshots: int) -> np.ndarray:
    """Evenly spaced snapshot steps in ``[0, steps]`` (both ends, no duplicates)."""
    return np.unique(np.round(np.linspace(0, steps, max(2, n_snapshots))).astype(np.int64))


def _init(seeds, d, widths, scale, device) -> list[torch.Tensor]:
    """Per-seed He-normal hidden layers (fan-in incl. bias) and ``N(0, 1/m)`` output."""
    params = []
    fan = [d] + list(widths)
    for seed in seeds:
        gen = make_generator(seed, device)
        one = [torch.randn(m, fan[i] + 1, generator=gen, device=device, dtype=torch.float64)
               * (scale * math.sqrt(2.0 / (fan[i] + 1))) for i, m in enumerate(widths)]
        one.append(torch.randn(widths[-1], generator=gen, device=device, dtype=torch.float64)
                   * (scale / math.sqrt(widths[-1])))
        params.append(one)
    return [torch.stack([p[i] for p in params]).requires_grad_(True)
            for i in range(len(widths) + 1)]


def _objective(params, X1, y, lam) -> torch.Tensor:
    """Per-seed objective (B,) of the batched nets ``params`` on ``X1 = [X, 1]``."""
    h = X1.expand(params[0].shape[0], -1, -1)
    for W in params[:-1]:
        a = torch.relu(h @ W.transpose(1, 2))
        h = torch.cat([a, torch.ones_like(a[..., :1])], dim=-1)
    out = torch.einsum("bnm,bm->bn", h[..., :-1], params[-1])
    fit = 0.5 * ((out - y) ** 2).mean(dim=1)
    pen = sum((W ** 2).flatten(1).sum(dim=1) for W in params)
    return fit + 0.5 * lam * pen


def _check_size(n_seeds, n, widths, d, n_snap) -> None:
    per = sum(m * (f + 1) for m, f in zip(widths, [d] + list(widths[:-1]))) + widths[-1]
    need = 8 * n_seeds * (per * (n_snap + 6) + 4 * n * sum(widths))
    if need > MAX_BYTES:
        raise ValueError(f"training would need about {need / 2**30:.1f} GiB (limit "
                         f"{MAX_BYTES / 2**30:.0f} GiB): reduce the width, depth, seeds or "
                         "snapshots")


def _validate(width, depth, lam, steps, lr, optimizer) -> list[int]:
    if int(width) < 1 or int(depth) < 1:
        raise ValueError(f"width and depth must be ≥ 1, got {width} and {depth}")
    if not (np.isfinite(lam) and lam >= 0):
        raise ValueError(f"λ (lam) must be ≥ 0, got {lam}")
    if int(steps) < 0 or not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"steps must be ≥ 0 and lr > 0, got {steps} and {lr}")
    if optimizer not in ("gd", "adam"):
        raise ValueError(f"optimizer must be 'gd' or 'adam', got {optimizer!r}")
    return [int(width)] * int(depth)


class _Optimizer:
    """Batched GD / Adam update with a per-seed ``alive`` mask (diverged seeds freeze)."""

    def __init__(self, params, kind, lr):
        self.kind, self.lr, self.t = kind, lr, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self, params, grads, alive):
        self.t += 1
        for p, g, m, v in zip(params, grads, self.m, self.v):
            mask = alive.view(-1, *([1] * (p.dim() - 1)))
            if self.kind == "gd":
                p.sub_(self.lr * g * mask)
                continue
            m.mul_(0.9).add_(g, alpha=0.1)
            v.mul_(0.999).addcmul_(g, g, value=0.001)
            mhat, vhat = m / (1 - 0.9 ** self.t), v / (1 - 0.999 ** self.t)
            p.sub_(self.lr * mhat / (vhat.sqrt() + 1e-8) * mask)


def fit_nonconvex_iter(X, y, width: int, lam: float, steps: int, lr: float,
                       seeds: Sequence[int], optimizer: str = "gd", depth: int = 1,
                       n_snapshots: int = 50, init_scale: float = 1.0,
                       device: str = "cpu") -> Generator:
    """Progress generator of :func:`fit_nonconvex_batch` (reports every ~40 ms; each report's
    ``partial`` is ``{"objective": (B, k + 1), "step": k, "W1": (B, m, d + 1)}``: the curves
    so far and the first layer now)."""
    X, y = check_data(X, y)
    widths = _validate(width, depth, lam, steps, lr, optimizer)
    seeds = [int(s) for s in seeds]
    snaps = snapshot_steps(int(steps), n_snapshots)
    _check_size(len(seeds), len(X), widths, X.shape[1], len(snaps))
    X1 = torch.as_tensor(np.hstack([X, np.ones((len(X), 1))]), device=device)
    yt = torch.as_tensor(y, device=device)
    params = _init(seeds, X.shape[1], widths, init_scale, device)
    opt, B = _Optimizer(params, optimizer, float(lr)), len(seeds)
    obj = np.full((B, int(steps) + 1), np.nan)
    rec = [np.empty((len(snaps), B) + tuple(p.shape[1:])) for p in params]
    alive, div, last, si = torch.ones(B, device=device), [None] * B, time.perf_counter(), 0
    for k in range(int(steps) + 1):
        f = _objective(params, X1, yt, float(lam))
        fk = f.detach().cpu().numpy()
        stopped = _mark_diverged(fk, k, div, alive)
        obj[:, k] = np.where(alive.cpu().numpy() > 0, fk, np.nan)
        if stopped:
            yield Progress(k / max(1, int(steps)), f"seed {seeds[stopped[0]]} diverged at "
                           f"step {k}: its training stopped (lower the step size)")
        if si < len(snaps) and snaps[si] == k:
            for r, p in zip(rec, params):
                r[si] = p.detach().cpu().numpy()
            si += 1
        if k == int(steps) or not bool(alive.any()):
            break
        grads = torch.autograd.grad(f.sum(), params)
        opt.step(params, grads, alive)
        if time.perf_counter() - last >= _REPORT_SECONDS:
            last = time.perf_counter()
            yield Progress(k / max(1, int(steps)), f"training: step {k}/{steps}",
                           {"objective": obj[:, :k + 1].copy(), "step": k,
                            "W1": params[0].detach().cpu().numpy().copy()})
    return _runs(seeds, optimizer, lr, lam, obj, snaps, si, rec, div)


def _mark_diverged(fk, k, div, alive) -> list[int]:
    """Stop the seeds whose objective is non-finite or above 1e12; the batch rows stopped now."""
    new = []
    for b in np.flatnonzero(~np.isfinite(fk) | (fk > _DIVERGED)):
        if div[b] is None:
            div[b] = k
            alive[b] = 0.0
            new.append(int(b))
    return new


def divergence_notes(runs: Sequence[Optional[NonconvexRun]]) -> list[str]:
    """The notes of the runs that diverged (:attr:`NonconvexRun.note`), in order."""
    return [r.note for r in runs if r is not None and r.note is not None]


def _runs(seeds, optimizer, lr, lam, obj, snaps, n_rec, rec, div) -> list[NonconvexRun]:
    """Split the batch into per-seed runs; snapshots after a stop repeat the last state."""
    for r in rec:
        r[n_rec:] = r[max(0, n_rec - 1)]
    out = []
    for b, seed in enumerate(seeds):
        out.append(NonconvexRun(seed, optimizer, float(lr), float(lam), obj[b], snaps.copy(),
                                [r[:, b] for r in rec[:-1]], rec[-1][:, b], div[b]))
    return out


def fit_nonconvex_batch(X, y, width, lam, steps, lr, seeds, **kwargs) -> list[NonconvexRun]:
    """Several seeds at once (one batch); see :func:`fit_nonconvex`."""
    return drain(fit_nonconvex_iter(X, y, width, lam, steps, lr, seeds, **kwargs))


def fit_nonconvex(X, y, width: int, lam: float, steps: int, lr: float, seed: int = 0,
                  optimizer: str = "gd", depth: int = 1, n_snapshots: int = 50,
                  init_scale: float = 1.0, device: str = "cpu") -> NonconvexRun:
    """Train a ReLU net of ``depth`` hidden layers of ``width`` by GD or Adam (§2.1).

    Parameters
    ----------
    X : (n, d). y : (n,). width : m. lam : λ ≥ 0 (weight decay, scnn scaling).
    steps : optimiser steps. lr : step size. seed : initialisation seed.
    optimizer : ``"gd"`` or ``"adam"``. n_snapshots : recorded weight snapshots.

    Returns
    -------
    NonconvexRun
        ``objective`` (steps+1,) in the scaling of :func:`two_layer_objective`.
    """
    return fit_nonconvex_batch(X, y, width, lam, steps, lr, [seed], optimizer=optimizer,
                               depth=depth, n_snapshots=n_snapshots, init_scale=init_scale,
                               device=device)[0]

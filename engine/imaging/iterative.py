"""Iterative CT reconstructions as progress generators: SIRT, CGLS, TV by PDHG (SCIENCE.md §4.3).

Each ``*_iter`` generator yields :class:`engine.core.Progress` every ``every`` iterations with
``partial`` = a copy of the current iterate ``(z, n, n)`` and returns the final volume; the
plain function drains it.  Stopping the iteration cancels.  ``history`` (a list, optional)
receives one dict per iteration (relative data residual, and the method's own quantity).
"""
from __future__ import annotations

from collections.abc import Generator

import torch

from engine.core import Progress, drain
from engine.core.algorithms import cg, pdhg, project_group_ball
from engine.core.linop import FiniteDifference, Scaled, divergence, forward_differences
from engine.imaging.ct import Radon

__all__ = [
    "TV_MODES",
    "cgls",
    "cgls_iter",
    "div",
    "grad",
    "sirt",
    "sirt_iter",
    "tv_pdhg",
    "tv_pdhg_iter",
]

TV_MODES = ("2d", "3d", "z")


def _prepare(sino: torch.Tensor, radon: Radon, x0: torch.Tensor | None):
    y = sino.to(radon.device)
    y = y if y.is_floating_point() else y.to(radon.dtype)
    if y.dim() == 2:
        y = y.unsqueeze(0)
    if tuple(y.shape[1:]) != radon.sino_shape:
        raise ValueError(f"sinogram shape {tuple(sino.shape)} does not match {radon.sino_shape}")
    shape = (y.shape[0], radon.n, radon.n)
    x = torch.zeros(shape, dtype=y.dtype, device=y.device) if x0 is None else \
        x0.to(y.device, y.dtype).reshape(shape).clone()
    return y, x, float(y.norm()) or 1.0


def _due(k: int, iters: int, every: int) -> bool:
    """Whether iteration ``k`` (0-based) is reported."""
    return (k + 1) % max(1, every) == 0 or k + 1 == iters


def _report(k: int, iters: int, every: int, name: str, res: float, x: torch.Tensor):
    if _due(k, iters, every):
        return Progress((k + 1) / iters, f"{name} {k + 1}/{iters}: residual {res:.3e}", x.clone())
    return None


def sirt_iter(sino: torch.Tensor, radon: Radon, iters: int = 100, relax: float = 1.0,
              x0: torch.Tensor | None = None, nonneg: bool = True, every: int = 10,
              history: list | None = None) -> Generator[Progress, None, torch.Tensor]:
    """SIRT ``x ← x + λ C A^T R (y - A x)`` (SCIENCE.md §4.3), batched over slices.

    ``R = diag(1 / row sums)``, ``C = diag(1 / column sums)`` of the projector, relaxation
    ``relax`` ∈ (0, 2), optional clip to ``x ≥ 0``.  ``history`` gets ``{"residual":
    ||y - Ax|| / ||y||}`` per iteration (the residual before the update).
    """
    if not 0 < relax < 2:
        raise ValueError("relax must lie in (0, 2)")
    y, x, ynorm = _prepare(sino, radon, x0)
    rows = radon.forward(torch.ones((1, radon.n, radon.n), dtype=y.dtype, device=y.device))
    cols = radon.adjoint(torch.ones((1, *radon.sino_shape), dtype=y.dtype, device=y.device))
    rinv = torch.where(rows > 0, 1.0 / rows.clamp(min=1e-12), torch.zeros_like(rows))
    cinv = torch.where(cols > 0, 1.0 / cols.clamp(min=1e-12), torch.zeros_like(cols))
    for k in range(iters):
        r = y - radon.forward(x)
        res = float(r.norm()) / ynorm
        if history is not None:
            history.append({"residual": res})
        x = x + relax * cinv * radon.adjoint(rinv * r)
        if nonneg:
            x = x.clamp(min=0)
        if (p := _report(k, iters, every, "SIRT", res, x)) is not None:
            yield p
    return x


def sirt(sino, radon, **kw) -> torch.Tensor:
    """SIRT without progress reports (drains :func:`sirt_iter`)."""
    return drain(sirt_iter(sino, radon, **kw))


def cgls_iter(sino: torch.Tensor, radon: Radon, iters: int = 30,
              x0: torch.Tensor | None = None, every: int = 5,
              history: list | None = None) -> Generator[Progress, None, torch.Tensor]:
    """CGLS: conjugate gradients on ``A^T A x = A^T y`` without forming ``A^T A`` (§4.3).

    The core :func:`engine.core.algorithms.cg` with ``AᵀA p`` applied as ``Aᵀ(A p)``; the data
    residual ``r = y - Ax`` is updated with the same step, ``r ← r - α A p`` (no extra
    projection).  Independent CG per slice (step sizes per slice).  ``history`` gets
    ``{"residual": ||y - Ax|| / ||y||, "normal": ||A^T (y - Ax)|| / ||A^T y||}`` after each
    iteration.
    """
    y, x, ynorm = _prepare(sino, radon, x0)
    r = y - radon.forward(x)
    last = {}

    def normal(p):
        last["Ap"] = radon.forward(p)
        return radon.adjoint(last["Ap"])

    b = radon.adjoint(y)
    snorm0 = float(b.norm()) or 1.0
    for state in cg(normal, b, x, iters, batch_dims=1):
        r = r - state.stats["alpha"] * last["Ap"]
        k, x = state.k - 1, state.x
        res = float(r.norm()) / ynorm
        if history is not None:
            history.append({"residual": res,
                            "normal": float(state.stats["rr"].sum().sqrt()) / snorm0})
        if (pr := _report(k, iters, every, "CGLS", res, x)) is not None:
            yield pr
    return x


def cgls(sino, radon, **kw) -> torch.Tensor:
    """CGLS without progress reports (drains :func:`cgls_iter`)."""
    return drain(cgls_iter(sino, radon, **kw))


def _tv_axes(mode: str) -> tuple[int, ...]:
    return (-2, -1) if mode == "2d" else (-3, -2, -1)


def grad(x: torch.Tensor, mode: str = "2d") -> torch.Tensor:
    """Forward differences (Neumann boundary) of ``x (z, y, x)`` (§4.3).

    ``"2d"``: components (d_y, d_x) per slice; ``"3d"`` and ``"z"``: (d_z, d_y, d_x).
    Returns a stacked tensor ``(k, z, y, x)`` (:func:`engine.core.linop.forward_differences`).
    """
    return forward_differences(x, _tv_axes(mode))


def div(q: torch.Tensor, mode: str = "2d") -> torch.Tensor:
    """Discrete divergence, the exact negative adjoint of :func:`grad` (``-div = ∇^T``)."""
    return divergence(q, _tv_axes(mode))


def _mag(q: torch.Tensor) -> torch.Tensor:
    """Pointwise Euclidean norm over the component axis 0 (faster than ``norm(dim=0)`` on CPU)."""
    return (q * q).sum(dim=0).sqrt()


def _tv_project(q: torch.Tensor, lam: float, mode: str) -> torch.Tensor:
    """Project the dual variable onto the TV ball: isotropic per voxel; "z" keeps d_z apart.

    ``lam = 0`` is the ball ``{0}`` (the unregularised limit, plain least squares), never the
    0/0 of the scaled projection."""
    if lam <= 0:
        return torch.zeros_like(q)
    if mode == "z":
        return torch.cat([q[:1].clamp(-lam, lam), project_group_ball(q[1:], lam)])
    return project_group_ball(q, lam)


def tv_pdhg_iter(sino: torch.Tensor, radon: Radon, lam: float = 1e-4, iters: int = 200,
                 tv: str = "2d", x0: torch.Tensor | None = None, nonneg: bool = True,
                 ratio: float = 30.0, every: int = 10, history: list | None = None
                 ) -> Generator[Progress, None, torch.Tensor]:
    """TV-regularised CT by PDHG / Chambolle–Pock with ``K = [A; ∇]`` (SCIENCE.md §4.3).

    Solves ``min_x ½||A' x - y'||² + lam · TV(x)`` (``x ≥ 0`` if ``nonneg``) with the operator
    normalised, ``A' = A / ||A||``, ``y' = y / ||A||`` (so ``lam`` does not depend on the number
    of views or the slice size).  ``tv``: ``"2d"`` isotropic TV per slice, ``"3d"`` isotropic
    3-D TV, ``"z"`` 2-D isotropic TV plus ``||D_z x||_1``.  Steps ``τ = ratio · s``,
    ``σ = s / ratio`` with ``s = 0.99 / ||K||``, ``||K||² ≤ 1 + 8`` (2-D) or ``1 + 12`` (3-D), so
    ``στ||K||² < 1``; ``ratio ≈ 30`` (large primal steps) converges far faster from ``x = 0``
    than ``ratio = 1`` on 128² phantoms.  Runs the core :func:`engine.core.algorithms.pdhg`.
    ``history`` gets ``{"residual", "objective"}``.  ``lam = 0`` is the unregularised limit
    (the dual TV variable stays 0: PDHG on least squares).
    """
    if tv not in TV_MODES:
        raise ValueError(f"unknown tv mode {tv!r}; choose from {TV_MODES}")
    if not lam >= 0 or lam == float("inf"):
        raise ValueError(f"the TV weight λ must be a finite number ≥ 0 (got {lam})")
    y, x, ynorm = _prepare(sino, radon, x0)
    scale = radon.norm()
    yn = y / scale
    step = 0.99 / (1.0 + (8.0 if tv == "2d" else 12.0)) ** 0.5
    ops = [Scaled(radon, 1.0 / scale), FiniteDifference(x.shape, _tv_axes(tv), x.dtype, x.device)]
    proxes = [lambda v, s: (v - s * yn) / (1.0 + s), lambda q, s: _tv_project(q, lam, tv)]
    run = pdhg(ops, proxes, x, step / ratio, step * ratio, iters,
               primal_prox=(lambda v, t: v.clamp(min=0)) if nonneg else None,
               every=1 if history is not None else every)
    for state in run:
        k, x = state.k - 1, state.x
        if history is None and not _due(k, iters, every):
            continue
        r = y - radon.forward(x)
        res = float(r.norm()) / ynorm
        if history is not None:
            g = ops[1].forward(x)
            tvv = (g[:1].abs().sum() + _mag(g[1:]).sum()) if tv == "z" else _mag(g).sum()
            history.append({"residual": res,
                            "objective": 0.5 * float((r / scale).norm()) ** 2 + lam * float(tvv)})
        if (pr := _report(k, iters, every, "TV-PDHG", res, x)) is not None:
            yield pr
    return x


def tv_pdhg(sino, radon, **kw) -> torch.Tensor:
    """TV-PDHG without progress reports (drains :func:`tv_pdhg_iter`)."""
    return drain(tv_pdhg_iter(sino, radon, **kw))

"""Iterative algorithms as resumable generators, and proximal maps (SCIENCE.md §4.3, §4.5).

Every algorithm is a generator (SigPy's ``Alg`` split: the iteration here, the driver —
progress, history, cancel — with the caller): it yields an :class:`Iterate` every ``every``
iterations and after the last one, and *returns* the final iterate.  A paused generator
continues exactly where it stopped, so draining it in pieces equals one uninterrupted run.
The yielded ``x`` is the live iterate: copy it to keep it.

* :func:`cg`: conjugate gradients for Hermitian positive (semi-)definite systems, one system
  or a batch of independent ones, real or complex.
* :func:`pdhg`: Chambolle–Pock primal–dual hybrid gradient for ``min_x G(x) + Σ_i F_i(K_i x)``.
* :func:`fista`: accelerated proximal gradient (Beck–Teboulle).
* prox maps: :func:`soft`, :func:`group_soft`, :func:`project_group_ball`, :func:`tv_prox`.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field

import torch

from engine.core.linop import FiniteDifference, LinearOperator, real_dtype
from engine.core.progress import drain

__all__ = ["Iterate", "cg", "fista", "group_soft", "pdhg", "project_group_ball", "soft",
           "tv_prox"]

Prox = Callable[[torch.Tensor, float], torch.Tensor]


@dataclass
class Iterate:
    """What an algorithm yields: iterations done ``k``, the iterate ``x`` and ``stats``.

    ``stats`` holds algorithm-specific values, e.g. CG's squared residual norms ``"rr"`` and
    last step sizes ``"alpha"`` (floats for one system, tensors with one entry per system for
    a batch).
    """
    k: int
    x: torch.Tensor
    stats: dict = field(default_factory=dict)


def _due(k: int, iters: int, every: int) -> bool:
    return k % max(1, int(every)) == 0 or k == iters


def _batched_dot(a: torch.Tensor, b: torch.Tensor, batch_dims: int) -> torch.Tensor:
    """``Re Σ conj(a) b`` over all but the first ``batch_dims`` axes (kept, size 1)."""
    prod = (a.conj() * b).real if a.is_complex() else a * b
    return prod.sum(dim=tuple(range(batch_dims, a.dim())), keepdim=True)


def cg(normal: Callable[[torch.Tensor], torch.Tensor], b: torch.Tensor,
       x0: torch.Tensor | None = None, iters: int = 20, *, batch_dims: int = 0,
       tol: float = 0.0, every: int = 1) -> Generator[Iterate, None, torch.Tensor]:
    """Conjugate gradients on ``M x = b``, ``M`` Hermitian positive semi-definite (§4.3, §4.5).

    Complex-safe (inner products ``Re ⟨u, v⟩``, exact for Hermitian ``M``).  With
    ``batch_dims = k`` the first ``k`` axes index independent systems sharing ``M`` (step
    sizes per system); systems whose residual reaches ``(10 ε)² (‖b‖² + ‖M x0‖²)`` or whose
    curvature ``⟨p, Mp⟩`` vanishes stop moving (no division by zero).

    Parameters
    ----------
    normal : callable
        Applies ``M`` (shape- and batch-preserving).
    b : torch.Tensor
        Right-hand side(s).
    x0 : torch.Tensor, optional
        Start (default zero); iterates stay in ``x0 + Krylov(M, b - M x0)``.
    iters : int
        Most iterations.
    batch_dims : int
        Leading axes of independent systems (0: one system).
    tol : float
        Stop early once every system has ``‖r‖ ≤ tol ‖b‖`` (0: never).
    every : int
        Yield every ``every`` iterations (and after the last one).
    """
    if batch_dims == 0:
        return (yield from _cg_single(normal, b, x0, iters, tol, every))
    x = torch.zeros_like(b) if x0 is None else x0
    mx0 = normal(x) if x0 is not None else torch.zeros_like(b)
    r = b - mx0
    p = r
    rr = _batched_dot(r, r, batch_dims)
    bb = _batched_dot(b, b, batch_dims)
    floor = ((10 * torch.finfo(real_dtype(b.dtype)).eps) ** 2
             * (bb + _batched_dot(mx0, mx0, batch_dims))).clamp_min(torch.finfo(rr.dtype).tiny)
    zero = torch.zeros_like(rr)
    for k in range(1, int(iters) + 1):
        if tol > 0 and bool((rr <= tol ** 2 * bb).all()):
            yield Iterate(k - 1, x, {"rr": rr})
            break
        mp = normal(p)
        pmp = _batched_dot(p, mp, batch_dims)
        live = (rr > floor) & (pmp > 0)
        alpha = torch.where(live, rr / torch.where(live, pmp, 1.0), zero)
        x = x + alpha * p
        r = r - alpha * mp
        rr_new = _batched_dot(r, r, batch_dims)
        p = r + torch.where(live, rr_new / torch.where(live, rr, 1.0), zero) * p
        rr = rr_new
        if _due(k, iters, every):
            yield Iterate(k, x, {"rr": rr, "alpha": alpha})
    return x


def _cg_single(normal, b, x0, iters, tol, every):
    """:func:`cg` for one system with Python-float step sizes and in-place updates (fast)."""
    def dot(u, v):
        return float(torch.vdot(u.reshape(-1), v.reshape(-1)).real)

    if x0 is None:
        x, r, mx0_sq = torch.zeros_like(b), b.clone(), 0.0
    else:
        mx0 = normal(x0)
        x, r, mx0_sq = x0.clone(), b - mx0, dot(mx0, mx0)
    p = r.clone()
    rr, bb = dot(r, r), dot(b, b)
    floor = max((10 * torch.finfo(real_dtype(b.dtype)).eps) ** 2 * (bb + mx0_sq), 1e-300)
    for k in range(1, int(iters) + 1):
        if tol > 0 and rr <= tol ** 2 * bb:
            yield Iterate(k - 1, x, {"rr": rr})
            break
        mp = normal(p)
        pmp = dot(p, mp)
        alpha = rr / pmp if rr > floor and pmp > 0 else 0.0
        x.add_(p, alpha=alpha)
        r.add_(mp, alpha=-alpha)
        rr_new = dot(r, r)
        beta = rr_new / rr if alpha else 0.0
        p.mul_(beta).add_(r)
        rr = rr_new
        if _due(k, iters, every):
            yield Iterate(k, x, {"rr": rr, "alpha": alpha})
    return x


def pdhg(ops: Sequence[LinearOperator], dual_proxes: Sequence[Prox], x0: torch.Tensor,
         sigma: float, tau: float, iters: int, *, primal_prox: Prox | None = None,
         duals: Sequence[torch.Tensor] | None = None,
         every: int = 1) -> Generator[Iterate, None, torch.Tensor]:
    """Primal–dual hybrid gradient (Chambolle & Pock 2011, Alg. 1 with θ = 1; SCIENCE.md §4.3).

    Solves ``min_x G(x) + Σ_i F_i(K_i x)`` with ``K = [K_1; K_2; …]``::

        y_i ← prox_{σF_i*}(y_i + σ K_i x̄),   x⁺ ← prox_{τG}(x - τ Σ_i K_iᴴ y_i),
        x̄ ← 2x⁺ - x.

    Converges for ``στ‖K‖² < 1``.

    Parameters
    ----------
    ops : sequence of LinearOperator
        The blocks ``K_i``.
    dual_proxes : sequence of callable
        ``prox_{σF_i*}(v, σ)``, one per block.
    x0 : torch.Tensor
        Start of ``x`` and ``x̄``.
    sigma, tau : float
        Dual and primal steps.
    iters, every : int
        Iterations; yield an :class:`Iterate` (``stats["duals"]``) every ``every``.
    primal_prox : callable, optional
        ``prox_{τG}(v, τ)``; ``None`` means ``G = 0``.
    duals : sequence of tensors, optional
        Start of the dual variables (default zero), e.g. those of an earlier run.
    """
    x = x0.clone()
    xbar = x.clone()
    ys = list(duals) if duals is not None else [torch.zeros_like(K.forward(x)) for K in ops]
    for k in range(1, int(iters) + 1):
        ys = [prox(y + sigma * K.forward(xbar), sigma) for K, prox, y in zip(ops, dual_proxes, ys)]
        step = ops[0].adjoint(ys[0])
        for K, y in zip(ops[1:], ys[1:]):
            step = step + K.adjoint(y)
        x_new = x - tau * step
        if primal_prox is not None:
            x_new = primal_prox(x_new, tau)
        xbar = 2 * x_new - x
        x = x_new
        if _due(k, iters, every):
            yield Iterate(k, x, {"duals": ys})
    return x


def fista(grad_f: Callable[[torch.Tensor], torch.Tensor], prox_g: Prox, x0: torch.Tensor,
          step: float, iters: int, *, every: int = 1) -> Generator[Iterate, None, torch.Tensor]:
    """FISTA for ``min_x f(x) + g(x)``, ``∇f`` ``L``-Lipschitz, ``step ≤ 1/L`` (Beck & Teboulle
    2009; SCIENCE.md §4.5)::

        x⁺ = prox_{step·g}(z - step ∇f(z)),  t⁺ = (1 + √(1 + 4t²))/2,  z = x⁺ + (t-1)/t⁺ (x⁺ - x).
    """
    x = x0.clone()
    z, t = x.clone(), 1.0
    for k in range(1, int(iters) + 1):
        x_new = prox_g(z - step * grad_f(z), step)
        t_new = (1 + math.sqrt(1 + 4 * t * t)) / 2
        z = x_new + ((t - 1) / t_new) * (x_new - x)
        x, t = x_new, t_new
        if _due(k, iters, every):
            yield Iterate(k, x, {"t": t})
    return x


def soft(z: torch.Tensor, tau) -> torch.Tensor:
    """Soft threshold, the prox of ``τ|·|``: ``z · max(0, 1 - τ/|z|)`` (real: ``sign(z)
    max(|z| - τ, 0)``; complex: shrinks the modulus, keeps the phase; SCIENCE.md §4.5)."""
    return z * torch.clamp(1 - tau / torch.clamp(z.abs(), min=1e-30), min=0)


def _sq_norm(q: torch.Tensor, dim: int) -> torch.Tensor:
    sq = torch.view_as_real(q).square().sum(-1) if q.is_complex() else q * q
    return sq.sum(dim=dim, keepdim=True)


def group_soft(z: torch.Tensor, tau, dim: int = 0) -> torch.Tensor:
    """Group soft threshold over ``dim``, the prox of ``τ Σ‖z_g‖₂``: ``z_g max(0, 1 - τ/‖z_g‖)``."""
    mag = _sq_norm(z, dim).sqrt()
    return z * torch.clamp(1 - tau / torch.clamp(mag, min=1e-30), min=0)


def project_group_ball(q: torch.Tensor, radius, dim: int = 0) -> torch.Tensor:
    """Projection of every group (over ``dim``) onto ``{‖q_g‖₂ ≤ radius}``: the prox of the
    conjugate of ``radius · Σ‖·‖₂`` (isotropic TV's dual step, SCIENCE.md §4.3);
    ``q - group_soft(q, radius)`` by Moreau."""
    return q / (_sq_norm(q, dim).sqrt() / radius).clamp(min=1.0)


def tv_prox(v: torch.Tensor, lam: float, axes: Sequence[int] = (-2, -1), iters: int = 200
            ) -> torch.Tensor:
    """Prox of isotropic TV: ``argmin_x ½‖x - v‖² + λ Σ‖∇x‖₂`` (ROF denoising; §4.3).

    Neumann differences along ``axes`` (:class:`engine.core.linop.FiniteDifference`), solved by
    :func:`pdhg` with ``σ = τ = 1/‖∇‖`` (on small ROF problems this plain form converges
    linearly and beats the O(1/k) iterate error of Chambolle–Pock's accelerated Alg. 2).
    """
    grad = FiniteDifference(v.shape, axes, v.dtype, v.device)
    step = 1.0 / max(grad.norm(), 1e-12)
    return drain(pdhg([grad], [lambda q, s: project_group_ball(q, lam)], v, step, step, iters,
                      primal_prox=lambda u, t: (u + t * v) / (1 + t), every=iters))

"""Population runs in the plane of ``w(0)`` and the teacher (SCIENCE.md §1.3-1.5).

The population gradient ``∇L(w) = α w + β v`` (§1.3) lies in ``span(w, v)``, and the chain
rule of the deep neuron (§1.5) only rescales it, so every fixed-step integrator (Euler, GD,
RK4) keeps ``w`` in the plane ``span(w(0), v)`` — step by step, not only in the limit.
Writing ``w = x e1 + y e2`` with ``e1 = v/ν`` and ``e2`` the unit direction of ``w(0)``'s
part orthogonal to ``v`` (one per initialisation), the run integrates the two coordinates
``(x, y)`` (plus the scalar layers ``a_2..a_L``) against the teacher ``(ν, 0)``: the same
discrete map as the ``d``-dimensional one (orthogonal maps commute with every step), at the
cost of ``d = 2`` whatever ``d`` is. :meth:`Plane.lift` maps the recorded frames back.

:class:`PlanarRK4` and :class:`PlanarEuler` are the fused one-layer steps: the gradient in
about a dozen in-place vector operations, the batch processed in cache-sized chunks.
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from engine.gradient_flow.kernels import chain_grad_fm, norm_floor

__all__ = ["Plane", "make_plane", "planar_grad_fm", "PlanarEuler", "PlanarRK4",
           "CHUNK", "run_parts", "worker_pool"]

CHUNK = 16_384   # trajectories per chunk and thread: the step's buffers stay in the L2 cache


_POOL: list = []


def worker_pool() -> ThreadPoolExecutor:
    """Worker threads (one per torch thread, created on first use) for batches split into
    slices whose vector operations stay below torch's parallel grain (#16)."""
    threads = torch.get_num_threads()
    if not _POOL or _POOL[0][1] < threads:
        _POOL[:] = [(ThreadPoolExecutor(threads, "gf-worker"), threads)]
    return _POOL[0][0]


def run_parts(fn, n: int, parallel: bool = True) -> None:
    """``fn(lo, hi)`` over ``[0, n)`` split into one range per torch thread on the worker
    pool (``parallel=False`` or one thread: a single call here); exceptions propagate."""
    parts = min(n, torch.get_num_threads()) if parallel else 1
    if parts <= 1:
        fn(0, n)
        return
    edges = [n * p // parts for p in range(parts + 1)]
    jobs = [worker_pool().submit(fn, a, b) for a, b in zip(edges[:-1], edges[1:])]
    for job in jobs:
        job.result()


@dataclass(frozen=True)
class Plane:
    """Per-initialisation orthonormal basis ``(e1, e2[i])`` of ``span(w_i(0), v)``.

    Attributes
    ----------
    v : Tensor (d,)
        The teacher.
    e1 : Tensor (d,)
        ``v / ν``.
    e2 : Tensor (N, d)
        Unit vectors orthogonal to ``e1`` (zeros when ``d = 1``: the plane is a line).
    """
    v: torch.Tensor
    e1: torch.Tensor
    e2: torch.Tensor

    def project(self, S: torch.Tensor) -> torch.Tensor:
        """Planar state ``(N, 2 + L - 1)``: ``(w·e1, w·e2, a_2..a_L)`` of ``S (N, d + L - 1)``."""
        d = self.e1.shape[0]
        w, a = S[:, :d], S[:, d:]
        xy = torch.stack([w @ self.e1, (w * self.e2).sum(dim=-1)], dim=-1)
        return torch.cat([xy, a], dim=-1)

    def lift(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Weights ``x e1 + y e2`` of plane coordinates ``x, y (..., N)``: ``(..., N, d)``.

        Written one output column at a time (``d`` strided writes of length-``N`` vector
        operations): with several torch threads on a loaded machine the broadcast along the
        short trailing axis ``d`` was ~15× slower (#16); on one thread both cost the same.
        """
        d = self.e1.shape[0]
        out = x.new_empty(tuple(x.shape) + (d,))
        e2t = self.e2.T.contiguous()
        for j, e1j in enumerate(self.e1.tolist()):
            torch.mul(y, e2t[j], out=out[..., j]).add_(x, alpha=e1j)
        return out

    def to(self, device, dtype) -> "Plane":
        """The basis on ``device`` in ``dtype``."""
        return Plane(*(a.to(device=device, dtype=dtype) for a in (self.v, self.e1, self.e2)))


def make_plane(w0: torch.Tensor, v: torch.Tensor) -> Plane:
    """Plane basis of the initial weights ``w0 (N, d)`` and the teacher ``v (d,)`` (float64).

    ``e2[i]`` is the normalised part of ``w0[i]`` orthogonal to ``v`` (Gram-Schmidt twice).
    A part below ``64 ε ‖w0[i]‖`` is rounding noise with no direction: ``w0[i]`` is then on
    the teacher's line, ``e2[i]`` is any unit vector orthogonal to ``v`` and ``y`` is 0 (and
    stays 0: the line is invariant, §1.4).
    """
    d = v.shape[0]
    e1 = v / torch.linalg.vector_norm(v)
    if d == 1:
        return Plane(v, e1, torch.zeros_like(w0))
    perp = w0 - (w0 @ e1).unsqueeze(-1) * e1
    perp = perp - (perp @ e1).unsqueeze(-1) * e1
    norm = torch.linalg.vector_norm(perp, dim=-1, keepdim=True)
    noise = 64 * torch.finfo(w0.dtype).eps * torch.linalg.vector_norm(w0, dim=-1, keepdim=True)
    axis = torch.zeros_like(e1)
    axis[int(torch.argmin(e1.abs()))] = 1.0
    spare = axis - (axis @ e1) * e1
    spare = spare / torch.linalg.vector_norm(spare)
    e2 = torch.where(norm > noise, perp / norm.clamp_min(1e-300), spare)
    return Plane(v, e1, e2)


def _grad_into(P, G, t1, t2, t3, nu: float) -> None:
    """Planar population gradient ``α w + β v`` of ``w = (x, y) = P (2, m)``, ``v = (ν, 0)``.

    ``α = ½ - ν |y| / (2π r²)`` (``= ½ - ν sin θ/(2π r)``, §1.3), ``β ν = -ν φ/(2π)`` with
    ``φ = π - θ = π/2 + atan(q)``, ``q = x/|y|`` (``atan2`` is not vectorised for float64 on
    the CPU and cost over half of an RK4 step; ``atan`` is, and ``|y|`` floored at ``√tiny``
    keeps ``w = 0`` and the teacher's line exact: ``φ = π/2`` and ``0`` or ``π``).  With
    ``q`` at hand, ``|y|/r² = 1/(|y| + x q)``: a fused multiply-add and a reciprocal (#16:
    ten vector operations per gradient).  Writes ``G (2, m)``, uses ``t1, t2, t3 (m,)`` as
    scratch; ``G = α P`` is one operation on both rows.
    """
    k = nu / (2.0 * math.pi)
    x, y = P[0], P[1]
    torch.abs(y, out=t1).clamp_min_(norm_floor(x.dtype))       # |y| (> 0)
    q = torch.div(x, t1, out=t3)                                # q = x/|y|
    torch.atan(q, out=t2)                                       # φ - π/2
    alpha = torch.sub(0.5, t1.addcmul_(x, q).reciprocal_(), alpha=k, out=t1)  # |y|/r²
    torch.mul(P, alpha, out=G)                                  # α w
    G[0].add_(t2, alpha=-k).sub_(0.25 * nu)                     # - kφ  (kπ/2 = ν/4)


def planar_grad_fm(W: torch.Tensor, nu: float) -> torch.Tensor:
    """Population gradient of planar weights ``W (2, M)`` against ``v = (ν, 0)`` (§1.3)."""
    out = torch.empty_like(W)
    _grad_into(W, out, *(torch.empty_like(W[0]) for _ in range(3)), nu)
    return out


class _Chunked:
    """A fused one-layer step over cache-sized chunks with reused scratch buffers.

    Chunks are at most :data:`CHUNK` long, below torch's parallel grain (32 768): each
    operation runs on the calling thread, and :func:`advance_parallel` runs one stepper per
    slice of the batch on its own thread (no fork-join per vector operation).
    """

    n_pairs = 0     # (2, chunk) buffers
    n_buffers = 3   # (chunk,) buffers

    def __init__(self, nu: float):
        self.nu = nu
        self._work: list[torch.Tensor] = []

    def _scratch(self, S: torch.Tensor) -> tuple[int, list[torch.Tensor]]:
        """Chunk length, ``n_pairs`` buffers ``(2, chunk)`` then ``n_buffers`` of ``(chunk,)``
        (allocated once); the whole batch is one chunk on an accelerator."""
        chunk = S.shape[1] if S.device.type != "cpu" else min(S.shape[1], CHUNK)
        if (not self._work or self._work[-1].shape[0] < chunk
                or self._work[0].dtype != S.dtype or self._work[0].device != S.device):
            self._work = ([S.new_empty((2, chunk)) for _ in range(self.n_pairs)]
                          + [S.new_empty(chunk) for _ in range(self.n_buffers)])
        return chunk, self._work

    def __call__(self, prob, S: torch.Tensor, h: float) -> torch.Tensor:
        """One step of the planar state ``S (2, N)``; returns a new tensor."""
        out = torch.empty_like(S)
        chunk, work = self._scratch(S)
        for lo in range(0, S.shape[1], chunk):
            hi = min(S.shape[1], lo + chunk)
            bufs = work if hi - lo == work[-1].shape[0] else [b[..., :hi - lo] for b in work]
            self._step(S[:, lo:hi], out[:, lo:hi], h, bufs)
        return out

    def fresh(self) -> "_Chunked":
        """A stepper of the same kind with its own scratch buffers (one per thread)."""
        return type(self)(self.nu)

    def _step(self, S, out, h, bufs) -> None:
        raise NotImplementedError


class PlanarEuler(_Chunked):
    """Explicit Euler / gradient descent ``w - h ∇L(w)`` on planar one-layer states."""

    n_pairs = 1

    def _step(self, S, out, h, bufs) -> None:
        G, t1, t2, t3 = bufs
        _grad_into(S, G, t1, t2, t3, self.nu)
        torch.add(S, G, alpha=-h, out=out)


def _alpha_atan(P, alpha, atan_q, q, nu: float) -> None:
    """``α`` into ``alpha`` and ``atan(x/|y|) = φ - π/2`` into ``atan_q`` at planar ``P (2, m)``
    (the parts of :func:`_grad_into`; ``q`` is scratch): ``∇L = α w - (k atan(q) + ν/4) e_x``
    with ``k = ν/(2π)`` (§1.3)."""
    k = nu / (2.0 * math.pi)
    x, y = P[0], P[1]
    torch.abs(y, out=alpha).clamp_min_(norm_floor(x.dtype))    # |y| (> 0)
    torch.div(x, alpha, out=q)
    torch.atan(q, out=atan_q)
    torch.sub(0.5, alpha.addcmul_(x, q).reciprocal_(), alpha=k, out=alpha)


class PlanarRK4(_Chunked):
    """Classical RK4 of ``dw/dt = -∇L(w)`` on planar one-layer states (fused, in place).

    The gradient at a stage point ``P`` is ``α P - (k a + ν/4) e_x`` (``a = atan(x/|y|)``,
    :func:`_alpha_atan`); it is never formed: the accumulator takes ``α P`` and ``a`` with
    fused multiply-adds, the next stage point ``S - c h ∇L`` is built from ``α``, ``a`` and
    the x-row shifted by the constant, ``S_x + c h ν/4``, made once per step (#16: about 52
    vector passes per step instead of 58; the same discrete map up to rounding).
    """

    n_pairs = 2
    n_buffers = 5

    def _step(self, S, out, h, bufs) -> None:
        A, P, shift_half, shift_full, alpha, atan_q, q = bufs
        k, c = self.nu / (2.0 * math.pi), 0.25 * self.nu
        torch.add(S[0], 0.5 * h * c, out=shift_half)
        torch.add(S[0], h * c, out=shift_full)
        _alpha_atan(S, alpha, atan_q, q, self.nu)                 # k1 (+ ν/4 e_x) → A
        torch.mul(S, alpha, out=A)
        A[0].add_(atan_q, alpha=-k)
        torch.add(S[1], A[1], alpha=-0.5 * h, out=P[1])
        torch.add(shift_half, A[0], alpha=-0.5 * h, out=P[0])
        for weight, reach, shift in ((2.0, 0.5 * h, shift_half), (2.0, h, shift_full)):
            _alpha_atan(P, alpha, atan_q, q, self.nu)             # k2, k3
            A.addcmul_(P, alpha, value=weight)
            A[0].add_(atan_q, alpha=-weight * k)
            torch.addcmul(S[1], P[1], alpha, value=-reach, out=P[1])
            torch.addcmul(shift, P[0], alpha, value=-reach, out=P[0]).add_(atan_q,
                                                                          alpha=reach * k)
        _alpha_atan(P, alpha, atan_q, q, self.nu)                 # k4
        A.addcmul_(P, alpha)
        A[0].add_(atan_q, alpha=-k)
        torch.add(S[1], A[1], alpha=-h / 6.0, out=out[1])         # A holds Σ w_i (k_i + ν/4 e_x)
        torch.add(shift_full, A[0], alpha=-h / 6.0, out=out[0])

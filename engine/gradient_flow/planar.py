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
about a dozen in-place vector operations, the batch processed in equal cache-sized chunks;
the RK4 step hands each chunk's first-stage ``|y|`` and arctangent to a frame hook, so a
recorded frame costs no arctangent of its own (#16).
"""
from __future__ import annotations

import functools
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

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


def _grad_rows(x, y, g0, g1, t1, t2, t3, nu: float) -> None:
    """Planar population gradient ``α w + β v`` of ``w = (x, y)`` (rows of length ``m``),
    ``v = (ν, 0)``, into the rows ``g0, g1``.

    ``α = ½ - ν |y| / (2π r²)`` (``= ½ - ν sin θ/(2π r)``, §1.3), ``β ν = -ν φ/(2π)`` with
    ``φ = π - θ = π/2 + atan(q)``, ``q = x/|y|`` (``atan2`` is not vectorised for float64 on
    the CPU and cost over half of an RK4 step; ``atan`` is, and ``|y|`` floored at ``√tiny``
    keeps ``w = 0`` and the teacher's line exact: ``φ = π/2`` and ``0`` or ``π``).  With
    ``q`` at hand, ``|y|/r² = 1/(|y| + x q)``: a fused multiply-add and a reciprocal (#16:
    ten vector operations per gradient).  ``t1, t2, t3 (m,)`` are scratch.
    """
    k = nu / (2.0 * math.pi)
    torch.abs(y, out=t1).clamp_min_(norm_floor(x.dtype))       # |y| (> 0)
    q = torch.div(x, t1, out=t3)                                # q = x/|y|
    torch.atan(q, out=t2)                                       # φ - π/2
    alpha = torch.sub(0.5, t1.addcmul_(x, q).reciprocal_(), alpha=k, out=t1)  # |y|/r²
    torch.mul(x, alpha, out=g0)                                 # α w
    torch.mul(y, alpha, out=g1)
    g0.add_(t2, alpha=-k).sub_(0.25 * nu)                       # - kφ  (kπ/2 = ν/4)


def planar_grad_fm(W: torch.Tensor, nu: float) -> torch.Tensor:
    """Population gradient of planar weights ``W (2, M)`` against ``v = (ν, 0)`` (§1.3)."""
    out = torch.empty_like(W)
    _grad_rows(W[0], W[1], out[0], out[1], *(torch.empty_like(W[0]) for _ in range(3)), nu)
    return out


class _Chunked:
    """A fused one-layer step over cache-sized chunks with reused scratch buffers.

    The batch is cut into equal chunks of at most ~1.1 :data:`CHUNK` (below torch's parallel
    grain, 32 768: each operation runs on the calling thread, and
    the runner's blocks run one stepper per slice of the batch on its own thread, no
    fork-join per vector operation); equal chunks, not a short last one, because each chunk
    costs the same Python dispatch whatever its length (#16).
    """

    n_buffers = 3   # (chunk,) buffers
    records_stage = False   # True: ``__call__`` can hand a frame hook the first stage's values

    def __init__(self, nu: float):
        self.nu = nu
        self.k = nu / (2.0 * math.pi)
        self._work: list[torch.Tensor] = []

    def _scratch(self, S: torch.Tensor) -> tuple[int, list[torch.Tensor]]:
        """Chunk length and ``n_buffers`` buffers of ``(chunk,)`` (allocated once); the whole
        batch is one chunk on an accelerator."""
        n = S.shape[1]
        parts = 1 if S.device.type != "cpu" else max(1, math.ceil(n / (1.1 * CHUNK)))
        chunk = max(1, math.ceil(n / parts))
        if (not self._work or self._work[-1].shape[0] < chunk
                or self._work[0].dtype != S.dtype or self._work[0].device != S.device):
            self._work = [S.new_empty(chunk) for _ in range(self.n_buffers)]
            self._consts(S)
        return chunk, self._work

    def _consts(self, S: torch.Tensor) -> None:
        """Scalar tensors on the state's device and dtype (none by default)."""

    def __call__(self, prob, S: torch.Tensor, h: float, record=None,
                 out: Optional[torch.Tensor] = None) -> torch.Tensor:
        """One step of the planar state ``S (2, N)`` into ``out`` (a new tensor by default,
        never ``S``); returns it.

        ``record(lo, hi, x, y, ay, atan_q, scratch)``, for a stepper with
        :attr:`records_stage`, receives each chunk's columns ``lo:hi`` of ``S`` with
        ``|y|`` (floored) and ``atan(x/|y|)`` of its first stage (the frame fields of ``S``,
        :mod:`~engine.gradient_flow.planar_frames`) and a free ``(hi - lo,)`` buffer.
        """
        out = torch.empty_like(S) if out is None else out
        chunk, work = self._scratch(S)
        n = S.shape[1]
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            bufs = work if hi - lo == work[-1].shape[0] else [b[:hi - lo] for b in work]
            hook = None if record is None else functools.partial(record, lo, hi)
            self._step(S[0, lo:hi], S[1, lo:hi], out[0, lo:hi], out[1, lo:hi], h, bufs, hook)
        return out

    def fresh(self) -> "_Chunked":
        """A stepper of the same kind with its own scratch buffers (one per thread)."""
        return type(self)(self.nu)

    def _step(self, x, y, ox, oy, h, bufs, hook) -> None:
        raise NotImplementedError


class PlanarEuler(_Chunked):
    """Explicit Euler / gradient descent ``w - h ∇L(w)`` on planar one-layer states."""

    n_buffers = 5

    def _step(self, x, y, ox, oy, h, bufs, hook) -> None:
        g0, g1, t1, t2, t3 = bufs
        _grad_rows(x, y, g0, g1, t1, t2, t3, self.nu)
        torch.add(x, g0, alpha=-h, out=ox)
        torch.add(y, g1, alpha=-h, out=oy)


class PlanarRK4(_Chunked):
    """Classical RK4 of ``dw/dt = -∇L(w)`` on planar one-layer states (fused, in place).

    At a stage point ``P = (x, y)`` the gradient is ``(α x - k a - ν/4, α y)`` with
    ``a = atan(x/|y|)``, ``k = ν/(2π)`` (§1.3, :func:`_grad_rows`).  Its x-row is carried
    as ``G = a - α x/k`` (``∇_x L = -k G - ν/4``: one fused multiply-add per stage instead
    of a product and a sum), the constant ``ν/4`` folded into the shifted rows
    ``S_x + c h ν/4`` made once per step, ``α = ½ - k/(|y| + x q)`` is one ``addcdiv``, and
    the output accumulates ``- h w_i k_i / 6`` stage by stage (no accumulator buffers): 44
    vector passes per step over 11 arrays (#16; 53 over 13 before), the same discrete map
    up to rounding.
    """

    n_buffers = 7
    records_stage = True

    def _consts(self, S: torch.Tensor) -> None:
        self._half = S.new_tensor(0.5)
        self._minus_k = S.new_tensor(-self.k)
        self._floor = norm_floor(S.dtype)

    def _stage(self, px, py, ay, a, q, g, hook=None):
        """``α`` and ``G = atan(x/|y|) - α x/k`` (into ``g``) at ``(px, py)``; returns ``α``
        (in ``q``: ``addcdiv`` writing over one of its inputs runs at half speed, #16).
        ``hook(px, py, |y|, atan, scratch)`` sees ``|y|`` and the arctangent first."""
        torch.abs(py, out=ay).clamp_min_(self._floor)             # |y| (> 0)
        torch.div(px, ay, out=q)                                  # q = x/|y|
        torch.atan(q, out=a)                                      # φ - π/2
        if hook is not None:
            hook(px, py, ay, a, self._spare)
        ay.addcmul_(px, q)                                        # |y| + x q = r²/|y|
        alpha = torch.addcdiv(self._half, self._minus_k, ay, out=q)
        torch.addcmul(a, px, alpha, value=-1.0 / self.k, out=g)    # G
        return alpha

    def _step(self, x, y, ox, oy, h, bufs, hook) -> None:
        t1, a, t2, P0, P1, shift_half, shift_full = bufs
        k, c = self.k, 0.25 * self.nu
        torch.add(x, 0.5 * h * c, out=shift_half)
        torch.add(x, h * c, out=shift_full)
        self._spare = P0                                           # free until stage 1 ends
        alpha = self._stage(x, y, t1, a, t2, t1, hook)             # k1: G1 over |y|'s buffer
        torch.add(shift_full, t1, alpha=h * k / 6.0, out=ox)        # out = S - h/6 Σ w_i k_i,
        torch.addcmul(y, y, alpha, value=-h / 6.0, out=oy)          # accumulated stage by stage
        torch.add(shift_half, t1, alpha=0.5 * h * k, out=P0)
        torch.addcmul(y, y, alpha, value=-0.5 * h, out=P1)
        for reach, shift in ((0.5 * h, shift_half), (h, shift_full)):   # k2, k3
            alpha = self._stage(P0, P1, t1, a, t2, t1)
            ox.add_(t1, alpha=h * k / 3.0)
            oy.addcmul_(P1, alpha, value=-h / 3.0)
            torch.add(shift, t1, alpha=reach * k, out=P0)
            torch.addcmul(y, P1, alpha, value=-reach, out=P1)
        alpha = self._stage(P0, P1, t1, a, t2, t1)                 # k4
        ox.add_(t1, alpha=h * k / 6.0)
        oy.addcmul_(P1, alpha, value=-h / 6.0)

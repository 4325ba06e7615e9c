"""The gradient-flow lab's run as it was at the start of issue #16's third pass: the
"before" baseline that ``benchmarks/gradient_flow.py`` times in the same run.

Two things changed since (SCIENCE.md §1.3-1.4, same numbers up to rounding): the fused
planar RK4 step (53 vector passes per step, the frame fields computed in a second
arctangent pass after the step) and the §1.4 bound arrays (computed eagerly, now on first
read).  :func:`session_start` runs ``run_config`` with the stepper below — the step of that
time, verbatim — and reads both bound arrays inside the timed call, as the run then
computed them.
"""
from __future__ import annotations

import contextlib
import math

import torch

from engine.gradient_flow import runner
from engine.gradient_flow.kernels import norm_floor
from engine.gradient_flow.planar import CHUNK

__all__ = ["StartRK4", "session_start"]


def _alpha_atan(P, alpha, atan_q, q, nu: float) -> None:
    k = nu / (2.0 * math.pi)
    x, y = P[0], P[1]
    torch.abs(y, out=alpha).clamp_min_(norm_floor(x.dtype))
    torch.div(x, alpha, out=q)
    torch.atan(q, out=atan_q)
    torch.sub(0.5, alpha.addcmul_(x, q).reciprocal_(), alpha=k, out=alpha)


class StartRK4:
    """The planar RK4 step at the start of the pass (chunks of :data:`CHUNK`, a short last
    one; a fresh output tensor per step; the frame fields written after the step)."""

    def __init__(self, nu: float):
        self.nu = nu
        self._work: list = []

    def __call__(self, prob, S: torch.Tensor, h: float) -> torch.Tensor:
        out = torch.empty_like(S)
        chunk = min(S.shape[1], CHUNK)
        if not self._work or self._work[-1].shape[0] < chunk or self._work[0].dtype != S.dtype:
            self._work = ([S.new_empty((2, chunk)) for _ in range(2)]
                          + [S.new_empty(chunk) for _ in range(5)])
        for lo in range(0, S.shape[1], chunk):
            hi = min(S.shape[1], lo + chunk)
            bufs = (self._work if hi - lo == self._work[-1].shape[0]
                    else [b[..., :hi - lo] for b in self._work])
            self._step(S[:, lo:hi], out[:, lo:hi], h, bufs)
        return out

    def fresh(self) -> "StartRK4":
        return StartRK4(self.nu)

    def _step(self, S, out, h, bufs) -> None:
        A, P, shift_half, shift_full, alpha, atan_q, q = bufs
        k, c = self.nu / (2.0 * math.pi), 0.25 * self.nu
        torch.add(S[0], 0.5 * h * c, out=shift_half)
        torch.add(S[0], h * c, out=shift_full)
        _alpha_atan(S, alpha, atan_q, q, self.nu)
        torch.mul(S, alpha, out=A)
        A[0].add_(atan_q, alpha=-k)
        torch.add(S[1], A[1], alpha=-0.5 * h, out=P[1])
        torch.add(shift_half, A[0], alpha=-0.5 * h, out=P[0])
        for weight, reach, shift in ((2.0, 0.5 * h, shift_half), (2.0, h, shift_full)):
            _alpha_atan(P, alpha, atan_q, q, self.nu)
            A.addcmul_(P, alpha, value=weight)
            A[0].add_(atan_q, alpha=-weight * k)
            torch.addcmul(S[1], P[1], alpha, value=-reach, out=P[1])
            torch.addcmul(shift, P[0], alpha, value=-reach, out=P[0]).add_(atan_q,
                                                                          alpha=reach * k)
        _alpha_atan(P, alpha, atan_q, q, self.nu)
        A.addcmul_(P, alpha)
        A[0].add_(atan_q, alpha=-k)
        torch.add(S[1], A[1], alpha=-h / 6.0, out=out[1])
        torch.add(shift_full, A[0], alpha=-h / 6.0, out=out[0])


@contextlib.contextmanager
def _start_stepper():
    """The runner builds :class:`StartRK4` for planar RK4 runs while this is active."""
    current = runner.PlanarRK4
    runner.PlanarRK4 = StartRK4
    try:
        yield
    finally:
        runner.PlanarRK4 = current


def session_start(run_config, cfg, device: str):
    """``run_config(cfg, device)`` drained as the engine ran it at the start of the pass."""
    from engine.core import drain
    with _start_stepper():
        result = drain(run_config(cfg, device))
    if result.bound_lower is not None:            # computed eagerly then
        result.bound_upper.sum()
    return result

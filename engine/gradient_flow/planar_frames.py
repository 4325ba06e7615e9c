"""One-layer planar runs recorded straight into the fields the lab shows (SCIENCE.md §1.2, §1.4).

A planar run (:mod:`~engine.gradient_flow.planar`) used to store every recorded frame of
its plane coordinates ``(x, y)`` and derive the shown fields afterwards in a second pass
over a ``(T, 2, N)`` buffer.  :class:`PlanarFields` computes them when a frame is
recorded, from the state the stepper has just written (still in the cache), into the
final ``(T, N, d)`` weights and ``(T, N)`` norm, angle and loss arrays: no intermediate
buffer, no second pass (#16).  The arithmetic is that of the second pass
(:func:`frame_block`, the same operations on the same values), so both paths give the
same numbers.
"""
from __future__ import annotations

import functools
import math

import torch

from engine.gradient_flow.kernels import norm_floor
from engine.gradient_flow.planar import CHUNK, Plane

__all__ = ["PlanarFields", "frame_block", "frame_fields", "lift_block", "lift_terms"]


def frame_block(x, y, ay, t, out: dict, nu: float) -> None:
    """Norm, angle and loss of the plane points ``(x, y)`` into ``out`` (SCIENCE.md §1.2, §1.4).

    ``r = ‖(x, y)‖``, ``θ = π/2 - atan(x/|y|)`` (= ``atan2(|y|, x)``; ``|y|`` floored as in
    the steps, :func:`~engine.gradient_flow.planar.planar_grad_fm`) and the loss
    ``r²/4 + ν²/4 - rν g(θ)/(2π)`` with ``r g(θ) = |y| + (π - θ) x``; ``ay`` and ``t`` are
    scratch vectors of the length of ``x``.
    """
    torch.abs(y, out=ay).clamp_min_(norm_floor(x.dtype))
    torch.div(x, ay, out=t).atan_()                               # π/2 - θ
    frame_fields(x, y, ay, t, t, out, nu)


def frame_fields(x, y, ay, t, scratch, out: dict, nu: float) -> None:
    """:func:`frame_block` given ``ay = |y|`` (floored) and ``t = atan(x/ay)``, e.g. from the
    first stage of the step that leaves the frame (:class:`~engine.gradient_flow.planar.
    PlanarRK4`; the same operations, so the same numbers); ``t`` is only read unless
    ``scratch`` is ``t``."""
    k = nu / (2.0 * math.pi)
    r2 = torch.mul(x, x, out=out["loss"]).addcmul_(y, y)
    torch.sqrt(r2, out=out["magnitude"])
    torch.sub(0.5 * math.pi, t, out=out["angle"])
    r2.mul_(0.25).add_(0.25 * nu * nu)
    phi_x = torch.add(t, 0.5 * math.pi, out=scratch).mul_(x).add_(ay)
    r2.add_(phi_x, alpha=-k)                                      # - k(φ x + |y|)


def lift_terms(plane: Plane) -> list:
    """Per output column ``j``: ``(e1_j, e2 has a non-zero entry in column j)``, so
    :func:`lift_block` skips the terms that are exactly zero (the teacher along an axis,
    the default: ``e1 = (1, 0, …)`` and ``e2``'s first column zero)."""
    return [(e1j, bool(col.any())) for e1j, col in zip(plane.e1.tolist(), plane.e2.T)]


def lift_block(x, y, terms: list, e2t: torch.Tensor, w: torch.Tensor) -> None:
    """Weights ``x e1 + y e2`` into ``w (m, d)``, one column at a time (``e2t (d, m)``;
    :meth:`Plane.lift <engine.gradient_flow.planar.Plane.lift>`); ``terms`` from
    :func:`lift_terms` (a dropped term is an exact zero: the same finite weights)."""
    for j, (e1j, with_y) in enumerate(terms):
        if not with_y:
            torch.mul(x, e1j, out=w[:, j])
        elif e1j == 0.0:
            torch.mul(y, e2t[j], out=w[:, j])
        else:
            torch.mul(y, e2t[j], out=w[:, j]).add_(x, alpha=e1j)


class PlanarFields:
    """Frame store of a one-layer planar run holding the shown fields, filled as it runs.

    The interface of the runner's state frame store: :meth:`reserve` a frame index for a
    step, :meth:`write` a column slice of it (worker threads write disjoint slices),
    :meth:`add` a whole frame, :meth:`truncate` (divergence replay) and :meth:`result`.

    Parameters
    ----------
    capacity : int
        Frames to hold besides the first (one more is kept for a divergence's last state).
    S0 : Tensor (2, N)
        Initial plane coordinates (recorded as frame ``key0``).
    plane : Plane
        The run's plane basis (on the run's device, in its dtype).
    nu : float
        Teacher norm ``ν``.
    """

    def __init__(self, capacity: int, S0: torch.Tensor, plane: Plane, nu: float, key0=0):
        T, N, d = capacity + 1, S0.shape[1], plane.e1.shape[0]
        self.w = S0.new_empty((T, N, d))
        self.scalars = {name: S0.new_empty((T, N)) for name in ("magnitude", "angle", "loss")}
        self.terms, self.e2t, self.nu = lift_terms(plane), plane.e2.T.contiguous(), nu
        self.chunk = N if S0.device.type != "cpu" else CHUNK
        self.keys: list = []
        self.add(key0, S0)

    def reserve(self, key) -> int:
        """Index of the next frame, labelled ``key``; the caller fills it with :meth:`write`."""
        self.keys.append(key)
        return len(self.keys) - 1

    def add(self, key, S: torch.Tensor) -> None:
        """Record the whole state ``S (2, N)`` as the next frame, labelled ``key``."""
        self.write(self.reserve(key), S, slice(0, S.shape[1]))

    def write(self, index: int, S: torch.Tensor, cols: slice) -> None:
        """Fields of frame ``index`` for the trajectories ``cols`` from their state ``S (2, m)``,
        in chunks of :data:`~engine.gradient_flow.planar.CHUNK` (temporaries in the cache)."""
        m, start = S.shape[1], cols.start or 0
        ay, t = S.new_empty(min(m, self.chunk)), S.new_empty(min(m, self.chunk))
        for lo in range(0, m, self.chunk):
            hi = min(m, lo + self.chunk)
            x, y, dst = S[0, lo:hi], S[1, lo:hi], slice(start + lo, start + hi)
            frame_block(x, y, ay[:hi - lo], t[:hi - lo],
                        {name: a[index, dst] for name, a in self.scalars.items()}, self.nu)
            lift_block(x, y, self.terms, self.e2t[:, dst], self.w[index, dst])

    def stage_writer(self, index: int, start: int):
        """A step's frame hook (:meth:`PlanarRK4.__call__ <engine.gradient_flow.planar.
        _Chunked.__call__>`) filling frame ``index`` of the trajectories ``start + lo:hi``
        from the first stage of the step that leaves the state: its ``|y|`` and arctangent
        are the frame's (#16: no second arctangent, the chunk still in the cache)."""
        return functools.partial(self._write_stage, index, start)

    def _write_stage(self, index, start, lo, hi, x, y, ay, t, scratch) -> None:
        dst = slice(start + lo, start + hi)
        frame_fields(x, y, ay, t, scratch,
                     {name: a[index, dst] for name, a in self.scalars.items()}, self.nu)
        lift_block(x, y, self.terms, self.e2t[:, dst], self.w[index, dst])

    def truncate(self, key) -> None:
        """Forget frames recorded after ``key`` (divergence replay)."""
        while self.keys and self.keys[-1] > key:
            self.keys.pop()

    def result(self, scale: float, dtype: torch.dtype):
        """Frame times ``key * scale`` (CPU) and the recorded fields (``w``, ``magnitude``,
        ``angle``, ``loss``; views of the first frames)."""
        n = len(self.keys)
        t = torch.tensor(self.keys, dtype=torch.float64) * scale
        fields = {name: a[:n] for name, a in self.scalars.items()}
        return t.to(dtype), dict(fields, w=self.w[:n])

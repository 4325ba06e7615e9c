"""Data consistency for the diffusion solvers: a real-image view of any per-slice linear operator
(CT, MRI), CG, the normalised Kaczmarz step and one ADMM-TV-along-z iteration (SCIENCE.md §3.4
(a), (e), (f)).

The operator is normalised, ``Ã = A/‖A‖`` and ``ỹ = y/‖A‖``, so step sizes and the TV weights λ,
ρ mean the same for every geometry (CG solutions of the normal equations do not change).
Volumes are real ``(z, n, n)`` in image units; a complex operator (MRI) sees real objects, so
its normal operator is ``Re(AᴴA)`` (:class:`engine.core.linop.RealView`).  CG, the soft
threshold and the Neumann ``D_z`` are the core ones (:mod:`engine.core.algorithms`,
:class:`engine.core.linop.FiniteDifference`).
"""
from __future__ import annotations

from typing import Callable, Optional

import torch

from engine.core.algorithms import cg as core_cg
from engine.core.algorithms import soft
from engine.core.linop import LinearOperator, RealView, Scaled, divergence, forward_differences
from engine.core.progress import drain

__all__ = ["DataTerm", "cg", "dz", "dz_t", "soft"]


def dz(x: torch.Tensor) -> torch.Tensor:
    """Forward difference along slices (axis 0) with a Neumann boundary,
    ``(D_z x)_k = x_{k+1} - x_k`` and ``0`` on the last slice (SCIENCE.md §4.3)."""
    return forward_differences(x, (-x.dim(),))[0]


def dz_t(q: torch.Tensor) -> torch.Tensor:
    """Exact adjoint of :func:`dz` (``-div`` along axis 0)."""
    return -divergence(q[None], (-q.dim(),))


def cg(matvec: Callable, b: torch.Tensor, x0: torch.Tensor, iters: int,
       per_slice: bool = True) -> torch.Tensor:
    """``iters`` conjugate-gradient steps on ``M x = b`` from ``x0`` (``M`` symmetric positive
    semi-definite): the core :func:`engine.core.algorithms.cg` with one CG per slice
    (``per_slice``) or one on the whole volume."""
    iters = int(iters)
    return drain(core_cg(matvec, b, x0, iters, batch_dims=1 if per_slice else 0,
                         every=max(iters, 1)))


class DataTerm:
    """``½‖Ã x - ỹ‖²`` for any per-slice :class:`~engine.core.linop.LinearOperator` (a
    :class:`~engine.imaging.Radon` or 2-D :class:`~engine.imaging.MRI`, …).

    Parameters
    ----------
    op : LinearOperator
        Maps ``(z, n, n)`` volumes slice by slice (``in_shape == (n, n)``).
    y : torch.Tensor
        The operator's output for a ``(z, n, n)`` volume (sinogram or multi-coil k-space).
    """

    def __init__(self, op: LinearOperator, y: torch.Tensor):
        if not isinstance(op, LinearOperator):
            raise TypeError("op must be a LinearOperator such as Radon or MRI, got "
                            f"{type(op).__name__}")
        if len(op.in_shape) != 2 or op.in_shape[0] != op.in_shape[1]:
            raise ValueError("diffusion priors need a 2-D (per-slice) operator on n × n slices, "
                             f"got input shape {tuple(op.in_shape)}")
        y = y.to(op.device, op.out_dtype if op.out_dtype.is_complex else torch.float32)
        if not torch.isfinite(y).all():
            raise ValueError("the measurement contains NaN or infinite values")
        self.n, self.shape = op.in_shape[-1], (y.shape[0], *op.in_shape)
        self.op, self.device = op, op.device
        self.scale = float(op.norm())
        self.op_n = Scaled(RealView(op) if op.dtype.is_complex else op, 1.0 / self.scale)
        self.y = y / self.scale
        self._row_sum: Optional[torch.Tensor] = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``Ã x``."""
        return self.op_n.forward(x)

    def adjoint(self, r: torch.Tensor) -> torch.Tensor:
        """``Re Ãᴴ r`` (real volume)."""
        return self.op_n.adjoint(r)

    def normal(self, x: torch.Tensor) -> torch.Tensor:
        """``Re(ÃᴴÃ) x``."""
        return self.op_n.normal(x)

    def residual_norm(self, x: torch.Tensor) -> float:
        """Relative data residual ``‖Ãx - ỹ‖ / ‖ỹ‖``."""
        return float((self.forward(x) - self.y).norm() / self.y.norm().clamp_min(1e-30))

    def initial(self) -> torch.Tensor:
        """The cheap reconstruction ``op.approx_inverse``: FBP (CT) or the real part of zero
        filling (MRI)."""
        return self.op_n.approx_inverse(self.y).to(torch.float32)

    def kaczmarz(self, x: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
        """Normalised Kaczmarz/SIRT-like step ``x + λ Ãᵀ(ỹ - Ãx) / (ÃᵀÃ 1)`` (§3.4 (a)) for an
        operator with entries ≥ 0 (CT); otherwise (``ÃᴴÃ ⪯ I``) the plain gradient step
        ``x + λ Re Ãᴴ(ỹ - Ãx)``. Non-expansive for λ ≤ 1."""
        g = self.adjoint(self.y - self.forward(x))
        if not self.op_n.nonnegative:
            return x + lam * g
        if self._row_sum is None:
            row_sum = self.normal(torch.ones((1, *self.shape[1:]), device=self.device))[0]
            self._row_sum = row_sum.clamp_min(1e-6 * float(row_sum.max()))
        return x + lam * g / self._row_sum

    def solve(self, x0: torch.Tensor, iters: int) -> torch.Tensor:
        """``iters`` CG steps on ``ÃᵀÃ x = Ãᵀỹ`` from ``x0``, per slice (DDS step 3, §3.4 (e))."""
        return cg(self.normal, self.adjoint(self.y).expand_as(x0).contiguous(), x0, iters)

    def admm_tv_z(self, x: torch.Tensor, state: dict, lam: float, rho: float,
                  iters: int) -> torch.Tensor:
        """One ADMM iteration for ``min ½‖Ãx - ỹ‖² + λ‖D_z x‖₁`` (DDS 3-D / DiffusionMBIR, §3.4 (e)):
        ``x ← CG[(ÃᵀÃ + ρD_zᵀD_z) x = Ãᵀỹ + ρD_zᵀ(z - u)]`` (warm start), ``z ← soft(D_z x + u,
        λ/ρ)``, ``u ← u + D_z x - z``; ``state`` holds ``z, u`` across calls. With ``λ = 0`` there
        is nothing to split: the step is plain CG on the normal equations (:meth:`solve`)."""
        if lam <= 0:
            return self.solve(x, iters)
        z = state.setdefault("z", torch.zeros_like(x))
        u = state.setdefault("u", torch.zeros_like(x))
        rhs = self.adjoint(self.y) + rho * dz_t(z - u)
        x = cg(lambda v: self.normal(v) + rho * dz_t(dz(v)), rhs, x, iters, per_slice=False)
        d = dz(x)
        state["z"] = soft(d + u, lam / rho)
        state["u"] = u + d - state["z"]
        return x

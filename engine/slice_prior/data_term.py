"""Data consistency for the diffusion solvers: a real-image view of a CT or MRI operator, CG, the
normalised Kaczmarz step and one ADMM-TV-along-z iteration (SCIENCE.md §3.4 (a), (e), (f)).

The operator is normalised, ``Ã = A/‖A‖`` and ``ỹ = y/‖A‖``, so step sizes and the TV weights λ,
ρ mean the same for every geometry (CG solutions of the normal equations do not change).
Volumes are real ``(z, n, n)`` in image units; MRI images are real objects, so the MRI normal
operator is ``Re(AᴴA)``.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch

from engine.diffusion.linalg import batched_cg
from engine.recon.ct import Radon
from engine.recon.fbp import fbp
from engine.recon.mri import MRI

__all__ = ["DataTerm", "cg", "dz", "dz_t", "soft"]


def dz(x: torch.Tensor) -> torch.Tensor:
    """Forward difference along slices with circular wrap, ``(D_z x)_k = x_{k+1} - x_k``."""
    return torch.roll(x, -1, 0) - x


def dz_t(q: torch.Tensor) -> torch.Tensor:
    """Exact adjoint of :func:`dz`: ``(D_zᵀ q)_k = q_{k-1} - q_k``."""
    return torch.roll(q, 1, 0) - q


def soft(v: torch.Tensor, tau: float) -> torch.Tensor:
    """Soft threshold ``sign(v) max(|v| - τ, 0)``."""
    return torch.sign(v) * torch.clamp(v.abs() - tau, min=0.0)


def cg(matvec: Callable, b: torch.Tensor, x0: torch.Tensor, iters: int,
       per_slice: bool = True) -> torch.Tensor:
    """``iters`` conjugate-gradient steps on ``M x = b`` from ``x0`` (``M`` symmetric positive
    semi-definite): :func:`engine.diffusion.linalg.batched_cg` with one CG per slice
    (``per_slice``) or one on the whole volume."""
    shape = b.shape
    rows = (shape[0], -1) if per_slice else (1, -1)
    return batched_cg(lambda v: matvec(v.reshape(shape)).reshape(rows), b.reshape(rows),
                      x0.reshape(rows), int(iters)).reshape(shape)


class DataTerm:
    """``½‖Ã x - ỹ‖²`` for a :class:`~engine.recon.Radon` or :class:`~engine.recon.MRI` operator.

    Parameters
    ----------
    op : Radon or MRI
    y : torch.Tensor
        The operator's output for a ``(z, n, n)`` volume (sinogram or multi-coil k-space).
    """

    def __init__(self, op, y: torch.Tensor):
        if isinstance(op, Radon):
            self.kind, self.n = "ct", op.n
            self.shape = (y.shape[0], op.n, op.n)
            y = y.to(op.device, torch.float32)
        elif isinstance(op, MRI):
            if op.ndim != 2:
                raise ValueError("diffusion priors need a 2-D (per-slice) MRI operator")
            self.kind, self.n = "mri", op.shape[-1]
            self.shape = (y.shape[0], *op.shape)
            y = y.to(op.device, op.dtype)
        else:
            raise TypeError(f"op must be a Radon or MRI operator, got {type(op).__name__}")
        if not torch.isfinite(y).all():
            raise ValueError("the measurement contains NaN or infinite values")
        self.op, self.device = op, op.device
        self.scale = self._norm()
        self.y = y / self.scale
        self._row_sum: Optional[torch.Tensor] = None

    def _norm(self) -> float:
        if self.kind == "mri":
            return 1.0                      # Σ|S_c|² = 1 and a 0/1 mask: ‖A‖ ≤ 1 (§4.5)
        return float(self.op.norm())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``Ã x``."""
        if self.kind == "mri":
            return self.op.forward(x.to(self.op.dtype))
        return self.op.forward(x) / self.scale

    def adjoint(self, r: torch.Tensor) -> torch.Tensor:
        """``Re Ãᴴ r`` (real volume)."""
        if self.kind == "mri":
            return self.op.adjoint(r).real
        return self.op.adjoint(r) / self.scale

    def normal(self, x: torch.Tensor) -> torch.Tensor:
        """``Re(ÃᴴÃ) x``."""
        return self.adjoint(self.forward(x))

    def residual_norm(self, x: torch.Tensor) -> float:
        """Relative data residual ``‖Ãx - ỹ‖ / ‖ỹ‖``."""
        return float((self.forward(x) - self.y).norm() / self.y.norm().clamp_min(1e-30))

    def initial(self) -> torch.Tensor:
        """The cheap reconstruction: FBP (CT) or the real part of zero filling (MRI)."""
        if self.kind == "mri":
            return self.op.adjoint(self.y).real
        return fbp(self.y * self.scale, self.op, filter="ramp").to(torch.float32)

    def kaczmarz(self, x: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
        """Normalised Kaczmarz/SIRT-like step ``x + λ Ãᵀ(ỹ - Ãx) / (ÃᵀÃ 1)`` (§3.4 (a)); for MRI
        (``ÃᴴÃ ⪯ I``) the plain gradient step ``x + λ Re Ãᴴ(ỹ - Ãx)``. Non-expansive for λ ≤ 1."""
        g = self.adjoint(self.y - self.forward(x))
        if self.kind == "mri":
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

"""Linear operators that carry their adjoint (SCIENCE.md §4.1, §4.3, §4.5, §3.4).

One small protocol shared by every measurement and regulariser of the engine, in the spirit
of SigPy's ``Linop`` and deepinv's ``physics`` (written here, not copied):

* :class:`LinearOperator`: ``forward``, ``adjoint``, ``normal`` (= ``adjoint ∘ forward``,
  overridable by a fused fast version), ``norm`` (power iteration, cached), ``in_shape``,
  ``out_shape``, ``dtype`` (input) and ``out_dtype``.  Shapes are the core shapes: leading
  batch axes (e.g. the slices of a volume for a per-slice operator) are allowed where an
  operator says so.  Adjoints are with respect to the real inner product ``Re ⟨u, v⟩`` (the
  complex one for complex-linear operators).
* :class:`Scaled` (``c · A``) and :class:`RealView` (a complex operator on real images,
  ``x ↦ A x``, adjoint ``Re Aᴴ``): the data terms of the diffusion solvers use both.
* :class:`FiniteDifference`: Neumann forward differences (adjoint ``-div``), the one
  implementation behind TV (CT and MRI) and the slice-wise ``D_z`` (SCIENCE.md §4.3).
* :class:`MatrixOperator`: a dense matrix acting on rows (the toy measurement of §3.4).

Implemented elsewhere by :class:`engine.recon.Radon`, :class:`engine.recon.MRI` and
:class:`engine.diffusion.linalg.Measurement`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = ["FiniteDifference", "LinearOperator", "MatrixOperator", "RealView", "Scaled",
           "divergence", "forward_differences", "real_dtype"]


def real_dtype(dtype: torch.dtype) -> torch.dtype:
    """The real dtype of the same precision (``complex64 → float32``)."""
    return dtype.to_real() if dtype.is_complex else dtype


class LinearOperator:
    """Base class: a linear map with its adjoint (SCIENCE.md §4.3).

    Subclasses set ``in_shape``, ``out_shape``, ``dtype`` (input dtype) and ``device`` and
    implement :meth:`forward` and :meth:`adjoint`; they may override :meth:`normal` with a
    faster fused ``AᴴA`` and :meth:`approx_inverse` with a cheap reconstruction.

    Attributes
    ----------
    nonnegative : bool
        All matrix entries are ``≥ 0`` (row and column sums then give SIRT's diagonal
        preconditioners, §4.3).
    """

    in_shape: tuple = ()
    out_shape: tuple = ()
    dtype: torch.dtype = torch.float32
    device: torch.device = torch.device("cpu")
    nonnegative: bool = False

    @property
    def out_dtype(self) -> torch.dtype:
        """dtype of :meth:`forward`'s output (the input dtype unless overridden)."""
        return self.dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``A x``."""
        raise NotImplementedError

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """``Aᴴ y``."""
        raise NotImplementedError

    def normal(self, x: torch.Tensor) -> torch.Tensor:
        """``AᴴA x`` (override with a fused version where one exists)."""
        return self.adjoint(self.forward(x))

    def approx_inverse(self, y: torch.Tensor) -> torch.Tensor:
        """A cheap reconstruction from ``y``; here ``Aᴴ y`` (exact for an isometry)."""
        return self.adjoint(y)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)

    def norm(self, iters: int = 30, seed: int = 0) -> float:
        """Operator norm ``‖A‖₂`` by power iteration on ``AᴴA`` (SCIENCE.md §4.3), cached.

        Starts from a seeded uniform random ``in_shape`` array; returns ``√‖AᴴA x_k‖`` with
        ``x_k`` the normalised iterate (a lower bound that converges from below).
        """
        cache = self.__dict__.setdefault("_norm_cache", {})
        if (iters, seed) not in cache:
            gen = torch.Generator().manual_seed(int(seed))
            x = torch.rand(tuple(self.in_shape), generator=gen, dtype=torch.float64)
            x = x.to(device=self.device, dtype=self.dtype)
            s = 0.0
            for _ in range(int(iters)):
                x = self.normal(x)
                s = float(torch.linalg.vector_norm(x.to(torch.complex128 if x.is_complex()
                                                        else torch.float64)))
                x = x / max(s, 1e-30)
            cache[(iters, seed)] = math.sqrt(s)
        return cache[(iters, seed)]


class Scaled(LinearOperator):
    """``c · A`` for a real factor ``c`` (keeps ``A``'s fused normal: ``c² AᴴA``)."""

    def __init__(self, op: LinearOperator, factor: float):
        self.op, self.factor = op, float(factor)
        self.in_shape, self.out_shape = op.in_shape, op.out_shape
        self.dtype, self.device = op.dtype, op.device
        self.nonnegative = op.nonnegative and self.factor >= 0

    @property
    def out_dtype(self) -> torch.dtype:
        return self.op.out_dtype

    def forward(self, x):
        return self.op.forward(x) * self.factor

    def adjoint(self, y):
        return self.op.adjoint(y) * self.factor

    def normal(self, x):
        return self.op.normal(x) * self.factor ** 2

    def approx_inverse(self, y):
        return self.op.approx_inverse(y) / self.factor

    def norm(self, iters: int = 30, seed: int = 0) -> float:
        return abs(self.factor) * self.op.norm(iters, seed)


class RealView(LinearOperator):
    """A complex operator restricted to real inputs: ``x ↦ A x``, adjoint ``y ↦ Re Aᴴ y``.

    Real-linear; ``Re ⟨A x, y⟩ = ⟨x, Re Aᴴ y⟩`` for real ``x`` (MRI of real objects, §4.5).
    """

    def __init__(self, op: LinearOperator):
        self.op = op
        self.in_shape, self.out_shape = op.in_shape, op.out_shape
        self.dtype, self.device = real_dtype(op.dtype), op.device

    @property
    def out_dtype(self) -> torch.dtype:
        return self.op.out_dtype

    def forward(self, x):
        return self.op.forward(x.to(self.op.dtype))

    def adjoint(self, y):
        return self.op.adjoint(y).real

    def normal(self, x):
        return self.op.normal(x.to(self.op.dtype)).real

    def approx_inverse(self, y):
        return self.op.approx_inverse(y).real


def forward_differences(x: torch.Tensor, axes: Sequence[int]) -> torch.Tensor:
    """Forward differences with a Neumann boundary, stacked: ``(len(axes), *x.shape)`` (§4.3).

    Component ``i`` is ``x[k+1] - x[k]`` along ``axes[i]`` and ``0`` on the last sample.
    """
    out = []
    for ax in axes:
        d = torch.zeros_like(x)
        n = x.shape[ax]
        if n > 1:
            torch.sub(x.narrow(ax, 1, n - 1), x.narrow(ax, 0, n - 1), out=d.narrow(ax, 0, n - 1))
        out.append(d)
    return torch.stack(out)


def divergence(q: torch.Tensor, axes: Sequence[int]) -> torch.Tensor:
    """Discrete divergence, ``-div = ∇ᵀ`` exactly (adjoint of :func:`forward_differences`)."""
    out = torch.zeros_like(q[0])
    for comp, ax in zip(q, axes):
        n = comp.shape[ax]
        if n > 1:
            out.narrow(ax, 0, n - 1).add_(comp.narrow(ax, 0, n - 1))
            out.narrow(ax, 1, n - 1).sub_(comp.narrow(ax, 0, n - 1))
    return out


class FiniteDifference(LinearOperator):
    """Gradient ``∇`` by Neumann forward differences along ``axes`` (SCIENCE.md §4.3).

    Parameters
    ----------
    shape : sequence of int
        Input shape; extra leading batch axes are allowed (``axes`` are counted from the end,
        the output is ``(len(axes), *x.shape)``).
    axes : sequence of int
        Negative axes to differentiate, e.g. ``(-2, -1)`` for per-slice 2-D TV, ``(-3, -2,
        -1)`` for 3-D TV, ``(-3,)`` for the slice-wise ``D_z`` of a ``(z, y, x)`` volume.
    dtype, device : torch dtype and device of the inputs.

    Notes
    -----
    ``∇ᵀ∇`` is the Kronecker sum of 1-D Neumann Laplacians, whose eigenvalues are
    ``2 - 2 cos(πk/n)``, so ``‖∇‖² = Σ_axes 4 sin²(π(n-1)/(2n))`` exactly (:meth:`norm`).
    """

    def __init__(self, shape: Sequence[int], axes: Sequence[int], dtype=torch.float32,
                 device="cpu"):
        self.axes = tuple(int(a) for a in axes)
        if not self.axes or any(a >= 0 or -a > len(shape) for a in self.axes):
            raise ValueError(f"axes must be negative axes of shape {tuple(shape)}, got {axes}")
        self.in_shape = tuple(int(s) for s in shape)
        self.out_shape = (len(self.axes), *self.in_shape)
        self.dtype, self.device = dtype, torch.device(device)

    def forward(self, x):
        return forward_differences(x, self.axes)

    def adjoint(self, y):
        return -divergence(y, self.axes)

    def norm(self, iters: int = 30, seed: int = 0) -> float:
        """Exact ``‖∇‖₂`` (closed form in the class notes; ``iters``/``seed`` unused)."""
        n = [self.in_shape[a] for a in self.axes]
        return math.sqrt(sum(4 * math.sin(math.pi * (k - 1) / (2 * k)) ** 2 for k in n))


class MatrixOperator(LinearOperator):
    """A dense ``(m, d)`` matrix acting on rows: ``x (N, d) ↦ x Aᵀ (N, m)`` (SCIENCE.md §3.4)."""

    def __init__(self, A: torch.Tensor):
        self.A = A
        self.in_shape, self.out_shape = (A.shape[1],), (A.shape[0],)
        self.dtype, self.device = A.dtype, A.device

    def forward(self, x):
        return x @ self.A.T

    def adjoint(self, y):
        return y @ self.A.conj()

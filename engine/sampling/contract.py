"""The diffusion solver contract: a denoiser, a data-consistency object, a run context, steps.

k-diffusion style (ARCHITECTURE.md rule 4): every sampler / inverse solver is a generator
function ``fn(ctx, **params)`` that yields one :class:`Step` per state (the start, the state
after each update, the result last). It sees only

* ``ctx.model`` — a :class:`Denoiser`: ``denoise(x, t) -> (x̂_0, ε̂)`` (Tweedie, SCIENCE.md §3.1)
  and ``ab(t) = ᾱ_t``; the exact Gaussian-mixture score (``engine.diffusion``) and the learned
  slice prior (``engine.slice_prior``) are two such models;
* ``ctx.dc`` — a :class:`DataConsistency` object for ``y = A x + n`` in the model's units
  (a toy linear measurement, or a CT/MRI volume data term built by ``engine.recon``);
* ``ctx.gen`` / ``ctx.aux`` — explicit generators (no global RNG).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol

import numpy as np
import torch

__all__ = ["Denoiser", "DataConsistency", "Step", "Context", "SolverSpec", "STARTS",
           "START_EXACT", "START_GAUSSIAN"]

START_EXACT, START_GAUSSIAN = "exact p_T", "N(0, I)"
STARTS = (START_EXACT, START_GAUSSIAN)
"""Laws the reverse path starts from: the model's exact noised marginal ``p_T`` (a model with
``sample_noised``), or the usual ``N(0, I)`` approximation of it."""


class Denoiser(Protocol):
    """A diffusion model behind the solver contract (VP notation, SCIENCE.md §3.1)."""

    def ab(self, t) -> float:
        """``ᾱ_t`` of the model's schedule."""

    def denoise(self, x: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor]:
        """Tweedie ``x̂_0 = E[x_0 | x_t = x]`` and ``ε̂`` (one network / score evaluation)."""

    # Optional: ``denoise_grad(x, t, cotangent)`` (exact Jacobian products, MCG/DPS),
    # ``sample(n, gen)`` (CCDF's prior-sample start), ``sample_noised(n, ᾱ, gen)`` (the exact
    # ``p_T`` start), ``tweedie_jvp(x, t, v)`` (TMPD), ``ve_denoise(ū, σ)`` and ``sigma_bar``
    # (the VE solvers of :mod:`engine.sampling.ve`).


class DataConsistency(Protocol):
    """What the conditional solvers call on the measurement (all in the model's units).

    ``project`` is the non-expansive map toward ``{A x = target}`` of SCIENCE.md §3.4 (a) (exact
    projection for a toy ``A``, a normalised Kaczmarz step for CT), ``solve`` the DDS
    conjugate-gradient consistency (§3.4 (e)) started at ``x0``, ``initial`` the cheap estimate
    (``A^† y``, FBP, zero filling) and ``noisy_targets`` whether ``project`` accepts the
    diffused measurement ``y_t = √ᾱ y + √(1-ᾱ) A z`` of :meth:`diffused_target`.

    Some solvers need more, and say so: MCG/DPS ``residual_cotangent(x̂_0)`` (``∇‖y - A x̂_0‖``)
    and ``unobserved(g)`` (``(I - A^†A) g``), RED-diff ``data_grad(x, v)``, the 3-D DDS and
    DiffusionMBIR ``admm_tv_z(x, state, λ, ρ, iters)``, MCG-CT ``residual_norms(x̂_0)``.
    Implementations: ``engine.diffusion.context.LinearData`` (toy ``A``),
    ``engine.recon.diffusion.VolumeData`` (CT/MRI volumes).
    """
    noisy_targets: bool

    def project(self, x: torch.Tensor, target=None, lam: float = 1.0) -> torch.Tensor: ...

    def diffused_target(self, ab: float, z: Optional[torch.Tensor]): ...

    def solve(self, x0: torch.Tensor, iters: int, gamma: Optional[float] = None
              ) -> torch.Tensor: ...

    def initial(self) -> torch.Tensor: ...


@dataclass
class Step:
    """One recorded state of a run.

    Attributes
    ----------
    i, n : int
        Step number (0 = start) and the number of steps of the run.
    t : int
        Diffusion time index of ``x`` (``T`` … ``0``).
    x : Tensor
        The state (RED-diff: the variational mean ``μ``), model units.
    x0_hat : Tensor
        Tweedie estimate ``E[x_0 | x_t]`` under the run's model (``x`` itself at ``t = 0``).
    level : float
        ``ᾱ`` of the marginal ``x`` should follow (1 for RED-diff's clean ``μ``).
    correction : Tensor or None
        Displacement added by the conditioning in the step that produced ``x``.
    estimate : Tensor or None
        The solver's best estimate of ``x_0`` now (``x̂_0`` after data consistency, DDS/CCDF);
        None means ``x0_hat``.
    """
    i: int
    n: int
    t: int
    x: torch.Tensor
    x0_hat: torch.Tensor
    level: float
    correction: Optional[torch.Tensor] = None
    estimate: Optional[torch.Tensor] = None


@dataclass
class Context:
    """Run state shared with the solver functions (device tensors, explicit generators).

    Attributes
    ----------
    model : Denoiser
    grid : ndarray (S + 1,)
        Respaced time indices ``[T, ..., 0]``.
    shape : tuple
        Shape of the state: ``(N, d)`` particles or ``(z, n, n)`` slices.
    gen : torch.Generator
        Drives every random draw of the path (start, ancestral noise, ``y_t`` injection).
    dc : DataConsistency or None
    aux : torch.Generator or None
        Draws that must not shift the path's stream (CCDF's prior-sample start).
    dtype, device
        Of the state.
    nfe : int
        Model evaluations so far (a gradient through ``x̂_0`` counts one more).
    info : dict
        What a solver reports besides its steps (``ccdf_steps``).
    start : str
        :data:`START_GAUSSIAN` (``x_T ~ N(0, I)``) or :data:`START_EXACT`: ``x_T`` drawn from
        the model's exact ``p_T`` when it offers ``sample_noised`` (the Gaussian mixture;
        issue #18: ``KL(p_T ‖ N(0, I))`` grows with ``d``).
    """
    model: Denoiser
    grid: np.ndarray
    shape: tuple
    gen: torch.Generator
    dc: Optional[DataConsistency] = None
    aux: Optional[torch.Generator] = None
    dtype: torch.dtype = torch.float32
    device: torch.device = torch.device("cpu")
    nfe: int = 0
    info: dict = field(default_factory=dict)
    start: str = START_GAUSSIAN

    @property
    def n(self) -> int:
        """Samples in the batch (particles or slices)."""
        return self.shape[0]

    @property
    def d(self) -> int:
        """Entries per sample."""
        return math.prod(self.shape[1:])

    @property
    def n_steps(self) -> int:
        return len(self.grid) - 1

    def ab(self, t) -> float:
        """``ᾱ_t`` of the model."""
        return self.model.ab(t)

    def pairs(self, grid: Optional[np.ndarray] = None):
        """``(i, t, s)``: step ``i`` goes from time ``t`` to the next (smaller) time ``s``."""
        g = self.grid if grid is None else grid
        return [(i, int(g[i]), int(g[i + 1])) for i in range(len(g) - 1)]

    def randn(self) -> torch.Tensor:
        """Standard normal draw of the state's shape from the path generator."""
        return torch.randn(self.shape, generator=self.gen, dtype=self.dtype, device=self.device)

    def draw_start(self) -> torch.Tensor:
        """``x_T`` of a full reverse path: exact ``p_T`` samples (:attr:`start` =
        :data:`START_EXACT` and a model with ``sample_noised``), else ``N(0, I)`` (SCIENCE §3.1:
        ``x_T = √ᾱ_T x_0 + √(1-ᾱ_T) ε`` is exact, ``N(0, I)`` its ``ᾱ_T → 0`` limit)."""
        if self.start not in STARTS:
            raise ValueError(f"start must be one of {', '.join(STARTS)}, got {self.start!r}")
        if self.start == START_EXACT and hasattr(self.model, "sample_noised"):
            x = self.model.sample_noised(self.n, self.ab(self.grid[0]), self.gen)
            return x.to(dtype=self.dtype, device=self.device).reshape(self.shape)
        return self.randn()

    def tweedie_jvp(self, x: torch.Tensor, t, v: torch.Tensor) -> torch.Tensor:
        """``(∂x̂_0/∂x_t) v`` (symmetric Jacobian of a conservative score; one extra NFE): the
        model's ``tweedie_jvp`` when it has one, else autograd through ``denoise``."""
        self.nfe += 1
        if hasattr(self.model, "tweedie_jvp"):
            return self.model.tweedie_jvp(x, t, v)
        with torch.enable_grad():
            u = x.detach().requires_grad_(True)
            x0, _ = self.model.denoise(u, t)
            g, = torch.autograd.grad(x0, u, v)
        return g

    def need_measurement(self, name: str) -> None:
        if self.dc is None:
            raise ValueError(f"solver {name!r} needs a measurement: pass A (m, d) and y (m,)")

    def denoise(self, x: torch.Tensor, t):
        """``(x̂_0, ε̂)`` at ``x_t = x`` from the run's model (one NFE)."""
        self.nfe += 1
        return self.model.denoise(x, t)

    def denoise_grad(self, x: torch.Tensor, t, cotangent: Callable):
        """``(x̂_0, ε̂, (∂x̂_0/∂x_t)ᵀ cotangent(x̂_0))`` (one NFE + one backward pass = 2 NFE).

        The model's own ``denoise_grad`` when it has one (closed form), else autograd through
        ``denoise`` — what the MCG and DPS codes do with a score network (§3.4 (b), (d)).
        """
        self.nfe += 2
        if hasattr(self.model, "denoise_grad"):
            return self.model.denoise_grad(x, t, cotangent)
        with torch.enable_grad():
            v = x.detach().requires_grad_(True)
            x0, eps = self.model.denoise(v, t)
            g, = torch.autograd.grad(x0, v, cotangent(x0.detach()))
        return x0.detach(), eps.detach(), g

    def noisy_target(self, t):
        """Measurement diffused to level ``t`` (``y_t = √ᾱ_t y + √(1-ᾱ_t) A z``, §3.4), or None
        where the data-consistency object projects onto the clean data."""
        if not self.dc.noisy_targets:
            return None
        ab = self.ab(t)
        return self.dc.diffused_target(ab, self.randn() if ab < 1.0 else None)

    def step(self, i: int, t, x: torch.Tensor, x0: torch.Tensor, n: Optional[int] = None,
             level: Optional[float] = None, correction=None, estimate=None) -> Step:
        """A :class:`Step` of this run (``level`` defaults to ``ᾱ_t``)."""
        return Step(i, self.n_steps if n is None else n, int(t), x, x0,
                    self.ab(t) if level is None else float(level), correction, estimate)


@dataclass(frozen=True)
class SolverSpec:
    """One entry of the solver table.

    Attributes
    ----------
    fn : callable
        ``fn(ctx, **params)`` yielding :class:`Step` objects.
    needs_measurement : bool
        Conditional solver (raises without ``ctx.dc``).
    Params : type
        Frozen dataclass of the solver's knobs with their toy-lab defaults; a field's metadata
        ``config`` names the flat ``DiffusionConfig`` field that sets it (none: not exposed).
    toy : bool
        Runs on the exact Gaussian-mixture model (the diffusion lab offers it).
    VolumeParams : type or None
        Knobs and defaults for a volume run with the slice prior (``engine.recon``); None:
        not offered for volumes.
    oracle : bool
        Runs on the exact posterior model instead of the prior (the reference sampler).
    """
    fn: Callable
    needs_measurement: bool
    Params: type
    toy: bool = True
    VolumeParams: Optional[type] = None
    oracle: bool = False

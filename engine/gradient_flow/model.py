"""The teacher, the initial parameters, the data and the problem to integrate (SCIENCE.md §1).

State layout (recorded frames): ``S`` of shape ``(..., N, d + L - 1)`` with
``S[..., :d] = w`` (first layer) and ``S[..., d:] = (a_2, ..., a_L)`` (scalar layers); during
a run the same numbers are held feature-major, ``(d + L - 1, N)`` (see ``kernels``). The effective weight is
``u = A w`` with ``A = a_2 ... a_L`` (positive chain, §1.5: the relu between scalar layers
is the identity on the positive basin the engine initialises in).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch

from engine.core import make_generator
from engine.gradient_flow.closed_form import empirical_loss, population_loss
from engine.gradient_flow.config import FlowConfig
from engine.gradient_flow.kernels import chain_grad_fm, emp_grad_fm, pop_euler_fm, pop_grad_fm
from engine.gradient_flow.planar import planar_grad_fm

__all__ = ["Problem", "make_problem", "initial_state", "split", "chain_product",
           "effective_weight", "conservation", "teacher", "make_data"]


@dataclass
class Problem:
    """What a run integrates, on the device: teacher ``v``, optional data ``(X, y)``, depth.

    :meth:`grad` and :meth:`rhs` take *feature-major* states ``(d + L - 1, N)``
    (:mod:`engine.gradient_flow.kernels`); :meth:`loss_u` takes ``(..., d)`` weights.
    """
    v: torch.Tensor
    nu: float
    dim: int
    depth: int
    X: Optional[torch.Tensor] = None
    y: Optional[torch.Tensor] = None
    planar: bool = False      # weights in plane coordinates, v = (ν, 0) (engine.gradient_flow.planar)

    def loss_u(self, u: torch.Tensor) -> torch.Tensor:
        """Loss of the effective weight: population (§1.2) or empirical ``L_n`` (§1.6)."""
        return population_loss(u, self.v) if self.X is None else empirical_loss(u, self.X, self.y)

    def grad_u(self, U: torch.Tensor) -> torch.Tensor:
        """Feature-major gradient of :meth:`loss_u` (§1.3 closed form or §1.6 active sets)."""
        if self.planar:
            return planar_grad_fm(U, self.nu)
        if self.X is None:
            return pop_grad_fm(U, self.v, self.nu)
        return emp_grad_fm(U, self.X, self.y)

    def grad(self, S: torch.Tensor) -> torch.Tensor:
        """Parameter gradient ``∇_S L`` of a feature-major state (chain rule, §1.5)."""
        return chain_grad_fm(S, self.dim, self.grad_u)

    def rhs(self, S: torch.Tensor) -> torch.Tensor:
        """Gradient-flow velocity ``dS/dt = -∇_S L``."""
        return self.grad(S).neg_()

    def euler(self, S: torch.Tensor, h: float) -> torch.Tensor:
        """Euler / GD step ``S - h ∇L(S)``; one-layer population runs use the fused kernel."""
        if self.X is None and S.shape[0] == self.dim and not self.planar:
            return pop_euler_fm(S, self.v, self.nu, h)
        return torch.add(S, self.grad(S), alpha=-h)


def _sub_seeds(seed: int) -> list[int]:
    """Three independent seeds (directions, layer scales, data) from the run seed."""
    gen = make_generator(seed)
    return [int(s) for s in torch.randint(0, 2**62, (3,), generator=gen)]


def teacher(cfg: FlowConfig) -> torch.Tensor:
    """Teacher ``v = ν (cos α, sin α, 0, ...)`` (float64, CPU); ``v = ν e1`` when ``d = 1``."""
    v = torch.zeros(cfg.dim, dtype=torch.float64)
    if cfg.dim == 1:
        v[0] = cfg.teacher_norm
    else:
        alpha = math.radians(cfg.teacher_angle)
        v[0], v[1] = cfg.teacher_norm * math.cos(alpha), cfg.teacher_norm * math.sin(alpha)
    return v


def _directions(cfg: FlowConfig, seed: int) -> torch.Tensor:
    """Unit initial directions ``(N, d)``: seeded uniform on the sphere, or evenly spaced.

    ``"even"``: angles ``α_v + 2πk/N`` in the (e1, e2) plane (so ``k = 0`` is aligned with
    the teacher and, for even N, ``k = N/2`` is anti-aligned); ``d = 1``: alternating ``±e1``.
    """
    n, d = cfg.n_init, cfg.dim
    if cfg.init_dirs == "random":
        z = torch.randn(n, d, generator=make_generator(seed), dtype=torch.float64)
        return z / torch.linalg.vector_norm(z, dim=-1, keepdim=True).clamp_min(1e-300)
    out = torch.zeros(n, d, dtype=torch.float64)
    k = torch.arange(n, dtype=torch.float64)
    if d == 1:
        out[:, 0] = 1.0 - 2.0 * (k % 2)
        return out
    phi = math.radians(cfg.teacher_angle) + 2.0 * math.pi * k / n
    out[:, 0], out[:, 1] = torch.cos(phi), torch.sin(phi)
    return out


def initial_state(cfg: FlowConfig) -> torch.Tensor:
    """Initial state ``S(0)``, shape ``(N, d + L - 1)``, float64 on the CPU (SCIENCE.md §1.5).

    Balanced: every layer has scale ``s = ρ0^(1/L)`` (``‖w‖ = a_2 = ... = a_L = s``), so
    ``‖u(0)‖ = ρ0``. Unbalanced: the per-layer log-scales get ``imbalance · z_l`` with seeded
    ``z ~ N(0, 1)`` centred over the layers, so the product (and ``‖u(0)‖ = ρ0``) is kept
    while the conserved quantities ``‖w‖² - a_2²``, ``a_l² - a_{l+1}²`` become non-zero.
    """
    dir_seed, layer_seed, _ = _sub_seeds(cfg.seed)
    L = cfg.depth
    log_s = torch.full((cfg.n_init, L), math.log(cfg.init_scale) / L, dtype=torch.float64)
    if not cfg.balanced and L > 1:
        z = torch.randn(cfg.n_init, L, generator=make_generator(layer_seed), dtype=torch.float64)
        log_s = log_s + cfg.imbalance * (z - z.mean(dim=-1, keepdim=True))
    scales = torch.exp(log_s)
    w = _directions(cfg, dir_seed) * scales[:, :1]
    return torch.cat([w, scales[:, 1:]], dim=-1)


def make_data(cfg: FlowConfig, v: torch.Tensor):
    """Training set ``X ~ N(0, I_d)`` ``(n, d)`` and ``y = relu(X v) + noise`` (§1.6), float64."""
    gen = make_generator(_sub_seeds(cfg.seed)[2])
    X = torch.randn(cfg.n_samples, cfg.dim, generator=gen, dtype=torch.float64)
    noise = torch.randn(cfg.n_samples, generator=gen, dtype=torch.float64)
    return X, torch.relu(X @ v) + cfg.label_noise * noise


def make_problem(cfg: FlowConfig, device: str, dtype: torch.dtype) -> Problem:
    """Teacher and (finite mode) data of ``cfg``, moved to ``device``/``dtype``."""
    v = teacher(cfg)
    X = y = None
    if cfg.data == "finite":
        X, y = (a.to(device=device, dtype=dtype) for a in make_data(cfg, v))
    return Problem(v=v.to(device=device, dtype=dtype), nu=float(cfg.teacher_norm), dim=cfg.dim,
                   depth=cfg.depth, X=X, y=y)


def split(S: torch.Tensor, dim: int):
    """``(w, a)`` views of a packed state ``(..., d + L - 1)``."""
    return S[..., :dim], S[..., dim:]


def chain_product(a: torch.Tensor) -> torch.Tensor:
    """``A = a_2 ... a_L`` over the last axis (ones for ``L = 1``)."""
    return a.prod(dim=-1)


def effective_weight(S: torch.Tensor, dim: int) -> torch.Tensor:
    """Effective weight ``u = A w`` of the chain (SCIENCE.md §1.5), shape ``(..., d)``."""
    w, a = split(S, dim)
    return w if a.shape[-1] == 0 else w * chain_product(a).unsqueeze(-1)


def conservation(S: torch.Tensor, dim: int) -> torch.Tensor:
    """Balance quantities ``(‖w‖² - a_2², a_2² - a_3², ...)``, shape ``(..., L - 1)`` (§1.5)."""
    w, a = split(S, dim)
    sq = torch.cat([(w * w).sum(dim=-1, keepdim=True), a * a], dim=-1)
    return sq[..., :-1] - sq[..., 1:]

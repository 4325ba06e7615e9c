"""The result of a gradient-flow run and its assembly from recorded states (SCIENCE.md §1.7)."""
from __future__ import annotations

import math
import mmap
from dataclasses import dataclass
from typing import Optional

import torch

from engine.gradient_flow.closed_form import angle_to
from engine.gradient_flow.config import FlowConfig
from engine.gradient_flow.model import Problem, conservation, effective_weight, split
from engine.gradient_flow.planar import CHUNK, Plane, run_parts
from engine.gradient_flow.planar_frames import frame_block, lift_block, lift_terms
from engine.gradient_flow.deferred import Deferred, DeferredField
from engine.gradient_flow.reduced import magnitude_bound

__all__ = ["FlowRecording", "build_recording", "recording_from_fields", "ACTIVE_BUDGET",
           "ACTIVE_MAX_INITS"]

SCALARS = ("magnitude", "angle", "loss")

ACTIVE_BUDGET = 50_000_000   # booleans: above this only a few initialisations keep `active`
ACTIVE_MAX_INITS = 64


@dataclass
class FlowRecording:
    """Recorded frames of a run; every tensor on the CPU in the run's dtype (SCIENCE.md §1.7).

    Attributes
    ----------
    config : FlowConfig
    teacher : Tensor (d,)
        Teacher weight ``v``.
    t : Tensor (T,)
        Frame times (GD: ``t = kη``).
    w : Tensor (T, N, d)
        Effective weight ``u = a_2…a_L w`` (the weight itself for depth 1).
    magnitude : Tensor (T, N)
        ``‖u‖``.
    angle : Tensor (T, N)
        ``θ = angle(u, v) ∈ [0, π]`` (``φ = π - θ`` is :attr:`phi`).
    loss : Tensor (T, N)
        Population loss (§1.2) or empirical loss ``L_n`` (§1.6).
    layers : Tensor (T, N, L-1)
        The scalars ``a_2..a_L``.
    conservation : Tensor (T, N)
        ``max_l |Q_l(t) - Q_l(0)|`` over ``‖w‖² - a_2², a_l² - a_{l+1}²`` (§1.5; zeros, L = 1).
    bound_lower, bound_upper : Tensor (T, N) or None
        §1.4 comparison bounds ``r0 e^(-t/2) ≤ r ≤ ν + (r0 - ν) e^(-t/2)`` (depth 1,
        population data; for GD they are the GF bounds at ``t = kη``), else None.
        Computed on first read (:mod:`~engine.gradient_flow.deferred`; the lab shows one
        initialisation's band, #16).
    X, y : Tensor (n, d), (n,) or None
        Training set (finite data).
    active : Tensor (T, M, n) bool or None
        Active sets ``u·x_i > 0`` of the initialisations :attr:`active_index`.
    active_index : Tensor (M,) or None
        Which initialisations ``active`` holds: all N when ``T·N·n`` is small, otherwise the
        first ``min(N, 64)`` (fewer when even that would exceed the memory budget).
    support : Tensor (N, n) bool or None
        Active set at the final frame: the operational "support vectors" of SV (§1.6).
    diverged_step : int or None
        First step with a non-finite value or ``‖u‖ > 1e6 max(1, ν, ρ0)``.
    status : str
        ``"completed"`` or ``"diverged at step k"``.
    n_steps : int
        Steps taken (accepted steps for the adaptive integrator).
    """
    config: FlowConfig
    teacher: torch.Tensor
    t: torch.Tensor
    w: torch.Tensor
    magnitude: torch.Tensor
    angle: torch.Tensor
    loss: torch.Tensor
    layers: torch.Tensor
    conservation: torch.Tensor
    bound_lower: Optional[torch.Tensor] = DeferredField()
    bound_upper: Optional[torch.Tensor] = DeferredField()
    X: Optional[torch.Tensor]
    y: Optional[torch.Tensor]
    active: Optional[torch.Tensor]
    active_index: Optional[torch.Tensor]
    support: Optional[torch.Tensor]
    diverged_step: Optional[int]
    status: str
    n_steps: int

    @property
    def phi(self) -> torch.Tensor:
        """MAD's angle ``φ = π - θ`` (non-decreasing along one-layer GF, §1.4)."""
        return math.pi - self.angle


def _cpu(x: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """Contiguous CPU copy (or view, already on the CPU) of ``x``; None stays None."""
    return None if x is None else x.detach().cpu().contiguous()


def _frame_loss(prob: Problem, u: torch.Tensor) -> torch.Tensor:
    """Loss per frame; finite data goes frame by frame (bounded ``(N, n)`` memory)."""
    if prob.X is None:
        return prob.loss_u(u)
    return torch.stack([prob.loss_u(frame) for frame in u])


def _active_index(T: int, N: int, n: int) -> torch.Tensor:
    """Initialisations whose active sets are stored (all, or the first few)."""
    if T * N * n <= ACTIVE_BUDGET:
        return torch.arange(N)
    return torch.arange(max(1, min(N, ACTIVE_MAX_INITS, ACTIVE_BUDGET // (T * n))))


def _data_fields(prob: Problem, u: torch.Tensor) -> dict:
    """Active sets, support vectors and the data itself (finite mode; §1.6)."""
    if prob.X is None:
        return dict(X=None, y=None, active=None, active_index=None, support=None)
    T, N = u.shape[:2]
    idx = _active_index(T, N, prob.X.shape[0])
    sub = u[:, idx.to(u.device)]
    active = torch.stack([(frame @ prob.X.T) > 0 for frame in sub])
    support = (u[-1] @ prob.X.T) > 0
    return dict(X=_cpu(prob.X), y=_cpu(prob.y), active=_cpu(active), active_index=idx,
                support=_cpu(support))


def _planar_fields(fm: torch.Tensor, nu: float, plane: Plane) -> dict:
    """Weights, norm, angle and loss of one-layer planar frames ``fm (T, 2, N)`` (§1.2, §1.4).

    ``r = ‖(x, y)‖``, ``θ = π/2 - atan(x/|y|)`` (= ``atan2(|y|, x)``; ``|y|`` floored as in
    the steps, :func:`~engine.gradient_flow.planar.planar_grad_fm`) and the loss
    ``r²/4 + ν²/4 - rν g(θ)/(2π)`` with ``r g(θ) = |y| + (π - θ) x``.  Computed in blocks of
    frames × :data:`~engine.gradient_flow.planar.CHUNK` trajectories (temporaries in the
    cache, each operation below torch's parallel grain), the frames split over the worker
    threads of :func:`~engine.gradient_flow.planar.run_parts`.
    """
    T, _, N = fm.shape
    d = plane.e1.shape[0]
    out = dict(w=fm.new_empty((T, N, d)), magnitude=fm.new_empty((T, N)),
               angle=fm.new_empty((T, N)), loss=fm.new_empty((T, N)))
    e2t = plane.e2.T.contiguous()
    terms = lift_terms(plane)
    chunk = N if fm.device.type != "cpu" else CHUNK

    def frames(lo: int, hi: int) -> None:
        ay, t = fm.new_empty(min(N, chunk)), fm.new_empty(min(N, chunk))
        for i in range(lo, hi):
            for c0 in range(0, N, chunk):
                c1 = min(N, c0 + chunk)
                cols = slice(c0, c1)
                frame_block(fm[i, 0, cols], fm[i, 1, cols], ay[:c1 - c0], t[:c1 - c0],
                            {name: out[name][i, cols] for name in SCALARS}, nu)
                lift_block(fm[i, 0, cols], fm[i, 1, cols], terms, e2t[:, cols],
                           out["w"][i, cols])

    run_parts(frames, T, parallel=fm.device.type == "cpu")
    return dict(out, **_one_layer_extras(out["magnitude"]))


def _one_layer_extras(magnitude: torch.Tensor) -> dict:
    """The fields a one-layer run has trivially: no layers ``(T, N, 0)`` and zero balance
    residuals (§1.5: there is no ``a_l`` to balance)."""
    T, N = magnitude.shape
    return dict(layers=magnitude.new_empty((T, N, 0)), conservation=_untouched_zeros(magnitude))


def _untouched_zeros(like: torch.Tensor) -> torch.Tensor:
    """Zeros shaped like ``like``, on the CPU in fresh anonymous memory: the kernel maps its
    pages (zero) on first use, so nothing is written up front (a (T, N) field the one-layer
    lab never draws costs no first-touch time, #16); elsewhere ``zeros_like``."""
    if like.device.type != "cpu" or like.numel() == 0:
        return torch.zeros_like(like)
    memory = mmap.mmap(-1, like.numel() * like.element_size())
    return torch.frombuffer(memory, dtype=like.dtype).view(like.shape)


def _state_fields(cfg: FlowConfig, prob: Problem, states: torch.Tensor,
                  plane: Optional[Plane]) -> dict:
    """Weights, norm, angle, loss, layers and balance residuals of states ``(T, N, P)``."""
    u = effective_weight(states, prob.dim)
    magnitude = torch.linalg.vector_norm(u, dim=-1)
    _, a = split(states, prob.dim)
    if cfg.depth > 1:
        q = conservation(states, prob.dim)
        cons = (q - q[:1]).abs().amax(dim=-1)
    else:
        cons = torch.zeros_like(magnitude)
    w = u if plane is None else plane.lift(u[..., 0], u[..., 1])
    return dict(w=w, magnitude=magnitude, angle=angle_to(u, prob.v), loss=_frame_loss(prob, u),
                layers=a, conservation=cons, **_data_fields(prob, u))


def build_recording(cfg: FlowConfig, prob: Problem, t: torch.Tensor, fm: torch.Tensor,
                    n_steps: int, diverged_step: Optional[int],
                    plane: Optional[Plane] = None) -> FlowRecording:
    """Derived per-frame quantities from the recorded feature-major states ``(T, P, N)``.

    Norms, angles, losses and balance quantities are invariant under the rotation into
    the plane, so a planar run (``plane`` given, ``P = 2 + L - 1``) computes them in
    plane coordinates and lifts only the weights (:meth:`Plane.lift`).

    Parameters
    ----------
    cfg : FlowConfig
    prob : Problem
        The problem the states belong to (the planar one for a planar run).
    t : Tensor (T,)
    fm : Tensor (T, P, N), on the run's device
    n_steps : int
    diverged_step : int or None
    plane : Plane, optional
    """
    if plane is not None and cfg.depth == 1:
        fields = _planar_fields(fm, prob.nu, plane)
    else:
        fields = _state_fields(cfg, prob, fm.transpose(1, 2).contiguous(), plane)
    return _assemble(cfg, prob, t, fields, n_steps, diverged_step, plane)


def recording_from_fields(cfg: FlowConfig, prob: Problem, t: torch.Tensor, recorded: dict,
                          n_steps: int, diverged_step: Optional[int],
                          plane: Plane) -> FlowRecording:
    """The recording of a one-layer planar run whose fields were recorded while it ran.

    ``recorded`` holds ``w (T, N, d)``, ``magnitude``, ``angle`` and ``loss (T, N)``
    (:class:`~engine.gradient_flow.planar_frames.PlanarFields`); the bounds and the
    trivial one-layer fields are added as :func:`build_recording` adds them.
    """
    fields = dict(recorded, **_one_layer_extras(recorded["magnitude"]))
    return _assemble(cfg, prob, t, fields, n_steps, diverged_step, plane)


def _assemble(cfg: FlowConfig, prob: Problem, t: torch.Tensor, fields: dict, n_steps: int,
              diverged_step: Optional[int], plane: Optional[Plane]) -> FlowRecording:
    """The recording of the per-frame ``fields``: data fields, §1.4 bounds, status."""
    if "X" not in fields:
        fields = dict(fields, **_data_fields(prob, None))
    lower = upper = None
    if cfg.depth == 1 and prob.X is None:
        r0 = _cpu(fields["magnitude"][0]).clone()
        t0 = _cpu(t.to(r0.dtype))
        lower, upper = (Deferred(_bound, t0, r0, cfg.teacher_norm, side) for side in (0, 1))
    status = "completed" if diverged_step is None else f"diverged at step {diverged_step}"
    v = prob.v if plane is None else plane.v
    return FlowRecording(
        config=cfg, teacher=_cpu(v), t=_cpu(t), bound_lower=lower, bound_upper=upper, diverged_step=diverged_step, status=status,
        n_steps=int(n_steps), **{name: _cpu(value) for name, value in fields.items()})


def _bound(t: torch.Tensor, r0: torch.Tensor, nu: float, upper: int) -> torch.Tensor:
    """A §1.4 comparison bound ``(T, N)`` of the initial norms ``r0`` (CPU; deferred)."""
    return magnitude_bound(t, r0, nu, upper=bool(upper)).contiguous()

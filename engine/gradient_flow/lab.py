"""The gradient-flow lab's run: trajectories, phase field and studies in one result
(SCIENCE.md §1; docs/CONTRACTS.md "Lab contract").

:func:`run_config` is the lab's engine entry: it simulates the configured run
(:func:`~engine.gradient_flow.simulate_iter`), then computes everything the lab draws — the
reduced ``(ρ, θ)`` vector field of the phase portrait (§1.4-1.5), the convergence time
against the initial scale for depths 1…4 (§1.5) and the GD-vs-GF step-size study (§1.1) —
and returns one :class:`FlowResult` of CPU NumPy arrays. Nothing is computed on the GUI
thread; a notebook gets the same result as the app.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import Generator, Optional

import numpy as np
import torch

from engine.core import Progress, drain, relay
from engine.gradient_flow.compare import compare_step_sizes_iter
from engine.gradient_flow.config import FlowConfig
from engine.gradient_flow.deferred import Deferred, DeferredField, stored
from engine.gradient_flow.recording import FlowRecording
from engine.gradient_flow.ode import dopri5_step, next_step_size
from engine.gradient_flow.reduced import (_bisect_crossing, magnitude_bound, reduced_loss,
                                          reduced_rhs)
from engine.gradient_flow.runner import simulate_iter
from engine.sweeps import Sweep, run_sweep

__all__ = ["FlowConfig", "FlowResult", "PhaseField", "ReducedPoint", "run_config", "run",
           "phase_field", "reduced_point", "reduced_points", "convergence_study", "DEPTHS",
           "SCALES", "STUDY_LRS"]

DEPTHS = (1, 2, 3, 4)
SCALES = np.logspace(-2, 0, 9)
STUDY_LRS = (0.5, 1.5, 3.5, 6.0)  # tracks GF, tracks, oscillates, diverges
PHASE_GRID = (18, 14)             # (ρ, θ) arrows of the phase portrait


@dataclass(frozen=True)
class PhaseField:
    """The reduced flow's vector field on a ``(ρ, θ)`` grid (SCIENCE.md §1.4-1.5).

    ``r``, ``theta``, ``dr``, ``dtheta`` are ``(n_θ, n_ρ)`` arrays; ``dr`` is NaN everywhere
    when the field does not describe the run (finite data, or an unbalanced deep chain).
    """
    r: np.ndarray
    theta: np.ndarray
    dr: np.ndarray
    dtheta: np.ndarray


@dataclass(frozen=True)
class FlowResult:
    """Everything the lab draws, as CPU NumPy arrays (safe to hand across threads)."""
    config: FlowConfig
    t: np.ndarray            # (T,)
    w: np.ndarray            # (T, N, d)
    magnitude: np.ndarray    # (T, N)
    angle: np.ndarray        # (T, N)
    loss: np.ndarray         # (T, N)
    teacher: np.ndarray      # (d,)
    conservation: np.ndarray  # (T, N)
    bound_lower: Optional[np.ndarray] = DeferredField()   # (T, N), computed on first read
    bound_upper: Optional[np.ndarray] = DeferredField()
    X: Optional[np.ndarray]
    active: Optional[np.ndarray]       # (T, M, n) for inits active_index
    active_index: Optional[np.ndarray]  # (M,)
    support: Optional[np.ndarray]       # (N, n)
    status: str
    diverged_step: Optional[int]
    phase: PhaseField
    conv_depths: np.ndarray             # (D,)
    conv_scales: np.ndarray             # (S,)
    conv_times: np.ndarray              # (D, S)
    step_study: dict                    # label → (t, median loss, diverged_step|None)
    seconds: float

    def bounds_at(self, index: int) -> Optional[tuple]:
        """``(lower, upper)`` §1.4 bounds ``(T,)`` of initialisation ``index`` (None where the
        run has none): the column ``index`` of :attr:`bound_lower` / :attr:`bound_upper`
        without computing those ``(T, N)`` arrays when they have not been read (#16)."""
        if stored(self, "bound_lower") is None:
            return None
        if not isinstance(stored(self, "bound_lower"), Deferred):
            return self.bound_lower[:, index], self.bound_upper[:, index]
        t, r0 = torch.from_numpy(self.t), torch.from_numpy(self.magnitude[0, index:index + 1])
        nu = float(self.config.teacher_norm)
        return tuple(magnitude_bound(t, r0, nu, upper=side)[:, 0].numpy() for side in (False, True))


def phase_field(magnitude: np.ndarray, cfg: FlowConfig) -> PhaseField:
    """The reduced field over ``ρ ∈ [ρmax/25, ρmax]``, ``θ ∈ [0.05, π − 0.05]``.

    ``ρmax`` is 1.15 × the larger of ``ν`` and the largest finite recorded ``‖u‖``. The
    field is exact for population data and balanced chains only (§1.4-1.5); elsewhere
    ``dr`` is NaN so the portrait shows no arrows.
    """
    nu = float(cfg.teacher_norm)
    rmax = 1.15 * max(nu, _finite_max(magnitude, nu))
    R, TH = np.meshgrid(np.linspace(rmax / 25, rmax, PHASE_GRID[0]),
                        np.linspace(0.05, np.pi - 0.05, PHASE_GRID[1]))
    dR, dTH = (np.asarray(a, dtype=float) for a in reduced_rhs(R, TH, depth=cfg.depth, nu=nu))
    if cfg.data != "population" or (cfg.depth > 1 and not cfg.balanced):
        dR = np.full_like(R, np.nan)
    return PhaseField(R, TH, dR, dTH)


def _finite_max(values: np.ndarray, initial: float) -> float:
    """Largest finite entry of ``values`` (``initial`` if none is larger), without a copy of
    the finite entries: one pass when all are finite (``max`` propagates NaN and ``inf``),
    else one frame at a time (a (T, N) temporary costs seconds of first-touch time, #16)."""
    top = float(np.max(values, initial=initial))
    if math.isfinite(top):
        return top
    rows = values.reshape(values.shape[0], -1) if values.ndim else values.reshape(1, 1)
    return max([initial] + [float(np.max(row, initial=initial, where=np.isfinite(row)))
                            for row in rows])


def run_config(cfg: FlowConfig, device: str = "cpu") -> Generator[Progress, None, FlowResult]:
    """Simulate ``cfg``, then the phase field and the two studies; return a FlowResult.

    Progress: the simulation fills 0–0.8, the convergence-time study (reduced ODE, §1.5)
    0.82, the GD step sizes ``STUDY_LRS`` from the run's first ≤ 64 initialisations (§1.1)
    0.9–1. Stop iterating to cancel (also between the study's steps).

    Raises
    ------
    ValueError
        Invalid config (names the field) or a run too large for memory.
    """
    start = time.perf_counter()
    rec = yield from relay(simulate_iter(cfg, device=device), 0.0, 0.8)
    yield Progress(0.82, "convergence time vs initial scale")
    conv = _convergence_table(float(cfg.teacher_norm)).copy()
    raw = yield from relay(compare_step_sizes_iter(cfg, STUDY_LRS, device=device), 0.9, 1.0)
    study = _step_study(raw)
    return _to_result(rec, conv, study, time.perf_counter() - start)


def run(cfg: FlowConfig, device: str = "cpu") -> FlowResult:
    """Blocking :func:`run_config`."""
    return drain(run_config(cfg, device))


@dataclass(frozen=True)
class ReducedPoint:
    """One point of the convergence-time study: the reduced ODE's time to loss < 1e-3."""
    config: FlowConfig
    convergence_time: float


def reduced_point(cfg: FlowConfig, device: str = "cpu") -> Generator[Progress, None,
                                                                      ReducedPoint]:
    """The balanced chain's convergence time at ``(depth, init_scale, teacher_norm)`` from
    ``θ₀ = π/2`` (reduced ODE, SCIENCE.md §1.5): one point of :func:`convergence_study`,
    the ``"gradient-flow/reduced"`` sweep target (:func:`reduced_points` with one point)."""
    points = yield from reduced_points([cfg], device)
    return points[0]


def reduced_points(cfgs, device: str = "cpu") -> Generator[Progress, None, list]:
    """:func:`reduced_point` for many configs in one vectorised integration (the sweep
    target's ``batch`` hook; SCIENCE.md §1.5).

    Every point keeps its own adaptive RK45 step (Dormand-Prince, the controller of
    ``engine.gradient_flow.ode``), so each time equals the single-point
    ``convergence_times([init_scale], depths=(depth,), nu=teacher_norm)`` bit for bit,
    whatever the group: a sweep gives the same numbers on any executor.
    """
    cfgs = list(cfgs)
    depth = np.array([float(c.depth) for c in cfgs])
    nu = np.array([float(c.teacher_norm) for c in cfgs])
    y = np.stack([np.array([float(c.init_scale) for c in cfgs]),
                  np.full(len(cfgs), math.pi / 2)], -1)
    yield Progress(0.0, f"reduced ODE, {len(cfgs)} points")
    times = yield from _independent_crossing_times(y, depth, nu)
    return [ReducedPoint(c, float(t)) for c, t in zip(cfgs, times)]


def _independent_crossing_times(y, depth, nu, tol=1e-3, t_cap=1e4, rtol=1e-9):
    """Per-row adaptive RK45 of the reduced flow until ``reduced_loss < tol`` (the
    algorithm of ``reduced.convergence_times`` with one step size per row)."""
    n = len(y)
    times = np.where(reduced_loss(y[:, 0], y[:, 1], nu) < tol, 0.0, np.inf)
    t, h = np.zeros(n), np.full(n, 1e-3)
    y_cross, h_cross = np.zeros_like(y), np.zeros(n)
    steps = 0
    while True:
        live = np.flatnonzero(np.isinf(times) & (t < t_cap))
        if live.size == 0:
            break
        steps += 1
        if steps % 200 == 0:
            yield Progress(min(0.99, 1.0 - live.size / n), f"{n - live.size}/{n} converged")
        yl, hl, Ll, nl = y[live], h[live], depth[live], nu[live]

        def f(state):
            return np.stack(reduced_rhs(state[:, 0], state[:, 1], Ll, nl), -1)

        y_new, e, _ = dopri5_step(f, yl, hl[:, None])
        err = _row_error_norm(e, yl, y_new, rtol, rtol * 1e-3)
        ok = err <= 1.0
        crossed = ok & (reduced_loss(y_new[:, 0], y_new[:, 1], nl) < tol)
        idx = live[crossed]
        times[idx] = t[idx]                    # + the sub-step, found below for all rows
        y_cross[idx], h_cross[idx] = yl[crossed], hl[crossed]
        acc = live[ok]
        t[acc], y[acc] = t[acc] + hl[ok], y_new[ok]
        h[live] = np.minimum(_next_steps(hl, err), 1.0)
    hit = np.flatnonzero(h_cross > 0)          # rows bisected independently: one batch
    if hit.size:
        times[hit] += _bisect_crossing(y_cross[hit], h_cross[hit], depth[hit], nu[hit], tol)
    return times


def _row_error_norm(err, y, y_new, rtol, atol) -> np.ndarray:
    """``ode.error_norm`` per row (non-finite → inf: the row's step is rejected)."""
    scale = atol + rtol * np.maximum(np.abs(y), np.abs(y_new))
    val = np.max(np.abs(err) / scale, axis=1)
    return np.where(np.isfinite(val), val, np.inf)


def _next_steps(h, err) -> np.ndarray:
    """``ode.next_step_size`` per row, in Python floats (NumPy's vectorised ``**`` may
    round differently from the scalar one: the rows must match single-point runs)."""
    return np.array([next_step_size(a, b) for a, b in zip(h.tolist(), err.tolist())])


def convergence_study(nu: float = 1.0, depths=DEPTHS, scales=SCALES):
    """The lab's convergence-time study (SCIENCE.md §1.5) as a sweep over depth × initial
    scale, run in this process: a generator of Progress returning the sweep's table."""
    sweep = Sweep(lab="gradient-flow/reduced", config=FlowConfig(teacher_norm=nu),
                  axes={"depth": list(depths), "init_scale": [float(s) for s in scales]},
                  seeds=1, metrics=["convergence_time"])
    return run_sweep(sweep, executor="local")


@functools.lru_cache(maxsize=8)
def _convergence_table(nu: float) -> np.ndarray:
    """The convergence-time study over ``DEPTHS × SCALES`` as a ``(D, S)`` array (depends on
    ``ν`` only: cached)."""
    table = drain(convergence_study(nu))
    if (table["error"] != "").any():
        raise RuntimeError("convergence-time study failed: " + table["error"].iloc[0])
    return table["convergence_time"].to_numpy(float).reshape(len(DEPTHS), len(SCALES))


def _step_study(raw: dict) -> dict:
    """``compare_step_sizes`` output keyed by legend label (``"GF"``, ``"GD η = 1.5"``)."""
    out = {}
    for key, value in raw.items():
        div = value[2] if len(value) > 2 else None
        label = "GF" if key == "gf" else f"GD η = {key:g}"
        out[label] = (np.asarray(value[0]), np.asarray(value[1]), div)
    return out


def _np(x) -> Optional[np.ndarray]:
    """NumPy view of a recording's CPU tensor (the recording is dropped: no copy needed)."""
    return None if x is None else x.detach().cpu().numpy()


def _np_field(rec: FlowRecording, name: str):
    """The recording's deferred field ``name`` as NumPy, still deferred if it is unread."""
    value = stored(rec, name)
    return Deferred(_np_of, value) if isinstance(value, Deferred) else _np(value)


def _np_of(deferred: Deferred) -> np.ndarray:
    return _np(deferred())


def _to_result(rec: FlowRecording, conv: np.ndarray, study: dict, seconds: float) -> FlowResult:
    magnitude = _np(rec.magnitude)
    return FlowResult(
        config=rec.config, t=_np(rec.t), w=_np(rec.w), magnitude=magnitude,
        angle=_np(rec.angle), loss=_np(rec.loss), teacher=_np(rec.teacher),
        conservation=_np(rec.conservation), bound_lower=_np_field(rec, "bound_lower"),
        bound_upper=_np_field(rec, "bound_upper"), X=_np(rec.X), active=_np(rec.active),
        active_index=_np(rec.active_index), support=_np(rec.support), status=rec.status,
        diverged_step=rec.diverged_step, phase=phase_field(magnitude, rec.config),
        conv_depths=np.asarray(DEPTHS), conv_scales=SCALES.copy(), conv_times=conv,
        step_study=study, seconds=seconds)

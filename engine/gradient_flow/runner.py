"""Batched GF / GD runs as progress generators (SCIENCE.md §1.1, §1.4-1.7).

All ``N`` initialisations advance together on the device; only the frames are stored.
Fixed-step runs (Euler, RK4, GD = Euler with step η) check for divergence at each progress
report only (no per-step synchronisation); when a check fails the last chunk is replayed
step by step from its start to find the exact first bad step. The adaptive RK45 run (the
reference integrator) checks every accepted step.
"""
from __future__ import annotations

import math

import time
from typing import Generator, Optional

import numpy as np
import torch

from engine.core import Progress, drain, validate
from engine.gradient_flow.config import FlowConfig
from engine.gradient_flow.kernels import effective_norm_fm
from engine.gradient_flow.model import Problem, initial_state, make_problem, teacher
from engine.gradient_flow.ode import dopri5_step, error_norm, next_step_size
from engine.gradient_flow.planar import (CHUNK, Plane, PlanarEuler, PlanarRK4, _Chunked,
                                         make_plane, worker_pool)
from engine.gradient_flow.planar_frames import PlanarFields
from engine.gradient_flow.recording import FlowRecording, build_recording, recording_from_fields

__all__ = ["simulate_iter", "simulate", "MAX_BYTES"]

MAX_BYTES = 6 * 2**30      # refuse runs whose recording / working set would exceed this
_REPORT_SECONDS = 0.04     # report (and allow cancel) at least this often
_REPORT_FRACTION = 0.02    # ... and every 2 % of the steps


class _Frames:
    """Pre-allocated frame buffer of feature-major states; ``keys`` are steps or times."""

    def __init__(self, capacity: int, S0: torch.Tensor, key0=0):
        self.buf = S0.new_empty((capacity + 1,) + tuple(S0.shape))
        self.keys: list = []
        self.add(key0, S0)

    def add(self, key, S: torch.Tensor) -> None:
        """Store ``S`` as the next frame, labelled ``key``."""
        self.buf[self.reserve(key)].copy_(S)

    def write(self, index: int, S: torch.Tensor, cols: slice) -> None:
        """Store the column slice ``S`` of frame ``index`` (a worker thread's trajectories)."""
        self.buf[index][:, cols].copy_(S)

    def reserve(self, key) -> int:
        """Index of the next frame, labelled ``key``; the caller fills ``buf[index]``."""
        self.keys.append(key)
        return len(self.keys) - 1

    def truncate(self, key) -> None:
        """Forget frames recorded after ``key`` (divergence replay)."""
        while self.keys and self.keys[-1] > key:
            self.keys.pop()

    def result(self, scale: float, dtype: torch.dtype):
        """Frame times ``key * scale`` (CPU) and the feature-major states ``(T, P, N)``."""
        t = torch.tensor(self.keys, dtype=torch.float64) * scale
        return t.to(dtype), self.buf[:len(self.keys)]


class _Clock:
    """Decides when to report progress: every 2 % of the work or every 40 ms."""

    def __init__(self, total: int):
        self.every = max(1, int(total * _REPORT_FRACTION))
        self.last_k, self.last_time = 0, time.perf_counter()

    def due(self, k: int) -> bool:
        """True when a report is due at progress count ``k``."""
        now = time.perf_counter()
        if k - self.last_k >= self.every or now - self.last_time >= _REPORT_SECONDS:
            self.last_k, self.last_time = k, now
            return True
        return False


def _threshold(cfg: FlowConfig) -> float:
    """Divergence threshold ``1e6 max(1, ν, ρ0)`` on ``‖u‖``."""
    return 1e6 * max(1.0, cfg.teacher_norm, cfg.init_scale)


def _is_bad(S: torch.Tensor, dim: int, thresh: float) -> bool:
    """Any non-finite value, or some effective norm above ``thresh`` (feature-major ``S``).

    One pass when the state is the weights alone (depth 1; #16): ``‖w‖ ≤ √d max|w_i|``, so
    ``max|w_i| ≤ thresh/√d`` clears every column; NaN propagates through ``aminmax`` and
    fails that test.  Otherwise (or when the bound does not clear) the effective norms are
    computed: a NaN or infinite entry makes one NaN or infinite, ``max`` propagates NaN, and
    the comparison alone catches it.
    """
    if S.shape[0] == dim and S.numel():
        lo, hi = (float(v) * math.sqrt(dim) for v in torch.aminmax(S))
        if -lo <= thresh and hi <= thresh:          # both False for NaN
            return False
    return not float(effective_norm_fm(S, dim).max()) <= thresh


def _euler(prob, S: torch.Tensor, h: float) -> torch.Tensor:
    """Explicit Euler = gradient descent: ``S - h ∇L(S)`` (fused for one-layer population)."""
    return prob.euler(S, h)


def _rk4(prob, S: torch.Tensor, h: float) -> torch.Tensor:
    """Classical RK4 step of ``dS/dt = -∇L(S)``, written with fused ``add(..., alpha=)`` ops
    on the gradients (no negations, few temporaries)."""
    g1 = prob.grad(S)
    g2 = prob.grad(torch.add(S, g1, alpha=-0.5 * h))
    g3 = prob.grad(torch.add(S, g2, alpha=-0.5 * h))
    g4 = prob.grad(torch.add(S, g3, alpha=-h))
    return torch.add(S, g1.add_(g2.add_(g3), alpha=2.0).add_(g4), alpha=-h / 6.0)


def _check_size(cfg: FlowConfig, itemsize: int) -> None:
    """``ValueError`` when the frames or the finite-data working set would not fit."""
    P = cfg.dim + cfg.depth - 1
    frames = cfg.frames * cfg.n_init * (2 * P + cfg.dim + 6) * itemsize
    work = cfg.n_init * (12 * P + (4 * cfg.n_samples if cfg.data == "finite" else 0)) * itemsize
    need = frames + work
    if need > MAX_BYTES:
        raise ValueError(f"run would need about {need / 2**30:.1f} GiB (limit "
                         f"{MAX_BYTES / 2**30:.0f} GiB): reduce frames, n_init or n_samples")


def _fixed_setup(cfg: FlowConfig, prob: Problem):
    """Step size, stepper, label and frame steps of a fixed-step run.

    GD is Euler with step η and ``round(t_max/η)`` steps; GF uses ``round(t_max/dt)`` steps
    of ``t_max / n_steps`` (``dt`` adjusted by < half a step so the run ends at ``t_max``).
    One-layer planar runs take the fused chunked steps of :mod:`~engine.gradient_flow.planar`.
    """
    euler = rk4 = None
    if prob.planar and prob.depth == 1:
        euler, rk4 = PlanarEuler(prob.nu), PlanarRK4(prob.nu)
    if cfg.method == "gd":
        h, step, label = cfg.lr, euler or _euler, "GD"
        n_steps = max(1, int(round(cfg.t_max / h)))
    else:
        n_steps = max(1, int(round(cfg.t_max / cfg.dt)))
        h = cfg.t_max / n_steps
        step = (euler or _euler) if cfg.integrator == "euler" else (rk4 or _rk4)
        label = f"GF {cfg.integrator}"
    frame_steps = np.unique(np.round(np.linspace(0, n_steps, cfg.frames)).astype(np.int64))
    return h, step, label, n_steps, [int(s) for s in frame_steps]


def _replay(step, prob, S, k, k_end, h, frames, frame_steps, dim, thresh):
    """Re-run steps ``k+1..k_end`` one at a time; return the first bad step and last good state."""
    frames.truncate(k)
    wanted = set(frame_steps)
    while k < k_end:
        S_new = step(prob, S, h)
        k += 1
        if _is_bad(S_new, dim, thresh):
            return k, S
        if k in wanted:
            frames.add(k, S_new)
        S = S_new
    return k_end, S


class _Blocks:
    """Advances a fixed-step run by blocks of steps, recording the frames met on the way.

    One-layer planar CPU runs with more than one torch thread keep the batch as one slice
    per thread, each advanced (and checked for divergence) by its own stepper on a pool
    thread in chunks below torch's parallel grain: the threads meet once per block, not once
    per vector operation, so a loaded machine no longer stalls every operation on a
    descheduled thread (#16).  The state is a list of column slices (one without threads).
    A chunked stepper writes into two reused buffers per slice, and fills a frame from the
    first stage of the step after it (inside a block; the block's last frame is written
    from the state).
    """

    def __init__(self, step, prob, h: float, frames: _Frames, frame_steps: list, S0):
        self.prob, self.h, self.frames, self.frame_steps = prob, h, frames, frame_steps
        threads = torch.get_num_threads()
        split = (isinstance(step, _Chunked) and S0.device.type == "cpu" and threads > 1
                 and S0.shape[1] >= 2 * CHUNK)
        self.steppers = [step] + ([step.fresh() for _ in range(threads - 1)] if split else [])
        edges = np.linspace(0, S0.shape[1], len(self.steppers) + 1).astype(int)
        self.cols = [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]
        self.pools: dict = {}

    def split(self, S: torch.Tensor) -> list:
        """The state as the list of slices the steppers advance."""
        return [S] if len(self.cols) == 1 else [S[:, c].contiguous() for c in self.cols]

    def join(self, parts: list) -> torch.Tensor:
        """The whole state ``(P, N)`` of a list of slices."""
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)

    def _targets(self, step, S: torch.Tensor) -> list:
        """Two state buffers a chunked stepper writes in turn, neither of them ``S`` (the
        block's start, kept for a replay): no fresh ``(2, N)`` tensor, and none of its
        first-touch page faults, per step (#16)."""
        pool = self.pools.setdefault(id(step), [])
        if not pool:
            pool.extend(torch.empty_like(S) for _ in range(3))
        return [b for b in pool if b.data_ptr() != S.data_ptr()][:2]

    def _run(self, step, S, k: int, k_end: int, slots: dict, cols: slice, thresh: float):
        chunked = isinstance(step, _Chunked)
        fused = chunked and step.records_stage and hasattr(self.frames, "stage_writer")
        targets = self._targets(step, S) if chunked else None
        pending = None
        while k < k_end:
            if not chunked:
                S = step(self.prob, S, self.h)
            else:                       # the first stage also fills a pending frame of S
                hook = (None if pending is None
                        else self.frames.stage_writer(pending, cols.start or 0))
                S = step(self.prob, S, self.h, hook, out=targets[k % 2])
            k += 1
            pending = None
            if k in slots and fused and k < k_end:
                pending = slots[k]
            elif k in slots:
                self.frames.write(slots[k], S, cols)
        if len(self.cols) == 1:
            return S, _is_bad(S, self.prob.dim, thresh)
        return S, any(_is_bad(S[:, lo:lo + CHUNK], self.prob.dim, thresh)
                      for lo in range(0, S.shape[1], CHUNK))

    def __call__(self, parts: list, k: int, k_end: int, thresh: float) -> tuple[list, bool]:
        """Slices after steps ``k+1..k_end`` (frames at the frame steps among them stored)
        and whether any trajectory diverged (:func:`_is_bad`)."""
        slots = {s: self.frames.reserve(s) for s in self.frame_steps if k < s <= k_end}
        if len(self.cols) == 1:
            S, bad = self._run(self.steppers[0], parts[0], k, k_end, slots, slice(None), thresh)
            return [S], bad
        jobs = [worker_pool().submit(self._run, step, part, k, k_end, slots, cols, thresh)
                for step, part, cols in zip(self.steppers, parts, self.cols)]
        done = [job.result() for job in jobs]
        return [S for S, _ in done], any(bad for _, bad in done)


def _next_block(k: int, n_steps: int, every: int, seconds: float, steps: int) -> int:
    """Steps in the next block: about :data:`_REPORT_SECONDS` of work at the rate measured
    on the last block, at least 1 and at most 2 % of the run (:data:`_REPORT_FRACTION`)."""
    per_step = seconds / max(steps, 1)
    size = int(_REPORT_SECONDS / per_step) if per_step > 0 else every
    return min(n_steps - k, every, max(1, size))


def _frame_store(n_frames: int, prob, S0: torch.Tensor, fields_of: Optional[Plane]):
    """Where the frames go: the shown fields of a one-layer planar run (``fields_of``, its
    plane; :class:`~engine.gradient_flow.planar_frames.PlanarFields`), else the states."""
    if fields_of is not None and prob.depth == 1:
        return PlanarFields(n_frames, S0, fields_of, prob.nu)
    return _Frames(n_frames, S0)


def _run_fixed(cfg: FlowConfig, prob, S0: torch.Tensor,
               fields_of: Optional[Plane] = None) -> Generator:
    """Euler / RK4 gradient flow or gradient descent; returns ``(t, frames, n, diverged)``.

    ``frames`` are the recorded states ``(T, P, N)``, or the recorded fields (a dict) of a
    one-layer planar run given its plane ``fields_of`` (:func:`_frame_store`).  Progress
    after each block of steps (about every 40 ms, at most every 2 % of the run); the
    divergence check runs there too and replays the block step by step when it fails.
    """
    h, step, label, n_steps, frame_steps = _fixed_setup(cfg, prob)
    frames, thresh = _frame_store(len(frame_steps), prob, S0, fields_of), _threshold(cfg)
    blocks = _Blocks(step, prob, h, frames, frame_steps, S0)
    every = max(1, int(n_steps * _REPORT_FRACTION))
    parts, S, k, size, diverged = blocks.split(S0), S0, 0, 1, None
    while k < n_steps:
        start, k_end = time.perf_counter(), k + size
        new_parts, bad = blocks(parts, k, k_end, thresh)
        if bad:
            diverged, S = _replay(step, prob, blocks.join(parts), k, k_end, h, frames,
                                  frame_steps, prob.dim, thresh)
            k = k_end
            break
        parts, k = new_parts, k_end
        size = _next_block(k, n_steps, every, time.perf_counter() - start, size)
        yield Progress(k / n_steps, f"{label}: step {k}/{n_steps}, t = {k * h:.4g}")
    if diverged is not None and frames.keys[-1] < diverged - 1:
        frames.add(diverged - 1, S)
    n_done = k if diverged is None else diverged - 1
    return (*frames.result(h, S0.dtype), n_done, diverged)


def _min_adaptive_step(cfg: FlowConfig) -> float:
    """Step-size floor of the adaptive run.

    Finite data (§1.6): the velocity jumps by ``y_i x_i / n`` where sample ``i`` switches
    on or off, and with negative (noisy) labels the switching surface can attract from
    both sides (Filippov sliding), where any explicit method chatters. There the step is
    floored at ``dt`` (steps at the floor are accepted), so the cost stays bounded and the
    accuracy near switches is that of a ``dt`` step; elsewhere error control is exact.
    The population loss is smooth away from ``w = 0``: no floor beyond round-off.
    """
    return min(cfg.dt, cfg.t_max) if cfg.data == "finite" else 1e-12 * cfg.t_max


def _run_adaptive(cfg: FlowConfig, prob, S0: torch.Tensor) -> Generator:
    """Dormand-Prince RK45 gradient flow landing on the frame times (the reference run)."""
    targets = np.linspace(0.0, cfg.t_max, cfg.frames)
    frames, thresh, clock = _Frames(cfg.frames, S0, 0.0), _threshold(cfg), _Clock(1000)
    atol, h_min = cfg.rtol * 1e-3, _min_adaptive_step(cfg)
    S, t, h, k1, k, fi, diverged = S0, 0.0, min(cfg.dt, cfg.t_max), None, 0, 1, None
    while fi < len(targets):
        span = targets[fi] - t
        dt = min(h, span)
        S_new, e, k7 = dopri5_step(prob.rhs, S, dt, k1)
        err = error_norm(e, S, S_new, cfg.rtol, atol)
        if err <= 1.0 or (dt <= h_min and np.isfinite(err)):
            if _is_bad(S_new, prob.dim, thresh):
                diverged = k + 1
                break
            S, k1, k, t = S_new, k7, k + 1, (targets[fi] if dt == span else t + dt)
            if dt == span:
                frames.add(float(t), S)
                fi += 1
        h = max(next_step_size(dt, err) if (err > 1.0 or dt == h) else max(h, dt), h_min)
        if h < 1e-12 * cfg.t_max or (dt <= h_min and not np.isfinite(err)):  # blown up
            diverged = k + 1
            break
        if clock.due(int(1000 * t / cfg.t_max)):
            yield Progress(t / cfg.t_max, f"GF adaptive: t = {t:.4g}/{cfg.t_max:g}, {k} steps")
    if diverged is not None and frames.keys[-1] < t:
        frames.add(float(t), S)
    return (*frames.result(1.0, S0.dtype), k, diverged)


def _in_plane(cfg: FlowConfig) -> bool:
    """Population runs with a fixed step run in plane coordinates (exact, planar module);
    the adaptive reference run and finite data (§1.6) keep the ``d``-dimensional state."""
    return cfg.data == "population" and not (cfg.method == "gf" and cfg.integrator == "adaptive")


def _setup(cfg: FlowConfig, device: str, dtype: torch.dtype, in_plane: bool):
    """Problem, feature-major initial state ``(P, N)`` and plane (None: full coordinates)."""
    S0, plane = initial_state(cfg), None
    prob = make_problem(cfg, device, dtype)
    if in_plane:
        plane = make_plane(S0[:, :cfg.dim], teacher(cfg))
        S0, plane = plane.project(S0), plane.to(device, dtype)
        v2 = torch.tensor([cfg.teacher_norm, 0.0], device=device, dtype=dtype)
        prob = Problem(v=v2, nu=prob.nu, dim=2, depth=cfg.depth, planar=True)
    return prob, S0.T.to(device=device, dtype=dtype).contiguous(), plane


def simulate_iter(cfg: FlowConfig, device: str = "cpu", full_state: bool = False, *,
                  record_states: bool = False) -> Generator[Progress, None, FlowRecording]:
    """Run ``cfg`` on ``device``, yielding :class:`~engine.core.Progress`; return the recording.

    Gradient flow ``dS/dt = -∇L`` of the chain parameters (SCIENCE.md §1.4-1.5; Euler, RK4 or
    adaptive RK45) or gradient descent ``S ← S - η ∇L`` (§1.1), population (§1.2-1.3) or
    finite data (§1.6), batched over the ``N`` initialisations; fixed-step population runs
    integrate in the plane of ``w(0)`` and ``v`` (:mod:`~engine.gradient_flow.planar`, the
    same steps at ``d = 2`` cost) and lift the recorded frames; ``full_state=True`` keeps
    the ``d``-dimensional state (the reference the planar run is tested and benchmarked
    against). One-layer planar runs compute the shown fields as each frame is recorded
    (:mod:`~engine.gradient_flow.planar_frames`); ``record_states=True`` records the plane
    coordinates and derives the fields afterwards instead (the path before, same numbers:
    the reference of the tests and the benchmark's baseline). Progress is reported every
    ~2 % of the steps and at least every ~40 ms; stop iterating to cancel.

    Raises
    ------
    ValueError
        Invalid config (names the field and its range) or a run too large for memory.
    """
    validate(cfg)
    dtype = getattr(torch, cfg.dtype)
    _check_size(cfg, torch.finfo(dtype).bits // 8)
    prob, S0, plane = _setup(cfg, device, dtype, in_plane=not full_state and _in_plane(cfg))
    yield Progress(0.0, "starting")
    if cfg.method == "gf" and cfg.integrator == "adaptive":
        t, states, n_steps, diverged = yield from _run_adaptive(cfg, prob, S0)
    else:
        fields_of = None if record_states else plane
        t, states, n_steps, diverged = yield from _run_fixed(cfg, prob, S0, fields_of)
    yield Progress(1.0, "recording frames")
    if isinstance(states, dict):
        return recording_from_fields(cfg, prob, t, states, n_steps, diverged, plane)
    return build_recording(cfg, prob, t, states, n_steps, diverged, plane)


def simulate(cfg: FlowConfig, device: str = "cpu", full_state: bool = False, *,
             record_states: bool = False) -> FlowRecording:
    """Blocking :func:`simulate_iter` (``engine.core.drain``)."""
    return drain(simulate_iter(cfg, device=device, full_state=full_state,
                               record_states=record_states))

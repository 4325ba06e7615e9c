"""The result of one solver run and its bounded-memory assembly (SCIENCE.md §3.5).

Memory bound: frames are kept every ``record_every``-th step (plus the start, the result and
the last good state of a diverged run) for the first ``record_particles`` particles only;
if that would still exceed :data:`MAX_RECORD_BYTES` the stride is increased automatically
(``rec.record_every`` is the stride used, ``rec.notes`` says so). The full final cloud
(``rec.final``) and the full per-step paths of the first ``n_trails`` particles
(``rec.trails``) are always kept.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import torch

from engine.diffusion.context import Step
from engine.diffusion.metrics import METRIC_KEYS, FrameMetrics

__all__ = ["DiffusionRecording", "Recorder", "MAX_RECORD_BYTES"]

MAX_RECORD_BYTES = 256 * 2**20


@dataclass
class DiffusionRecording:
    """Recorded frames of one run; every tensor on the CPU.

    Attributes
    ----------
    solver : str
    params : dict
        The solver's parameters (defaults filled in).
    x, x0_hat : Tensor (F, M, d)
        Particle positions and Tweedie estimates at the recorded frames, ``x[0]`` the start,
        ``x[-1]`` the result (or the last good state of a diverged run); ``M`` = recorded
        particles (the first ``M`` of ``N``).
    t : Tensor (F,) int64
        Diffusion time index of each frame (``T`` … ``0``; CCDF starts at ``t_{N'}``).
    alpha_bar : Tensor (F,) float64
        ``ᾱ_t`` of each frame.
    level : Tensor (F,) float64
        ``ᾱ`` of the marginal the frame is compared with (``ᾱ_t``; 1 for RED-diff's ``μ``).
    step_index : Tensor (F,) int64
        Solver step of each frame (0 = start); ``rec.x[f]`` is the state after
        ``step_index[f]`` steps.
    metrics : dict of str → Tensor (F,) float64
        Per-frame means, keys :data:`~engine.diffusion.metrics.METRIC_KEYS` (see
        :class:`~engine.diffusion.metrics.FrameMetrics`); only ``nfe`` without metrics.
    summary : dict of str → float
        End-of-run numbers: ``posterior_distance`` (the last frame's
        :meth:`~engine.diffusion.metrics.FrameMetrics.distance`: V-statistic energy distance
        of the first ``posterior_distance_points`` particles to as many fixed exact posterior —
        or prior — samples, at ``posterior_distance_level``; equal to ``metrics[...][-1]``),
        ``posterior_distance_floor`` and ``..._floor_sd`` (the exact-vs-exact noise floor of
        that estimator: mean and sd), ``sliced_w2`` (same particles and reference),
        ``residual`` (mean ``‖y - A x_0‖``), ``off_manifold``, ``nfe``.
    final : Tensor (N, d)
        The whole final cloud.
    trails : Tensor (S' + 1, n_trails, d)
        Every state of the first ``n_trails`` particles; ``trail_t`` (S' + 1,) their times.
    n_particles, n_steps, nfe : int
        Particles, planned steps (CCDF: ``N'``), score evaluations.
    record_every : int
        Frame stride used.
    seed : int
    device : str
    diverged_step : int or None
        First step whose state was non-finite or exploded.
    status : str
        ``"completed"`` or ``"diverged at step k"``.
    notes : list of str
    """
    solver: str
    params: dict
    x: torch.Tensor
    x0_hat: torch.Tensor
    t: torch.Tensor
    alpha_bar: torch.Tensor
    level: torch.Tensor
    step_index: torch.Tensor
    metrics: dict
    summary: dict
    final: torch.Tensor
    trails: torch.Tensor
    trail_t: torch.Tensor
    n_particles: int
    n_steps: int
    nfe: int
    record_every: int
    seed: int
    device: str
    diverged_step: Optional[int] = None
    status: str = "completed"
    notes: list = field(default_factory=list)


class Recorder:
    """Collects frames, trails and metrics from the :class:`Step` stream of a run."""

    def __init__(self, metrics: Optional[FrameMetrics], record_every: int,
                 record_particles: Optional[int], n_trails: int):
        self.metrics = metrics
        self.stride = int(record_every)
        self.m_req = record_particles
        self.n_trails = int(n_trails)
        self.notes: list[str] = []
        self.frames: list = []          # (step, t, level, x, x0) on the device
        self.rows: list[dict] = []
        self.trails: list = []
        self.trail_t: list = []
        self.last: Optional[Step] = None
        self.last_recorded = -1

    def _plan(self, st: Step) -> None:
        """Stride and particle subset for this run, within :data:`MAX_RECORD_BYTES`."""
        N, d = st.x.shape
        self.M = N if self.m_req is None else max(1, min(int(self.m_req), N))
        per_frame = 2 * self.M * d * st.x.element_size()
        frames = st.n // self.stride + 2
        if frames * per_frame > MAX_RECORD_BYTES:
            budget = max(2, MAX_RECORD_BYTES // per_frame - 2)
            new = max(self.stride, math.ceil(st.n / budget))
            self.notes.append(f"record_every raised from {self.stride} to {new} to keep the "
                              f"recording under {MAX_RECORD_BYTES // 2**20} MiB")
            self.stride = new

    def add(self, st: Step, nfe: int) -> None:
        """Record ``st`` as a frame if it is on the stride or the last step; always trail it."""
        if self.last is None:
            self._plan(st)
        if st.i % self.stride == 0 or st.i == st.n:
            self._frame(st, nfe)
        if self.n_trails:
            self.trails.append(st.x[:self.n_trails].clone())
            self.trail_t.append(st.t)
        self.last, self.last_nfe = st, nfe

    def _frame(self, st: Step, nfe: int) -> None:
        M = self.M
        self.frames.append((st.i, st.t, st.level, st.x[:M].clone(), st.x0_hat[:M].clone()))
        row = self.metrics.frame(st) if self.metrics is not None else {}
        row["nfe"] = float(nfe)
        self.rows.append(row)
        self.last_recorded = st.i

    def close_diverged(self) -> None:
        """Make sure the last good state is a frame (a run stopped by divergence)."""
        if self.last is not None and self.last_recorded != self.last.i:
            self._frame(self.last, self.last_nfe)

    def tensors(self) -> dict:
        """Frames, metrics and trails as CPU tensors (fields of :class:`DiffusionRecording`)."""
        steps, ts, levels, xs, x0s = zip(*self.frames, strict=True)
        metrics = {}
        for key in METRIC_KEYS:
            vals = [r[key] for r in self.rows if key in r]
            if len(vals) == len(self.rows):
                metrics[key] = torch.stack([torch.as_tensor(v, dtype=torch.float64).cpu()
                                            for v in vals])
        d = xs[0].shape[-1]
        trails = (torch.stack(self.trails).cpu() if self.trails
                  else torch.zeros(0, 0, d, dtype=xs[0].dtype))
        return dict(x=torch.stack(xs).cpu(), x0_hat=torch.stack(x0s).cpu(),
                    t=torch.tensor(ts, dtype=torch.int64),
                    level=torch.tensor(levels, dtype=torch.float64),
                    step_index=torch.tensor(steps, dtype=torch.int64), metrics=metrics,
                    trails=trails, trail_t=torch.tensor(self.trail_t, dtype=torch.int64),
                    record_every=self.stride)

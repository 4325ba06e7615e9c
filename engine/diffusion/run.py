"""Run one sampler / solver on a Gaussian-mixture prior: ``solve_iter`` and ``solve``.

The driver (SigPy's Alg/App split): it validates the inputs, builds the shared
:class:`~engine.sampling.contract.Context` around the exact mixture model
(:class:`~engine.diffusion.context.ExactScore`; the exact posterior's for the oracle) and the
toy measurement (:class:`~engine.diffusion.context.LinearData`), pulls :class:`Step` objects
from the solver function of :data:`~engine.diffusion.table.SOLVERS`, checks each new state for
divergence, records frames/metrics against the prior and the exact posterior
(:class:`~engine.diffusion.recording.Recorder`) and yields :class:`engine.core.Progress` at
least every ~40 ms.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Generator, Optional, Union

import torch

from engine.core import Progress, drain, make_generator
from engine.diffusion.context import Context, ExactScore, LinearData
from engine.diffusion.gmm import GaussianMixture
from engine.diffusion.linalg import Measurement
from engine.diffusion.metrics import (SW_PROJECTIONS, FrameMetrics, distance_floor, sliced_w2,
                                      sliced_w2_floor)
from engine.diffusion.recording import DiffusionRecording, Recorder
from engine.diffusion.protocol import start_kl_bound
from engine.diffusion.shared_cov import SharedScore, shared_or_none
from engine.diffusion.table import CONDITIONAL, check_params, resolve_solver
from engine.sampling.contract import START_EXACT, STARTS
from engine.sampling.schedule import Schedule

__all__ = ["solve_iter", "solve", "MAX_PARTICLES"]

MAX_PARTICLES = 10_000_000
MAX_TABLE_BYTES = 2**29       # ExactScore's per-step factorisations (T K d² float64)
_REPORT_SECONDS = 0.04
_AUX_SEED, _METRIC_SEED = 0x5EED_0001, 0x5EED_0002


def _dtype(dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype) and dtype in (torch.float32, torch.float64):
        return dtype
    if dtype in ("float32", "float64"):
        return getattr(torch, dtype)
    raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")


def _int(name: str, value, lo: int, hi: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (
            hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be an integer {rng}, got {value!r}")
    return value


@dataclass
class _Run:
    """The solver context plus what only the driver needs: the prior, the exact posterior and
    the measurement (metrics, divergence scale, summary)."""
    ctx: Context
    prior: GaussianMixture
    posterior: Optional[GaussianMixture]
    meas: Optional[Measurement]


def exact_model(target: GaussianMixture, schedule: Schedule):
    """The exact denoiser of ``target``: :class:`SharedScore` (``O(N K d)`` per call) when its
    components share one covariance (the MCGdiff protocol), else :class:`ExactScore`."""
    shared = shared_or_none(target) if target.dim > 3 else None
    if shared is None:
        table = schedule.T * target.n_components * target.dim ** 2 * 8
        if table > MAX_TABLE_BYTES:
            raise ValueError(f"the exact score of a {target.n_components}-component mixture "
                             f"with distinct covariances in d = {target.dim} needs a "
                             f"{table / 2**30:.1f} GiB table; use components sharing one "
                             f"covariance (the 'mcgdiff' prior) or d <= 3")
        return ExactScore(target, schedule)
    return SharedScore(shared, schedule, target.device, target.dtype)


def _build_run(solver: str, prior, A, y, sigma_y, n_particles, n_steps, seed, device,
               dtype, start=START_EXACT) -> _Run:
    """Validated context on ``device`` (ValueError with a clear message otherwise)."""
    if not isinstance(prior, GaussianMixture):
        raise ValueError(f"prior must be a GaussianMixture, got {type(prior).__name__}")
    _int("n_particles", n_particles, 1, MAX_PARTICLES)
    _int("seed", seed, 0)
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"unknown device {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} is not available (no CUDA); use 'cpu'")
    dt = _dtype(dtype)
    sched = Schedule.linear()
    grid = sched.grid(_int("n_steps", n_steps, 1, sched.T))
    if not float(sigma_y) >= 0.0:
        raise ValueError(f"sigma_y must be >= 0, got {sigma_y}")
    if (A is None) != (y is None):
        raise ValueError("pass both A and y (or neither, for an unconditional run)")
    if A is None and solver in CONDITIONAL:
        raise ValueError(f"solver {solver!r} needs a measurement: pass A (m, d) and y (m,)")
    if start not in STARTS:
        raise ValueError(f"start must be one of {', '.join(STARTS)}, got {start!r}")
    pr = prior.to(dev, dt)
    meas = post = None
    if A is not None:
        meas = Measurement(A, y, float(sigma_y), prior.dim, dev, dt)
        post = prior.posterior(A, y, float(sigma_y)).to(dev, dt)
    target = (post if post is not None else pr) if resolve_solver(solver).oracle else pr
    ctx = Context(model=exact_model(target, sched), grid=grid, shape=(int(n_particles), prior.dim),
                  gen=make_generator(seed, str(dev)), dc=None if meas is None else LinearData(meas),
                  aux=make_generator(seed + _AUX_SEED, str(dev)), dtype=dt, device=pr.device,
                  start=start)
    return _Run(ctx, pr, post, meas)


def _scale(prior: GaussianMixture) -> float:
    """Divergence threshold: ``1e6 (1 + max|μ| + max √Σ_ii)``."""
    spread = torch.diagonal(prior.covs, dim1=-2, dim2=-1).amax().sqrt()
    return 1e6 * (1.0 + float(prior.means.abs().amax()) + float(spread))


def _summary(run: _Run, rec: Recorder, seed: int) -> dict:
    """End-of-run numbers (SCIENCE.md §3.6): the last frame's distance to the exact target (the
    same number as the last point of the per-step curve), its exact-vs-exact noise floor
    (mean ± sd at the same sample sizes), sliced W2 (:data:`SW_PROJECTIONS` directions seeded
    with ``seed``) on the same particles and reference with its own floor, the bound on the
    start mismatch ``KL(p_T ‖ N(0, I))`` of the run's target, the residual and the
    off-manifold distance of the whole final cloud."""
    fm, last = rec.metrics, rec.last
    x, target = last.x, (run.posterior if run.posterior is not None else run.prior)
    n = fm.points(x.shape[0])
    floor, floor_sd = distance_floor(target, n, make_generator(seed + _METRIC_SEED + 1,
                                                               str(x.device)))
    out = {"nfe": float(run.ctx.nfe), "posterior_distance": float(rec.rows[-1]["posterior_distance"]),
           "posterior_distance_floor": floor, "posterior_distance_floor_sd": floor_sd,
           "posterior_distance_points": float(n), "posterior_distance_level": float(last.level)}
    if bool(torch.isfinite(x[:n]).all()):
        out["sliced_w2"] = sliced_w2(x[:n], fm.reference(n, last.level), SW_PROJECTIONS,
                                     torch.Generator().manual_seed(seed))
    out["sliced_w2_floor"], out["sliced_w2_floor_sd"] = sliced_w2_floor(
        target, n, make_generator(seed + _METRIC_SEED + 2, str(x.device)), seed=seed)
    model = run.ctx.model
    out["start_kl_bound"] = start_kl_bound(getattr(model, "mixture", None) or model.gmm,
                                           run.ctx.ab(run.ctx.grid[0]))
    if run.meas is not None:
        out["residual"] = float(run.meas.residual(x).norm(dim=-1).mean())
    out["off_manifold"] = float(run.prior.mahalanobis_min(x).mean())
    return out


def solve_iter(solver: str, prior: GaussianMixture, A: Optional[torch.Tensor] = None,
               y: Optional[torch.Tensor] = None, sigma_y: float = 0.0,
               n_particles: int = 2000, n_steps: int = 100, seed: int = 0,
               device: str = "cpu", *, dtype: Union[str, torch.dtype] = "float32",
               record_every: int = 1, record_particles: Optional[int] = None,
               n_trails: int = 8, metrics: bool = True, start: str = START_EXACT,
               **solver_params) -> Generator[Progress, None, DiffusionRecording]:
    """Run ``solver`` on ``prior`` (optionally conditioned on ``y = A x_0 + n``) as a generator.

    Inputs are validated and the first state computed *before* this returns, so bad input
    raises here; iterating yields :class:`engine.core.Progress` at least every ~40 ms of
    compute (stop iterating to cancel) and returns a
    :class:`~engine.diffusion.recording.DiffusionRecording`.

    Parameters
    ----------
    solver : str
        A name of :data:`~engine.diffusion.table.SOLVERS`.
    prior : GaussianMixture
    A, y : Tensor (m, d), (m,) or None
        Linear measurement (full row rank); required by the conditional solvers.
    sigma_y : float
        Measurement noise std (>= 0).
    n_particles, n_steps, seed : int
        Particles, respaced steps out of ``T = 1000``, seed of the path generator.
    device, dtype : str
        Where and in which precision the particles live.
    record_every, record_particles, n_trails : int
        Frame stride, particles per frame (None = all), fully traced particles.
    metrics : bool
        Compute the per-frame metrics (``nfe`` is always recorded).
    start : str
        ``"exact p_T"`` (default: ``x_T`` drawn from the exact noised mixture — of the posterior
        for the oracle) or ``"N(0, I)"`` (the usual approximation; the mismatch
        ``KL(p_T ‖ N(0, I)) ≤ Σ_k π_k ᾱ_T ‖μ_k‖²/2`` for unit covariances is in the summary,
        ``start_kl_bound``; issue #18).
    **solver_params
        The solver's step sizes (:func:`~engine.diffusion.table.solver_defaults`).

    Raises
    ------
    ValueError
        Unknown solver (lists the valid names) or parameter, bad shapes of ``A``/``y``,
        ``σ_y < 0``, invalid sizes, a conditional solver without a measurement.
    """
    fn = resolve_solver(solver).fn
    params = check_params(solver, solver_params)
    _int("record_every", record_every, 1)
    _int("n_trails", n_trails, 0)
    if record_particles is not None:
        _int("record_particles", record_particles, 1)
    run = _build_run(solver, prior, A, y, sigma_y, n_particles, n_steps, seed, device, dtype,
                     start)
    target = run.posterior if run.posterior is not None else run.prior
    fm = FrameMetrics(run.prior, target, run.meas,
                      make_generator(seed + _METRIC_SEED, str(run.prior.device))) \
        if metrics else None
    steps = fn(run.ctx, **params)
    first = next(steps)                       # runs the solver's own checks now
    rec = Recorder(fm, record_every, record_particles, n_trails)
    return _drive(solver, params, run, steps, first, rec, seed, metrics)


def _drive(solver, params, run: _Run, steps, first, rec: Recorder, seed, metrics) -> Generator:
    """Pull steps, check divergence, record; return the recording."""
    ctx = run.ctx
    limit, st, diverged = _scale(run.prior), first, None
    last_report = time.perf_counter()
    yield Progress(0.0, f"{solver}: starting")
    while True:
        rec.add(st, ctx.nfe)
        now = time.perf_counter()
        if now - last_report >= _REPORT_SECONDS:
            last_report = now
            yield Progress(st.i / max(st.n, 1), f"{solver}: step {st.i}/{st.n}, t = {st.t}")
        st = next(steps, None)
        if st is None:
            break
        if not float(st.x.abs().amax()) <= limit:
            diverged = st.i
            rec.close_diverged()
            break
    yield Progress(1.0, f"{solver}: summarising")
    final = rec.last.x
    summary = _summary(run, rec, seed) if metrics else {"nfe": float(ctx.nfe)}
    status = "completed" if diverged is None else f"diverged at step {diverged}"
    return DiffusionRecording(
        solver=solver, params=params, summary=summary, final=final.detach().cpu(),
        n_particles=ctx.n, n_steps=rec.last.n, nfe=ctx.nfe, seed=seed,
        device=str(run.prior.device), diverged_step=diverged, status=status,
        notes=rec.notes, **_with_alpha(rec.tensors(), ctx))


def _with_alpha(fields: dict, ctx: Context) -> dict:
    fields["alpha_bar"] = torch.tensor([ctx.ab(t) for t in fields["t"].tolist()],
                                       dtype=torch.float64)
    return fields


def solve(solver: str, prior: GaussianMixture, A=None, y=None, sigma_y: float = 0.0,
          n_particles: int = 2000, n_steps: int = 100, seed: int = 0, device: str = "cpu",
          **kwargs) -> DiffusionRecording:
    """Blocking :func:`solve_iter` (same arguments; ``engine.core.drain``)."""
    return drain(solve_iter(solver, prior, A, y, sigma_y, n_particles, n_steps, seed, device,
                            **kwargs))

"""The sweepable labs: name → config class, ``run_config`` and scalar metrics (SCIENCE.md
§1.5, §2.3, §3.5, §4, §6, §7).

The engine-side twin of ``app/registry.py`` (the engine never imports ``app``): paths are
"module:attribute" strings resolved on first use, so this shared package imports no lab
(``tests/test_layering.py``). A metric is a function ``(config, result) -> float`` that
reduces one lab result to one number; ``seconds`` (wall time of the point) is always kept.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["SweepTarget", "TARGETS", "target", "CONVERGENCE_TOL"]

CONVERGENCE_TOL = 1e-3   # loss threshold of the convergence time (SCIENCE.md §1.5)


@dataclass(frozen=True)
class SweepTarget:
    """One sweepable lab: its config class, its run entry and its metrics.

    ``config``, ``run`` and ``batch`` are "module:attribute" paths (what Dask workers
    resolve); an in-process sweep may also be given a target whose ``run`` is a callable
    (a lab's study of an object that is not in the config, e.g. an overriding prior)."""
    name: str
    config: str
    run: object
    metrics: dict = field(default_factory=dict)     # name → (function, one-line help)
    batch: str = ""     # optional "module:attr": (configs, device) → generator of results


    def config_class(self) -> type:
        return _resolve(self.config)

    def run_entry(self) -> Callable:
        return _resolve(self.run)

    def batch_entry(self) -> Callable:
        """The lab's group entry (``batch``): many points in one call, each result equal
        to the ``run`` entry's for that point."""
        return _resolve(self.batch)


def _resolve(path):
    if callable(path):
        return path
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def first_crossing(t: np.ndarray, values: np.ndarray, tol: float) -> float:
    """First time ``values`` falls below ``tol``, linear between samples (inf if never)."""
    below = np.flatnonzero(np.asarray(values) < tol)
    if below.size == 0:
        return math.inf
    k = int(below[0])
    if k == 0:
        return float(t[0])
    v0, v1 = float(values[k - 1]), float(values[k])
    frac = (v0 - tol) / (v0 - v1) if v0 != v1 else 1.0
    return float(t[k - 1] + frac * (t[k] - t[k - 1]))


def _median_loss(result) -> np.ndarray:
    loss = np.asarray(result.loss, dtype=float)
    return np.median(np.where(np.isfinite(loss), loss, np.inf), axis=1)


def _flow_convergence_time(cfg, result) -> float:
    """Time the median loss over the initialisations first falls below 1e-3 (§1.5)."""
    return first_crossing(np.asarray(result.t, float), _median_loss(result), CONVERGENCE_TOL)


def _flow_final_loss(cfg, result) -> float:
    """Median loss over the initialisations at the last recorded time."""
    return float(_median_loss(result)[-1])


def _reduced_time(cfg, result) -> float:
    """The reduced ODE's convergence time of the point (§1.5, θ₀ = π/2)."""
    return float(result.convergence_time)


def _diffusion_summary(key: str):
    def metric(cfg, result) -> float:
        return float(result.recording.summary[key])
    metric.__doc__ = f"The main solver's end-of-run {key} (SCIENCE.md §3.5)."
    return metric


def _regions_gap(reduce):
    """Final non-convex objective minus the certified convex optimum (SCIENCE.md §2.3)."""
    def metric(cfg, result) -> float:
        gaps = np.asarray(result.gaps, dtype=float)
        return float(reduce(gaps)) if gaps.size else math.nan
    return metric


def _recon_metric(index: int, attr: str):
    """PSNR or SSIM of the ``index``-th method's volume (SCIENCE.md §4)."""
    def metric(cfg, result) -> float:
        runs = result.runs
        return float(getattr(runs[index], attr)) if len(runs) > index else math.nan
    return metric


def _recon_best_psnr(cfg, result) -> float:
    return max((float(r.psnr) for r in result.runs), default=math.nan)


LEARNED_MODES = ("e2e", "checkpoint", "gleam", "scale_eq", "otcycle")


def _learned_metric(mode: str, attr: str):
    """``attr`` of the run trained in ``mode`` (NaN when the config did not train it)."""
    def metric(cfg, result) -> float:
        run = next((r for r in result.runs if r.mode == mode), None)
        return float(getattr(run, attr)) if run is not None else math.nan
    metric.__doc__ = f"{attr} of the {mode} run (SCIENCE.md §6)."
    return metric


def _learned_metrics() -> dict:
    out = {"best_psnr": (lambda cfg, r: max((float(x.test_psnr) for x in r.runs),
                                            default=math.nan),
                         "best test PSNR over the trained modes (dB)")}
    for mode in LEARNED_MODES:
        out[f"psnr_{mode}"] = (_learned_metric(mode, "test_psnr"), f"test PSNR of {mode} (dB)")
        out[f"seconds_per_step_{mode}"] = (_learned_metric(mode, "seconds_per_step"),
                                           f"training seconds per step of {mode}")
        out[f"peak_bytes_{mode}"] = (_learned_metric(mode, "peak_bytes"),
                                     f"peak training memory of {mode} (bytes)")
    return out


def _duals_gaps(result) -> np.ndarray:
    """Final non-convex objective of every seed minus the convex optimum p* (SCIENCE.md §7);
    a run that diverged (NaN at the end) counts as ``inf``."""
    out = result.outcome
    final = np.asarray(out.gd_objectives, dtype=float)[:, -1]
    return np.where(np.isfinite(final), final - float(out.convex_objective), np.inf)


DUALS_METRICS = {
    "gap_min": (lambda cfg, r: float(np.min(_duals_gaps(r))) if len(_duals_gaps(r))
                else math.nan, "smallest final objective gap over the seeds (≥ 0 up to the "
                "certificate)"),
    "gap_mean": (lambda cfg, r: float(np.mean(_duals_gaps(r))) if len(_duals_gaps(r))
                 else math.nan, "mean final objective gap over the seeds (inf: one diverged)"),
    "certificate": (lambda cfg, r: float(r.outcome.certificate),
                    "the convex optimum's certificate (duality gap, KKT residual or distance "
                    "to the closed form)"),
}

FLOW_METRICS = {
    "convergence_time": (_flow_convergence_time,
                         "time the median loss first falls below 1e-3 (inf: never)"),
    "final_loss": (_flow_final_loss, "median loss at the final time"),
}

TARGETS: dict[str, SweepTarget] = {t.name: t for t in (
    SweepTarget("gradient-flow", "engine.gradient_flow:FlowConfig",
                "engine.gradient_flow.lab:run_config", FLOW_METRICS),
    SweepTarget("gradient-flow/reduced", "engine.gradient_flow:FlowConfig",
                "engine.gradient_flow.lab:reduced_point",
                {"convergence_time": (_reduced_time, "reduced-ODE time to loss < 1e-3 from "
                                      "θ₀ = π/2 at (depth, init_scale, teacher_norm)")},
                batch="engine.gradient_flow.lab:reduced_points"),
    SweepTarget("diffusion", "engine.diffusion:DiffusionConfig",
                "engine.diffusion.lab:run_config", {
                    "posterior_distance": (_diffusion_summary("posterior_distance"),
                                           "energy distance of the final cloud to the exact "
                                           "posterior"),
                    "sliced_w2": (_diffusion_summary("sliced_w2"),
                                  "sliced Wasserstein-2 distance to the exact posterior"),
                    "residual": (_diffusion_summary("residual"), "mean ‖y − A x₀‖"),
                    "nfe": (_diffusion_summary("nfe"), "score evaluations")}),
    SweepTarget("regions", "engine.regions:RegionsConfig", "engine.regions.lab:run_config", {
        "objective_gap": (_regions_gap(np.median), "median over the runs of the final "
                          "non-convex objective minus the convex optimum"),
        "objective_gap_min": (_regions_gap(np.min), "smallest gap over the runs")}),
    SweepTarget("recon", "engine.recon.lab:ReconConfig", "engine.recon.lab:run_config", {
        "psnr_a": (_recon_metric(0, "psnr"), "PSNR of method A (dB)"),
        "ssim_a": (_recon_metric(0, "ssim"), "mean axial SSIM of method A"),
        "psnr_b": (_recon_metric(1, "psnr"), "PSNR of method B (dB)"),
        "ssim_b": (_recon_metric(1, "ssim"), "mean axial SSIM of method B"),
        "best_psnr": (_recon_best_psnr, "best PSNR over all methods run (dB)")}),
    SweepTarget("learned", "engine.learned:LearnedConfig", "engine.learned.lab:run_config",
                _learned_metrics()),
    SweepTarget("convex-duals", "engine.convex_duals:DualsConfig",
                "engine.convex_duals.lab:run_config", DUALS_METRICS),
)}


def target(name) -> SweepTarget:
    """The sweep target ``name`` (a target passes through); ``ValueError`` listing the known
    ones otherwise."""
    if isinstance(name, SweepTarget):
        return name
    if name not in TARGETS:
        raise ValueError(f"no sweepable lab {name!r}: expected one of {', '.join(TARGETS)}")
    return TARGETS[name]

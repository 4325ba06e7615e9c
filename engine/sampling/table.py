"""The solver table: name → :class:`~engine.sampling.contract.SolverSpec` (ARCHITECTURE rule 4).

Adding a solver is one generator function (:mod:`~engine.sampling.samplers`,
:mod:`~engine.sampling.solvers`, :mod:`~engine.sampling.ve`) plus one entry here whose
``Params`` dataclass declares its knobs: the diffusion lab's config fields, its parameter-panel
visibility (``visible_when``) and ``solver_params`` are derived from this table, and so are the
diffusion methods of the reconstruction lab (``VolumeParams``).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional

from engine.sampling import guided, samplers, solvers, ve
from engine.sampling.contract import SolverSpec

__all__ = ["SOLVERS", "knob", "params", "solver_defaults", "resolve_solver", "check_params",
           "config_fields", "params_from"]


def knob(default, config: Optional[str] = None):
    """A ``Params`` field; ``config`` names the flat lab-config field that sets it."""
    return dataclasses.field(default=default, metadata={"config": config} if config else {})


def params(name: str, **knobs) -> type:
    """A frozen ``Params`` dataclass: ``knobs`` maps each knob to its default or a :func:`knob`."""
    fields = []
    for k, v in knobs.items():
        f = v if isinstance(v, dataclasses.Field) else knob(v)
        fields.append((k, type(f.default), f))
    return dataclasses.make_dataclass(name, fields, frozen=True)


NoParams = params("NoParams")
_MBIR = params("MBIRParams", tv_z=knob(0.0005, "tv_z"), rho=0.05, snr=0.16, cg_iters=3,
               corrector=True, tv_sigma=1.0)
_MCG_VE = params("MCGVEParams", alpha=1.0, lam_start=1.0, lam_end=0.6, snr=0.16,
                 corrector=False)

# Toy defaults (``config`` names ``DiffusionConfig`` fields); volume defaults for the learned
# slice prior on CT/MRI (``config`` names ``ReconConfig`` fields).
SOLVERS = {
    "ddpm": SolverSpec(samplers.ddpm, False, NoParams),
    "ddim": SolverSpec(samplers.ddim, False, params("DDIMParams", eta=knob(0.0, "eta"))),
    "pf_euler": SolverSpec(samplers.pf_euler, False, NoParams),
    "pf_heun": SolverSpec(samplers.pf_heun, False, NoParams),
    "hb": SolverSpec(samplers.hb, False, params("HBParams", beta=knob(0.8, "beta"),
                                                order=knob(1, "order"))),
    "ghvb": SolverSpec(samplers.ghvb, False, params("GHVBParams", beta=knob(0.8, "beta"),
                                                    order=knob(2, "order"))),
    "projection": SolverSpec(solvers.projection, True, params("ProjectionParams", lam=1.0)),
    "mcg": SolverSpec(solvers.mcg, True, params("MCGParams", alpha=knob(0.1, "mcg_alpha"),
                                                lam=1.0)),
    "dps": SolverSpec(solvers.dps, True, params("DPSParams", zeta=knob(0.1, "zeta"))),
    "ccdf": SolverSpec(
        solvers.ccdf, True,
        params("CCDFParams", t0=knob(0.5, "t0"), init=knob("prior_projection", "ccdf_init"),
               lam=1.0, eta=1.0, dc_steps=0),
        VolumeParams=params("VolumeCCDFParams", t0=knob(0.5, "t0"), init="pinv", eta=1.0,
                            dc_steps=3)),
    "dds": SolverSpec(
        solvers.dds, True,
        params("DDSParams", eta=knob(0.85, "dds_eta"), cg_iters=knob(5, "cg_iters"),
               gamma=knob(1.0, "dds_gamma"), final_cg=0),
        VolumeParams=params("VolumeDDSParams", eta=0.85, cg_iters=5, final_cg=50, tv_z=0.0,
                            rho=0.05)),
    "reddiff": SolverSpec(solvers.reddiff, True, params(
        "REDDiffParams", lr=knob(0.1, "reddiff_lr"), lam=knob(0.25, "reddiff_lambda"),
        obs_weight=1.0)),
    "pigdm": SolverSpec(guided.pigdm, True, NoParams),
    "tmpd": SolverSpec(guided.tmpd, True, NoParams),
    "tds": SolverSpec(guided.tds, True, NoParams),
    "posterior": SolverSpec(samplers.posterior, False,
                            params("PosteriorParams", base="ddpm", eta=0.0), oracle=True),
    "mbir": SolverSpec(ve.mbir, True, _MBIR, toy=False, VolumeParams=_MBIR),
    "mcg_ve": SolverSpec(ve.mcg_ve, True, _MCG_VE, toy=False, VolumeParams=_MCG_VE),
}
"""Every solver of the zoo; ``toy`` entries run on the Gaussian-mixture lab, entries with
``VolumeParams`` on volumes with the learned slice prior."""


def resolve_solver(name: str, table: Optional[dict] = None) -> SolverSpec:
    """The solver's spec; ``ValueError`` listing the valid names for an unknown one."""
    table = SOLVERS if table is None else table
    if name not in table:
        raise ValueError(f"unknown solver {name!r}; valid solvers: {', '.join(table)}")
    return table[name]


def solver_defaults(name: str, table: Optional[dict] = None, volume: bool = False) -> dict:
    """Knobs of solver ``name`` and their defaults (toy, or ``volume``)."""
    spec = resolve_solver(name, table)
    return dataclasses.asdict((spec.VolumeParams if volume else spec.Params)())


def config_fields(params_cls: type) -> dict:
    """``{knob: config field}`` for the knobs of ``params_cls`` a lab config sets."""
    return {f.name: f.metadata["config"] for f in dataclasses.fields(params_cls)
            if "config" in f.metadata}


def params_from(cfg, params_cls: type) -> dict:
    """The knobs of ``params_cls`` taken from the flat lab config ``cfg``."""
    return {k: getattr(cfg, c) for k, c in config_fields(params_cls).items()}


def check_params(name: str, params: dict, table: Optional[dict] = None,
                 volume: bool = False) -> dict:
    """Validate keyword parameters of solver ``name`` (names and numeric types); return all
    knobs with the defaults filled in."""
    defaults = solver_defaults(name, table, volume)
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        valid = ", ".join(defaults) or "none"
        raise ValueError(f"solver {name!r} has no parameter {', '.join(unknown)} "
                         f"(valid: {valid})")
    out = dict(defaults)
    for k, v in params.items():
        d = defaults[k]
        if isinstance(d, (int, float)) and not isinstance(d, bool):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
                raise ValueError(f"{name}: parameter {k} must be a number, got {v!r}")
            if isinstance(d, int) and v != int(v):
                raise ValueError(f"{name}: parameter {k} must be an integer, got {v!r}")
            v = type(d)(v)
        out[k] = v
    return out

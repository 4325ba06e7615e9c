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
from dataclasses import dataclass
from typing import Optional

from engine.sampling import samplers, solvers, ve
from engine.sampling.contract import SolverSpec

__all__ = ["SOLVERS", "knob", "solver_defaults", "resolve_solver", "check_params",
           "config_fields", "params_from"]


def knob(default, config: Optional[str] = None):
    """A ``Params`` field; ``config`` names the flat lab-config field that sets it."""
    return dataclasses.field(default=default, metadata={"config": config} if config else {})


@dataclass(frozen=True)
class NoParams:
    pass


@dataclass(frozen=True)
class DDIMParams:
    eta: float = knob(0.0, "eta")


@dataclass(frozen=True)
class HBParams:
    beta: float = knob(0.8, "beta")
    order: int = knob(1, "order")


@dataclass(frozen=True)
class GHVBParams:
    beta: float = knob(0.8, "beta")
    order: int = knob(2, "order")


@dataclass(frozen=True)
class ProjectionParams:
    lam: float = 1.0


@dataclass(frozen=True)
class MCGParams:
    alpha: float = knob(0.1, "mcg_alpha")
    lam: float = 1.0


@dataclass(frozen=True)
class DPSParams:
    zeta: float = knob(0.1, "zeta")


@dataclass(frozen=True)
class CCDFParams:
    t0: float = knob(0.5, "t0")
    init: str = knob("prior_projection", "ccdf_init")
    lam: float = 1.0
    eta: float = 1.0
    dc_steps: int = 0


@dataclass(frozen=True)
class DDSParams:
    eta: float = knob(0.85, "dds_eta")
    cg_iters: int = knob(5, "cg_iters")
    gamma: float = knob(1.0, "dds_gamma")
    final_cg: int = 0


@dataclass(frozen=True)
class REDDiffParams:
    lr: float = knob(0.1, "reddiff_lr")
    lam: float = knob(0.25, "reddiff_lambda")
    obs_weight: float = 1.0


@dataclass(frozen=True)
class PosteriorParams:
    base: str = "ddpm"
    eta: float = 0.0


# Volume defaults (learned slice prior, CT/MRI; ``config`` names ``ReconConfig`` fields).
@dataclass(frozen=True)
class VolumeDDSParams:
    eta: float = 0.85
    cg_iters: int = 5
    final_cg: int = 50
    tv_z: float = 0.0
    rho: float = 0.05


@dataclass(frozen=True)
class VolumeCCDFParams:
    t0: float = knob(0.5, "t0")
    init: str = "pinv"
    eta: float = 1.0
    dc_steps: int = 3


@dataclass(frozen=True)
class MBIRParams:
    tv_z: float = knob(0.0005, "tv_z")
    rho: float = 0.05
    snr: float = 0.16
    cg_iters: int = 3
    corrector: bool = True
    tv_sigma: float = 1.0


@dataclass(frozen=True)
class MCGVEParams:
    alpha: float = 1.0
    lam_start: float = 1.0
    lam_end: float = 0.6
    snr: float = 0.16
    corrector: bool = False


SOLVERS = {
    "ddpm": SolverSpec(samplers.ddpm, False, NoParams),
    "ddim": SolverSpec(samplers.ddim, False, DDIMParams),
    "pf_euler": SolverSpec(samplers.pf_euler, False, NoParams),
    "pf_heun": SolverSpec(samplers.pf_heun, False, NoParams),
    "hb": SolverSpec(samplers.hb, False, HBParams),
    "ghvb": SolverSpec(samplers.ghvb, False, GHVBParams),
    "projection": SolverSpec(solvers.projection, True, ProjectionParams),
    "mcg": SolverSpec(solvers.mcg, True, MCGParams),
    "dps": SolverSpec(solvers.dps, True, DPSParams),
    "ccdf": SolverSpec(solvers.ccdf, True, CCDFParams, VolumeParams=VolumeCCDFParams),
    "dds": SolverSpec(solvers.dds, True, DDSParams, VolumeParams=VolumeDDSParams),
    "reddiff": SolverSpec(solvers.reddiff, True, REDDiffParams),
    "posterior": SolverSpec(samplers.posterior, False, PosteriorParams, oracle=True),
    "mbir": SolverSpec(ve.mbir, True, MBIRParams, toy=False, VolumeParams=MBIRParams),
    "mcg_ve": SolverSpec(ve.mcg_ve, True, MCGVEParams, toy=False, VolumeParams=MCGVEParams),
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

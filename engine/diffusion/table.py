"""The name → function table of samplers and solvers (k-diffusion style, ARCHITECTURE rule 4).

Every entry has the shared signature ``fn(ctx, **params)`` and yields
:class:`~engine.diffusion.context.Step` objects; its keyword parameters (with defaults) are the
solver's tunable step sizes.
"""
from __future__ import annotations

import inspect
import math

from engine.diffusion import samplers, solvers

__all__ = ["SOLVERS", "CONDITIONAL", "solver_defaults", "resolve_solver", "check_params"]

SOLVERS = {
    "ddpm": samplers.ddpm,
    "ddim": samplers.ddim,
    "pf_euler": samplers.pf_euler,
    "pf_heun": samplers.pf_heun,
    "hb": samplers.hb,
    "ghvb": samplers.ghvb,
    "projection": solvers.projection,
    "mcg": solvers.mcg,
    "dps": solvers.dps,
    "ccdf": solvers.ccdf,
    "dds": solvers.dds,
    "reddiff": solvers.reddiff,
    "posterior": samplers.posterior,
}

CONDITIONAL = frozenset({"projection", "mcg", "dps", "ccdf", "dds", "reddiff"})
"""Solvers that need a measurement ``(A, y)``; the others ignore it (``posterior`` uses it)."""


def solver_defaults(name: str) -> dict:
    """Tunable parameters of solver ``name`` and their defaults."""
    fn = resolve_solver(name)
    sig = inspect.signature(fn)
    return {k: p.default for k, p in list(sig.parameters.items())[1:]}


def resolve_solver(name: str):
    """The solver function; ``ValueError`` listing the valid names for an unknown one."""
    if name not in SOLVERS:
        raise ValueError(f"unknown solver {name!r}; valid solvers: {', '.join(SOLVERS)}")
    return SOLVERS[name]


def check_params(name: str, params: dict) -> dict:
    """Validate keyword parameters of solver ``name`` (names and numeric types)."""
    defaults = solver_defaults(name)
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

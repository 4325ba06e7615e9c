"""The Gaussian-mixture lab's view of the shared solver table (:mod:`engine.sampling.table`).

:data:`SPECS` are the entries that run on the exact mixture (``SolverSpec.toy``),
:data:`SOLVERS` their functions (name → ``fn(ctx, **params)``, k-diffusion style, ARCHITECTURE
rule 4) and :data:`CONDITIONAL` the ones that need a measurement ``(A, y)``.
"""
from __future__ import annotations

from engine.sampling import table as shared

__all__ = ["SPECS", "SOLVERS", "CONDITIONAL", "solver_defaults", "resolve_solver",
           "check_params"]

SPECS = {name: spec for name, spec in shared.SOLVERS.items() if spec.toy}
SOLVERS = {name: spec.fn for name, spec in SPECS.items()}
CONDITIONAL = frozenset(name for name, spec in SPECS.items() if spec.needs_measurement)
"""Solvers that need a measurement ``(A, y)``; the others ignore it (``posterior`` uses it)."""


def solver_defaults(name: str) -> dict:
    """Tunable parameters of solver ``name`` and their defaults."""
    return shared.solver_defaults(name, SPECS)


def resolve_solver(name: str):
    """The solver's spec; ``ValueError`` listing the valid names for an unknown one."""
    return shared.resolve_solver(name, SPECS)


def check_params(name: str, params: dict) -> dict:
    """Validate keyword parameters of solver ``name`` (names and numeric types)."""
    return shared.check_params(name, params, SPECS)

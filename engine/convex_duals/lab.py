"""Lab entry of the convex-duals lab (docs/CONTRACTS.md): ``run_config(cfg, device)``.

Runs the chosen model (:data:`~engine.convex_duals.config.MODELS`) and returns a
:class:`DualsResult`. The model's partials pass through with the model's name added: stages
``data``, ``convex`` (the certified optimum and structure arrays), and ``gd`` (every Adam run's
objectives so far, repeated; SCIENCE.md §7).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generator

from engine.convex_duals.common import ModelOutcome
from engine.convex_duals.config import MODELS, model_module, model_params
from engine.core import Progress, validate

__all__ = ["DualsResult", "run_config"]


@dataclass
class DualsResult:
    """The chosen model's outcome (CPU NumPy arrays)."""
    model: str
    outcome: ModelOutcome


def run_config(cfg, device: str = "cpu") -> Generator[Progress, None, DualsResult]:
    """Validate ``cfg``, run its model, return the :class:`DualsResult` (§7)."""
    validate(cfg)
    if cfg.model not in MODELS:
        raise ValueError(f"unknown model {cfg.model!r}; one of {', '.join(MODELS)}")
    gen = model_module(cfg.model).run(model_params(cfg), device)
    title = MODELS[cfg.model].title
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return DualsResult(cfg.model, stop.value)
        partial = p.partial
        if isinstance(partial, dict):
            partial = {**partial, "model": cfg.model}
        yield Progress(p.fraction, f"{title}: {p.message}", partial)

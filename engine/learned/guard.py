"""Divergence guards of the learned lab's training loops (SCIENCE.md §6.3.1, §6.5).

A training step is kept only when its loss, its gradients, the updated weights (net and, for
OT-cycleGAN, critic) and — at a validation step — the validation reconstructions are all
finite (at the last step the test reconstructions too); otherwise
:class:`~engine.learned.steps.Diverged` is raised and the trainer puts the
weights of the previous step back and stops with :func:`divergence_message`.
:func:`nonfinite_fields` is the lab's last check: any result array that still holds NaN/inf
is named in a note, never shown silently.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Optional

import numpy as np
import torch

from engine.learned.data import mean_psnr, mean_ssim
from engine.learned.steps import Diverged

__all__ = ["require_finite_grads", "require_finite_weights", "checked_validation",
           "divergence_message", "nonfinite_fields", "nonfinite_notes"]


def require_finite_grads(params: Iterable[torch.Tensor], what: str) -> None:
    """Raise :class:`Diverged` when a gradient of ``params`` holds NaN/inf (before the step)."""
    for p in params:
        if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
            raise Diverged(f"the {what} gradients became NaN/inf")


def require_finite_weights(module: torch.nn.Module, what: str) -> None:
    """Raise :class:`Diverged` when a weight of ``module`` holds NaN/inf (after the step)."""
    if not all(bool(torch.isfinite(p).all()) for p in module.parameters()):
        raise Diverged(f"the {what} weights became NaN/inf")


@torch.no_grad()
def checked_validation(net, data, step: int, every: int, steps: int,
                       device) -> Optional[tuple[float, float]]:
    """Validation (PSNR, SSIM) after ``step`` steps when due (every ``every`` steps and at the
    last one), else None; :class:`Diverged` when a validation reconstruction — or, at the last
    step, a test reconstruction (the ones the lab shows) — is not finite (finite weights whose
    output overflows, e.g. a huge learning rate)."""
    if step % every and step != steps:
        return None
    op = data.operator(device)
    pred = _finite_prediction(net, data.val, op, device, "validation")
    if step == steps:
        _finite_prediction(net, data.test, op, device, "test")
    net.train()
    return mean_psnr(pred, data.val.target), mean_ssim(pred, data.val.target)


def _finite_prediction(net, part, op, device, name: str, batch: int = 16) -> torch.Tensor:
    pred = torch.cat([net(part.k[i:i + batch].to(device), op).cpu()
                      for i in range(0, len(part), batch)])
    if not bool(torch.isfinite(torch.view_as_real(pred) if pred.is_complex() else pred).all()):
        net.train()
        raise Diverged(f"the {name} reconstructions became NaN/inf")
    return pred


def divergence_message(reason: str, step: int, lr: float) -> str:
    """Why and when a run stopped: ``step`` is the 0-based index of the refused step."""
    return (f"diverged at step {step + 1} ({reason}; learning rate {lr:g} too large?): "
            f"stopped, the weights of step {step} are kept; lower the learning rate "
            f"(now {lr:g})")


def nonfinite_fields(record) -> list[str]:
    """Names of ``record``'s (a dataclass) float arrays and floats that hold NaN/inf."""
    bad = []
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if isinstance(value, float) or (isinstance(value, np.ndarray)
                                        and value.dtype.kind in "fc"):
            if not bool(np.isfinite(value).all()):
                bad.append(f.name)
    return bad


def nonfinite_notes(runs: Iterable, arrays: dict) -> list[str]:
    """One note per run (a ``ModeRun``, or None) and per named array of ``arrays`` that holds
    NaN/inf: what the lab shows must be finite or explained."""
    notes = [f"{run.title}: {', '.join(bad)} not finite (NaN/inf): the net's output "
             f"overflowed; lower the learning rate"
             for run in runs if run is not None and (bad := nonfinite_fields(run))]
    bad = [name for name, a in arrays.items() if not bool(np.isfinite(a).all())]
    return notes + ([f"{', '.join(bad)}: not finite (NaN/inf)"] if bad else [])

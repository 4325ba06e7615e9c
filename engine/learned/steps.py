"""One training step of an unrolled net in each mode (SCIENCE.md §6.3.1, §6.3.2).

* ``e2e``: one graph through all K unrolls, one loss ``ℓ(x_K, x_true)``, one optimiser.
* ``checkpoint``: the same loss and gradients, every unroll wrapped in
  ``torch.utils.checkpoint.checkpoint(..., use_reentrant=False)`` (recomputed in backward).
* ``gleam``: G modules of K/G consecutive unrolls; module j starts from the *detached* output
  of module j−1, has its local loss ``L_j = ℓ(x^(j), x_true)`` on its own output image, and its
  own optimiser, stepped right after its backward.

``ℓ`` is the L1 loss on the complex image, ``mean |x − x_true|`` (GLEAM's ``RECON_LOSS: l1``).
A step refuses to apply an update whose loss or gradients are not finite (:class:`Diverged`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch.utils.checkpoint import checkpoint

from engine.learned.memory import count_saved, tensor_bytes

__all__ = ["MODES", "Diverged", "StepOutcome", "activation_bytes", "l1_loss", "module_ranges",
           "run_step", "unroll_bytes"]

MODES = ("e2e", "checkpoint", "gleam")


class Diverged(RuntimeError):
    """The loss of a step was NaN or infinite; no update was applied for it."""


@dataclass
class StepOutcome:
    """Losses of a step (one per module; one for e2e/checkpoint), the saved bytes counted
    (None when not counted), the step's wall time and its validation (set by the trainer)."""
    losses: list[float]
    saved_bytes: Optional[int]
    seconds: float = 0.0
    val: Optional[tuple] = None


def l1_loss(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``mean |x − x_true|`` on complex images (SCIENCE.md §6.3.1)."""
    return (x - target).abs().mean()


def module_ranges(n_unrolls: int, modules: int) -> list[range]:
    """Consecutive unrolls of each of the G modules; K/G must be an integer (§6.3.1)."""
    if modules < 1 or n_unrolls % modules:
        raise ValueError(f"{n_unrolls} unrolls cannot be split into {modules} equal modules "
                         f"(K/G must be an integer; SCIENCE.md §6.3.1)")
    per = n_unrolls // modules
    return [range(j * per, (j + 1) * per) for j in range(modules)]


def _update(opt: torch.optim.Optimizer, loss: torch.Tensor) -> float:
    value = float(loss.detach())
    if not torch.isfinite(loss.detach()):
        raise Diverged(f"the loss became {value}")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    for group in opt.param_groups:
        for p in group["params"]:
            if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
                raise Diverged("the gradients became NaN/inf")
    opt.step()
    return value


def _forward(net, k, op, unrolls, state, use_checkpoint: bool):
    for i in unrolls:
        if use_checkpoint:
            state = checkpoint(lambda s, i=i: net.unroll(i, s, k, op), state,
                               use_reentrant=False)
        else:
            state = net.unroll(i, state, k, op)
    return state


def run_step(net, mode: str, k, target, op, ranges, opts, count: bool = False) -> StepOutcome:
    """One optimisation step of ``net`` on a batch in ``mode`` (module docstring).

    ``ranges``/``opts``: one unroll range and optimiser per module (one for e2e/checkpoint).
    With ``count`` the saved-for-backward bytes are measured (SCIENCE.md §6.3.2; see
    :mod:`engine.learned.memory` for the checkpoint model).
    """
    state = net.initial(k, op)
    if mode in ("e2e", "checkpoint"):
        with count_saved() as counter:
            out = _forward(net, k, op, ranges[0], state, mode == "checkpoint")
            loss = l1_loss(net.image(out, op), target)
        saved = counter.bytes if count else None
        if count and mode == "checkpoint":
            saved += net.n_unrolls * tensor_bytes(state) + max(unroll_bytes(net, k, op))
        return StepOutcome([_update(opts[0], loss)], saved)
    losses, peak = [], 0
    for unrolls, opt in zip(ranges, opts):
        with count_saved() as counter:
            out = _forward(net, k, op, unrolls, state.detach(), False)
            loss = l1_loss(net.image(out, op), target)
        peak = max(peak, counter.bytes + tensor_bytes(state))
        losses.append(_update(opt, loss))
        state = out.detach()
    return StepOutcome(losses, peak if count else None)


def unroll_bytes(net, k, op) -> list[int]:
    """Saved-for-backward bytes ``a_i`` of each unroll alone (detached input; §6.3.2)."""
    out = []
    with torch.no_grad():
        state = net.initial(k, op)
    for i in range(net.n_unrolls):
        with count_saved() as counter:
            nxt = net.unroll(i, state.detach(), k, op)
        out.append(counter.bytes)
        state = nxt.detach()
    return out


def activation_bytes(net, mode: str, modules: int, k, target, op) -> int:
    """Activation bytes one training step of ``net`` in ``mode`` keeps for its backward, counted
    as :func:`run_step` counts them but without the backward or any update (SCIENCE.md §6.3.2).

    Used before training to check a memory budget: the count depends only on the net, the
    batch and the mode, so one forward pass per mode measures it.
    """
    ranges = module_ranges(net.n_unrolls, modules if mode == "gleam" else 1)
    with torch.no_grad():
        state = net.initial(k, op)
    peak = 0
    for unrolls in ranges:
        with torch.enable_grad(), count_saved() as counter:
            out = _forward(net, k, op, unrolls, state.detach(), mode == "checkpoint")
            loss = l1_loss(net.image(out, op), target)
            held = counter.bytes
        del loss
        if mode == "gleam":
            held += tensor_bytes(state)
        elif mode == "checkpoint":
            held += net.n_unrolls * tensor_bytes(state) + max(unroll_bytes(net, k, op))
        peak = max(peak, held)
        state = out.detach()
    return int(peak)

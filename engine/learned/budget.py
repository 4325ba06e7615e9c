"""A training-memory budget: measure every planned run's activation memory before training and
refuse the runs that cannot meet it (SCIENCE.md §6.3.2).

The figure is the count of :mod:`engine.learned.memory` — the activation bytes one training
step keeps for its backward pass on a batch of the lab's size — measured by one forward pass
of each planned net on the first training batch (:func:`run_bytes`). It is the same count the
dashboard's memory bars show after a CPU run, so a run the budget admits shows a bar at or
under the budget. Weights, optimiser state and the data (the fixed share M0) are not in it; on a
CUDA device the bars show the allocator's peak instead, which includes more than this count.
"""
from __future__ import annotations

from typing import Callable

import torch

from engine.learned.cyclegan import PatchCritic, generator_loss
from engine.learned.data import BrainSlices
from engine.learned.memory import count_saved
from engine.learned.steps import activation_bytes, unroll_bytes

__all__ = ["run_bytes", "fit_budget", "pick_unrolls", "smallest_bytes", "MB"]

MB = 1e6
TRAIN_MODE = {"scale_eq": "e2e"}     # run key → the training step it uses


def run_bytes(net, mode: str, modules: int, data: BrainSlices, batch: int,
              device: str = "cpu", gan_weight: float = 0.1) -> int:
    """Activation bytes of one training step of ``net`` in run ``mode`` on ``batch`` training
    slices (SCIENCE.md §6.3.2); ``otcycle`` counts the generator's cycle and critic terms."""
    k = data.train.k[:batch].to(device)
    target = data.train.target[:batch].to(device)
    op = data.operator(device)
    if mode != "otcycle":
        return activation_bytes(net, TRAIN_MODE.get(mode, mode), modules, k, target, op)
    critic = PatchCritic().to(device)
    with torch.enable_grad(), count_saved() as counter:
        loss = generator_loss(net, critic, op, target, k, gan_weight, 1.0)[0]
        held = counter.bytes
    del loss
    return int(held)


def smallest_bytes(net, data: BrainSlices, batch: int, device: str = "cpu") -> int:
    """Activation bytes of a single unroll of ``net`` on ``batch`` slices: no mode trains with
    less (GLEAM with one unroll per module keeps about this much; §6.3.2)."""
    k = data.train.k[:batch].to(device)
    return int(min(unroll_bytes(net, k, data.operator(device))))


def fit_budget(plan: list, budget_mb: float, measure: Callable[[str, int, int], int],
               smallest: Callable[[], int]) -> tuple[list, dict, list]:
    """Keep the runs of ``plan`` (``(mode, K, G)``) whose measured bytes meet ``budget_mb``.

    Returns ``(kept plan, bytes per mode, notes)``; a budget of 0 keeps everything unmeasured.
    Raises ValueError naming the smallest figure when no run meets the budget.
    """
    if budget_mb <= 0:
        return list(plan), {}, []
    sizes = {mode: measure(mode, k, g) for mode, k, g in plan}
    kept = [p for p in plan if sizes[p[0]] <= budget_mb * MB]
    notes = [f"{mode} (K = {k}{f', G = {g}' if g > 1 else ''}) refused: needs "
             f"{sizes[mode] / MB:.2f} MB of activations per step, over the "
             f"{budget_mb:g} MB budget" for mode, k, g in plan if sizes[mode] > budget_mb * MB]
    if not kept:
        low = min(sizes, key=sizes.get)
        raise ValueError(
            f"no training mode fits the {budget_mb:g} MB memory budget: the smallest, {low}, "
            f"needs {sizes[low] / MB:.2f} MB per step, and even one unroll of this net needs "
            f"{smallest() / MB:.2f} MB. Raise the budget or lower the batch, CNN width, "
            f"unrolls or image size")
    if "scale_eq" in sizes and "e2e" not in [p[0] for p in kept]:
        kept = [p for p in kept if p[0] != "scale_eq"]
        notes.append("scale-equivariant net not trained: its study needs the end-to-end net, "
                     "which the budget refused")
    return kept, sizes, notes


def pick_unrolls(measure: Callable[[int], float], budget_mb: float, k_max: int) -> int:
    """The largest K ≤ ``k_max`` whose step meets ``budget_mb`` (1 when none does).

    ``measure(K)``: activation bytes with K unrolls (the largest over the chosen modes; GLEAM's
    modules of K unrolls need about end-to-end's memory, §6.3.3). They grow linearly in K
    (SCIENCE.md §6.3.2), so K = 1 and 2 give the estimate, checked by measuring it and lowered
    until it fits.
    """
    limit = budget_mb * MB
    one = measure(1)
    if one > limit or k_max < 2:
        return 1
    per = max(measure(2) - one, 1)
    k = int(min(k_max, max(1, 1 + (limit - one) // per))) if per < float("inf") else 1
    while k > 1 and measure(k) > limit:
        k -= 1
    return k

"""Seed runs one after another with live partials, for the attention and WGAN models
(SCIENCE.md §7.3, §7.4; the lab's stages of docs/CONTRACTS.md "Partials").

Each run is a generator yielding ``(fraction, objectives_so_far)`` and returning its result;
:func:`stream_seed_runs` relays their progress and, at most every ``every_s`` seconds, a
``{"stage": "gd", "steps", "objectives", "seeds", "optimizer"}`` partial holding every run so
far (NaN where a run has not reached a step yet), the same stage the lab's other models send.
"""
from __future__ import annotations

import time
from typing import Callable, Generator, Sequence

import numpy as np

from engine.core import Progress

__all__ = ["stream_seed_runs"]


def stream_seed_runs(runs: Sequence[Generator], steps: np.ndarray, start: float, end: float,
                     label: str, final_row: Callable, every_s: float = 0.25,
                     seeds: Sequence[int] | None = None) -> Generator[Progress, None, list]:
    """Drive ``runs`` in order; progress maps onto ``[start, end]``; returns their results.

    ``final_row(result)`` gives a finished run's objectives (length ``len(steps)``);
    ``label`` names the optimizer (``"Adam"``, ``"GDA"``) and ``seeds`` the runs' seeds
    (default 0, 1, …), both as the partials and messages say them.
    """
    seeds = np.arange(len(runs)) if seeds is None else np.asarray(seeds)
    curves = np.full((len(runs), len(steps)), np.nan)
    results, last = [], time.monotonic()
    for k, run in enumerate(runs):
        while True:
            try:
                fraction, row = next(run)
            except StopIteration as stop:
                results.append(stop.value)
                curves[k] = final_row(stop.value)
                break
            curves[k] = row
            partial = None
            if time.monotonic() - last >= every_s:
                partial = _gd_partial(steps, curves[:k + 1], seeds[:k + 1], label)
                last = time.monotonic()
            yield Progress(start + (end - start) * (k + fraction) / len(runs),
                           f"{label} seed {seeds[k]}", partial)
    yield Progress(end, f"{label} done", _gd_partial(steps, curves, seeds, label))
    return results


def _gd_partial(steps, curves: np.ndarray, seeds: np.ndarray, optimizer: str) -> dict:
    return {"stage": "gd", "steps": np.asarray(steps).copy(), "objectives": curves.copy(),
            "seeds": seeds.copy(), "optimizer": optimizer}

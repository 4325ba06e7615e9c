"""Progress reports yielded by long engine runs (generators).

Contract: a long run is a generator that yields :class:`Progress` between steps (the
consumer may stop iterating at any yield to cancel) and *returns* its result.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generator, Optional


@dataclass(frozen=True)
class Progress:
    """``fraction`` in [0, 1], a short human message, and an optional partial result."""
    fraction: float
    message: str = ""
    partial: Optional[Any] = None


def relay(gen: Generator, start: float, end: float, prefix: str = "",
          partials: bool = False) -> Generator:
    """Re-yield ``gen``'s progress mapped onto ``[start, end]`` (messages after ``prefix``;
    its partial results too with ``partials``) and return its result: one long run as a part
    of a bigger one. The map hits ``start`` and ``end`` exactly, so consecutive parts never
    step the fraction back."""
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return stop.value
        yield Progress(start * (1.0 - p.fraction) + end * p.fraction, prefix + p.message,
                       p.partial if partials else None)


def drain(gen: Generator) -> Any:
    """Run a progress generator to the end and return its result."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value

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


def drain(gen: Generator) -> Any:
    """Run a progress generator to the end and return its result."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value

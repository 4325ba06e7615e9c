"""Progress reports yielded by long engine runs (generators).

Contract: a long run is a generator that yields :class:`Progress` between steps (the
consumer may stop iterating at any yield to cancel) and *returns* its result.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
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


_UNBROKEN: set[int] = set()   # idents of threads inside :func:`unbroken`


@contextmanager
def unbroken():
    """Mark a section (writing a checkpoint or a cache file) that a cancel must not cut:
    the app's runner, which interrupts a cancelled worker that does not reach a ``yield``
    soon, waits while the worker's thread is inside it."""
    ident = threading.get_ident()
    _UNBROKEN.add(ident)
    try:
        yield
    finally:
        _UNBROKEN.discard(ident)


def in_unbroken(ident: int) -> bool:
    """Whether the thread ``ident`` is inside an :func:`unbroken` section."""
    return ident in _UNBROKEN

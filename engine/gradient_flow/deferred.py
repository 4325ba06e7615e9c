"""Result fields computed on first read (#16: the lab's defaults do not pay for arrays
nobody draws).

A :class:`DeferredField` is a dataclass field (a data descriptor: ``dataclasses.fields``,
``repr``, ``==``, ``replace`` and the results export all see an ordinary field) whose
stored value may be a :class:`Deferred` — a function and its arguments — evaluated on the
first read and then kept.  Frozen dataclasses keep working: their ``__init__`` stores the
value through the descriptor, and an assignment afterwards is still refused.
"""
from __future__ import annotations

from typing import Any, Callable

__all__ = ["Deferred", "DeferredField", "stored"]


class Deferred:
    """``fn(*args)``, computed when a :class:`DeferredField` holding it is first read
    (picklable when ``fn`` is a module-level function and the arguments are)."""

    __slots__ = ("fn", "args")

    def __init__(self, fn: Callable, *args: Any):
        self.fn, self.args = fn, args

    def __call__(self) -> Any:
        return self.fn(*self.args)

    def __getstate__(self):
        return self.fn, self.args

    def __setstate__(self, state) -> None:
        self.fn, self.args = state


class DeferredField:
    """Data descriptor for a dataclass field that may hold a :class:`Deferred`.

    Declared as ``name: Type = DeferredField()``; the field has no default (reading it on
    the class raises ``AttributeError``, which is how dataclasses learn that).
    """

    def __set_name__(self, owner, name: str) -> None:
        self.name, self.slot = name, "_deferred_" + name

    def __get__(self, obj, owner=None):
        if obj is None:
            raise AttributeError(self.name)
        value = obj.__dict__[self.slot]
        if isinstance(value, Deferred):
            value = value()
            obj.__dict__[self.slot] = value
        return value

    def __set__(self, obj, value) -> None:
        obj.__dict__[self.slot] = value


def stored(obj, name: str) -> Any:
    """The value stored in ``obj``'s deferred field ``name``, unevaluated (a
    :class:`Deferred` until the field is read)."""
    return obj.__dict__["_deferred_" + name]

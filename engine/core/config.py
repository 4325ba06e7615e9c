"""Frozen-dataclass configs: one source of truth per parameter.

Every field carries its range, unit and one-line help in ``field.metadata`` so that
parameter panels, sessions and the CLI are generated from the same definition.

Metadata keys (all optional): ``label``, ``help``, ``unit``, ``min``, ``max``,
``choices`` (tuple of str), ``log`` (bool, log-scale spin steps), ``hidden`` (bool, not in panels),
``points`` (:class:`PointRows`: a hidden point-set field's row length, row count and bound).
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, Optional, Sequence


MAX_TEXT = 4096          # longest accepted string value (paths, comma lists)
OUTSIDE = "is outside the valid range"


@dataclasses.dataclass(frozen=True)
class PointRows:
    """What a hidden point-set field (``custom_points``) accepts: rows of ``cols`` finite
    numbers, at most ``max_rows`` rows, every value within ``±bound``.

    Attributes
    ----------
    cols : tuple of int
        Allowed row lengths (one length for all rows of a set).
    max_rows : int
        Most rows (the lab's own point-count limit, e.g. ``n_points``' maximum).
    bound : float
        Largest accepted ``|value|``.
    """
    cols: tuple = (2,)
    max_rows: int = 1000
    bound: float = 1e6


def param(default: Any, *, help: str, label: Optional[str] = None, unit: str = "",
          min: Optional[float] = None, max: Optional[float] = None,
          choices: Optional[Sequence[str]] = None, log: bool = False,
          hidden: bool = False, points: Optional[PointRows] = None,
          visible_when: Optional[dict] = None):
    """A dataclass field with the metadata the panels, sessions and CLI read
    (``visible_when``: show the field only while a named field has a listed value)."""
    meta = {"help": help, "unit": unit, "log": log, "hidden": hidden}
    if label is not None:
        meta["label"] = label
    if min is not None:
        meta["min"] = min
    if max is not None:
        meta["max"] = max
    if choices is not None:
        meta["choices"] = tuple(choices)
    if points is not None:
        meta["points"] = points
    if visible_when is not None:
        meta["visible_when"] = visible_when
    return dataclasses.field(default=default, metadata=meta)


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (never huge in a message)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10 ** 30:
        return "a huge integer"
    text = repr(value) if not isinstance(value, (list, tuple, dict)) or len(value) < 20 \
        else f"a {type(value).__name__} of {len(value)} items"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def valid_range(f: dataclasses.Field) -> str:
    """The valid values of field ``f`` in words (for error messages)."""
    meta = f.metadata
    if meta.get("choices") is not None:
        return "one of " + ", ".join(meta["choices"])
    if isinstance(f.default, bool):
        return "true or false"
    if meta.get("points") is not None:
        spec = meta["points"]
        cols = " or ".join(str(c) for c in spec.cols)
        return (f"at most {spec.max_rows} rows of {cols} finite numbers within "
                f"±{spec.bound:g}")
    kind = "an integer" if isinstance(f.default, int) else \
        "a number" if isinstance(f.default, float) else \
        f"text of at most {MAX_TEXT} characters" if isinstance(f.default, str) else \
        type(f.default).__name__
    lo, hi = meta.get("min"), meta.get("max")
    if lo is None and hi is None:
        return kind
    return f"{kind} in [{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"


def field_error(f: dataclasses.Field, value: Any) -> Optional[str]:
    """Why ``value`` is not valid for field ``f`` (None when it is valid).

    The message names the field, the refused value (shortened) and the valid range.
    """
    why = _value_problem(f, value)
    if why is None:
        return None
    if f.metadata.get("choices") is not None:
        return f"{f.name} must be {valid_range(f)} (got {_short(value)})"
    if why == OUTSIDE:
        lo, hi = f.metadata.get("min"), f.metadata.get("max")
        return (f"{f.name} = {_short(value)} is outside the valid range "
                f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]")
    return f"{f.name} = {_short(value)} {why}: expected {valid_range(f)}"


def _value_problem(f: dataclasses.Field, value: Any) -> Optional[str]:
    meta = f.metadata
    choices = meta.get("choices")
    if choices is not None:
        return None if isinstance(value, str) and value in choices else "is not a choice"
    if meta.get("points") is not None:
        return points_problem(meta["points"], value)
    if isinstance(f.default, bool):
        return None if isinstance(value, bool) else "has the wrong type"
    if isinstance(f.default, str):
        if not isinstance(value, str):
            return "is not text"
        return "is too long" if len(value) > MAX_TEXT else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None if isinstance(f.default, (tuple, type(None))) else "has the wrong type"
    if isinstance(value, float) and not math.isfinite(value):
        return "is not a finite number"
    lo, hi = meta.get("min"), meta.get("max")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        return OUTSIDE
    return None


def points_problem(spec: PointRows, value: Any) -> Optional[str]:
    """Why ``value`` is not a valid point set for ``spec`` (None when it is)."""
    if not isinstance(value, (list, tuple)):
        return "is not a list of rows"
    if len(value) > spec.max_rows:
        return f"has {len(value)} rows, too many"
    widths = set()
    for row in value:
        if not isinstance(row, (list, tuple)):
            return "has a row that is not a list of numbers"
        widths.add(len(row))
        for v in row:
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                return "has a value that is not a number"
            size = abs(v) if isinstance(v, int) else abs(float(v))   # a huge int stays int
            if not size <= spec.bound:                                  # NaN fails too
                return "has a value that is not finite or too large"
    if len(widths) > 1 or (widths and widths.pop() not in spec.cols):
        return "has rows of the wrong length (ragged or wrong column count)"
    return None


def validate(cfg) -> None:
    """Raise ``ValueError`` naming the field and its valid range if any value is invalid."""
    for f in dataclasses.fields(cfg):
        err = field_error(f, getattr(cfg, f.name))
        if err:
            raise ValueError(err)


def config_to_dict(cfg) -> dict:
    """Plain-JSON dict of a config (tuples become lists)."""
    out = {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        out[f.name] = list(v) if isinstance(v, tuple) else v
    return out


def config_from_dict(cls, data: dict):
    """Build ``cls`` from a dict, ignoring unknown keys, coercing types, then validating.

    Raises ``ValueError`` naming the field, the refused value and the valid range on any
    value of the wrong type, out of range, non-finite, too large or too long — never
    ``OverflowError``, ``TypeError`` or ``RecursionError``.
    """
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value = _coerce(f, data[f.name])
        err = field_error(f, value)
        if err:
            raise ValueError(err)
        kwargs[f.name] = value
    cfg = cls(**kwargs)
    validate(cfg)
    return cfg


def _coerce(f: dataclasses.Field, value: Any):
    """``value`` as the type of ``f``'s default (JSON lists → tuples, integral floats and
    numeric text → int/float); ``ValueError`` naming the field when that is impossible."""
    default = f.default
    try:
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise TypeError
            return value
        if isinstance(default, (int, float)):
            return _number(value, integer=isinstance(default, int))
        if f.metadata.get("points") is not None:
            problem = points_problem(f.metadata["points"], value)
            if problem:
                raise ValueError(problem)
            return tuple(tuple(float(v) for v in row) for row in value)
        if isinstance(value, list):
            return tuple(value)
        return value
    except (TypeError, ValueError, OverflowError) as exc:
        why = str(exc) if isinstance(exc, ValueError) and str(exc) else "has the wrong type"
        raise ValueError(f"{f.name} = {_short(value)} {why}: expected {valid_range(f)}") \
            from None


def _number(value: Any, integer: bool):
    """An int (``integer``) or float from a number or numeric text; huge or non-finite
    values stay huge/non-finite for the range check, the wrong type is a TypeError."""
    if isinstance(value, str) and len(value) <= 40:
        text = value.strip()
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise TypeError from None   # "abc": the wrong type
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError
    if not integer:
        try:
            return float(value)
        except OverflowError:               # an int beyond any float
            raise ValueError(OUTSIDE) from None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("is not a finite number")
        if value != int(value):
            raise ValueError("is not a whole number")
        return int(value)
    return value

"""Frozen-dataclass configs: one source of truth per parameter.

Every field carries its range, unit and one-line help in ``field.metadata`` so that
parameter panels, sessions and the CLI are generated from the same definition.

Metadata keys (all optional): ``label``, ``help``, ``unit``, ``min``, ``max``,
``choices`` (tuple of str), ``log`` (bool, log-scale spin steps), ``hidden`` (bool, not in panels).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Optional, Sequence


def param(default: Any, *, help: str, label: Optional[str] = None, unit: str = "",
          min: Optional[float] = None, max: Optional[float] = None,
          choices: Optional[Sequence[str]] = None, log: bool = False,
          hidden: bool = False):
    """A dataclass field with the metadata the panels, sessions and CLI read."""
    meta = {"help": help, "unit": unit, "log": log, "hidden": hidden}
    if label is not None:
        meta["label"] = label
    if min is not None:
        meta["min"] = min
    if max is not None:
        meta["max"] = max
    if choices is not None:
        meta["choices"] = tuple(choices)
    return dataclasses.field(default=default, metadata=meta)


def field_error(f: dataclasses.Field, value: Any) -> Optional[str]:
    """Why ``value`` is not valid for field ``f`` (None when it is valid)."""
    meta = f.metadata
    choices = meta.get("choices")
    if choices is not None:
        return None if value in choices else f"{f.name} must be one of {', '.join(choices)}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if value != value:  # NaN
        return f"{f.name} must be a number, not NaN"
    lo, hi = meta.get("min"), meta.get("max")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        return f"{f.name} = {value} is outside the valid range [{lo}, {hi}]"
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

    Raises ``ValueError`` (with the field name) on values of the wrong type or out of range.
    """
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        kwargs[f.name] = _coerce(f, data[f.name])
    cfg = cls(**kwargs)
    validate(cfg)
    return cfg


def _coerce(f: dataclasses.Field, value: Any):
    default = f.default
    try:
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise TypeError
            return value
        if isinstance(default, int):
            if isinstance(value, bool) or float(value) != int(value):
                raise TypeError
            return int(value)
        if isinstance(default, float):
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if isinstance(default, str):
            if not isinstance(value, str):
                raise TypeError
            return value
        if isinstance(value, list):
            return tuple(value)
        return value
    except (TypeError, ValueError):
        raise ValueError(f"{f.name}: invalid value {value!r}") from None

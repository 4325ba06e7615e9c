"""What a config field's metadata says, apart from any widget: its editor kind, label, tooltip,
visibility, and the parsing and validation of what a user types (for
:class:`widgets.parameter_panel.ParameterPanel`; metadata keys in docs/CONTRACTS.md).

Only the stdlib :mod:`dataclasses` module is used to read configs: this module must not
import ``engine`` or ``app``.
"""
from __future__ import annotations

import ast
import dataclasses
import math
from typing import Any

__all__ = ["field_kind", "format_number", "humanise", "parse_value", "tooltip", "visible"]

_SCALAR_NAMES = {"bool": bool, "int": int, "float": float, "str": str}


def format_number(value: Any) -> str:
    """Compact, round-trippable text for a number.

    Parameters
    ----------
    value : int or float
        The number to format.

    Returns
    -------
    str
        ``repr``-like text without a trailing ``.0`` (``1e-05`` stays ``1e-05``).
    """
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def humanise(name: str) -> str:
    """``learning_rate`` -> ``Learning rate``."""
    text = name.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def field_kind(f: dataclasses.Field, value: Any) -> str:
    """One of ``bool, choice, int, float, str, literal`` for field ``f``."""
    if f.metadata.get("choices") is not None:
        return "choice"
    ann = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
    kind = _SCALAR_NAMES.get(ann)
    if kind is None:
        kind = type(value) if type(value) in (bool, int, float, str) else None
    return kind.__name__ if kind is not None else "literal"


def visible(f: dataclasses.Field, config) -> bool:
    """``visible_when`` of ``f`` holds for ``config`` (any named field has a listed value), and
    so does every condition of ``also_visible_when`` (a tuple of such dicts, all required)."""
    conditions = (f.metadata.get("visible_when"), *f.metadata.get("also_visible_when", ()))
    return all(not when or any(getattr(config, k, None) in v for k, v in when.items())
               for when in conditions)


def _range_text(meta) -> str:
    lo, hi = meta.get("min"), meta.get("max")
    lo_t = "-inf" if lo is None else format_number(lo)
    hi_t = "inf" if hi is None else format_number(hi)
    return f"[{lo_t}, {hi_t}]"


def tooltip(f: dataclasses.Field) -> str:
    """Help, unit, valid range and choices of a field, one per line."""
    meta = f.metadata
    lines = [meta.get("help", "") or f.name]
    if meta.get("unit"):
        lines.append(f"unit: {meta['unit']}")
    if meta.get("min") is not None or meta.get("max") is not None:
        lines.append(f"valid range {_range_text(meta)}")
    if meta.get("choices") is not None:
        lines.append("choices: " + ", ".join(meta["choices"]))
    if meta.get("log"):
        lines.append("log scale")
    return "\n".join(lines)


def parse_value(f: dataclasses.Field, kind: str, text: str):
    """Parse and validate the text of a field editor.

    Parameters
    ----------
    f : dataclasses.Field
        The field; its metadata gives ``min``, ``max`` and ``choices``.
    kind : str
        Editor kind from :func:`field_kind`.
    text : str
        What the user typed (or the chosen item).

    Returns
    -------
    value : object
        The parsed value (None when invalid).
    error : str or None
        Why the text was refused, naming the field and its valid range.
    """
    name, meta, text = f.name, f.metadata, text.strip()
    if kind == "str":
        return text, None
    if kind == "choice":
        choices = meta["choices"]
        ok = text in choices
        return (text, None) if ok else (None, f"{name} must be one of {', '.join(choices)}")
    if kind == "literal":
        try:
            return ast.literal_eval(text), None
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None, f"{name}: {_shown(text)} is not a valid value"
    try:
        value = float(text)
    except ValueError:
        return None, f"{name}: {_shown(text)} is not a number"
    if math.isnan(value):
        return None, f"{name} must be a number, not NaN"
    if kind == "int":
        if not value.is_integer():
            return None, f"{name}: {_shown(text)} is not an integer"
        value = int(value)
    if math.isinf(value):
        return None, f"{name} must be a finite number, not {_shown(text)}"
    lo, hi = meta.get("min"), meta.get("max")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        return None, (f"{name} = {format_number(value)} is outside the valid range "
                      f"{_range_text(meta)}")
    return value, None


def _shown(text: str, most: int = 40) -> str:
    """``repr`` of what was typed, cut to ``most`` characters (a pasted megabyte must not
    become the error line)."""
    return repr(text) if len(text) <= most else repr(text[:most]) + f"… ({len(text)} characters)"

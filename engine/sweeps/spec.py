"""A sweep: a lab config, axes (field → values), seeds and the metrics to keep.

Axis values are a list, or text: ``"1,2,3"``, ``"lin:a:b:n"`` (``n`` evenly spaced values
from ``a`` to ``b``) or ``"log:a:b:n"`` (``n`` geometrically spaced, ``a, b > 0``). Every
value is validated like a panel edit (``engine.core.config_from_dict``) before anything runs,
so an unknown field, a value outside its range or an unknown metric is refused with the
reason (SCIENCE.md §1.5 for the convergence-time study this generalises).
"""
from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from engine.core import config_from_dict, config_to_dict
from engine.sweeps.labs import target

__all__ = ["Sweep", "Point", "SweepPlan", "parse_values", "plan_sweep"]

MAX_POINTS = 100_000
_BOOL_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}


@dataclass(frozen=True)
class Sweep:
    """What to run: ``lab`` (a name of :data:`engine.sweeps.labs.TARGETS`, or a
    :class:`~engine.sweeps.labs.SweepTarget` for an in-process sweep), its base
    ``config`` (a config instance or a dict of fields), ``axes`` (field → values), ``seeds``
    (each point runs with ``config.seed + k`` for ``k < seeds``) and ``metrics`` (names the
    lab produces; ``seconds`` is always kept)."""
    lab: str
    config: Any
    axes: dict = field(default_factory=dict)
    seeds: int = 1
    metrics: Sequence[str] = ()


@dataclass(frozen=True)
class Point:
    """One run of the sweep: its index, its axis values and seed, its full config dict."""
    index: int
    values: dict
    seed: int
    config: dict


@dataclass(frozen=True)
class SweepPlan:
    """A validated sweep: the resolved axes, seeds, metrics and every point in order."""
    lab: str
    config: dict
    axes: dict          # field → list of validated values
    seeds: list
    metrics: list
    points: list

    def meta(self) -> dict:
        """JSON-ready description (the store's ``_meta.json``)."""
        return {"lab": self.lab, "config": self.config, "axes": self.axes,
                "seeds": self.seeds, "metrics": self.metrics}


def parse_values(spec: Any) -> list:
    """Axis values from a list or from text (``"a,b,c"``, ``"lin:a:b:n"``, ``"log:a:b:n"``).

    Raises
    ------
    ValueError
        Malformed text, ``n < 1``, or a log range that is not positive.
    """
    if isinstance(spec, (list, tuple, np.ndarray)):
        return [v.item() if isinstance(v, np.generic) else v for v in spec]
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"axis values must be a list or text, got {spec!r}")
    text = spec.strip()
    kind = text.split(":", 1)[0].lower()
    if kind in ("lin", "log"):
        return _range_values(kind, text)
    return [v.strip() for v in text.split(",") if v.strip()]


def _range_values(kind: str, text: str) -> list:
    parts = text.split(":")
    try:
        if len(parts) != 4:
            raise ValueError
        a, b, n = float(parts[1]), float(parts[2]), int(parts[3])
    except ValueError:
        raise ValueError(f"{text!r}: expected {kind}:START:STOP:COUNT") from None
    if not 1 <= n <= MAX_POINTS:
        raise ValueError(f"{text!r}: COUNT must be between 1 and {MAX_POINTS}")
    if kind == "log":
        if a <= 0 or b <= 0:
            raise ValueError(f"{text!r}: a log range needs START and STOP > 0")
        values = np.geomspace(a, b, n)
    else:
        values = np.linspace(a, b, n)
    return [float(v) for v in values]


def plan_sweep(sweep: Sweep) -> SweepPlan:
    """Validate ``sweep`` and list its points (axes in the given order, seeds innermost).

    Raises
    ------
    ValueError
        Unknown lab, field or metric; a value outside its field's range (names the field and
        the valid range); a seed axis together with ``seeds > 1``; too many points.
    """
    tgt = target(sweep.lab)
    cls = tgt.config_class()
    base = _base_config(cls, sweep.config)
    metrics = _check_metrics(tgt, sweep.metrics)
    if isinstance(sweep.seeds, bool) or not isinstance(sweep.seeds, int) \
            or not 1 <= sweep.seeds <= 10_000:
        raise ValueError(f"seeds must be a whole number from 1 to 10000, got {sweep.seeds!r}")
    axes = {name: _axis_values(cls, base, name, values) for name, values in sweep.axes.items()}
    if "seed" in axes and sweep.seeds > 1:
        raise ValueError("an axis over 'seed' and seeds > 1 together: use one of them")
    count = int(np.prod([len(v) for v in axes.values()])) * sweep.seeds if axes else sweep.seeds
    if count > MAX_POINTS:
        raise ValueError(f"the sweep has {count} points; at most {MAX_POINTS} are allowed")
    seeds = [int(base["seed"]) + k for k in range(sweep.seeds)] if "seed" in base else [0]
    points = _points(cls, base, axes, seeds)
    return SweepPlan(tgt.name, base, axes, seeds, metrics, points)


def _base_config(cls: type, config: Any) -> dict:
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        if not isinstance(config, cls):
            raise ValueError(f"the config is a {type(config).__name__}, the lab needs a "
                             f"{cls.__name__}")
        return config_to_dict(config)
    if config is None:
        return config_to_dict(cls())
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(f"{cls.__name__} has no field {unknown[0]!r}")
    return config_to_dict(config_from_dict(cls, dict(config)))


def _check_metrics(tgt, metrics: Sequence[str]) -> list:
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    if not names:
        raise ValueError(f"name at least one metric: {', '.join(tgt.metrics)}")
    for name in names:
        if name not in tgt.metrics:
            raise ValueError(f"the {tgt.name} lab has no metric {name!r}: expected one of "
                             f"{', '.join(tgt.metrics)}")
    return list(dict.fromkeys(names))


def _axis_values(cls: type, base: dict, name: str, values: Any) -> list:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if name not in fields or fields[name].metadata.get("points") is not None:
        shown = [n for n, f in fields.items() if not f.metadata.get("hidden")]
        raise ValueError(f"{cls.__name__} has no field {name!r} to sweep: expected one of "
                         f"{', '.join(shown)}")
    parsed = parse_values(values)
    if isinstance(fields[name].default, bool):
        parsed = [_BOOL_WORDS.get(v.lower(), v) if isinstance(v, str) else v for v in parsed]
    if not parsed:
        raise ValueError(f"axis {name!r} has no values")
    out = []
    for value in parsed:
        cfg = config_from_dict(cls, {**base, name: value})    # ValueError names the range
        out.append(getattr(cfg, name))
    if len(set(map(repr, out))) != len(out):
        raise ValueError(f"axis {name!r} repeats a value: {out}")
    return out


def _points(cls: type, base: dict, axes: dict, seeds: list) -> list:
    names = list(axes)
    points = []
    for combo in itertools.product(*(axes[n] for n in names)):
        values = dict(zip(names, combo))
        for seed in seeds:
            cfg = {**base, **values}
            if "seed" in base and "seed" not in values:
                cfg["seed"] = seed
            config_from_dict(cls, cfg)                         # cross-field checks too
            used = values.get("seed", seed)
            points.append(Point(len(points), values, int(used), cfg))
    return points

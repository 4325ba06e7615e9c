"""A sweep's table reduced for :class:`widgets.sweep_plot.SweepPlot`: means and standard
deviations of one metric over seeds, on the grid of the first three axes."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Reduced", "reduce_table", "show_table", "values_at"]


MAX_CURVES = 8          # a text second axis with at most this many values is drawn as curves


@dataclass
class Reduced:
    """``mean``/``std`` of shape ``(len(y values), len(x values))``, or ``(len(z values),
    len(y values), len(x values))`` with a third axis (NaN: no finished run)."""
    x_name: str
    x_values: list
    y_name: str
    y_values: list
    mean: np.ndarray
    std: np.ndarray
    failed: int
    rest: list            # axes beyond the first three (averaged over)
    z_name: str = ""
    z_values: list = field(default_factory=lambda: [None])


def _cell(ok, names: list, values: tuple, metric: str) -> np.ndarray:
    """The finite metric values of the rows whose axes ``names`` equal ``values``."""
    sel = ok
    for name, value in zip(names, values):
        if name and len(sel):
            sel = sel[sel[name] == value]
    vals = np.asarray(sel[metric], float) if len(sel) else np.empty(0)
    return vals[np.isfinite(vals)]


def reduce_table(table, axes: dict, metric: str) -> Reduced:
    """Group the finished, error-free rows of ``table`` by the first three axes (mean and
    standard deviation over seeds and any further axes)."""
    names = list(axes) + ["", ""]
    x_name, y_name, z_name = names[:3]
    xs = list(axes[x_name])
    ys, zs = (list(axes[n]) if n else [None] for n in (y_name, z_name))
    mean = np.full((len(zs), len(ys), len(xs)), np.nan)
    std = np.full_like(mean, np.nan)
    ok = table[(table["error"] == "")] if len(table) else table
    for (i, zv), (j, yv), (k, xv) in itertools.product(enumerate(zs), enumerate(ys),
                                                       enumerate(xs)):
        vals = _cell(ok, [x_name, y_name, z_name], (xv, yv, zv), metric)
        if vals.size:
            mean[i, j, k] = vals.mean()
            std[i, j, k] = vals.std() if vals.size > 1 else 0.0
    failed = int((table["error"] != "").sum()) if len(table) else 0
    if not z_name:
        mean, std = mean[0], std[0]
    return Reduced(x_name, xs, y_name, ys, mean, std, failed, list(axes)[3:], z_name, zs)


def _numeric(values: list) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _ticks(values: list) -> list:
    return [f"{v:.3g}" if isinstance(v, float) else str(v) for v in values]


def _as_curves(red: Reduced) -> bool:
    """A second axis of a few text values (solvers, methods) reads best as curves."""
    return bool(red.y_name) and not _numeric(red.y_values) and len(red.y_values) <= MAX_CURVES


def _x_positions(red: Reduced) -> tuple:
    """``(x, tick labels, log axis)`` of the first axis."""
    numeric = _numeric(red.x_values)
    x = np.asarray(red.x_values, float) if numeric else np.arange(len(red.x_values), dtype=float)
    log_x = bool(numeric and np.all(x > 0) and x.max() / x.min() >= 20)
    return x, ([] if numeric else _ticks(red.x_values)), log_x


def show_table(plot, table, axes: dict, metric: str, done: int, total: int) -> Reduced:
    """Draw ``table`` on ``plot``: a line for one axis (a text second axis as curves), a
    heat map for two, one panel per value of a third axis (small multiples)."""
    red = reduce_table(table, axes, metric)
    caption = f"{done}/{total} points"
    if red.failed:
        caption += f", {red.failed} failed (see the 'error' column)"
    if red.rest:
        caption += f"; mean over {', '.join(red.rest)}"
    x, x_ticks, log_x = _x_positions(red)
    series = _ticks(red.y_values) if red.y_name else [""]
    if red.z_name:
        _show_panels(plot, red, metric, caption, (x, x_ticks, log_x))
    elif not red.y_name or _as_curves(red):
        plot.show_line(red.x_name, x_ticks, x, red.mean, red.std, metric, series=series,
                       log_x=log_x, caption=caption + " (mean ± sd over seeds)")
    else:
        plot.show_heatmap(red.x_name, _ticks(red.x_values), red.y_name, series, red.mean,
                          metric, caption=caption + " (mean over seeds)")
    return red


def _show_panels(plot, red: Reduced, metric: str, caption: str, x_axis: tuple) -> None:
    titles = [f"{red.z_name} = {t}" for t in _ticks(red.z_values)]
    if _as_curves(red):
        x, x_ticks, log_x = x_axis
        plot.show_multiples("line", caption + " (mean ± sd over seeds)", x_label=red.x_name,
                            x=x, x_ticks=x_ticks, series=_ticks(red.y_values), titles=titles,
                            mean=red.mean, std=red.std, metric=metric, log_x=log_x)
    else:
        plot.show_multiples("heatmap", caption + " (mean over seeds)", x_label=red.x_name,
                            x_ticks=_ticks(red.x_values), y_label=red.y_name,
                            y_ticks=_ticks(red.y_values), titles=titles, grids=red.mean,
                            metric=metric)


def values_at(red: Reduced, index: tuple) -> dict:
    """The axis values of a clicked point ``(x index, y index[, panel index])``."""
    k, j = index[:2]
    out = {red.x_name: red.x_values[k]}
    if red.y_name:
        out[red.y_name] = red.y_values[j]
    if red.z_name and len(index) > 2:
        out[red.z_name] = red.z_values[index[2]]
    return out

"""A sweep's table reduced for :class:`widgets.sweep_plot.SweepPlot`: means and standard
deviations of one metric over seeds, on the grid of the (first two) axes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Reduced", "reduce_table", "show_table", "values_at"]


@dataclass
class Reduced:
    """``mean``/``std`` of shape ``(len(y values), len(x values))`` (NaN: no finished run)."""
    x_name: str
    x_values: list
    y_name: str
    y_values: list
    mean: np.ndarray
    std: np.ndarray
    failed: int
    rest: list            # axes beyond the first two (averaged over)


def reduce_table(table, axes: dict, metric: str) -> Reduced:
    """Group the finished, error-free rows of ``table`` by the first two axes."""
    names = list(axes)
    x_name, y_name = names[0], (names[1] if len(names) > 1 else "")
    xs, ys = list(axes[x_name]), (list(axes[y_name]) if y_name else [None])
    mean = np.full((len(ys), len(xs)), np.nan)
    std = np.full_like(mean, np.nan)
    ok = table[(table["error"] == "")] if len(table) else table
    for j, yv in enumerate(ys):
        for k, xv in enumerate(xs):
            sel = ok[ok[x_name] == xv] if len(ok) else ok
            if y_name and len(sel):
                sel = sel[sel[y_name] == yv]
            vals = np.asarray(sel[metric], float) if len(sel) else np.empty(0)
            vals = vals[np.isfinite(vals)]
            if vals.size:
                mean[j, k] = vals.mean()
                std[j, k] = vals.std() if vals.size > 1 else 0.0
    failed = int((table["error"] != "").sum()) if len(table) else 0
    return Reduced(x_name, xs, y_name, ys, mean, std, failed, names[2:])


def _numeric(values: list) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def show_table(plot, table, axes: dict, metric: str, done: int, total: int) -> Reduced:
    """Draw ``table`` on ``plot``: a line for one axis (or a text second axis as curves), a
    heat map for two."""
    red = reduce_table(table, axes, metric)
    caption = f"{done}/{total} points"
    if red.failed:
        caption += f", {red.failed} failed (see the 'error' column)"
    if red.rest:
        caption += f"; mean over {', '.join(red.rest)}"
    ticks = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in red.x_values]
    if not red.y_name:
        numeric = _numeric(red.x_values)
        x = np.asarray(red.x_values, float) if numeric else np.arange(len(red.x_values))
        log_x = bool(numeric and np.all(x > 0) and x.max() / x.min() >= 20)
        plot.show_line(red.x_name, [] if numeric else ticks, x, red.mean, red.std, metric,
                       log_x=log_x, caption=caption + " (mean ± sd over seeds)")
    else:
        y_ticks = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in red.y_values]
        plot.show_heatmap(red.x_name, ticks, red.y_name, y_ticks, red.mean, metric,
                          caption=caption + " (mean over seeds)")
    return red


def values_at(red: Reduced, index: tuple) -> dict:
    """The axis values of a clicked point ``(x index, y index)``."""
    k, j = index
    out = {red.x_name: red.x_values[k]}
    if red.y_name:
        out[red.y_name] = red.y_values[j]
    return out

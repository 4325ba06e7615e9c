"""Helpers of the activation-regions presenter: run labels, curves, gate space, 3-D surface.

Functions here turn a :class:`engine.regions.RegionsResult` into widget calls; the presenter
(:mod:`app.labs.regions`) owns the widgets and the frame/run selection.
"""
from __future__ import annotations

import numpy as np

from app.labs.legend_room import leave_legend_room
from widgets.region_style import NEG_COLOR, POS_COLOR, region_colors

SEED_COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (148, 103, 189),
               (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34)]
_STYLES = ("solid", "dash", "dot")
OBJECTIVE_TITLE = "Training objective vs the convex optimum"
DEEP_COLOR = (214, 39, 40)      # the deep net of deep-vs-wide (no seed colour is red)
REACH_RTOL = 1e-3           # "reaches p*": relative gap below this


def run_labels(r) -> list[str]:
    """``"seed 3"`` per run, or ``"m = 8, seed 3"`` when the runs have several widths."""
    widths = r.widths
    if len(np.unique(widths)) == 1:
        return [f"seed {run.seed}" for run in r.runs]
    return [f"m = {m}, seed {run.seed}" for m, run in zip(widths, r.runs)]


def data_kind(y: np.ndarray) -> str:
    """``"class"`` for ±1 (or 0) labels, else ``"regression"`` (how the points are drawn)."""
    values = np.unique(y)
    return "class" if len(values) <= 2 and set(values) <= {-1.0, 0.0, 1.0} else "regression"


def certificate_text(sol) -> str:
    """What the convex solution is: certified global optimum, uncertified, or a bound."""
    if not sol.exact_patterns:
        return ("optimum over sampled patterns (an upper bound)" if sol.certified
                else sol.summary)          # an uncertified result always says so (#18)
    eps = sol.max_dual_constraint / sol.lam - 1.0
    detail = f"max dual constraint = λ(1{eps:+.1e}), dual gap {sol.dual_gap:.1e}"
    if sol.certified:
        return f"certified global optimum ({detail})"
    return (f"NOT certified: the solver stopped short of the optimum ({detail})"
            + (f"; {sol.note}" if getattr(sol, "note", "") else ""))    # why (#17)


def reach_summary(r) -> str:
    """How many runs reach p*, per width when there are several."""
    reached, widths = r.reached(REACH_RTOL), r.widths
    best = f"best gap {np.nanmin(r.gaps):.2e}"
    if np.nanmin(r.gaps) < -1e-6 * max(r.convex.objective, 1e-12):
        best += " (a run below p*: the convex solution is not optimal)"
    if len(np.unique(widths)) == 1:
        return (f"{int(reached.sum())} of {len(r.runs)} seeds reach p* (relative gap < "
                f"{REACH_RTOL:g}); {best}.")
    parts = [f"m = {m}: {int(reached[widths == m].sum())}/{int((widths == m).sum())}"
             for m in np.unique(widths)]
    return (f"runs reaching p* (relative gap < {REACH_RTOL:g}) — {', '.join(parts)}; "
            f"{best}.")


def curve_styles(r) -> list[tuple]:
    """``(color, style, legend name or None)`` per run.

    One width: a colour per seed. Several widths: a colour per width, a line style per seed,
    one legend entry per width.
    """
    widths = r.widths
    values = np.unique(widths)
    if len(values) == 1:
        return [(SEED_COLORS[i % len(SEED_COLORS)], "solid", f"seed {run.seed}")
                for i, run in enumerate(r.runs)]
    out, seen = [], {}
    for m in widths:
        k = seen.get(m, 0)
        seen[m] = k + 1
        color = SEED_COLORS[int(np.searchsorted(values, m)) % len(SEED_COLORS)]
        n = int((widths == m).sum())
        out.append((color, _STYLES[k % len(_STYLES)], f"m = {m} ({n} seeds)" if k == 0 else None))
    return out


def show_curves(objective, counts, r) -> None:
    """Objective and exact region count of every run, the convex optimum as a line and, for
    deep-vs-wide runs, the deep net (its objective; its region-count lower bound).

    The runs are named in the objective's legend only (same colours and styles in both
    charts): a second copy of their names would cover the region counts.
    """
    for plot in (objective, counts):
        for key in list(plot.keys()):
            plot.remove(key)
    marker = "o" if len(r.snapshot_steps) == 1 else None     # a live run's last frame only
    for i, (run, (color, style, name)) in enumerate(zip(r.runs, curve_styles(r))):
        objective.set_curve(f"s{i}", np.arange(len(run.objective)), run.objective,
                            color=color, width=2, style=style, name=name)
        counts.set_curve(f"s{i}", r.snapshot_steps.astype(float),
                         r.region_counts[:, i].astype(float), color=color, width=2,
                         style=style, symbol=marker)
    if marker:
        counts.plot_item.setXRange(0.0, float(r.snapshot_steps[-1]), padding=0.05)
    show_deep_curves(objective, counts, r, marker)
    # Named in the legend (placed in a gap of the curves), not labelled beside the line:
    # every run ends near p*, and the region counts crowd the optimum's count.
    objective.set_hline("convex", float(r.convex.objective), (0, 0, 0),
                        name=f"convex optimum p* = {r.convex.objective:.4g}")
    counts.set_hline("convex", float(r.convex_region_count), (0, 0, 0),
                     name=f"convex optimum's net ({r.convex_region_count})")
    several = len(np.unique(r.widths)) > 1
    objective.plot_item.setTitle("Training objective (line style: seed)" if several
                                 else OBJECTIVE_TITLE)
    leave_legend_room(counts, [r.region_counts, [r.convex_region_count],
                               getattr(r, "deep_region_counts_lower", None)])
    deep = getattr(r, "deep_run", None)
    leave_legend_room(objective, [run.objective for run in r.runs] + [
        [r.convex.objective], None if deep is None else deep.objective], log=True)


def deep_label(r) -> str:
    """``"deep net 4 × 8"``: depth × neurons per layer of the deep-vs-wide run."""
    run = r.deep_run
    return f"deep net {run.depth} × {int(run.layers[0].shape[1])}"


def show_deep_curves(objective, counts, r, marker=None) -> None:
    """The deep net of a deep-vs-wide run in both charts (nothing without one)."""
    run, lower = getattr(r, "deep_run", None), getattr(r, "deep_region_counts_lower", None)
    if run is None:
        return
    objective.set_curve("deep", np.arange(len(run.objective)), run.objective,
                        color=DEEP_COLOR, width=2.5, style="dot", name=deep_label(r))
    if lower is not None and len(lower) == len(r.snapshot_steps):
        counts.set_curve("deep", r.snapshot_steps.astype(float), lower.astype(float),
                         color=DEEP_COLOR, width=2.5, style="dot", symbol=marker,
                         name=f"{deep_label(r)}: ≥ patterns on the grid")


# ---------------------------------------------------------------------- gate space
def show_gate_chart(view, X, c: dict) -> None:
    """Draw one gate-space chart (computed by the engine: ``RegionsResult.gate_charts``,
    :func:`engine.regions.gate_space.gate_chart`) on a RegionMap, unused cells washed out."""
    sign = c["sign"]
    lim = (-c["half"], c["half"])
    view.set_pattern_ids(c["ids"], lim, lim, keys=c["keys"])
    view.set_faded(~c["used"][c["ids"]])                # unused patterns washed out
    view.set_lines(X, np.full(len(X), sign), ticks=False)
    view.set_data(c["gates"], c["w2_sign"], kind="class")
    b = "+1" if sign > 0 else "−1"
    n_out = int((np.abs(c["gates"]) > c["half"]).any(axis=1).sum())
    view.plot_item.setLabel("bottom", f"g₁ (gate u = (g₁, g₂, {b}))")
    view.plot_item.setLabel("left", "g₂")
    view.set_key_names(lines=f"a data point's line xᵢ·g {b[0]} {b[1]} = 0 (its gate flips)",
                       pos="a neuron of the optimum at w/|b|, w₂ > 0",
                       neg="a neuron at w/|b|, w₂ < 0",
                       faded="washed out: patterns the optimum does not use")
    view.set_info(f"Cells: the {len(X)} points' activation patterns for bias {b} "
                  f"({c['n_cells']} in view); bright: {int(c['used'].sum())} cells whose "
                  f"pattern the optimum uses ({c['n_used']} used in all); "
                  f"{len(c['gates'])} of its neurons here ({n_out} outside the view).")


# ---------------------------------------------------------------------- 3-D surface
def point_colors(y: np.ndarray, kind: str) -> np.ndarray:
    """Marker colours (n, 3) uint8: class colours, or viridis over the targets' range."""
    if kind == "class":
        pos = y > (0.5 if y.size and y.min() >= 0 else 0.0)
        return np.where(pos[:, None], POS_COLOR, NEG_COLOR).astype(np.uint8)
    import pyqtgraph as pg
    lo, hi = (float(y.min()), float(y.max())) if y.size else (0.0, 1.0)
    t = (y - lo) / (hi - lo) if hi > lo else np.full(len(y), 0.5)
    return pg.colormap.get("viridis").map(t, mode="byte")[:, :3]


def show_surface(view, r, ids, keys, W, w2, output, kind: str, label: str) -> None:
    """The net's output over the input plane as a surface coloured by its regions."""
    xl, yl = (r.box[0], r.box[1]), (r.box[2], r.box[3])
    view.set_surface(output, xl, yl, colors=region_colors(ids, keys))
    fitted = np.maximum(r.X @ W[:, :2].T + W[:, 2], 0.0) @ w2
    view.set_points(r.X, r.y, colors=point_colors(r.y, kind), fitted=fitted)
    view.set_info(f"<b>{label}</b> — height: f(x); colours: its regions; dots: the data "
                  "(stems: residuals). Drag: turn, wheel: zoom, hover: the facet's pattern "
                  "and affine map.")

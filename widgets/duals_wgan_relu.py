"""Drawing of the WGAN tab's ReLU-discriminator game (the certified convex game beside GDA of
a linear generator): samples and atoms over the discriminator, the exact critic along the
GDA paths against β, and the solver's duality gap per LP. Used by
:class:`widgets.duals_wgan_view.DualsWganView` when an outcome has ``mass_convex``.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from widgets.curve_plot import CurvePlot
from widgets.duals_objective_plot import SEED_COLORS, clip_y

__all__ = ["RELU_CRITICS", "is_relu", "draw_relu_samples", "draw_critic_paths", "draw_gap"]

REAL, CONVEX, BETA = (130, 130, 130), (0, 0, 0), (200, 40, 60)
RELU_CRITICS = {"Discriminator: certified D*": "critic_convex",
                "Discriminator: GDA, best seed": "critic_gda"}
MIN_MASS = 1e-6            # atoms lighter than this only make the mixture feasible


def is_relu(arrays: dict) -> bool:
    """Whether ``arrays`` come from the ReLU-discriminator game."""
    return "mass_convex" in arrays


def _neuron_line(u: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Where ``u·[x, 1] = 0`` crosses the square ``[lo, hi]²`` (K, 2); empty if it misses."""
    normal = u[:2]
    n2 = float(normal @ normal)
    if n2 < 1e-24:
        return np.zeros((0, 2))
    foot = -u[2] * normal / n2
    along = np.array([-normal[1], normal[0]]) / np.sqrt(n2)
    t = np.linspace(-3 * (hi - lo), 3 * (hi - lo), 400)
    line = foot + t[:, None] * along
    return line[np.all((line >= lo) & (line <= hi), axis=1)]


def draw_relu_samples(item: pg.PlotItem, a: dict, seeds=None) -> None:
    """Real samples, the certified distribution's atoms (area ∝ mass), the best GDA seed's
    samples, and the lines where the certified discriminator's neurons switch."""
    best = int(a.get("gda_best", 0))
    seed = best if seeds is None else int(np.asarray(seeds)[best])
    real = np.asarray(a["real"])
    item.addItem(pg.ScatterPlotItem(real[:, 0], real[:, 1], size=6, pen=None,
                                    brush=pg.mkBrush(*REAL, 200), name="real samples"))
    mass = np.asarray(a["mass_convex"])
    keep = mass >= MIN_MASS
    atoms = np.asarray(a["generated_convex"])[keep]
    sizes = np.maximum(32 * np.sqrt(mass[keep] / mass[keep].max()), 4)   # area ∝ mass
    item.addItem(pg.ScatterPlotItem(atoms[:, 0], atoms[:, 1], size=sizes,
                                    pen=pg.mkPen(90, 90, 90), brush=pg.mkBrush(*CONVEX, 210),
                                    name="certified generator ν* (area ∝ mass)"))
    if "generated_gda" in a:
        gen = np.asarray(a["generated_gda"])
        color = SEED_COLORS[best % len(SEED_COLORS)]
        item.addItem(pg.ScatterPlotItem(gen[:, 0], gen[:, 1], size=6, pen=None,
                                        brush=pg.mkBrush(*color, 200),
                                        name=f"linear generator, GDA seed {seed} (best)"))
    lo, hi = float(a["grid_x"][0]), float(a["grid_x"][-1])
    dash = pg.mkPen(CONVEX, width=1, style=QtCore.Qt.PenStyle.DashLine)
    for k, row in enumerate(np.asarray(a["neurons_convex"])):
        line = _neuron_line(row[:3], lo, hi)
        if line.size:
            item.addItem(pg.PlotDataItem(line[:, 0], line[:, 1], pen=dash,
                                         name="D*'s neurons switch" if k == 0 else None))


def draw_critic_paths(plot: CurvePlot, a: dict, seeds=None) -> None:
    """The exact critic of the linear generator along every GDA path, and β."""
    plot.clear_items()
    plot.set_log(False, False)
    plot.set_labels("Exact ReLU critic along GDA", "step", "critic (feasible ≤ β)")
    path = np.asarray(a.get("critic_path", np.zeros((0, 0))), dtype=float)
    seeds = np.arange(path.shape[0]) if seeds is None else np.asarray(seeds)
    for row in range(path.shape[0]):
        plot.set_curve(f"s{row}e0", np.asarray(a["steps"], dtype=float), path[row],
                       color=SEED_COLORS[row % len(SEED_COLORS)], width=1.5,
                       name=f"GDA seed {int(seeds[row])}")
    beta = float(a["beta"])
    plot.set_hline("beta", beta, color=BETA, name=f"β = {beta:.3g}")
    if path.size:
        clip_y(plot, path, 0.0, beta)


def draw_gap(plot: CurvePlot, a: dict) -> None:
    """The certified duality gap (upper − lower bound of p*) after each LP of the solver."""
    plot.clear_items()
    plot.set_labels("Duality gap per LP", "LP", "upper − lower bound of p*")
    gap = np.asarray(a["bound_upper"]) - np.asarray(a["bound_lower"])
    plot.set_log(False, True)
    lps = np.arange(1, gap.size + 1, dtype=float)
    plot.set_curve("gap", lps, np.maximum(gap, 1e-16), color=CONVEX, width=2,
                   name="certified gap")

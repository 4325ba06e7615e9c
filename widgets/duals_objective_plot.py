"""Objective vs step of every gradient-descent seed against the convex optimum line
(the convex-duals lab's shared plot, in the regions lab's visual language)."""
from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6 import QtWidgets

from widgets.curve_plot import CurvePlot

__all__ = ["DualsObjectivePlot", "SEED_COLORS", "draw_seed_objectives", "clip_y"]

SEED_COLORS = [(49, 104, 198), (230, 120, 20), (40, 150, 70), (150, 60, 170), (200, 40, 60),
               (20, 150, 160), (140, 110, 40), (90, 90, 90)]
OPTIMUM_COLOR = (0, 0, 0)


class DualsObjectivePlot(QtWidgets.QWidget):
    """A log-log plot of each seed's objective, the optimum p* as a dashed line, a key, and
    the optimality certificate in a line of text under it."""

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None):
        super().__init__(parent)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.curves = CurvePlot("Objective vs step (every seed)", "step + 1", "objective")
        self.curves.set_log(True, False)
        self.excess = CurvePlot("Distance to the optimum", "step + 1", "objective − p*")
        self.excess.set_log(True, True)
        self.caption = QtWidgets.QLabel("Run the lab: the convex optimum and the runs appear here.")
        self.caption.setWordWrap(True)
        lay.addWidget(self.curves, 3)
        lay.addWidget(self.excess, 2)
        lay.addWidget(self.caption)
        self._optimum: Optional[float] = None
        self._cert = ""
        self.run_names: list[str] = []        # the key's name of every run drawn now

    @property
    def plot_item(self):
        return self.curves.plot_item

    def clear(self) -> None:
        self.curves.clear_items()
        self.excess.clear_items()
        self._optimum, self._cert = None, ""
        self.run_names = []

    def set_optimum(self, value: float, certificate_text: str) -> None:
        """The convex optimum p* and the caption's line for it and its certificate (the
        presenter's one formatting of it, e.g. ``"p* = 1.5, duality gap 1e-09"``)."""
        self._optimum = float(value)
        self._cert = certificate_text
        self.caption.setText(self._cert)
        label = ("relaxation value (sampled patterns)" if "relaxation duality gap" in self._cert
                 else "convex optimum p*")
        self.curves.set_hline("optimum", self._optimum, color=OPTIMUM_COLOR,
                              label=label, name=label)

    def set_runs(self, steps, objectives, seeds=None, optimizer: str = "Adam") -> None:
        """Objectives ``(S, T)`` at ``steps`` (``T``); NaN where a run stopped (its path up
        to there stays drawn). The key names each row ``"<optimizer> seed <seed>"``
        (``seeds`` default 0 … S−1)."""
        steps = np.asarray(steps, float) + 1.0
        objs = np.atleast_2d(np.asarray(objectives, float))
        seeds = np.arange(len(objs)) if seeds is None else np.asarray(seeds)
        self.curves.plot_item.setTitle(f"Objective vs step ({optimizer}, every seed)")
        self.run_names = [f"{optimizer} seed {seed}" for seed in seeds[:len(objs)]]
        for key in [k for k in self.curves.keys() if k.startswith("seed")]:
            self.curves.remove(key)
        for s, row in enumerate(objs):
            self.curves.set_curve(f"seed{s}", steps[:len(row)], row,
                                  color=SEED_COLORS[s % len(SEED_COLORS)], width=2,
                                  name=self.run_names[s])
        if self._optimum is None:
            return
        self._draw_excess(steps, objs)
        tail = objs[:, -1][np.isfinite(objs[:, -1])]
        sampled_relaxation = "relaxation duality gap" in self._cert
        claim = (" (a relaxation on sampled patterns: runs using other patterns may go below)"
                 if sampled_relaxation else
                 " (never below p* beyond the certificate)")
        self.set_optimum(self._optimum, self._cert)
        if tail.size:
            below = bool((tail < self._optimum - 1e-6 * max(1.0, abs(self._optimum))).any())
            self.caption.setText(f"{self._cert}; final runs − p*: "
                                 + ", ".join(f"{v - self._optimum:.1e}" for v in tail)
                                 + (claim if sampled_relaxation or not below else
                                    " (a run ended below p*: see the notes)"))

    def _draw_excess(self, steps: np.ndarray, objs: np.ndarray) -> None:
        """``objective − p*`` on log axes (a run at or below p* leaves the plot)."""
        for key in [k for k in self.excess.keys() if k.startswith("seed")]:
            self.excess.remove(key)
        for s, row in enumerate(objs):
            gap = row - self._optimum
            self.excess.set_curve(f"seed{s}", steps[:len(row)], np.where(gap > 0, gap, np.nan),
                                  color=SEED_COLORS[s % len(SEED_COLORS)], width=2)


def clip_y(plot: CurvePlot, values: np.ndarray, low: float, high: float = -np.inf,
           percentile: float = 97) -> None:
    """Show the bulk of the paths: early transient spikes (above ``percentile``) run off the
    top instead of flattening everything else; ``low``/``high`` stay in view."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return
    top = max(float(np.percentile(finite, percentile)), high)
    bottom = min(float(finite.min()), low)
    pad = 0.05 * (top - bottom) or 1.0
    plot.plot_item.setYRange(bottom - pad, top + pad, padding=0)


def draw_seed_objectives(plot: CurvePlot, outcome, optimum_kind: str,
                         percentile: float = 97) -> None:
    """Every seed's objective of ``outcome`` (ModelOutcome's attributes, duck typed) as one
    keyed curve and p* as the optimum line, on a standalone structure view's plot."""
    plot.clear_items()
    steps = np.asarray(outcome.steps, dtype=float)
    values = np.asarray(outcome.gd_objectives, dtype=float)
    optimizer = getattr(outcome, "optimizer", "Adam")
    for row, seed in enumerate(np.asarray(outcome.seeds)):
        plot.set_curve(f"seed{row}", steps, values[row],
                       color=SEED_COLORS[row % len(SEED_COLORS)], width=1.5,
                       name=f"{optimizer} seed {int(seed)}")
    p_star = float(outcome.convex_objective)
    plot.set_hline("optimum", p_star, color=(0, 0, 0),
                   name=f"p* = {p_star:.6g} ({optimum_kind})")
    clip_y(plot, values, p_star, percentile=percentile)


"""The regions lab's several-widths training as a sweep (SCIENCE.md §2.3; issue #15).

The two-layer runs of a lab run — every width of :func:`engine.regions.plan.run_widths`,
every seed ``seed, seed+1, …`` — are one ``engine.sweeps`` sweep over ``width`` with
``n_seeds`` seeds, on a :class:`WidthsStudy`'s in-process target: the data and the certified
convex optimum are the run's own (not config fields: a seed of the sweep is a seed of the
initialisation only), and the target's ``batch`` hook trains all seeds of one width in one
batched computation, exactly as the lab always did. The lab calls that batch hook through
:func:`engine.sweeps.point.batch_steps`, so its live ``"curves"`` partials pass through
unchanged and its gap table is the sweep's ``objective_gap`` column; a user gets the same
table from ``run_sweep(study.sweep(), executor="local")``.
"""
from __future__ import annotations

import dataclasses
from typing import Generator, Optional

import numpy as np

from engine.core import config_to_dict
from engine.regions.config import RegionsConfig
from engine.regions.dual import relay
from engine.regions.nonconvex import fit_nonconvex_iter
from engine.regions.plan import run_widths
from engine.sweeps import Sweep, SweepTarget

__all__ = ["WidthsStudy", "GAP_METRIC"]

GAP_METRIC = "objective_gap"


def train_batch(cfg: RegionsConfig, X, y, device, depth: int, width: int, seeds,
                lo: float = 0.0, hi: float = 1.0) -> Generator:
    """One batched non-convex training of ``cfg`` (all ``seeds`` at once), progress in
    ``[lo, hi]``; returns the runs (:func:`engine.regions.nonconvex.fit_nonconvex_iter`)."""
    return (yield from relay(fit_nonconvex_iter(
        X, y, width, cfg.lam, cfg.steps, cfg.lr, list(seeds), optimizer=cfg.optimizer,
        depth=depth, n_snapshots=cfg.snapshots, init_scale=cfg.init_scale, device=device),
        lo, hi))


@dataclasses.dataclass
class WidthsStudy:
    """The widths × seeds study of one lab run, as a sweep target.

    Parameters
    ----------
    cfg : RegionsConfig
        The lab run's config (its widths, ``n_seeds``, training settings).
    X, y : the run's data.
    convex_objective : float
        The certified convex optimum p* (§2.2); a point's ``objective_gap`` is its final
        non-convex objective minus p*.
    edges : optional progress edges of the widths (``len(widths) + 1``; default even).
    wrap : optional ``(generator, finished_objectives, plan) -> generator`` applied to each
        width's training (the lab's live ``"curves"`` relay).
    """
    cfg: RegionsConfig
    X: np.ndarray
    y: np.ndarray
    convex_objective: float
    edges: Optional[np.ndarray] = None
    wrap: Optional[object] = None
    runs: dict = dataclasses.field(default_factory=dict)   # (width, seed) → NonconvexRun

    def sweep(self) -> Sweep:
        """The sweep: axis ``width`` over :func:`run_widths`, ``n_seeds`` seeds (width-major,
        seeds innermost: the lab's run order). The points' configs leave out
        ``custom_points``: the data are the study's ``X, y``."""
        base = {**config_to_dict(self.cfg), "widths": "", "n_seeds": 1, "custom_points": ()}
        return Sweep(lab=self.target(), config=base, axes={"width": run_widths(self.cfg)},
                     seeds=int(self.cfg.n_seeds), metrics=[GAP_METRIC])

    def target(self) -> SweepTarget:
        """In-process target: ``run`` trains one (width, seed) alone, ``batch`` each width's
        seeds together; both return :class:`~engine.regions.nonconvex.NonconvexRun`."""
        return SweepTarget("regions/widths", "engine.regions.config:RegionsConfig", self.point,
                           {GAP_METRIC: (self.gap, "final non-convex objective minus the "
                                         "convex optimum p*")}, batch=self.batch)

    def gap(self, cfg, run) -> float:
        """Final objective of ``run`` minus p* (§2.3)."""
        return float(run.final_objective - self.convex_objective)

    def point(self, cfg: RegionsConfig, device: str = "cpu") -> Generator:
        """One point: width ``cfg.width``, seed ``cfg.seed``, trained alone."""
        runs = yield from train_batch(cfg, self.X, self.y, device, 1, cfg.width, [cfg.seed])
        self.runs[(cfg.width, cfg.seed)] = runs[0]
        return runs[0]

    def batch(self, cfgs: list, device: str = "cpu") -> Generator:
        """Points grouped by width (in order of first appearance), each group's seeds in one
        batched training; one run per config, in the configs' order."""
        widths = list(dict.fromkeys(c.width for c in cfgs))
        plan = [(c.width, c.seed) for c in cfgs]
        edges = self.edges if self.edges is not None else np.linspace(0, 1, len(widths) + 1)
        done = []
        for k, w in enumerate(widths):
            seeds = [c.seed for c in cfgs if c.width == w]
            gen = train_batch(cfgs[0], self.X, self.y, device, 1, w, seeds, edges[k],
                              edges[k + 1])
            if self.wrap is not None:
                gen = self.wrap(gen, [r.objective for _, r in done], plan)
            runs = yield from gen
            done += [((w, s), r) for s, r in zip(seeds, runs)]
        self.runs.update(done)
        found = dict(done)
        return [found[key] for key in plan]

"""Live view of a regions run: draws each engine stage as soon as it arrives.

The engine (:func:`engine.regions.lab.run_config`) sends one stage per partial: the data, the
certified convex optimum with its region map, the objective curves while the nets train,
coarse-to-fine maps of a deep net, and the final snapshot's region maps. The app's runner
keeps the newest partial of every stage and hands :meth:`LiveRun.show` all of them
(:class:`app.runner.Stages`, docs/CONTRACTS.md). :class:`LiveRun` draws each stage once
(stages are compared by identity) through the presenter's own drawing code, so a run of
several seconds shows the global optimum within a fraction of a second and the training
curves as they grow.
"""
from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np

from app.labs import regions_views as views
from app.labs.legend_room import release_legend_room

__all__ = ["LiveRun"]

CURVES_SECONDS = 1.0     # redraw the growing curves at most this often: painting thousands of
                         # antialiased points competes with the run for the CPU (2 cores)


class LiveRun:
    """Stage-by-stage drawing for one :class:`app.labs.regions.RegionsLab`."""

    def __init__(self, lab):
        self.lab = lab
        self.shown: dict = {}
        self.previous = None               # the result shown before this run (cancel: back)
        self._curves_at = -float("inf")

    def show(self, stages) -> None:
        """Draw the stages (stage name → newest partial) not drawn yet (ignores anything
        else)."""
        if not isinstance(stages, dict) or not isinstance(stages.get("data"), dict):
            return
        if self.shown.get("data") is not stages["data"]:
            self._begin(stages["data"])
        for name, draw in (("convex", self._convex), ("curves", self._curves),
                           ("training", self._training), ("deep_preview", self._deep),
                           ("final_maps", self._final)):
            stage = stages.get(name)
            if stage is None or self.shown.get(name) is stage or self._too_soon(name, stages):
                continue
            self.shown[name] = stage
            draw(stages)

    def _too_soon(self, name: str, stages: dict) -> bool:
        """Curves (and the live map with them) at most every :data:`CURVES_SECONDS`; the
        last report before training ends is redrawn whole by the "training" stage."""
        if name != "curves":
            return False
        if "training" in stages:
            return True
        now = time.monotonic()
        if now - self._curves_at < CURVES_SECONDS:
            return True
        self._curves_at = now
        return False

    def cancelled(self) -> bool:
        """Show the result from before the cancelled run again; True if there was one."""
        previous, self.shown, self.previous = self.previous, {}, None
        if previous is not None:
            self.lab.show_result(previous)
        return previous is not None

    def finished(self) -> None:
        self.shown, self.previous = {}, None

    # -- stages ------------------------------------------------------------------------------
    def _begin(self, data: dict) -> None:
        lab = self.lab
        self.shown = {"data": data}
        if lab.result is not None and not getattr(lab.result, "live", False):
            self.previous = lab.result
        lab.result = None                  # nothing of the old result is scrubbed/hovered
        for plot in (lab.objective, lab.counts):
            for key in list(plot.keys()):
                plot.remove(key)
            release_legend_room(plot)          # the new curves grow in auto-ranged axes
        xl, yl = _limits(data["box"])
        for view in (lab.map, lab.convex_map):
            view.set_pattern_ids(np.zeros((2, 2), np.int32), xl, yl)
            view.set_lines(np.zeros((0, 2)), np.zeros(0))
            view.set_data(data["X"], data["y"], kind=_kind(data["y"]))
            view.set_info("running…")
        lab.tabs.setTabVisible(1, False)           # shown again by a deep-net preview
        lab.info.setText("Solving the convex program…")

    def _convex(self, stages: dict) -> None:
        lab, st = self.lab, stages["convex"]
        lab.result = _provisional(stages)           # no frames yet: the optimum only
        lab._show_convex(lab.result)
        sol = st["convex"]
        lab.objective.set_hline("convex", float(sol.objective), (0, 0, 0),
                                name=f"convex optimum p* = {sol.objective:.4g}")
        lab.info.setText(f"Convex {sol.formulation} program: p* = {sol.objective:.6g}, m* = "
                         f"{len(sol.w2)} neurons, {views.certificate_text(sol)}. Training "
                         "the non-convex nets…")

    def _curves(self, stages: dict) -> None:
        """The curves so far, styled as the finished lab run will style them."""
        st, plot = stages["curves"], self.lab.objective
        plan = SimpleNamespace(widths=np.asarray(st["widths"]),
                               runs=[SimpleNamespace(seed=s) for s in st["seeds"]])
        for i, (obj, (color, style, name)) in enumerate(zip(st["objective"],
                                                             views.curve_styles(plan))):
            plot.set_curve(f"s{i}", np.arange(len(obj)), obj, color=color, width=2,
                           style=style, name=name)
        if "map_ids" in st:
            self._live_map(stages, st)

    def _live_map(self, stages: dict, st: dict) -> None:
        """The regions of the net in training, as it trains."""
        lab, data = self.lab, stages["data"]
        xl, yl = _limits(data["box"])
        W, i = st["map_W1"], st["map_run"]
        lab.map.set_pattern_ids(st["map_ids"], xl, yl, keys=st["map_keys"])
        lab.map.set_lines(W[:, :2], W[:, 2])
        lab.map.set_info(f"training m = {st['widths'][i]}, seed {st['seeds'][i]}: step "
                         f"{st['map_step']}, {len(st['map_keys'])} regions on the grid")
        for plot in (lab.objective, lab.counts):
            plot.set_cursor(float(st["map_step"]))

    def _training(self, stages: dict) -> None:
        runs = stages["training"]["runs"]
        self._curves({"curves": {"objective": [r.objective for r in runs],
                                 "widths": [int(r.W1.shape[1]) for r in runs],
                                 "seeds": [r.seed for r in runs]}})
        self.lab.info.setText(self.lab.info.text().replace(
            "Training the non-convex nets…", "Mapping the regions of every snapshot…"))

    def _deep(self, stages: dict) -> None:
        lab, st = self.lab, stages["deep_preview"]
        xl, yl = _limits(stages["data"]["box"])
        lab.tabs.setTabVisible(1, True)
        lab.deep_map.set_pattern_ids(st["ids"], xl, yl, keys=st["keys"])
        lab.deep_map.set_data(stages["data"]["X"], stages["data"]["y"],
                              kind=_kind(stages["data"]["y"]))
        lab.deep_map.set_info(f"preview at 1/{st['factor']} resolution: ≥ {len(st['keys'])} "
                              "regions (refining…)")

    def _final(self, stages: dict) -> None:
        """The last snapshot of every run as a one-frame result (earlier frames follow)."""
        r = _provisional(stages)
        st = stages["final_maps"]
        r.snapshot_steps = np.array([st["step"]])
        r.region_ids, r.region_keys = st["ids"][None], [st["keys"]]
        r.region_counts, r.region_counts_plane = st["counts"][None], st["plane"][None]
        r.outputs = st["outputs"][None]
        r.runs = [_last_snapshot(run) for run in stages["training"]["runs"]]
        r.gaps = np.array([run.final_objective - r.convex.objective for run in r.runs])
        tab = self.lab.tabs.currentIndex()             # the user's tab survives the redraw
        self.lab.show_result(r)
        if stages.get("deep_preview") is not None:
            self._deep(stages)
        self.lab.tabs.setCurrentIndex(tab)


def _provisional(stages: dict):
    """A result-shaped object from the stages so far (``live = True``)."""
    from engine.regions import RegionsResult
    data, convex = stages["data"], stages["convex"]
    r = RegionsResult(
        config=None, X=data["X"], y=data["y"], box=data["box"], grid_x=data["grid_x"],
        grid_y=data["grid_y"], convex=convex["convex"], convex_region_ids=convex["ids"],
        convex_region_keys=convex["keys"], convex_region_count=convex["count"],
        convex_region_count_plane=convex["count_plane"], convex_output=convex["output"],
        gate_charts=convex["gate_charts"], runs=[], snapshot_steps=np.zeros(0),
        region_ids=None, region_keys=[], region_counts=None, region_counts_plane=None,
        outputs=None, gaps=np.zeros(0))
    r.live = True
    return r


def _last_snapshot(run):
    """A run whose only snapshot is its last one (frame 0 of the one-frame result)."""
    import dataclasses
    return dataclasses.replace(run, steps=run.steps[-1:], w_out=run.w_out[-1:],
                               layers=[layer[-1:] for layer in run.layers])


def _limits(box):
    return (box[0], box[1]), (box[2], box[3])


_kind = views.data_kind

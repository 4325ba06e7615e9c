"""Activation-regions lab presenter: exact regions, SGD vs the certified convex optimum.

Runs go through the registry's engine entry (:func:`engine.regions.lab.run_config`); the
result carries every map, output and gate chart a frame shows, so this module only draws.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QApplication, QComboBox, QFileDialog, QGridLayout, QHBoxLayout,
                               QLabel, QPushButton, QStackedWidget, QTabWidget, QVBoxLayout)

from app.labs import regions_views as views
from app.labs.base import LabPresenter, views_only
from app.labs.regions_live import LiveRun
from widgets.curve_plot import CurvePlot
from widgets.region_map import RegionMap

SURFACE = "3-D surface"


class RegionsLab(LabPresenter):
    """Presenter of the activation-regions lab (SCIENCE.md §2)."""

    def __init__(self, spec, parent=None):
        super().__init__(spec, parent)
        self.result = None
        self._frame = 0
        self.live = LiveRun(self)                 # draws a run's stages before it ends
        self._build_views()

    # -- layout ----------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.info = QLabel("Run the lab to see regions.")
        self.info.setWordWrap(True)
        self.seed_box = QComboBox()
        self.seed_box.currentIndexChanged.connect(lambda _i: self.set_frame(self._frame))
        self.mode_box = QComboBox()
        self.mode_box.addItems(["regions", "both", "output", SURFACE])
        self.mode_box.currentTextChanged.connect(self._set_mode)
        self.csv_button = QPushButton("Load CSV…")
        self.csv_button.clicked.connect(lambda: self.load_csv())
        self.clear_button = QPushButton("Clear clicked points")
        self.clear_button.clicked.connect(lambda: self.sigConfigEdit.emit(
            {"custom_points": (), "dataset": "spiral"}))
        tools = QHBoxLayout()
        for label, w in (("Non-convex run:", self.seed_box), ("Show:", self.mode_box)):
            tools.addWidget(QLabel(label))
            tools.addWidget(w)
        tools.addWidget(self.csv_button)
        tools.addWidget(self.clear_button)
        tools.addWidget(QLabel("Click: add a point (Shift: class −1)"))
        tools.addStretch(1)
        self.map = RegionMap()
        self.surface = None                       # SurfaceView3D, built when first shown
        self.left = QStackedWidget()
        self.left.addWidget(self.map)
        self.convex_map = RegionMap()
        self.deep_map = RegionMap()
        for m in (self.map, self.convex_map, self.deep_map):
            m.sigClicked.connect(self._clicked)
        self.map.sigHover.connect(lambda x, y: self._hover(self.map, x, y, self._net()))
        self.convex_map.sigHover.connect(
            lambda x, y: self._hover(self.convex_map, x, y, self._convex_net()))
        self.convex_stack = QStackedWidget()               # its map, or its 3-D surface
        self.convex_stack.addWidget(self.convex_map)
        self.convex_surface = None
        self.tabs = QTabWidget()
        self.tabs.addTab(self.convex_stack, "Convex optimum (global)")
        self.tabs.addTab(self.deep_map, "Deep net")
        self.gate_maps = (RegionMap(), RegionMap())
        self.tabs.addTab(self.gate_maps[0], "Gate space b > 0")
        self.tabs.addTab(self.gate_maps[1], "Gate space b < 0")
        self.objective = CurvePlot(views.OBJECTIVE_TITLE, "step",
                                   "objective", log_y=True)
        self.counts = CurvePlot("Exact regions in view (colours as at left)", "step",
                                 "regions")
        grid = QGridLayout()
        grid.addWidget(self.left, 0, 0)
        grid.addWidget(self.tabs, 0, 1)
        grid.addWidget(self.objective, 1, 0)
        grid.addWidget(self.counts, 1, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(0, 3)
        grid.setRowStretch(1, 2)
        outer = QVBoxLayout(self.view)
        outer.addWidget(self.info)
        outer.addLayout(tools)
        outer.addWidget(views_only(self, (grid, 1)), 1)

    def _set_mode(self, mode: str) -> None:
        """2-D modes go to every map; the 3-D surface replaces the run's map and the convex
        optimum's map (side by side, turning together)."""
        surface = mode == SURFACE
        if surface:
            self._ensure_surface()
        self.left.setCurrentIndex(int(surface))
        self.convex_stack.setCurrentIndex(int(surface))
        if surface:
            self._show_convex_surface()
            self.set_frame(self._frame)
            return
        for m in (self.map, self.convex_map, self.deep_map):
            m.set_mode(mode)

    def _ensure_surface(self) -> None:
        """Build the two vispy surface views once (message labels without OpenGL)."""
        if self.surface is not None:
            return
        from widgets.surface_view3d import SurfaceView3D
        self.surface, self.convex_surface = SurfaceView3D(), SurfaceView3D()
        self.left.addWidget(self.surface)
        self.convex_stack.addWidget(self.convex_surface)
        self.surface.link_camera(self.convex_surface)
        self.surface.sigHover.connect(
            lambda x, y: self._hover(self.surface, x, y, self._net()))
        self.convex_surface.sigHover.connect(
            lambda x, y: self._hover(self.convex_surface, x, y, self._convex_net()))

    def _show_convex_surface(self) -> None:
        """The convex optimum's output as a 3-D surface (when that view exists)."""
        r = self.result
        if r is None or self.convex_surface is None:
            return
        W, w2 = self._convex_net()
        views.show_surface(self.convex_surface, r, r.convex_region_ids, r.convex_region_keys,
                           W, w2, r.convex_output, _kind(r.y), "Convex optimum (global)")

    # -- data entry ------------------------------------------------------------------------
    def _clicked(self, x: float, y: float) -> None:
        """Add a point (Shift: class −1) to the data set shown: a generated data set first
        becomes its own points (``custom``), so a click never throws the data away."""
        label = -1.0 if QApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier \
            else 1.0
        cfg = self.current_config()
        points = _editable_points(cfg) + ((round(x, 4), round(y, 4), label),)
        self.sigConfigEdit.emit({"dataset": "custom", "custom_points": points})
        cfg = self.current_config()
        if cfg is not None and tuple(cfg.custom_points) == points:     # the edit was taken
            rows = np.asarray(points, dtype=float)
            for view in (self.map, self.convex_map):
                view.set_data(rows[:, :2], rows[:, 2], kind=_kind(rows[:, 2]))

    def load_csv(self, path: Optional[str] = None) -> bool:
        """Load (x₁, x₂, target) rows from a CSV file as the custom data set."""
        from engine.regions import load_csv
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.view, "Load data", "", "CSV (*.csv)")
            if not path:
                return False
        try:
            X, y = load_csv(path, max_rows=_points_limit())
        except (ValueError, OSError) as err:
            self.sigMessage.emit(f"CSV not loaded: {err}")
            return False
        if X.shape[1] != 2:
            self.sigMessage.emit(f"CSV not loaded: {path} has {X.shape[1]} input columns; "
                                 "this lab needs 2 (x₁, x₂) plus the target")
            return False
        points = tuple((float(a), float(b), float(t)) for (a, b), t in zip(X, y))
        self.sigConfigEdit.emit({"dataset": "custom", "custom_points": points})
        from engine.regions.scaling import scale_note      # told now, not after the budget
        if note := scale_note(X):
            self.sigMessage.emit(f"Loaded {len(points)} points; {note}")
        return True

    # -- runs ------------------------------------------------------------------------------
    def result_summary(self, r) -> str:
        sol = r.convex
        return (f"Convex {sol.formulation} program: p* = {sol.objective:.6g}, m* = "
                f"{len(sol.w2)} neurons, {views.certificate_text(sol)}. Non-convex: "
                f"{views.reach_summary(r)}"
                + "".join(f" Note: {x.note}." for x in [*r.runs, r.deep_run] if x and x.note))

    def show_partial(self, partial) -> None:
        self.live.show(partial)

    def run_abandoned(self) -> bool:
        return self.live.cancelled()

    def show_result(self, r) -> None:
        if not getattr(r, "live", False):
            self.live.finished()
        self.result = r
        self.info.setText(self.result_summary(r))
        self.seed_box.blockSignals(True)
        self.seed_box.clear()
        self.seed_box.addItems(views.run_labels(r))
        self.seed_box.blockSignals(False)
        self._show_convex(r)
        views.show_curves(self.objective, self.counts, r)
        deep = r.deep_region_ids is not None
        self.tabs.setTabVisible(1, deep)
        self.set_frame(self.frame_count() - 1)

    def _show_convex(self, r) -> None:
        xl, yl = (r.box[0], r.box[1]), (r.box[2], r.box[3])
        sol = r.convex
        self.convex_map.set_pattern_ids(r.convex_region_ids, xl, yl, keys=r.convex_region_keys)
        self.convex_map.set_lines(sol.W1[:, :2], sol.W1[:, 2])
        self.convex_map.set_data(r.X, r.y, kind=_kind(r.y))
        self.convex_map.set_output(r.convex_output)
        if self.convex_stack.currentIndex() == 1:
            self._show_convex_surface()
        self.convex_map.set_info(f"exact regions in view: {r.convex_region_count} "
                                 f"(plane: {r.convex_region_count_plane})")
        for view, chart in zip(self.gate_maps, r.gate_charts):
            views.show_gate_chart(view, r.X, chart)

    # -- playback and frames ---------------------------------------------------------------
    def frame_count(self) -> int:
        return 0 if self.result is None else len(self.result.snapshot_steps)

    def frame_times(self):
        return None if self.result is None else self.result.snapshot_steps.astype(float)

    def set_frame(self, index: int) -> None:
        r = self.result
        if r is None or self.frame_count() == 0:
            return
        index = int(np.clip(index, 0, self.frame_count() - 1))
        self._frame = index
        s = max(0, self.seed_box.currentIndex())
        xl, yl = (r.box[0], r.box[1]), (r.box[2], r.box[3])
        ids, keys = r.region_ids[index, s], r.region_keys[index][s]
        self.map.set_pattern_ids(ids, xl, yl, keys=keys)
        W, w2 = self._net()
        self.map.set_lines(W[:, :2], W[:, 2])
        self.map.set_data(r.X, r.y, kind=_kind(r.y))
        out = r.outputs[index, s]
        self.map.set_output(out)
        run, label = r.runs[s], views.run_labels(r)[s]
        step = int(r.snapshot_steps[index])
        self.map.set_info(f"{label}, step {step}: {r.region_counts[index, s]} exact "
                          f"regions in view, objective {run.objective[step]:.4g}")
        if self.left.currentIndex() == 1:
            views.show_surface(self.surface, r, ids, keys, W, w2, out, _kind(r.y),
                               f"{label}, step {step}")
        if r.deep_region_ids is not None:
            self.deep_map.set_pattern_ids(r.deep_region_ids[index], xl, yl)
            self.deep_map.set_data(r.X, r.y, kind=_kind(r.y))
            self.deep_map.set_info(f"depth {r.deep_run.depth}: ≥ "
                                   f"{r.deep_region_counts_lower[index]} regions "
                                   "(distinct patterns on the grid: a lower bound)")
        for plot in (self.objective, self.counts):
            plot.set_cursor(float(step))

    def _net(self):
        r = self.result
        s = max(0, self.seed_box.currentIndex())
        if r is None or s >= len(r.runs):
            return None                    # live run: no trained net yet
        run = r.runs[s]
        return run.layers[0][self._frame], run.w_out[self._frame]

    def _convex_net(self):
        return self.result.convex.W1, self.result.convex.w2

    def _hover(self, widget, x: float, y: float, net) -> None:
        if self.result is None or net is None:
            return
        W, w2 = net
        pre = W[:, :2] @ np.array([x, y]) + W[:, 2]
        on = pre > 0
        a = (w2[on, None] * W[on, :2]).sum(axis=0)
        c = float((w2[on] * W[on, 2]).sum())
        bits = "".join("1" if b else "0" for b in on[:48]) + ("…" if len(on) > 48 else "")
        widget.set_hover_text(f"pattern {bits}\nf(x) = {a[0]:+.3f}·x₁ {a[1]:+.3f}·x₂ {c:+.3f}")

    def show_view(self, name) -> None:
        if name == "surface":
            self.mode_box.setCurrentText(SURFACE)
        elif name in (tabs := {"convex": 0, "deep": 1, "gates": 2, "gates-negative": 3}):
            self.tabs.setCurrentIndex(tabs[name])

    def svg_plots(self) -> dict:
        return {"Objective": self.objective.plot_item, "Region counts": self.counts.plot_item,
                "Region map": self.map.plot_item, "Convex optimum map": self.convex_map.plot_item}


def _editable_points(cfg) -> tuple:
    """The config's data set as ``(x₁, x₂, target)`` rows (a generated set's points too)."""
    if cfg is None:
        return ()
    if cfg.dataset == "custom":
        return tuple(tuple(row) for row in cfg.custom_points)
    from engine.regions.lab import dataset_points
    X, y = dataset_points(cfg)
    return tuple((float(a), float(b), float(t)) for (a, b), t in zip(X, y))


_kind = views.data_kind


def _points_limit() -> int:
    """Most rows the regions config's ``custom_points`` accepts (its ``PointRows``)."""
    import dataclasses

    from engine.regions import RegionsConfig
    field = {f.name: f for f in dataclasses.fields(RegionsConfig)}["custom_points"]
    return int(field.metadata["points"].max_rows)

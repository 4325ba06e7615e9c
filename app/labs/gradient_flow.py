"""Gradient-flow lab presenter: FlowResult → trajectory, curve and phase-portrait widgets.

Runs go through the registry's engine entry (:func:`engine.gradient_flow.lab.run_config`),
which computes the phase field and the studies too: this module only draws.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QGridLayout, QLabel, QSizePolicy, QTabWidget, QVBoxLayout,
                               QWidget)

from app.labs.base import LabPresenter, views_only
from widgets.curve_plot import CurvePlot
from widgets.gl import opengl_available
from widgets.phase_portrait import PhasePortrait
from widgets.playback_bar import LatestCall
from app.labs.legend_room import leave_legend_room
from app.labs.gradient_flow_views import legend_html, set_theta_lines, trails_entry
from widgets.trajectory_canvas import TrajectoryCanvas

if TYPE_CHECKING:
    from engine.gradient_flow.lab import FlowResult

CURSOR_SECONDS = 0.5   # plot cursors follow playback ≤ 2×/s (each move repaints a plot)
DEPTH_COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]
STUDY_COLORS = [(0, 0, 0), (31, 119, 180), (44, 160, 44), (255, 127, 14), (214, 39, 40)]
LINE_COLOR = (40, 90, 200)
FULL_TRAILS = 200_000  # up to this many points, trails show the whole history
LOSS_FLOOR = 1e-16  # float64 cancellation floor of the closed-form loss
HIGHLIGHT = 0  # the initialisation whose bounds, active set and support vectors are drawn


class GradientFlowLab(LabPresenter):
    """Presenter of the gradient-flow lab (SCIENCE.md §1)."""

    def __init__(self, spec, parent=None):
        super().__init__(spec, parent)
        self.result: Optional["FlowResult"] = None
        self._frame = 0
        self._plane_key_entries = None        # the legend entries the plane's key shows
        self._build_views()
        # plot cursors follow playback; owned by the view, so a pending call dies with it
        self._cursors = LatestCall(CURSOR_SECONDS, self.view)

    # -- layout ----------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.info = QLabel("Run the lab to see trajectories.")
        self.info.setWordWrap(True)
        self.plane = TrajectoryCanvas()
        # its key goes below it: inside, the legend hid samples (support-vectors preset)
        self.plane.legend.hide()
        self.plane_key = QLabel()
        self.plane_key.setTextFormat(Qt.TextFormat.RichText)
        # its width must not widen the plane's column (the study tab's titles were cut)
        self.plane_key.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.view3d = None
        self.weights_view = self.plane
        self.magnitude = CurvePlot("Magnitude ‖w‖(t)", "t", "‖w‖")
        self.magnitude.set_legend_corner("bottom-right")
        self.phi = CurvePlot("Angle φ(t) = π − θ(t)", "t", "φ [rad]")
        self.loss = CurvePlot("Loss", "t", "L(w)", log_y=True)
        self.phase = PhasePortrait()
        self.depth_plot = CurvePlot("Time to loss ≤ 10⁻³ vs depth L", "initial scale ‖u(0)‖ "
                                    "(balanced, θ₀ = π/2)", "time", log_x=True, log_y=True)
        self.depth_plot.set_legend_corner("top-right")
        self.depth_plot.plot_item.getAxis("bottom").setTicks(
            [[(np.log10(v), f"{v:g}") for v in (0.01, 0.03, 0.1, 0.3, 1.0)], []])
        self.step_plot = CurvePlot("Median loss (GD: dashed)", "t = kη", "loss",
                                   log_y=True)
        self.cons_plot = CurvePlot("Conservation residual |Q(t) − Q(0)|", "t", "residual",
                                   log_y=True)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.depth_plot, "Depth vs init scale")
        self.tabs.addTab(self.step_plot, "GD vs GF (η)")
        self.tabs.addTab(self.cons_plot, "Conservation")
        self.plane_box = QVBoxLayout()
        self.plane_box.setContentsMargins(0, 0, 0, 0)
        self.plane_box.addWidget(self.plane, 1)
        self.plane_box.addWidget(self.plane_key)
        plane_holder = QWidget()
        plane_holder.setLayout(self.plane_box)
        grid = QGridLayout()
        grid.addWidget(plane_holder, 0, 0)
        grid.addWidget(self.magnitude, 0, 1)
        grid.addWidget(self.phi, 0, 2)
        grid.addWidget(self.phase, 1, 0)
        grid.addWidget(self.loss, 1, 1)
        grid.addWidget(self.tabs, 1, 2)
        for i in range(3):
            grid.setColumnStretch(i, 1)
        for row in range(2):                  # the plane's key must not squeeze the lower row
            grid.setRowStretch(row, 1)
        outer = QVBoxLayout(self.view)
        outer.addWidget(self.info)
        outer.addWidget(views_only(self, (grid, 1)), 1)

    def _weight_view(self, dim: int):
        """2-D canvas, or the vispy 3-D view for d = 3 when OpenGL is available."""
        if dim == 3 and opengl_available():
            if self.view3d is None:
                from widgets.trajectory_view3d import TrajectoryView3D
                self.view3d = TrajectoryView3D()
                self.plane_box.addWidget(self.view3d)
            self.plane.hide()
            self.view3d.show()
            self.weights_view = self.view3d
            return self.view3d
        if self.view3d is not None:
            self.view3d.hide()
        self.plane.show()
        self.weights_view = self.plane
        return self.plane

    # -- runs ------------------------------------------------------------------------------
    def result_summary(self, result: "FlowResult") -> str:
        cfg = result.config
        n, d = result.w.shape[1], result.w.shape[2]
        how = f"GD η={cfg.lr:g}" if cfg.method == "gd" else f"GF {cfg.integrator}"
        return (f"{n} initialisations, d={d}, L={cfg.depth}, {how}, {cfg.data} data: "
                f"{result.status} in {result.seconds:.2f} s")

    def show_result(self, result: "FlowResult") -> None:
        self.result = result
        self._show_weights(result)
        self._show_curves(result)
        self._show_phase(result)
        self._show_depth_study(result)
        self._show_step_study(result)
        self._show_conservation(result)
        self.info.setText(self._info_text(result))
        self.set_frame(self.frame_count() - 1)

    def _info_text(self, r: "FlowResult") -> str:
        text = self.result_summary(r)
        if r.support is not None:
            k = int(r.support[HIGHLIGHT].sum())
            text += (f". Init #{HIGHLIGHT}: {k} of {r.support.shape[1]} samples stay active at the "
                     "end — its support vectors (operational definition: active at the limit).")
        if r.diverged_step is not None:
            text += " The recorded part before divergence is kept."
        return text

    def _show_weights(self, r: "FlowResult") -> None:
        d = r.w.shape[2]
        view = self._weight_view(d)
        if view is self.view3d or d == 2:
            w, teacher = r.w, r.teacher
            if d == 2:
                self.plane.set_axis_labels("w₁", "w₂")
        else:
            # Any other d: the half-plane spanned by v̂ and w's orthogonal part (exact for GF, §1.4).
            w = np.stack([r.magnitude * np.cos(r.angle), r.magnitude * np.sin(r.angle)], axis=-1)
            teacher = np.array([np.linalg.norm(r.teacher), 0.0])
            self.plane.set_axis_labels("w·v̂", "‖w − (w·v̂)v̂‖")
        view.set_trajectories(w, teacher)
        view.set_trail_length(0 if w.shape[0] * w.shape[1] <= FULL_TRAILS else 50)
        if view is self.plane:
            view.set_colors(r.angle[0], limits=(0.0, np.pi), label="θ(0): heads; ‖w‖, φ, loss")
        else:
            view.set_colors(r.angle[0], limits=(0.0, np.pi))
        view.set_highlight(HIGHLIGHT)
        has_samples = r.X is not None and r.X.shape[1] == w.shape[2] and d == w.shape[2]
        view.set_samples(r.X if has_samples else None)

    def _show_curves(self, r: "FlowResult") -> None:
        theta0 = r.angle[0]
        set_theta_lines(self.magnitude, r.t, r.magnitude, theta0)
        self.magnitude.set_curve("init", r.t, r.magnitude[:, HIGHLIGHT], color=(200, 30, 30),
                                 width=2, name=f"init #{HIGHLIGHT}")
        band = r.bounds_at(HIGHLIGHT) if r.config.method == "gf" else None
        if band is not None:                         # one column: the (T, N) arrays stay unread
            self.magnitude.set_band("bounds", r.t, *band, color=(200, 30, 30), alpha=22)
            self.magnitude.set_curve("bound_note", r.t, band[1],
                                     color=(200, 30, 30), width=1, style="dash",
                                     name="r₀e^(−t/2) ≤ ‖w‖ ≤ ν+(r₀−ν)e^(−t/2)")
        else:
            self.magnitude.remove("bounds")
            self.magnitude.remove("bound_note")
        self.magnitude.set_hline("nu", float(np.linalg.norm(r.teacher)), color=(90, 90, 90),
                                 label="ν = ‖v‖")
        set_theta_lines(self.phi, r.t, r.angle, theta0, transform=lambda a: np.pi - a)
        self.phi.set_hline("pi", float(np.pi), color=(90, 90, 90), label="π (aligned)")
        set_theta_lines(self.loss, r.t, r.loss, theta0,
                        transform=lambda loss: np.maximum(loss, LOSS_FLOOR))

    def _show_phase(self, r: "FlowResult") -> None:
        f = r.phase                                  # NaN arrows where the field is not exact
        self.phase.set_field(f.r, f.theta, f.dr, f.dtheta)
        self.phase.set_trajectories(r.magnitude, r.angle)
        self.phase.set_trail_length(0 if r.magnitude.size <= FULL_TRAILS else 50)
        self.phase.set_fixed_point(float(np.linalg.norm(r.teacher)), 0.0)

    def _show_depth_study(self, r: "FlowResult") -> None:
        for i, depth in enumerate(r.conv_depths):
            self.depth_plot.set_curve(f"L{depth}", r.conv_scales, r.conv_times[i],
                                      color=DEPTH_COLORS[i], symbol="o", name=f"L = {depth}")
        self.depth_plot.set_vline("init", float(r.config.init_scale), color=(120, 120, 120),
                                  label="this run's ‖u(0)‖")
        leave_legend_room(self.depth_plot, [r.conv_times], log=True)

    def _show_step_study(self, r: "FlowResult") -> None:
        """Median loss of GF and GD per η; room on the right keeps the legend off the curves
        (a diverging run climbs to the top, the others fall to the bottom)."""
        for key in list(self.step_plot.keys()):
            self.step_plot.remove(key)
        study = {k: (np.asarray(t, dtype=float), np.asarray(loss, dtype=float), div)
                 for k, (t, loss, div) in r.step_study.items()}
        x_max = max([float(r.config.t_max)] + [1.1 * float(t[-1]) for t, _, div in
                                               study.values() if div is not None and len(t)])
        for i, (label, (t, loss, div)) in enumerate(study.items()):
            name = label.removeprefix("GD ")
            name = name if div is None else f"{name}: diverged (step {div})"
            style = "solid" if label == "GF" else "dash"
            keep = t <= x_max                      # the room on the right stays empty
            self.step_plot.set_curve(label, t[keep], np.maximum(loss[keep], LOSS_FLOOR),
                                     name=name, style=style, width=2,
                                     color=STUDY_COLORS[i % len(STUDY_COLORS)])
        leave_legend_room(self.step_plot, [[0.0, x_max]], axis=0)

    def _show_conservation(self, r: "FlowResult") -> None:
        deep = r.config.depth > 1
        self.tabs.setTabVisible(2, deep)
        if deep:
            self.cons_plot.set_lines("all", r.t, np.maximum(r.conservation, 1e-18),
                                     color=LINE_COLOR)

    # -- playback --------------------------------------------------------------------------
    def frame_count(self) -> int:
        return 0 if self.result is None else len(self.result.t)

    def frame_times(self):
        return None if self.result is None else self.result.t

    def set_frame(self, index: int) -> None:
        r = self.result
        if r is None:
            return
        index = int(np.clip(index, 0, len(r.t) - 1))
        self._frame = index
        view = self.weights_view
        view.set_frame(index)
        self.phase.set_frame(index)
        t = float(r.t[index])
        self._cursors.call(self._move_cursors, t)
        self._show_sample_state(view, index)
        self._refresh_plane_key()

    def _move_cursors(self, t: float) -> None:
        for plot in (self.magnitude, self.phi, self.loss, self.cons_plot, self.step_plot):
            plot.set_cursor(t)

    def _refresh_plane_key(self) -> None:
        """The weight plane's key below it (the 3-D view draws its own legend); its HTML is
        rebuilt only when the legend's entries change, not on every playback frame."""
        on = self.weights_view is self.plane
        entries = tuple((id(sample.item), label.text) for sample, label in
                        self.plane.legend.items) if on else None
        if entries != self._plane_key_entries:
            self._plane_key_entries = entries
            text = legend_html(self.plane.legend, [trails_entry()]) if on else ""
            if text != self.plane_key.text():
                self.plane_key.setText(text)
        self.plane_key.setVisible(on)

    def _show_sample_state(self, view, index: int) -> None:
        r = self.result
        if r.X is None or r.active is None or r.X.shape[1] != r.w.shape[2]:
            return
        row = 0 if r.active_index is None else int(np.flatnonzero(r.active_index == HIGHLIGHT)[0])
        view.set_sample_state(r.active[index, row], r.support[HIGHLIGHT])

    def show_view(self, name: Optional[str]) -> None:
        tabs = {"depth": 0, "stepsize": 1, "conservation": 2}
        if name in tabs:
            self.tabs.setCurrentIndex(tabs[name])

    def svg_plots(self) -> dict:
        return {"Magnitude": self.magnitude.plot_item, "Angle φ": self.phi.plot_item,
                "Loss": self.loss.plot_item, "Depth vs init scale": self.depth_plot.plot_item,
                "GD vs GF": self.step_plot.plot_item, "Conservation": self.cons_plot.plot_item,
                "Weight plane": self.plane.plot_item, "Phase portrait": self.phase.plot_item}


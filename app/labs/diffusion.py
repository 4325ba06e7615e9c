"""Diffusion-paths lab presenter: solver recordings → particle canvases and metric curves."""
from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QPushButton,
                               QSizePolicy,
                               QVBoxLayout)

from app.labs.base import LabPresenter, views_only
from app.labs.diffusion_points import read_points
from engine.diffusion import DiffusionLabResult, run_lab
from engine.diffusion.metrics import SW_PROJECTIONS
from engine.sampling.contract import START_EXACT
from widgets.curve_plot import CurvePlot
from widgets.particle_canvas import ParticleCanvas
from widgets.playback_bar import LatestCall

CURSOR_SECONDS = 0.5   # plot cursors follow playback ≤ 2×/s (each move repaints a plot)
RUN_COLORS = [(31, 119, 180), (214, 39, 40)]
POSTERIOR_RGBA = (1.0, 0.6, 0.0, 0.95)
METRICS = (("off_manifold", "Off the data manifold", "Mahalanobis to nearest component"),
           ("residual", "Residual ‖y − A x̂₀‖", "residual"),
           ("posterior_distance", "Distance to posterior", "energy distance"))
DISTANCE_LABEL = "energy dist. (V-stat.)"
FLOOR_RGB = (150, 150, 150)
TRAILS_SHOWN = 4          # at most this many highlighted paths, so they never hide the cloud
X0_RGBA = (1.0, 0.3, 1.0, 0.6)
KEY_HTML = (
    "Key: <b>white dots</b> particles x<sub>t</sub> at the frame's time t · "
    "<b>background</b> log-density of the prior noised to t (viridis, 12 nats) · "
    "<b style='color:#ff9900'>orange contours / dots</b> the exact {target} (1-2-3σ levels, "
    "400 samples) · <b style='color:#33ccdd'>cyan dashed</b> the measurement line A x = y · "
    "<b style='color:#ee3333'>red</b> paths of ≤ {n} traced particles (config Trails), head = now (Show paths) · "
    "<b style='color:#ff4dff'>magenta</b> Tweedie estimates x̂₀ (Show x̂₀) · "
    "curves: <b style='color:#1f77b4'>blue</b> left run, <b style='color:#d62728'>red</b> "
    "right run, <b>grey band</b> exact-vs-exact noise floor")


class DiffusionLab(LabPresenter):
    """Presenter of the diffusion-paths lab (SCIENCE.md §3)."""

    def __init__(self, spec, parent=None):
        super().__init__(spec, parent)
        self.result: Optional[DiffusionLabResult] = None
        self._frame = 0
        self._density_shown: Optional[tuple] = None     # (id of the result, density frame)
        self._pending_y: Optional[float] = None
        self._view_t: Optional[float] = None
        self.opening_frame = 0        # the frame a result opens on (the shell's playback follows)
        self._drag_timer = QTimer(self, singleShot=True, interval=150,
                                  timeout=self._emit_constraint)
        self._build_views()
        # plot cursors follow playback; owned by the view, so a pending call dies with it
        self._cursors = LatestCall(CURSOR_SECONDS, self.view)

    # -- layout ----------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.info = QLabel("Run the lab to see sample paths.")
        self.info.setWordWrap(True)
        self.key = QLabel(KEY_HTML.format(n=TRAILS_SHOWN, target="posterior"))
        self.key.setWordWrap(True)
        self.canvases = [ParticleCanvas(dim=2), ParticleCanvas(dim=2)]
        self.canvases[0].link_view(self.canvases[1])
        for canvas in self.canvases:
            canvas.sigPointsDrawn.connect(self._points_drawn)
            canvas.sigConstraintMoved.connect(self._constraint_moved)
        self.draw_box = QCheckBox("Draw prior points")
        self.draw_box.setToolTip("Drag on the left canvas to draw points; the prior is fitted to them")
        self.draw_box.toggled.connect(self._toggle_draw)
        self.x0_box = QCheckBox("Show Tweedie estimates x̂₀")
        self.x0_box.toggled.connect(self._show_x0)
        self.trail_box = QCheckBox("Show paths")
        self.trail_box.setChecked(False)
        self.trail_box.setToolTip(f"Red: the paths of up to {TRAILS_SHOWN} traced particles "
                                  "(config 'Trails'), head = current position")
        self.trail_box.toggled.connect(self._show_trails)
        self.clear_button = QPushButton("Clear drawn points")
        self.clear_button.clicked.connect(
            lambda: self.sigConfigEdit.emit({"custom_points": (), "prior": "ring"}))
        self.load_button = QPushButton("Load points…")
        self.load_button.setToolTip("Fit the 'custom' prior to points from a .csv or .npy file "
                                    "(one point per row: x, y[, z])")
        self.load_button.clicked.connect(lambda: self.load_points())
        tools = QHBoxLayout()
        for w in (self.draw_box, self.load_button, self.x0_box, self.trail_box,
                  self.clear_button):
            tools.addWidget(w)
        tools.addStretch(1)
        self.plots = {key: CurvePlot(title, "diffusion time t", ylabel)
                      for key, title, ylabel in METRICS}
        for plot in self.plots.values():
            plot.plot_item.invertX(True)
        self.budget_plot = CurvePlot("Final distance vs steps", "steps", DISTANCE_LABEL,
                                     log_x=True)
        canv = QHBoxLayout()
        for canvas in self.canvases:
            canv.addWidget(canvas, 1)
        grid = QGridLayout()
        for i, plot in enumerate([*self.plots.values(), self.budget_plot]):
            plot.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            grid.addWidget(plot, 0, i)
        outer = QVBoxLayout(self.view)
        outer.addWidget(self.info)
        outer.addLayout(tools)
        outer.addWidget(views_only(self, (self.key, 0), (canv, 3), (grid, 2)), 1)

    # -- interaction -----------------------------------------------------------------------
    def _toggle_draw(self, on: bool) -> None:
        self.canvases[0].set_draw_mode(on)
        if on:
            self.sigMessage.emit("Drag on the left canvas to draw points; the prior is fitted "
                                 "to them (EM) when you release the mouse.")

    def _show_x0(self, on: bool) -> None:
        if self.result is None:
            return
        for canvas, run in zip(self.canvases, self.result.runs):
            canvas.set_secondary(run.x0_hat, on, X0_RGBA)
        self.set_frame(self._frame)

    def _show_trails(self, on: bool) -> None:
        if self.result is None:
            return
        for canvas, run in zip(self.canvases, self.result.runs):
            canvas.set_particles(run.x, highlight=self._highlight(run))
        self.set_frame(self._frame)

    def _highlight(self, run) -> Optional[np.ndarray]:
        """Particles whose paths are drawn: the first ≤ TRAILS_SHOWN traced ones, or none."""
        if not self.trail_box.isChecked():
            return None
        return np.arange(min(run.n_trails, run.x.shape[1], TRAILS_SHOWN))

    def _points_drawn(self, pts: np.ndarray) -> None:
        cfg = self.current_config()
        old = _as_points(cfg.custom_points)[:, :2] \
            if cfg is not None and cfg.prior == "custom" and cfg.custom_points else np.zeros((0, 2))
        pts = np.vstack([old, np.asarray(pts, dtype=float)[:, :2]])
        points = tuple((round(float(x), 4), round(float(y), 4)) for x, y in pts)
        self.sigConfigEdit.emit({"prior": "custom", "custom_points": points})

    def load_points(self, path: Optional[str] = None) -> bool:
        """Points for the 'custom' prior from a CSV (x, y[, z] per row) or .npy file."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.view, "Load prior points", "",
                                                  "Points (*.csv *.txt *.npy)")
            if not path:
                return False
        try:
            pts = read_points(path)
        except (ValueError, OSError) as err:
            self.sigMessage.emit(f"Points not loaded: {err}")
            return False
        dim = pts.shape[1]
        points = tuple(tuple(round(float(v), 5) for v in row) for row in pts)
        self.sigConfigEdit.emit({"prior": "custom", "dim": dim, "custom_points": points})
        return True

    def _constraint_moved(self, y: float) -> None:
        self._pending_y = float(y)
        self._drag_timer.start()

    def _emit_constraint(self) -> None:
        if self._pending_y is not None:
            self.sigConfigEdit.emit({"meas_value": round(self._pending_y, 3)})
            self._pending_y = None

    # -- runs ------------------------------------------------------------------------------
    def make_run(self, config, device):
        """The lab's ``run_config`` reduced to the frames' NumPy data (``run_lab``)."""
        return lambda: run_lab(config, device)

    def result_summary(self, r: DiffusionLabResult) -> str:
        """Status line: each run's distance to the exact target (the value of the last curve
        point, the budget plot at the run's budget and the export) and the noise floor."""
        target = "posterior" if r.posterior is not None else "prior"
        nan = float("nan")
        parts = [f"{run.solver}: {run.status}, distance "
                 f"{run.summary.get('posterior_distance', nan):.4f}, sliced W2 "
                 f"{run.summary.get('sliced_w2', nan):.3f}, "
                 f"{int(run.summary.get('nfe', 0))} NFE" for run in r.runs]
        mean, sd = r.distance_floor
        cfg, first = r.config, r.runs[0].summary
        return (f"{cfg.n_particles} particles, {cfg.n_steps} steps, x_T ~ {_start_text(r)} — "
                + "; ".join(parts) +
                f" (energy distance V-stat., {r.distance_points} particles vs {r.distance_points}"
                f" exact {target} samples; exact-vs-exact floor {mean:.4f} ± {sd:.4f}; sliced W2"
                f" with {SW_PROJECTIONS} seeded directions, floor "
                f"{first.get('sliced_w2_floor', nan):.3f} ± "
                f"{first.get('sliced_w2_floor_sd', nan):.3f}); {r.seconds:.2f} s")

    def show_result(self, r: DiffusionLabResult) -> None:
        self.result, self._density_shown = r, None
        self.info.setText(self.result_summary(r))
        self.key.setText(KEY_HTML.format(
            n=TRAILS_SHOWN, target="posterior" if r.posterior is not None else "prior (no contours)"))
        for i, canvas in enumerate(self.canvases):
            canvas.setVisible(i < len(r.runs))
            if i < len(r.runs):
                self._fill_canvas(canvas, r, r.runs[i])
        self._show_metrics(r)
        self._show_budgets(r)
        self.opening_frame = self._claim_frame(r)
        self.set_frame(self.opening_frame)

    def show_view(self, name: Optional[str]) -> None:
        """A preset's view: comma-separated ``t=<time>`` (the frame its first result opens
        on, nearest recorded time) and ``paths`` (paths shown); e.g. ``"t=100,paths"``."""
        parts = [p.strip() for p in (name or "").split(",") if p.strip()]
        self._view_t = next((float(p[2:]) for p in parts if p.startswith("t=")), None)
        self.trail_box.setChecked("paths" in parts)

    def _claim_frame(self, r: DiffusionLabResult) -> int:
        """The preset's frame on its first result (then the last frame: the result)."""
        view_t, self._view_t = self._view_t, None
        if view_t is None:
            return self.frame_count() - 1
        return int(np.argmin(np.abs(r.runs[0].t.astype(float) - view_t)))

    def _fill_canvas(self, canvas: ParticleCanvas, r: DiffusionLabResult, run) -> None:
        d = run.x.shape[2]
        canvas.set_dim(d)
        canvas.set_range(r.xlim, r.ylim, r.zlim if d == 3 else None)
        canvas.set_title(f"{run.solver} — {run.status}")
        canvas.set_particles(run.x, highlight=self._highlight(run))
        canvas.set_secondary(run.x0_hat, self.x0_box.isChecked(), X0_RGBA)
        canvas.set_contours("posterior", r.posterior, r.xlim, r.ylim,
                            _contour_levels(r.posterior), POSTERIOR_RGBA)
        canvas.set_points("posterior", r.posterior_points, (1.0, 0.6, 0.0, 0.8), 4)
        if r.A is not None and r.A.shape == (1, 2) and d == 2:
            canvas.set_constraint(r.A[0], float(r.y[0]))
        else:
            canvas.set_constraint(None, 0.0)
        if r.config.prior == "custom" and r.config.custom_points:
            drawn = _as_points(r.config.custom_points)
            drawn = np.pad(drawn, ((0, 0), (0, max(0, d - drawn.shape[1]))))[:, :d]
            canvas.set_points("drawn", drawn, (1, 1, 1, 0.8), 4)
        else:
            canvas.set_points("drawn", None, (1, 1, 1, 1), 4)

    def _distance_tooltip(self, r: DiffusionLabResult) -> str:
        target = "posterior" if r.posterior is not None else "prior"
        return (f"Squared energy distance, V-statistic (≥ 0), of the first {r.distance_points} "
                f"particles to one fixed sample of {r.distance_points} exact {target} points "
                f"(noised to each frame's level; at t = 0 the clean sample). Grey band: mean ± "
                f"sd of the same estimator between independent exact samples of the result's "
                f"target (t = 0), the noise floor a perfect sampler scatters in.")

    def _show_metrics(self, r: DiffusionLabResult) -> None:
        self.plots["residual"].setVisible(r.A is not None)
        target = "posterior" if r.posterior is not None else "prior"
        dist = self.plots["posterior_distance"]
        dist.set_labels(f"Distance to {target}", "diffusion time t",
                        f"{DISTANCE_LABEL}, {r.distance_points} pts")
        dist.setToolTip(self._distance_tooltip(r))
        for key, plot in self.plots.items():
            for name in list(plot.keys()):
                plot.remove(name)
            for i, run in enumerate(r.runs):
                values = run.metrics.get(key)
                if values is None or not np.isfinite(values).any():
                    continue
                plot.set_curve(run.solver + str(i), run.t.astype(float), values,
                               color=RUN_COLORS[i], width=2, name=run.solver)
        t = r.runs[0].t.astype(float)
        self._floor_band(dist, "floor", [float(t.min()), float(t.max())], r)

    def _floor_band(self, plot: CurvePlot, key: str, x, r: DiffusionLabResult) -> None:
        mean, sd = r.distance_floor
        if np.isfinite(mean):
            plot.set_band(key, x, [max(mean - sd, 0.0)] * 2, [mean + sd] * 2, color=FLOOR_RGB,
                          alpha=70, name="exact vs exact ±sd")

    def _show_budgets(self, r: DiffusionLabResult) -> None:
        self.budget_plot.setVisible(bool(r.budgets))
        for name in list(self.budget_plot.keys()):
            self.budget_plot.remove(name)
        if not r.budgets:
            return
        self.budget_plot.set_labels("Final distance vs steps", "steps",
                                    f"{DISTANCE_LABEL}, {r.distance_points} pts")
        self.budget_plot.setToolTip(self._distance_tooltip(r))
        steps = next(iter(r.budgets.values()))[0]
        self.budget_plot.plot_item.getAxis("bottom").setTicks(
            [[(np.log10(b), str(b)) for b in steps], []])
        self._floor_band(self.budget_plot, "floor", [float(steps.min()), float(steps.max())], r)
        for i, (solver, (steps, dist)) in enumerate(r.budgets.items()):
            self.budget_plot.set_curve(solver, steps.astype(float), dist,
                                       color=RUN_COLORS[i % 2], symbol="o", name=solver)
        self.budget_plot.set_vline("budget", float(r.config.n_steps), (200, 200, 200),
                                   label=f"this run: {r.config.n_steps} steps")

    # -- playback --------------------------------------------------------------------------
    def frame_count(self) -> int:
        return 0 if self.result is None else len(self.result.runs[0].t)

    def frame_times(self):
        return None if self.result is None else self.result.runs[0].t.astype(float)

    def set_frame(self, index: int) -> None:
        r = self.result
        if r is None:
            return
        main = r.runs[0]
        index = int(np.clip(index, 0, len(main.t) - 1))
        self._frame = index
        t = float(main.t[index])
        self._show_density(r, int(np.argmin(np.abs(r.density_t - t))))
        for canvas, run in zip(self.canvases, r.runs):
            canvas.set_frame(index if run is main else int(np.argmin(np.abs(run.t - t))))
        self._cursors.call(self._move_cursors, t)

    def _show_density(self, r: DiffusionLabResult, k: int) -> None:
        """Heat map of density frame ``k`` (uploaded only when ``k`` changes: several
        playback frames share one)."""
        if self._density_shown == (id(r), k):
            return
        self._density_shown = (id(r), k)
        density = r.density[k]
        top = float(np.nanmax(density))
        clim = (top - 12.0, top)  # log-density: 12 nats of dynamic range
        for canvas in self.canvases[:len(r.runs)]:
            canvas.set_density(density, r.xlim, r.ylim, log=False, clim=clim)

    def _move_cursors(self, t: float) -> None:
        for plot in self.plots.values():
            plot.set_cursor(t)

    def svg_plots(self) -> dict:
        out = {title: self.plots[key].plot_item for key, title, _ in METRICS}
        out["Final distance vs steps"] = self.budget_plot.plot_item
        return out


def _as_points(rows) -> np.ndarray:
    """Config tuple of points → (n, k) float array."""
    pts = np.asarray(rows, dtype=float)
    return pts.reshape(len(pts), -1)


def _contour_levels(logp: Optional[np.ndarray]) -> list:
    """Log-density levels at 1, 2 and 3 'sigmas' below the maximum (Δ log p = k²/2)."""
    if logp is None or not np.isfinite(logp).any():
        return []
    top = float(np.nanmax(logp))
    return [top - k * k / 2 for k in (3, 2, 1)]


def _start_text(r: DiffusionLabResult) -> str:
    """The start law of the runs and the bound on its mismatch with N(0, I) (issue #18)."""
    bound = r.runs[0].summary.get("start_kl_bound", float("nan"))
    law = "exact p_T" if r.config.start == START_EXACT else "N(0, I)"
    return f"{law} (KL(p_T ‖ N(0, I)) ≤ {bound:.3g})"

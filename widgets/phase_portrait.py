"""Magnitude–angle phase portrait of single-neuron gradient flow (pyqtgraph).

x = ‖w‖ (magnitude ``r``), y = θ ∈ [0, π] (angle between ``w`` and the teacher ``v``), as in
SCIENCE.md §1.4: a faint direction field of ``(dr/dt, dθ/dt)``, the optimum ``(ν, 0)`` as a
star, an optional ``dr/dt = 0`` nullcline and many animated trajectories (trails + heads,
at most ~300 drawn). Run ``python -m widgets.phase_portrait`` for a demo.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from widgets.trail_plot import (
    TEACHER_COLOR, TrailPlot, brushes_for, cache_static, finite_bounds, run_demo,
)

__all__ = ["PhasePortrait", "arrow_segments"]

FIELD_PEN = (170, 170, 170, 90)
NULLCLINE_COLOR = "#66ccff"
PI_TICKS = [(0.0, "0"), (np.pi / 4, "π/4"), (np.pi / 2, "π/2"), (3 * np.pi / 4, "3π/4"),
            (np.pi, "π")]


def _grid_step(values):
    """Spacing of a regular grid coordinate array (1.0 when it has a single value)."""
    u = np.unique(np.asarray(values, dtype=float)[np.isfinite(values)])
    return float(np.ptp(u) / (len(u) - 1)) if len(u) > 1 else 1.0


def arrow_segments(R, TH, dR, dTH, length=0.8, head=0.3):
    """Normalised arrows of a direction field as line-segment pairs (shaft + two barbs).

    Directions are normalised in grid units (a step of ``ΔR`` counts as much as a step of
    ``ΔΘ``), so arrows look the same length whatever the axes' units.

    Parameters
    ----------
    R, TH : ndarray, shape (a, b)
        Regular grid of magnitudes and angles (e.g. from ``np.meshgrid``).
    dR, dTH : ndarray, shape (a, b)
        Field ``dr/dt``, ``dθ/dt`` at the grid points.
    length, head : float
        Shaft length and barb length as fractions of the grid spacing.

    Returns
    -------
    x, y : ndarray, shape (6 M,)
        Endpoints of 3 M segments (``connect="pairs"``) for the M arrows with finite,
        non-zero direction.
    speed : ndarray, shape (M,)
        ``sqrt(dR² + dTH²)`` of the arrows drawn (for optional colouring).
    """
    R, TH, dR, dTH = (np.asarray(a, dtype=float).ravel() for a in (R, TH, dR, dTH))
    sr, st = _grid_step(R), _grid_step(TH)
    u, v = dR / sr, dTH / st
    norm = np.hypot(u, v)
    ok = np.isfinite(norm) & (norm > 0) & np.isfinite(R) & np.isfinite(TH)
    u, v, norm, r0, t0 = u[ok] / norm[ok], v[ok] / norm[ok], norm[ok], R[ok], TH[ok]
    tip_u, tip_v = r0 / sr + length * u, t0 / st + length * v
    ca, sa = np.cos(np.radians(150)), np.sin(np.radians(150))
    barbs = [(tip_u + head * (ca * u - s * sa * v), tip_v + head * (s * sa * u + ca * v))
             for s in (1, -1)]
    xs = np.stack([r0 / sr, tip_u, tip_u, barbs[0][0], tip_u, barbs[1][0]], axis=1) * sr
    ys = np.stack([t0 / st, tip_v, tip_v, barbs[0][1], tip_v, barbs[1][1]], axis=1) * st
    return xs.ravel(), ys.ravel(), np.hypot(dR[ok], dTH[ok])


class PhasePortrait(TrailPlot):
    """(‖w‖, θ) phase portrait: direction field, optimum, nullcline and trajectories.

    Parameters
    ----------
    parent : QWidget or None
    trail_length : int
        Initial trail length in frames (0: whole history).
    max_drawn : int
        At most this many trajectories are drawn (evenly subsampled).

    Signals
    -------
    sigTrajectoryClicked(int)
        The user clicked the head of trajectory ``index`` (original index, not subsampled).
    """

    def __init__(self, parent=None, trail_length=50, max_drawn=300):
        super().__init__(parent, trail_length, max_drawn)
        pi = self.plot_item
        pi.getAxis("left").setTicks([PI_TICKS, []])
        self.legend.setOffset((-8, 8))
        self.field_item = pg.PlotDataItem(pen=pg.mkPen(FIELD_PEN, width=1), connect="pairs")
        self.speed_item = pg.ScatterPlotItem(size=4, pen=None)
        self.speed_item.setOpacity(0.5)
        self.nullcline_item = pg.PlotDataItem(
            pen=pg.mkPen(NULLCLINE_COLOR, width=1.5, style=Qt.PenStyle.DashLine))
        self.fixed_item = pg.ScatterPlotItem(symbol="star", size=20, pen=pg.mkPen("k"),
                                             brush=pg.mkBrush(TEACHER_COLOR))
        for z, item in zip((0, 0.5, 2, 9), (self.field_item, self.speed_item,
                                            self.nullcline_item, self.fixed_item)):
            item.setZValue(z)
            pi.addItem(item)
        cache_static(self.field_item, self.speed_item, self.nullcline_item, self.fixed_item)
        self._extent_r = [None, None, None]   # trajectories, field, fixed point
        self.set_axis_labels("‖w‖", "θ = ∠(w, v)")
        self._update_range()

    def set_field(self, R, TH, dR, dTH, color_by_speed=False):
        """Direction field as faint normalised arrows (one item), optionally speed dots.

        Parameters
        ----------
        R, TH : array_like, shape (a, b)
            Regular grid of magnitudes and angles (radians).
        dR, dTH : array_like, shape (a, b)
            ``dr/dt`` and ``dθ/dt`` on the grid (non-finite entries are skipped).
        color_by_speed : bool
            Also mark each arrow's tail with a dot coloured by log₁₀ speed.
        """
        x, y, speed = arrow_segments(R, TH, dR, dTH)
        self.field_item.setData(x, y, connect="pairs")
        if color_by_speed and len(speed):
            brushes, _, _ = brushes_for(np.log10(np.maximum(speed, 1e-12)), "CET-L8")
            self.speed_item.setData(pos=np.stack([x[::6], y[::6]], axis=1), brush=brushes)
        else:
            self.speed_item.setData(pos=np.zeros((0, 2)))
        self._extent_r[1] = x
        self._update_range()
        self._update_legend()

    def set_trajectories(self, r, theta):
        """Trajectories as magnitude ``r`` and angle ``theta`` arrays of shape (T, N)."""
        r, theta = np.asarray(r, dtype=float), np.asarray(theta, dtype=float)
        if r.shape != theta.shape or r.ndim != 2:
            raise ValueError(f"r and theta must share a (T, N) shape: {r.shape}, {theta.shape}")
        self._set_layer_data(np.stack([r, theta], axis=-1))
        self._extent_r[0] = r
        self._update_range()
        self._update_legend()
        self.set_frame(0)

    def set_fixed_point(self, r, theta=0.0):
        """Mark the optimum (``‖w‖ = ν``, ``θ = 0``) with a star (``r=None`` hides it)."""
        pos = np.zeros((0, 2)) if r is None else np.array([[float(r), float(theta)]])
        self.fixed_item.setData(pos=pos)
        self._extent_r[2] = pos[:, 0]
        self._update_legend()
        self._update_range()

    def set_nullcline(self, r, theta):
        """Dashed ``dr/dt = 0`` curve through points ``(r, theta)`` (None hides it)."""
        if r is None:
            self.nullcline_item.setData([], [])
        else:
            self.nullcline_item.setData(np.asarray(r, float), np.asarray(theta, float),
                                        connect="finite")
        self._update_legend()

    def _update_range(self):
        """x from 0 to the largest finite magnitude shown; y = [0, π] with a small margin."""
        pts = [np.stack([np.ravel(a), np.zeros(np.size(a))], axis=1) for a in self._extent_r
               if a is not None and np.size(a)]
        _lo, hi = finite_bounds(np.zeros((1, 2)), np.ones((1, 2)) * 1e-3, *pts, pad=0.0)
        self.plot_item.getViewBox().setRange(xRange=(0.0, 1.05 * hi[0]),
                                             yRange=(-0.06, np.pi + 0.06), padding=0.0)
        self.plot_item.disableAutoRange()

    def _update_legend(self):
        """Legend entries for every mark shown: runs (trails, heads), direction field, fixed
        point and nullcline."""
        entries = []
        if self.layer.n_total:
            entries.append((self.layer.trails, "runs (‖w‖, θ)(t); dots: now"))
        if self.field_item.xData is not None and len(self.field_item.xData):
            entries.append((self.field_item, "direction of the flow"))
        if len(self.fixed_item.data):
            entries.append((self.fixed_item, "optimum (‖w‖ = ν, θ = 0)"))
        if self.nullcline_item.xData is not None and len(self.nullcline_item.xData):
            entries.append((self.nullcline_item, "dr/dt = 0"))
        self._set_legend(entries)


def demo_flow(nu=1.0, n_frames=400, n_traj=200, dt=0.05, seed=0):
    """Integrate the (r, θ) ODE of SCIENCE.md §1.4 with Euler steps (demo data only).

    ``dr/dt = -r/2 + ν/(2π) (sin θ + (π-θ) cos θ)``, ``dθ/dt = -ν/(2π r) (π-θ) sin θ``.

    Returns
    -------
    r, theta : ndarray, shape (T, N)
    field : tuple of ndarray
        ``(R, TH, dR, dTH)`` on a 24 × 18 grid.
    """
    def rhs(r, th):
        g = np.sin(th) + (np.pi - th) * np.cos(th)
        return -r / 2 + nu * g / (2 * np.pi), -nu * (np.pi - th) * np.sin(th) / (2 * np.pi * r)

    rng = np.random.default_rng(seed)
    r = np.empty((n_frames, n_traj))
    th = np.empty((n_frames, n_traj))
    r[0], th[0] = rng.uniform(0.05, 2.5, n_traj), rng.uniform(0.0, np.pi, n_traj)
    for k in range(1, n_frames):
        d_r, d_th = rhs(r[k - 1], th[k - 1])
        r[k] = np.maximum(r[k - 1] + dt * d_r, 1e-6)
        th[k] = np.clip(th[k - 1] + dt * d_th, 0.0, np.pi)
    R, TH = np.meshgrid(np.linspace(0.1, 2.5, 24), np.linspace(0.0, np.pi, 18))
    return r, th, (R, TH, *rhs(R, TH))


def _demo_portrait():
    """Build a PhasePortrait filled with the demo flow."""
    r, th, field = demo_flow()
    view = PhasePortrait()
    view.set_field(*field, color_by_speed=True)
    view.set_trajectories(r, th)
    view.set_colors(th[0], label="θ(0)")
    view.set_fixed_point(1.0, 0.0)
    grid = np.linspace(0.0, np.pi, 200)
    view.set_nullcline((np.sin(grid) + (np.pi - grid) * np.cos(grid)) / np.pi, grid)
    return view


if __name__ == "__main__":  # pragma: no cover - manual demo
    run_demo(_demo_portrait, "PhasePortrait demo")

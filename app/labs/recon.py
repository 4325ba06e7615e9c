"""Reconstruction lab presenter: volumes, acquisitions and methods → linked slice viewers."""
from __future__ import annotations

from typing import Optional

import numpy as np
from PySide6.QtWidgets import (QComboBox, QGridLayout, QHBoxLayout, QLabel,
                               QPushButton, QTabWidget, QVBoxLayout)

from app.labs import recon_files
from app.labs.base import LabPresenter, views_only
from app.labs.recon_live import LiveRun, as_stages
from app.labs.recon_panels import AcquisitionPanels
from widgets.curve_plot import CurvePlot
from widgets.image_panel import ImagePanel
from widgets.ranking_table import RankingView
from widgets.slice_viewer import COLORMAPS, SliceViewer
from widgets.volume_canvas import METHODS as RENDER_METHODS
from widgets.volume_canvas import VolumeCanvas

RUN_COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189),
              (140, 86, 75), (227, 119, 194), (127, 127, 127)]
AXES = ("axial (z)", "coronal (y)", "sagittal (x)")
CONVERGENCE = ("PSNR", "data residual")
RANK_HEADERS = ("Method", "PSNR (dB)", "SSIM", "Time (s)", "Steps")


class ReconLab(LabPresenter):
    """Presenter of the reconstruction lab (SCIENCE.md §4)."""

    def __init__(self, spec, parent=None):
        super().__init__(spec, parent)
        self.result = None
        self._frame = 0
        self._b = 1                     # index of the run shown as "method B"
        self._live: Optional[LiveRun] = None    # what the views show of the run in progress
        self._stages: Optional[dict] = None     # that run's newest partial per stage
        self._focus: tuple = ()                 # the voxel the ground truth opened on
        self._build_views()

    # -- layout ----------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.info = QLabel("Run the lab to reconstruct a volume.")
        self.info.setWordWrap(True)
        self.open_button = QPushButton("Open volume…")
        self.open_button.clicked.connect(lambda: self.open_volume())
        self.save_button = QPushButton("Save method A as NIfTI…")
        self.save_button.clicked.connect(lambda: self.save_result())
        self.sweep_button = QPushButton("Export slice sweep…")
        self.sweep_button.setToolTip("Movie (MP4/GIF) of the current view moving through the "
                                     "axial slices")
        self.sweep_button.clicked.connect(lambda: self.export_slice_sweep())
        self.rotate_button = QPushButton("Export 3-D rotation…")
        self.rotate_button.setToolTip("Movie (MP4/GIF) of the 3-D view of method A turning "
                                      "once around the volume")
        self.rotate_button.clicked.connect(lambda: self.export_rotation())
        self.axis_box = QComboBox()
        self.axis_box.addItems(AXES)
        self.axis_box.currentIndexChanged.connect(lambda _i: self._show_slice_psnr())
        self.cmap_box = QComboBox()
        self.cmap_box.addItems(COLORMAPS)
        self.cmap_box.currentTextChanged.connect(self._set_colormap)
        self.render_box = QComboBox()
        self.render_box.addItems(RENDER_METHODS)
        self.render_box.currentTextChanged.connect(lambda m: self.volume3d.set_method(m))
        self.conv_box = QComboBox()
        self.conv_box.addItems(CONVERGENCE)
        self.conv_box.currentIndexChanged.connect(lambda _i: self._redraw_convergence())
        self.train_button = QPushButton("Train slice prior…")
        self.train_button.setToolTip("Train a diffusion slice prior on your own volume (for "
                                     "dds, mbir, mcg, ccdf); CUDA when present")
        self.train_button.clicked.connect(lambda: self.train_prior())
        tools = QVBoxLayout()
        for row in ((self.open_button, self.save_button, self.sweep_button, self.rotate_button,
                     self.train_button),
                    (QLabel("Convergence:"), self.conv_box,
                     QLabel("Per-slice PSNR along:"), self.axis_box, QLabel("Colormap:"),
                     self.cmap_box, QLabel("3-D rendering:"), self.render_box)):
            line = QHBoxLayout()
            for w in row:
                line.addWidget(w)
            line.addStretch(1)
            tools.addLayout(line)
        self.viewers = [SliceViewer() for _ in range(4)]
        for v, title in zip(self.viewers, ("Ground truth", "Method A", "Method B",
                                           "|A − truth|")):
            v.set_title(title)
            v.set_layout("axial")
        for v in self.viewers[1:]:
            self.viewers[0].link(v)
        self.tri = SliceViewer()
        self.tri.set_layout("tri")
        compare = QHBoxLayout()
        for v in self.viewers:
            compare.addWidget(v, 1)
        compare_box = QLabel()
        compare_box.setLayout(compare)
        self.tabs = QTabWidget()
        self.tabs.addTab(compare_box, "Compare")
        self.tabs.addTab(self.tri, "Tri-planar (method A)")
        self.volume3d = VolumeCanvas()
        self.tabs.addTab(self.volume3d, "3-D (method A)")
        self.tri.sigCursorChanged.connect(self.volume3d.set_planes)
        self.ranking_view = RankingView(RANK_HEADERS, score_column=1, score_label="PSNR [dB]")
        self.ranking = self.ranking_view.table
        self.ranking.setToolTip("All methods run on the same acquisition, best PSNR first; "
                                "double-click a row to show it as method B")
        self.ranking.sigPicked.connect(self.show_as_b)
        self.tabs.addTab(self.ranking_view, "Ranking")
        self.slice_plot = CurvePlot("PSNR per slice", "slice", "PSNR [dB]")
        self.slice_plot.setToolTip("Click a slice to show it in the viewers")
        self.slice_plot.sigClicked.connect(self._jump_to_slice)
        self.conv_plot = CurvePlot("Convergence", "iteration / step", "PSNR [dB]")
        self.acq = ImagePanel("Acquisition")
        self.coils = ImagePanel("Coil maps |S_c|")
        self.panels = AcquisitionPanels(self.acq, self.coils)
        bottom = QGridLayout()
        for i, w in enumerate((self.slice_plot, self.conv_plot, self.acq, self.coils)):
            bottom.addWidget(w, 0, i)
        outer = QVBoxLayout(self.view)
        outer.addWidget(self.info)
        outer.addLayout(tools)
        outer.addWidget(views_only(self, (self.tabs, 3), (bottom, 2)), 1)

    def _set_colormap(self, name: str) -> None:
        for viewer in (*self.viewers, self.tri):
            viewer.set_colormap(name)

    # -- files and movies (app/labs/recon_files.py) ------------------------------------------
    def open_volume(self, path: Optional[str] = None) -> bool:
        """Use a NIfTI / DICOM folder / .npy / TIFF volume as ground truth (checked first)."""
        return recon_files.open_volume(self, path)

    def save_result(self, path: Optional[str] = None) -> bool:
        """Save method A's reconstruction as NIfTI (spacing kept)."""
        return recon_files.save_result(self, path)

    def export_slice_sweep(self, path: Optional[str] = None, fps: int = 8) -> bool:
        """Write a movie of the shown tab sweeping through the axial slices."""
        return recon_files.export_slice_sweep(self, path, fps)

    def export_rotation(self, path: Optional[str] = None, n_frames: int = 72,
                        fps: int = 24) -> bool:
        """Write a movie of the 3-D view (method A) turning 360° about the vertical axis."""
        return recon_files.export_rotation(self, path, n_frames, fps)

    # -- runs ------------------------------------------------------------------------------
    def result_summary(self, r) -> str:
        cfg = r.config
        acq = (f"CT, {cfg.n_views} views over {cfg.angle_range:g}°" if cfg.modality == "ct"
               else f"MRI ×{cfg.acceleration:g} ({cfg.mask}), {cfg.n_coils} coils")
        parts = [f"{m.name}: PSNR {m.psnr:.2f} dB ({m.seconds:.2f} s)" for m in r.runs]
        z, y, x = r.truth.shape
        notes = f" — note: {'; '.join(r.notes)}" if r.notes else ""
        return f"{cfg.source} {z}×{y}×{x}, {acq} — " + "; ".join(parts) + notes

    def show_partial(self, partial) -> None:
        """Live view of the run's stages (:mod:`app.labs.recon_live`): the ground truth first,
        then each shown method's newest iterate and final volume, and a ranking row as each
        method finishes (fast methods first)."""
        stages = as_stages(partial)
        if not stages or "truth" not in stages:
            return
        if self._live is None or self._live.truth is not stages["truth"]:
            self._live = LiveRun(self, stages["truth"])
        self._stages = stages
        self._live.draw(stages)

    def run_abandoned(self) -> bool:
        """A cancelled or failed run: the views show the previous result again (if any)."""
        drew, self._live, self._stages = self._live is not None, None, None
        if drew and self.result is not None:
            self.show_result(self.result)
            return True
        if drew:
            self.info.setText("The run stopped before it finished: the views show its last "
                              "iterates. Run the lab to reconstruct again.")
        return False

    def show_truth(self, truth: np.ndarray, spacing, focus) -> None:
        """The ground truth in the first viewer; a new geometry opens on voxel ``focus``."""
        old = self.viewers[0].volume()
        self.viewers[0].set_volume(truth, spacing, "ground truth")
        if focus and (old is None or old.shape != truth.shape or focus != self._focus):
            z, y, x = focus
            self.viewers[0].set_cursor(x, y, z)
        self._focus = tuple(focus)

    def title_viewers(self, names) -> None:
        """Titles of the method viewers: A, B and the error map of A (B hidden without one)."""
        for i, name in enumerate(names[:2]):
            self.viewers[1 + i].set_title(f"{'AB'[i]}: {name}")
        self.viewers[2].setVisible(len(names) > 1)
        self.viewers[3].set_title(f"|{names[0]} − truth| (error of A)")

    def show_method_volume(self, slot: int, volume, truth, spacing) -> None:
        """A live volume of the method shown as A (slot 0, with its error map) or B (1)."""
        self.set_viewer_volume(self.viewers[1 + slot], volume, spacing)
        if slot == 0:
            self.set_viewer_volume(self.viewers[3], np.abs(volume - truth), spacing)

    def set_viewer_volume(self, viewer, volume, spacing) -> None:
        """``viewer.set_volume``; a viewer given a new geometry opens where the ground truth's
        cursor is (a new shape would put it at the centre)."""
        old = viewer.volume()
        viewer.set_volume(volume, spacing)
        if old is None or old.shape != volume.shape:
            viewer.set_cursor(*self.viewers[0].cursor())

    def show_ranking_rows(self, rows, names) -> None:
        """Rank ``(name, PSNR, SSIM, seconds, steps)`` rows, best PSNR first; colours follow
        each method's place in ``names`` (A, B, extras) as in the convergence plot."""
        shown = [(n, p, s, t, steps or "direct") for n, p, s, t, steps in rows]
        order = sorted(range(len(rows)), key=lambda i: -rows[i][1])
        colors = [RUN_COLORS[names.index(row[0]) % len(RUN_COLORS)] for row in rows]
        self.ranking_view.set_rows(shown, order, colors)

    def show_result(self, r) -> None:
        names = [m.name for m in r.runs]
        live_b = self._live.shown[1:] if self._live is not None else []
        self.result, self._live, self._stages = r, None, None
        self._b = names.index(live_b[0]) if live_b and live_b[0] in names[1:] else \
            (1 if len(r.runs) > 1 else 0)
        self.info.setText(self.result_summary(r))
        self.show_truth(r.truth, r.spacing, r.focus)
        self.title_viewers([run.name for run in self._shown_runs()])
        self.set_viewer_volume(self.tri, r.runs[0].volume, r.spacing)
        self.tri.set_title(r.runs[0].name)
        self.volume3d.set_volume(r.runs[0].volume, r.spacing)
        self.volume3d.set_planes(*self.tri.cursor())
        self.panels.show(r)
        self.show_ranking_rows([(m.name, m.psnr, m.ssim, m.seconds, m.steps) for m in r.runs],
                               names)
        self._redraw_convergence()
        self._show_slice_psnr()
        self.set_frame(self.frame_count() - 1)

    def _shown_runs(self) -> list:
        r = self.result
        return [r.runs[0]] + ([r.runs[self._b]] if len(r.runs) > 1 else [])

    def show_as_b(self, index: int) -> None:
        """Show ranked method ``index`` in the "method B" viewer: run ``index`` of the result,
        or during a run, the ``index``-th finished method (its iterates as they come)."""
        if self._live is not None:
            self._live.pick(index, self._stages)
            self.tabs.setCurrentIndex(0)
            return
        if self.result is None or not 0 <= index < len(self.result.runs) or index == 0:
            return
        self._b = index
        self.title_viewers([run.name for run in self._shown_runs()])
        self._redraw_convergence()
        self._show_slice_psnr()
        self.set_frame(self._frame)
        self.tabs.setCurrentIndex(0)

    def train_prior(self):
        """Open the slice-prior training dialog; a trained prior becomes the lab's prior."""
        from app.labs.prior_training import open_train_dialog
        dialog = open_train_dialog(self.view)
        dialog.sigPriorReady.connect(lambda path: self.sigConfigEdit.emit({"prior_path": path}))
        return dialog

    def _redraw_convergence(self) -> None:
        self.conv_plot.clear_items()
        if self.result is None:
            return
        residual = self.conv_box.currentIndex() == 1
        self.conv_plot.set_log(False, residual)
        self.conv_plot.set_labels("Convergence", "iteration / step",
                                  "‖Ax − y‖ / ‖y‖" if residual else "PSNR [dB]")
        for i, run in enumerate(self.result.runs):
            curve = run.residual_curve if residual else run.psnr_curve
            color = RUN_COLORS[i % len(RUN_COLORS)]
            if len(curve) > 1:
                it, val = np.array(curve, dtype=float).T
                self.conv_plot.set_curve(run.name, it, val, color=color, symbol="o",
                                         name=run.name)
            elif curve:
                self.conv_plot.set_hline(run.name, curve[-1][1], color, label=run.name)

    def _show_slice_psnr(self) -> None:
        r = self.result
        if r is None:
            return
        self.slice_plot.clear_items()
        axis = self.axis_box.currentIndex()
        for run in self._shown_runs():
            i = r.runs.index(run)
            vals = np.asarray(run.slice_psnr[axis], dtype=float)
            self.slice_plot.set_curve(run.name, np.arange(len(vals)), vals,
                                      color=RUN_COLORS[i % len(RUN_COLORS)], name=run.name)

    def _jump_to_slice(self, x: float, _y: float) -> None:
        if self.result is None:
            return
        axis = self.axis_box.currentIndex()
        n = self.result.truth.shape[axis]
        i, j, k = self.viewers[0].cursor()
        index = int(np.clip(round(x), 0, n - 1))
        pos = [k, j, i]  # cursor() is (x, y, z) = (i, j, k)
        pos[axis] = index
        self.viewers[0].set_cursor(pos[2], pos[1], pos[0])

    # -- playback: iterates ------------------------------------------------------------------
    def frame_count(self) -> int:
        if self.result is None:
            return 0
        return 1 + max(len(run.iterates) for run in self._shown_runs())

    def frame_times(self):
        if self.result is None:
            return None
        longest = max(self._shown_runs(), key=lambda run: len(run.iterates))
        its = [k for k, _ in longest.iterates] + [longest.steps]
        return np.asarray(its, dtype=float)

    def set_frame(self, index: int) -> None:
        r = self.result
        if r is None:
            return
        index = int(np.clip(index, 0, self.frame_count() - 1))
        self._frame = index
        vols = [self._volume_at(run, index) for run in self._shown_runs()]
        for viewer, vol in zip(self.viewers[1:3], vols):
            self.set_viewer_volume(viewer, vol, r.spacing)
        self.set_viewer_volume(self.viewers[3], np.abs(vols[0] - r.truth), r.spacing)
        times = self.frame_times()
        self.conv_plot.set_cursor(float(times[index]) if times is not None else None)

    @staticmethod
    def _volume_at(run, index: int) -> np.ndarray:
        if index >= len(run.iterates):
            return run.volume
        return run.iterates[index][1]

    def show_view(self, name) -> None:
        if name == "ranking":
            self.tabs.setCurrentWidget(self.ranking_view)
        elif name in (tabs := {"compare": 0, "tri": 1, "3d": 2}):
            self.tabs.setCurrentIndex(tabs[name])

    def svg_plots(self) -> dict:
        return {"PSNR per slice": self.slice_plot.plot_item,
                "Convergence": self.conv_plot.plot_item,
                "Acquisition": self.acq.plot_item}
